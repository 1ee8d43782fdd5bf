"""Every pipeline's pushed model behind one embedded server: gRPC and REST Predict answer what the
model answers in-process, and `tfpipe predict --server` prints what the model says, with no model
on the client's side. The models are those the session's iris, stock and digits runs pushed."""

import base64
import importlib
import json
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, free_port, run_tfpipe

from pipelines.config import apply_overrides
from pipelines.registry import config_for
from serving.client import PredictionClient
from serving.model_server import ModelServer, ServerOptions
from serving.predict import latest_version, predict

PIPELINES = ("iris", "stock", "digits")


def prediction_inputs(pipeline: str, tmp_path: Path) -> tuple[list[str], list[str]]:
    """(the inputs `tfpipe predict` takes, its --set arguments) for real data of each pipeline."""
    if pipeline == "iris":
        return ["5.0,3.4,1.5,0.2", "sepal_length=6.7,sepal_width=3.0,petal_length=5.2,petal_width=2.3"], []
    if pipeline == "stock":
        header, *days = (REPO_ROOT / "data" / "stock" / "msft.csv").read_text().splitlines()
        recent = tmp_path / "recent.csv"
        recent.write_text("\n".join([header, *days[-15:]]) + "\n")
        return [str(recent)], ["window_days=10"]  # FAST_STOCK's window
    images = REPO_ROOT / "data" / "digits" / "images"
    return [str(images / "0000.png"), str(images / "0007.png")], []


@pytest.fixture(scope="module")
def served(iris_run, stock_run, digits_run, tmp_path_factory):
    """One server over a serving dir holding each run's pushed model."""
    serving_dir = tmp_path_factory.mktemp("all_models") / "serving"
    for pipeline, run in {"iris": iris_run, "stock": stock_run, "digits": digits_run}.items():
        model_name = config_for(pipeline).model_name
        shutil.copytree(run.workdir / "serving" / model_name, serving_dir / model_name)
    with ModelServer(serving_dir, ServerOptions(grpc_port=0, rest_port=0)) as server:
        yield server


def expected(pipeline: str, served: ModelServer, tmp_path: Path):
    """(inputs, --set arguments, their serialized examples, the model's outputs in this process)."""
    inputs, overrides = prediction_inputs(pipeline, tmp_path)
    config = apply_overrides(config_for(pipeline), overrides)
    examples = importlib.import_module(config.request_module).to_examples(inputs, config)
    return inputs, overrides, examples, predict(latest_version(served.base_path / config.model_name), examples)


def assert_same_outputs(actual: dict, wanted: dict) -> None:
    assert set(actual) == set(wanted)
    for name, value in wanted.items():
        if value.dtype == object:
            assert list(np.asarray(actual[name]).ravel()) == list(value.ravel()), name
        else:
            np.testing.assert_allclose(np.asarray(actual[name], dtype=value.dtype), value, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_grpc_and_rest_predict_answer_what_the_model_answers(pipeline, served, tmp_path):
    _, _, examples, outputs = expected(pipeline, served, tmp_path)
    with PredictionClient(f"127.0.0.1:{served.grpc_port}") as client:
        assert_same_outputs(client.predict_examples(pipeline, examples), outputs)
    body = json.dumps({"instances": [{"b64": base64.b64encode(e).decode()} for e in examples]}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{served.rest_port}/v1/models/{pipeline}:predict", body) as response:
        predictions = json.load(response)["predictions"]
    # TF Serving's row format names the outputs only where there are several.
    rest_outputs = (
        {name: [row[name] for row in predictions] for name in outputs}
        if len(outputs) > 1
        else {name: predictions for name in outputs}
    )
    assert_same_outputs(
        {
            name: np.array([v.encode() if isinstance(v, str) else v for v in values], dtype=object)
            if outputs[name].dtype == object
            else values
            for name, values in rest_outputs.items()
        },
        outputs,
    )


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_predict_with_server_prints_the_models_answer(pipeline, served, tmp_path):
    inputs, overrides, _, outputs = expected(pipeline, served, tmp_path)
    describe = importlib.import_module(config_for(pipeline).request_module).describe
    # An empty workdir: the model is the server's, never loaded here.
    result = run_tfpipe(
        "predict",
        pipeline,
        *inputs,
        "--server",
        f"127.0.0.1:{served.grpc_port}",
        "--workdir",
        str(tmp_path / "empty"),
        *[arg for o in overrides for arg in ("--set", o)],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{name}: {describe(outputs, i)}" for i, name in enumerate(inputs)]


def test_predict_with_server_that_lacks_the_model_is_one_sentence(tmp_path):
    (tmp_path / "serving").mkdir()
    with ModelServer(tmp_path / "serving", ServerOptions(grpc_port=0, rest_port=None)) as empty:
        result = run_tfpipe(
            "predict", "iris", "5.0,3.4,1.5,0.2", "--server", f"127.0.0.1:{empty.grpc_port}", "--workdir", str(tmp_path)
        )
    assert result.returncode == 2
    assert result.stderr.startswith(f"tfpipe: --server 127.0.0.1:{empty.grpc_port} serves no model named iris: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_predict_with_no_server_listening_is_one_sentence(tmp_path):
    port = free_port()
    result = run_tfpipe(
        "predict",
        "iris",
        "5.0,3.4,1.5,0.2",
        "--server",
        f"127.0.0.1:{port}",
        "--timeout",
        "2",
        "--workdir",
        str(tmp_path),
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tfpipe: --server 127.0.0.1:{port}: no gRPC model server answered (UNAVAILABLE); "
        "is `tfpipe serve` or TensorFlow Serving running there?"
    )
