"""Every pipeline's pushed model behind one embedded server: gRPC and REST Predict answer what the
model answers in-process, `tfpipe predict --server` prints what the model says, with no model
on the client's side, and the curl lines of docs/serving.md get answers. The models are those the
session's iris, stock, digits, letters, spoken_digits and pronunciation runs pushed."""

import base64
import importlib
import json
import re
import shutil
import subprocess
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
def served(iris_run, stock_run, digits_run, letters_run, spoken_digits_run, pronunciation_run, tmp_path_factory):
    """One server over a serving dir holding each run's pushed model."""
    serving_dir = tmp_path_factory.mktemp("all_models") / "serving"
    runs = {
        "iris": iris_run,
        "stock": stock_run,
        "digits": digits_run,
        "letters": letters_run,
        "spoken_digits": spoken_digits_run,
        "pronunciation": pronunciation_run,
    }
    for pipeline, run in runs.items():
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
    # A stock line also says which day the forecast is for: the input file's last is 2017-11-10.
    day = " for the next trading day after 2017-11-10" if pipeline == "stock" else ""
    assert result.stdout.splitlines() == [f"{name}: {describe(outputs, i)}{day}" for i, name in enumerate(inputs)]


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


def test_the_docs_curl_lines_get_each_json_signatures_answer(served):
    """Runs docs/serving.md's JSON-client block as it is written (the session's stock model reads
    10-day windows, the docs' default 60), with the server's port for TF Serving's 8501."""
    docs = (REPO_ROOT / "docs" / "serving.md").read_text()
    block = re.search(r"JSON clients call each pipeline's model.*?```sh\n(.*?)```", docs, re.DOTALL).group(1)
    block = block.replace("localhost:8501", f"127.0.0.1:{served.rest_port}").replace("[-60:]", "[-10:]")
    models = re.findall(r"/v1/models/(\w+):predict", re.sub(r"#.*", "", block))  # not the comments' models
    assert set(models) == {"iris", "stock", "digits", "letters", "spoken_digits", "pronunciation"}
    # Each answer on a line of its own; a 4xx or 5xx fails the block.
    script = 'curl() { command curl -sS --fail-with-body "$@"; echo; }\nset -e\n' + block
    result = subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(answers) == len(models)
    by_model = dict(zip(models, answers))
    assert by_model["iris"]["predictions"][0]["species"] == "setosa"
    # The session's letters and spoken-digits models are trained too briefly to be right; the
    # answers must be theirs, in their shape.
    assert [len(p["letter"]) >= 1 for p in by_model["letters"]["predictions"]] == [True, True]
    assert by_model["spoken_digits"]["predictions"][0]["class_name"] in [str(d) for d in range(10)]
    kubeflow, k8s = by_model["pronunciation"]["predictions"]
    assert kubeflow["phonemes"] and not kubeflow["refused"]
    assert not k8s["phonemes"] and k8s["refused"].startswith("'k8s' holds '8'")
    assert len(by_model["stock"]["predictions"]) == 1 and len(by_model["digits"]["predictions"]) == 1
    # The scores of unlike inputs beside the class (components/models/images/familiarity.py), as the docs show them.
    digit = by_model["digits"]["predictions"][0]
    assert isinstance(digit["unlike_training_data"], bool)
    assert digit["unlike_training_data"] == (
        digit["reconstruction_error"] > digit["reconstruction_threshold"]
        or digit["feature_distance"] > digit["feature_distance_threshold"]
    )
