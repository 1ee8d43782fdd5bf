"""The model MlflowTracker logs, served by `mlflow models serve` (MLflow's own scoring server, local
environment): it answers the serving input example MLflow saved with it, and a request written
from MLflow's documentation of /invocations, as the pushed SavedModel answers in this process.
Iris (several float columns) and stock (a window per column) are tracked on the session's MLflow
server, digits (a binary column: the image's bytes) in its workdir's embedded store."""

import base64
import contextlib
import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
import tensorflow as tf
from conftest import BIN, REPO_ROOT, PipelineRun, free_port, wait_for_http
from mlflow.types import DataType

from components.mlflow_tracker import TAG_MODEL_URI
from components.mlflow_tracking import fluent_tracking_uri
from pipelines.registry import config_for
from serving.predict import latest_version


@contextlib.contextmanager
def mlflow_models_serve(model_uri: str, tracking_uri: str, log: Path) -> Iterator[str]:
    """`mlflow models serve` on a free port; yields its URL. Its server (uvicorn) is found on PATH,
    as MLflow's docs assume an activated environment."""
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local", "-p", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/ping", process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def invocations(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/invocations", json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["predictions"]


def saved_model_answer(run: PipelineRun, pipeline: str, records: list[dict], binary: set[str]) -> dict:
    """What the pushed SavedModel's JSON signature answers in this process for `records`
    (dataframe records, binary columns base64-encoded)."""
    config = config_for(pipeline)
    loaded = tf.saved_model.load(str(latest_version(run.workdir / "serving" / config.model_name)))
    signature = loaded.signatures[config.json_signature]
    inputs = {}
    for name, spec in signature.structured_input_signature[1].items():
        column = [base64.b64decode(r[name]) if name in binary else r[name] for r in records]
        inputs[name] = tf.constant(column, dtype=spec.dtype)
    return {name: value.numpy() for name, value in signature(**inputs).items()}


def assert_same(served: dict, wanted: dict) -> None:
    assert set(served) == set(wanted)
    for name, value in wanted.items():
        if value.dtype == object:  # text comes back as text, not base64
            assert served[name] == [v.decode() for v in value], name
        else:
            np.testing.assert_allclose(np.asarray(served[name], dtype=value.dtype), value, rtol=1e-5, err_msg=name)


@pytest.fixture(scope="module")
def tracked(mlflow_server, iris_run, stock_run, digits_run) -> dict[str, tuple[PipelineRun, str]]:
    """Each pipeline's run and the tracking URI it was recorded in."""
    return {
        "iris": (iris_run, mlflow_server),
        "stock": (stock_run, mlflow_server),
        "digits": (digits_run, f"sqlite:///{digits_run.workdir / 'mlflow' / 'mlflow.db'}"),
    }


@pytest.mark.parametrize("pipeline", ["iris", "stock", "digits"])
def test_mlflow_models_serve_answers_the_logged_input_example(pipeline, tracked, tmp_path):
    run, tracking_uri = tracked[pipeline]
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    model_uri = client.get_run(run.outcome.results.mlflow_run_id).data.tags[TAG_MODEL_URI]
    # A logged model's `models:/<id>` is resolved through the global tracking URI.
    with fluent_tracking_uri(tracking_uri):
        local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(tmp_path / "model")))
    model = mlflow.models.Model.load(str(local / "MLmodel"))
    binary = {column.name for column in model.get_input_schema().inputs if column.type == DataType.binary}
    assert binary == ({"image"} if pipeline == "digits" else set())
    example = json.loads((local / model.saved_input_example_info["serving_input_path"]).read_text())
    split = example["dataframe_split"]
    records = [dict(zip(split["columns"], row)) for row in split["data"]]
    assert len(records) == 3

    wanted = saved_model_answer(run, pipeline, records, binary)
    # The signature MlflowTracker declares (read from the SavedModel, not inferred by running it)
    # describes what the model answers.
    declared = {spec.name: (spec.type, spec.shape[1:]) for spec in model.get_output_schema().inputs}
    assert declared == {name: (value.dtype, value.shape[1:]) for name, value in wanted.items()}

    with mlflow_models_serve(model_uri, tracking_uri, tmp_path / "serve.log") as url:
        assert_same(invocations(url, example), wanted)
        if pipeline == "iris":
            # Written from MLflow's docs of /invocations: one row of plain measurements.
            setosa = {"sepal_length": 5.0, "sepal_width": 3.4, "petal_length": 1.5, "petal_width": 0.2}
            assert invocations(url, {"dataframe_records": [setosa]})["species"] == ["setosa"]
        if pipeline == "digits":
            seven = base64.b64encode((REPO_ROOT / "data" / "digits" / "images" / "0007.png").read_bytes()).decode()
            answer = invocations(url, {"dataframe_records": [{"image": seven}]})
            assert_same(answer, saved_model_answer(run, pipeline, [{"image": seven}], binary))
