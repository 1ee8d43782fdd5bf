"""The InfraValidator (components/infra_validator.py): before the Pusher, the candidate is served by
`tfpipe serve` in a separate process and sent eval examples over gRPC; a model exported unservable
(TFPIPE_FAULT=export:UNSERVABLE, components/faults.py) is evaluated and blessed, yet not pushed, and the
run says why (issue 31)."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import FAST_IRIS, PipelineRun, run_tfpipe

from components import faults
from serving.errors import ServingError
from serving.servables import Servable


class _Lengths(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, text):
        return {"length": tf.strings.length(text)}


def test_an_unservable_export_loads_in_the_server_but_fails_its_requests_while_tensorflow_2_still_runs_it(tmp_path):
    module = _Lengths()
    version = tmp_path / "lengths" / "1"
    tf.saved_model.save(module, str(version), signatures={"serving_default": module.serve})
    faults.unservable(version)
    servable = Servable("lengths", 1, version, batching=None)  # loads, as TF Serving would
    with pytest.raises(ServingError, match=faults.UNSERVABLE_TENSOR):
        servable.run("serving_default", {"text": np.array([b"abc"], dtype=object)})
    # What TFMA (the Evaluator) calls: the object graph's signature, untouched.
    loaded = tf.saved_model.load(str(version)).signatures["serving_default"]
    assert loaded(text=tf.constant([b"abc"]))["length"].numpy().tolist() == [3]


def test_a_served_and_answering_model_is_pushed(iris_run: PipelineRun):
    assert iris_run.outcome.results.infra_blessed is True
    assert "Served in a test server: yes" in iris_run.process.stdout
    assert iris_run.outcome.results.pushed_model


@pytest.fixture(scope="module")
def unservable_run(tmp_path_factory) -> PipelineRun:
    workdir = tmp_path_factory.mktemp("unservable") / "workdir"
    process = run_tfpipe("run", "iris", "--workdir", str(workdir), *FAST_IRIS, fault="export:UNSERVABLE")
    return PipelineRun(workdir, "iris", process)


@pytest.mark.e2e
def test_a_model_the_server_cannot_answer_with_is_blessed_but_not_pushed_and_the_run_says_why(unservable_run):
    process = unservable_run.process
    assert process.returncode == 0, process.stdout + process.stderr
    results = unservable_run.outcome.results
    assert results.blessed is True and results.infra_blessed is False
    assert results.pushed_model is None
    assert not list((unservable_run.workdir / "serving").glob("iris/[0-9]*"))
    [line] = [line for line in process.stdout.splitlines() if line.startswith("Served in a test server")]
    assert line.startswith("Served in a test server: no, so not pushed: the model server loaded it but failed")
    assert "INVALID_ARGUMENT" in line and faults.UNSERVABLE_TENSOR in line
    assert results.infra_failure in line
    # TFX's InfraBlessing artifact, as TF Serving's InfraValidator writes it.
    [blessing] = (unservable_run.workdir / "iris" / "pipeline_root" / "InfraValidator" / "blessing").iterdir()
    assert (Path(blessing) / "INFRA_NOT_BLESSED").exists()
