"""The contract: the embedded server answers as the real TensorFlow Serving does.

Both serve the iris run's pushed model, the real one from the models.config the Pusher wrote, and
get the same client calls: predictions, metadata, status and errors must agree. Runs where
`tensorflow_model_server` is on PATH (TF Serving's apt package, or inside the tensorflow/serving
image); it cannot be installed on the machines this project is built on, so there it is skipped.
"""

import json
import shutil
import subprocess
import time
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from conftest import PipelineRun, free_port
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2
from test_serving import GRPC_ERRORS, KNOWN_EXAMPLES, b64

from serving.client import PredictionClient, predict_request
from serving.model_server import ModelServer, ServerOptions
from serving.push import MODELS_CONFIG

TF_SERVING = shutil.which("tensorflow_model_server")
pytestmark = pytest.mark.skipif(
    TF_SERVING is None,
    reason="tensorflow_model_server (TF Serving's binary) is not on PATH; it cannot be installed here",
)
# The failures both servers must report with the same status code (messages differ in wording).
SHARED_ERRORS = ["unknown model", "unknown version", "wrong input name", "wrong dtype", "unparsable examples"]
AVAILABLE = get_model_status_pb2.ModelVersionStatus.State.AVAILABLE


@pytest.fixture(scope="module")
def real_server(iris_run: PipelineRun, tmp_path_factory):
    """`tensorflow_model_server` over the iris run's serving dir, configured by its models.config."""
    grpc_port, rest_port = free_port(), free_port()
    log = (tmp_path_factory.mktemp("tf-serving") / "server.log").open("w")
    process = subprocess.Popen(
        [
            TF_SERVING,
            f"--port={grpc_port}",
            f"--rest_api_port={rest_port}",
            f"--model_config_file={iris_run.workdir / 'serving' / MODELS_CONFIG}",
            "--model_config_file_poll_wait_seconds=1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with PredictionClient(f"127.0.0.1:{grpc_port}", timeout_s=5, attempts=1) as client:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"tensorflow_model_server exited; see {log.name}"
                try:
                    if client.status("iris").model_version_status[0].state == AVAILABLE:
                        break
                except grpc.RpcError:  # not listening yet, or the model not loaded yet
                    pass
                assert time.monotonic() < deadline, f"iris not AVAILABLE on TF Serving in 60 s; see {log.name}"
                time.sleep(0.5)
        yield grpc_port, rest_port
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def embedded_server(iris_run: PipelineRun):
    server = ModelServer(iris_run.workdir / "serving", ServerOptions(grpc_port=0, rest_port=0)).start()
    yield server.grpc_port, server.rest_port
    server.stop()


@pytest.fixture(scope="module")
def clients(real_server, embedded_server):
    """(real TF Serving's client, the embedded server's client): the same client class for both."""
    with (
        PredictionClient(f"127.0.0.1:{real_server[0]}") as real,
        PredictionClient(f"127.0.0.1:{embedded_server[0]}") as ours,
    ):
        yield real, ours


def test_predictions_agree(clients):
    real, ours = (client.predict_response(predict_request("iris", KNOWN_EXAMPLES)) for client in clients)
    assert real.model_spec == ours.model_spec
    assert set(real.outputs) == set(ours.outputs)
    real_outputs, our_outputs = (
        {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()} for response in (real, ours)
    )
    assert list(real_outputs["species"]) == list(our_outputs["species"])
    assert list(real_outputs["class_id"]) == list(our_outputs["class_id"])
    np.testing.assert_allclose(real_outputs["probabilities"], our_outputs["probabilities"], rtol=1e-5)


def test_metadata_agrees(clients):
    signatures = []
    for client in clients:
        response = client.metadata("iris")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        signatures.append((response.model_spec, dict(signature_map.signature_def)))
    (real_spec, real_signatures), (our_spec, our_signatures) = signatures
    assert real_spec == our_spec
    assert real_signatures["serving_default"] == our_signatures["serving_default"]
    assert set(real_signatures) == set(our_signatures)


def test_status_agrees(clients):
    real, ours = (client.status("iris") for client in clients)
    assert real == ours


@pytest.mark.parametrize("case", SHARED_ERRORS)
def test_errors_have_the_same_status_codes(clients, case):
    request, code, _ = GRPC_ERRORS[case]
    codes = []
    for client in clients:
        with pytest.raises(grpc.RpcError) as caught:
            client.predict_response(request)
        codes.append(caught.value.code())
    assert codes == [code, code]


def test_rest_predictions_agree(real_server, embedded_server):
    body = json.dumps({"instances": [b64(example) for example in KNOWN_EXAMPLES]}).encode()
    answers = []
    for _, rest_port in (real_server, embedded_server):
        request = urllib.request.Request(f"http://127.0.0.1:{rest_port}/v1/models/iris:predict", data=body)
        with urllib.request.urlopen(request, timeout=10) as response:
            answers.append(json.load(response)["predictions"])
    real, ours = answers
    assert [row["species"] for row in real] == [row["species"] for row in ours]
    assert [row["class_id"] for row in real] == [row["class_id"] for row in ours]
    np.testing.assert_allclose(
        [row["probabilities"] for row in real], [row["probabilities"] for row in ours], rtol=1e-5
    )
