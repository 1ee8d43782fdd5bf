"""The contract: `tfpipe serve` answers as TensorFlow Serving does.

Two parts:

1. TF Serving's own test models (tests/data/tf_serving, copied from tensorflow/serving; see the
   README there) and what TF Serving's own tests and documentation state the real server answers
   for them: requests, responses, status codes (gRPC and HTTP), metadata JSON with its
   default-valued fields, and error texts where TF Serving's tests pin them. Each test names the
   TF Serving source it takes its expectations from. These run in CI against `tfpipe serve`
   (in-process, batching on as `tfpipe serve` has it), and against a real `tensorflow_model_server`
   too where that binary is on PATH (it cannot be installed on the machines this project is built
   on, so there those cases are skipped).
2. The iris run's pushed model behind both servers, compared call by call; it needs the real
   server, so it is skipped where `tensorflow_model_server` is missing.

Sources read (github.com/tensorflow/serving unless named otherwise):
- tensorflow_serving/model_servers/tensorflow_model_server_test.py   [TFMS]
- tensorflow_serving/model_servers/http_rest_api_handler_test.cc     [REST-HANDLER-TEST]
- tensorflow_serving/model_servers/get_model_status_impl_test.cc     [STATUS-TEST]
- tensorflow_serving/servables/tensorflow/predict_util_test.cc       [PREDICT-TEST]
- tensorflow_serving/g3doc/api_rest.md                               [REST-GUIDE]
- tensorflow_serving/servables/tensorflow/predict_util.cc, classifier.cc, regressor.cc, util.cc,
  get_model_metadata_impl.cc; tensorflow_serving/model_servers/get_model_status_impl.cc,
  server_core.cc, http_server.cc, http_rest_api_handler.cc, http_rest_api_util.cc;
  tensorflow_serving/util/json_tensor.cc                             [the implementation]
- tensorflow/tensorflow: tensorflow/core/framework/tensor.cc (Tensor::AsProtoField),
  tensorflow/cc/saved_model/util.cc (GetInputValues)
- the protos: tensorflow_serving/apis/{predict,classification,regression,get_model_metadata,
  get_model_status,model}.proto (as installed with tensorflow-serving-api)
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import shutil
import subprocess
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from conftest import REPO_ROOT, PipelineRun, free_port
from google.protobuf import json_format, text_format
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tensorflow_serving.config import model_server_config_pb2
from test_serving import GRPC_ERRORS, KNOWN_EXAMPLES, b64

from serving.client import PredictionClient, predict_request
from serving.model_manager import config_file_models
from serving.model_server import ModelServer, ServerOptions
from serving.push import MODELS_CONFIG

TF_SERVING = shutil.which("tensorflow_model_server")
NO_TF_SERVING = "tensorflow_model_server (TF Serving's binary) is not on PATH; it cannot be installed here"
TESTDATA = REPO_ROOT / "tests" / "data" / "tf_serving"
AVAILABLE = get_model_status_pb2.ModelVersionStatus.State.AVAILABLE
RPC_TIMEOUT = 5.0  # TFMS's
VERSION_LABEL = "Version_Label"  # REST-HANDLER-TEST's kTestModelVersionLabel
TWO_VERSIONS = "saved_model_half_plus_two_2_versions"  # REST-HANDLER-TEST's kTestModelName


# --- the servers ---------------------------------------------------------------------------------


def models_config(destination: Path) -> Path:
    """One ModelServerConfig for every model the tests below use, named as TF Serving's tests name them:
    TFMS's good_model_config.txt (half_plus_two, half_plus_three) with its placeholders filled as TFMS
    fills them; `default` as TFMS serves saved_model_half_plus_two_cpu; REST-HANDLER-TEST's model (version
    123 only, labelled); STATUS-TEST's (both versions); PREDICT-TEST's counter model."""
    template = (TESTDATA / "good_model_config.txt").read_text()
    text = template.replace("${TEST_HALF_PLUS_TWO_DIR}", str(TESTDATA / "saved_model_half_plus_two_cpu")).replace(
        "${TEST_HALF_PLUS_THREE_DIR}", str(TESTDATA / "saved_model_half_plus_three")
    )
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    models = config.model_config_list.config
    models.add(name="default", base_path=str(TESTDATA / "saved_model_half_plus_two_cpu"), model_platform="tensorflow")
    labelled = models.add(name=TWO_VERSIONS, base_path=str(TESTDATA / TWO_VERSIONS), model_platform="tensorflow")
    labelled.model_version_policy.specific.versions.append(123)
    labelled.version_labels[VERSION_LABEL] = 123
    both = models.add(name="two_versions", base_path=str(TESTDATA / TWO_VERSIONS), model_platform="tensorflow")
    both.model_version_policy.specific.versions.extend([123, 124])
    models.add(name="counter", base_path=str(TESTDATA / "saved_model_counter"), model_platform="tensorflow")
    path = destination / "models.config"
    path.write_text(text_format.MessageToString(config))
    return path


@dataclasses.dataclass
class Server:
    kind: str
    grpc_target: str
    rest_port: int

    def predictions(self):
        return prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(self.grpc_target))

    def models(self):
        return model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(self.grpc_target))

    def rest(self, method: str, path: str, body=None) -> tuple[int, dict, dict]:
        """(HTTP status, headers, JSON body) of one request; a dict body is sent as JSON, bytes as they are."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        connection = http.client.HTTPConnection("127.0.0.1", self.rest_port, timeout=10)
        try:
            connection.request(method, path, body=data)
            response = connection.getresponse()
            data = response.read()
            try:
                answer = json.loads(data)
            except ValueError:  # TF Serving's 404 for a path outside /v1/ is no JSON
                answer = {"error": data.decode(errors="replace")}
            return response.status, dict(response.getheaders()), answer
        finally:
            connection.close()


def _wait_until_available(target: str, names: list[str], process: subprocess.Popen | None, log: Path | None) -> None:
    stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(target))
    deadline = time.monotonic() + 60
    for name in names:
        while True:
            assert process is None or process.poll() is None, f"tensorflow_model_server exited; see {log}"
            try:
                request = get_model_status_pb2.GetModelStatusRequest()
                request.model_spec.name = name
                if all(s.state == AVAILABLE for s in stub.GetModelStatus(request, timeout=2).model_version_status):
                    break
            except grpc.RpcError:  # not listening yet, or not loaded yet
                pass
            assert time.monotonic() < deadline, f"{name} not AVAILABLE in 60 s"
            time.sleep(0.2)


@pytest.fixture(scope="module", params=["tfpipe serve", "tensorflow_model_server"])
def server(request, tmp_path_factory):
    """Each server over the same ModelServerConfig of TF Serving's test models."""
    root = tmp_path_factory.mktemp("tf-serving-testdata")
    config_file = models_config(root)
    names = [model.name for model in config_file_models(config_file)()]
    if request.param == "tfpipe serve":
        with ModelServer(root, ServerOptions(grpc_port=0, rest_port=0, model_config_file=config_file)) as ours:
            _wait_until_available(f"127.0.0.1:{ours.grpc_port}", names, None, None)
            assert ours.rest_port is not None
            yield Server(request.param, f"127.0.0.1:{ours.grpc_port}", ours.rest_port)
        return
    if TF_SERVING is None:
        pytest.skip(NO_TF_SERVING)
    grpc_port, rest_port, log = free_port(), free_port(), root / "server.log"
    process = subprocess.Popen(
        [
            TF_SERVING,
            f"--port={grpc_port}",
            f"--rest_api_port={rest_port}",
            f"--model_config_file={config_file}",
            "--allow_version_labels_for_unavailable_models=true",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_available(f"127.0.0.1:{grpc_port}", names, process, log)
        yield Server(request.param, f"127.0.0.1:{grpc_port}", rest_port)
    finally:
        process.terminate()
        process.wait(timeout=30)


def predict_x(model: str, value: float = 2.0, dims: list[int] | None = None, **spec) -> predict_pb2.PredictRequest:
    """TFMS's VerifyPredictRequest request: x as one float_val with shape [1] (its batch_input adds a
    second dimension); PREDICT-TEST's has no shape at all (dims=[])."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    for key, setting in spec.items():
        if key == "version":
            request.model_spec.version.value = setting
        else:
            setattr(request.model_spec, key, setting)
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].float_val.append(value)
    for size in [1] if dims is None else dims:
        request.inputs["x"].tensor_shape.dim.add().size = size
    return request


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=RPC_TIMEOUT)
    return caught.value


# --- gRPC Predict --------------------------------------------------------------------------------


@pytest.mark.parametrize("specify_output", [True, False])
@pytest.mark.parametrize("batch_input", [False, True])
def test_predict_fills_float_val(server, specify_output, batch_input):
    """TFMS VerifyPredictRequest (testPredictSavedModel, test_sequential_keras_saved_model_save's
    batch_input): y in float_val, one value 3.0, DT_FLOAT; model_spec names the model, the default
    signature and version 123 (the folder 00000123). Outputs go in the typed fields, not
    tensor_content (predict_util.cc: kAsProtoField; tensor.cc: ToProtoField)."""
    request = predict_x("default", dims=[1, 1] if batch_input else [1])
    if specify_output:
        request.output_filter.append("y")
    result = server.predictions().Predict(request, RPC_TIMEOUT)
    assert "y" in result.outputs
    assert result.outputs["y"].dtype == types_pb2.DT_FLOAT
    assert list(result.outputs["y"].float_val) == [3.0]
    assert result.outputs["y"].tensor_content == b""
    assert (result.model_spec.name, result.model_spec.signature_name, result.model_spec.version.value) == (
        "default",
        "serving_default",
        123,
    )


def test_predict_of_a_scalar_is_a_scalar(server):
    """PREDICT-TEST PredictionSuccess: x with no shape at all (a scalar, where the signature says
    [-1, 1]: shapes are not checked) gives exactly this response."""
    request = predict_x("default", dims=[])
    request.model_spec.version.value = 123
    expected = predict_pb2.PredictResponse()
    expected.model_spec.CopyFrom(request.model_spec)
    expected.model_spec.signature_name = "serving_default"
    expected.outputs["y"].dtype = types_pb2.DT_FLOAT
    expected.outputs["y"].tensor_shape.SetInParent()
    expected.outputs["y"].float_val.append(3)
    assert server.predictions().Predict(request, RPC_TIMEOUT) == expected


@pytest.mark.parametrize(
    "signature, alias, output",
    [("regress_x2_to_y3", "inputs", "outputs"), ("classify_x2_to_y3", "inputs", "scores")],
)
def test_predict_on_regression_and_classification_signatures(server, signature, alias, output):
    """PREDICT-TEST PredictionWithNamedRegressionSignature / ...ClassificationSignature: Predict runs
    any signature; y3 = 0.5 x + 3 -> 4 for x = 2."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = TWO_VERSIONS
    request.model_spec.version.value = 123
    request.model_spec.signature_name = signature
    request.inputs[alias].dtype = types_pb2.DT_FLOAT
    request.inputs[alias].float_val.append(2.0)
    result = server.predictions().Predict(request, RPC_TIMEOUT)
    assert list(result.outputs) == [output]
    assert list(result.outputs[output].float_val) == [4.0]
    assert result.model_spec == request.model_spec


def test_stateful_signatures_without_inputs(server):
    """PREDICT-TEST PredictionWithCustomizedSignatures on saved_model_counter: signatures with no
    inputs, state kept between calls, outputs of a reference type sent as DT_FLOAT scalars."""
    stub = server.predictions()

    def call(signature: str, output_filter: bool = False, delta: float | None = None) -> float:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "counter"
        request.model_spec.signature_name = signature
        if output_filter:
            request.output_filter.append("output")
        if delta is not None:
            request.inputs["delta"].dtype = types_pb2.DT_FLOAT
            request.inputs["delta"].float_val.append(delta)
        output = stub.Predict(request, RPC_TIMEOUT).outputs["output"]
        assert output.dtype == types_pb2.DT_FLOAT and not output.tensor_shape.dim
        [value] = output.float_val
        return value

    call("reset_counter")  # the test's server is fresh; this one may have been called before
    assert call("get_counter") == 0
    assert call("incr_counter") == 1
    assert call("reset_counter") == 0
    assert call("incr_counter", output_filter=True) == 1
    assert call("incr_counter_by", delta=3) == 4


def test_good_model_config_serves_both_models(server):
    """TFMS testGoodModelConfig: good_model_config.txt's half_plus_two (3.0) and half_plus_three (4.0)."""
    stub = server.predictions()
    for model, expected in [("half_plus_two", 3.0), ("half_plus_three", 4.0)]:
        for specify_output in (True, False):
            request = predict_x(model)
            if specify_output:
                request.output_filter.append("y")
            result = stub.Predict(request, RPC_TIMEOUT)
            assert list(result.outputs["y"].float_val) == [expected]
            assert result.model_spec.version.value == 123


def test_a_bad_model_config_is_refused_in_tf_servings_words():
    """TFMS testBadModelConfig: the error names 'Error parsing text-format tensorflow.serving.ModelServerConfig'."""
    with pytest.raises(ValueError, match="Error parsing text-format tensorflow.serving.ModelServerConfig"):
        config_file_models(TESTDATA / "bad_model_config.txt")()


def _with_inputs(**tensors) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "default"
    request.model_spec.version.value = 123
    for name, (dtype, field, value) in tensors.items():
        request.inputs[name].dtype = dtype
        getattr(request.inputs[name], field).append(value)
        request.inputs[name].tensor_shape.dim.add().size = 1
    return request


PREDICT_ERRORS = {
    # PREDICT-TEST MissingOrEmptyModelSpec / server_core.cc: INVALID_ARGUMENT.
    "no model spec": (predict_pb2.PredictRequest(), grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec"),
    "no model name": (
        predict_pb2.PredictRequest(model_spec={"signature_name": "serving_default"}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ModelSpec has no name specified.",
    ),
    # PREDICT-TEST EmptyInputList.
    "no inputs": (_with_inputs(), grpc.StatusCode.INVALID_ARGUMENT, "input size does not match signature"),
    # PREDICT-TEST InputTensorsDontMatchModelSpecInputs.
    "unknown inputs": (
        _with_inputs(
            unknown_key1=(types_pb2.DT_STRING, "string_val", b"any_value"),
            unknown_key2=(types_pb2.DT_FLOAT, "float_val", 1.0),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Sent extra: {unknown_key1,unknown_key2}. Missing but required: {x}",
    ),
    # PREDICT-TEST PredictionInvalidTensor and InputTensorsHaveWrongType.
    "bool for float": (
        _with_inputs(x=(types_pb2.DT_BOOL, "bool_val", True)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expects arg[0] to be float but bool is provided",
    ),
    "string for float": (
        _with_inputs(x=(types_pb2.DT_STRING, "string_val", b"any_value")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "to be float but string is provided",
    ),
    # TFMS WaitForServerReady: a missing model's error names the servable; the manager's NOT_FOUND.
    "unknown model": (
        predict_pb2.PredictRequest(model_spec={"name": "intentionally_missing_model"}),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(intentionally_missing_model)",
    ),
    "unknown version": (
        predict_x("default", version=7),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Specific(default, 7)",
    ),
    # server_core.cc GetModelVersionForLabel.
    "unknown label": (
        predict_x(TWO_VERSIONS, version_label="Version_Nonexistent"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Unrecognized servable version label: Version_Nonexistent",
    ),
    # predict_util.cc RunPredict: an unknown signature is FAILED_PRECONDITION on gRPC.
    "unknown signature": (
        predict_x("default", signature_name="nope"),
        grpc.StatusCode.FAILED_PRECONDITION,
        'Serving signature key "nope" not found.',
    ),
}


@pytest.mark.parametrize("case", PREDICT_ERRORS, ids=list(PREDICT_ERRORS))
def test_predict_errors(server, case):
    request, code, message = PREDICT_ERRORS[case]
    error = rpc_error(server.predictions().Predict, request)
    assert error.code() == code, error.details()
    assert message in error.details()
    # ... and the server keeps serving.
    assert list(server.predictions().Predict(predict_x("default"), RPC_TIMEOUT).outputs["y"].float_val) == [3.0]


def test_output_filter_errors(server):
    """PREDICT-TEST OutputFiltersDontMatchModelSpecOutputs."""
    stub = server.predictions()
    request = _with_inputs(x=(types_pb2.DT_FLOAT, "float_val", 2.0))
    request.output_filter.append("output_filter")
    error = rpc_error(stub.Predict, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "output tensor alias not found in signature: output_filter" in error.details()
    del request.output_filter[:]
    request.output_filter.extend(["y", "y"])
    error = rpc_error(stub.Predict, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "duplicate output tensor alias: y" in error.details()


# --- gRPC Classify, Regress, GetModelStatus, GetModelMetadata ------------------------------------


def test_classify_and_regress(server):
    """TFMS testClassify and testRegress: one example x = 2 -> one class (no label) scored 3.0, and
    the regression 3.0; model_spec names the signature asked for and version 123."""
    stub = server.predictions()
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = "default", "classify_x_to_y"
    request.input.example_list.examples.add().features.feature["x"].float_list.value.extend([2.0])
    result = stub.Classify(request, RPC_TIMEOUT)
    assert len(result.result.classifications) == 1
    assert [(c.label, c.score) for c in result.result.classifications[0].classes] == [("", 3.0)]
    assert (result.model_spec.name, result.model_spec.signature_name, result.model_spec.version.value) == (
        "default",
        "classify_x_to_y",
        123,
    )
    regression = regression_pb2.RegressionRequest()
    regression.model_spec.name, regression.model_spec.signature_name = "default", "regress_x_to_y"
    regression.input.CopyFrom(request.input)
    result = stub.Regress(regression, RPC_TIMEOUT)
    assert [r.value for r in result.result.regressions] == [3.0]
    assert (result.model_spec.signature_name, result.model_spec.version.value) == ("regress_x_to_y", 123)


def test_classify_and_regress_errors(server):
    """classifier.cc / regressor.cc GetClassificationSignatureDef, GetRegressionSignatureDef; util.cc
    InputToSerializedExampleTensor."""
    stub = server.predictions()
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = "default", "regress_x_to_y"
    request.input.example_list.examples.add().features.feature["x"].float_list.value.extend([2.0])
    error = rpc_error(stub.Classify, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expected classification signature method_name to be tensorflow/serving/classify" in error.details()
    request.model_spec.signature_name = "nope"
    error = rpc_error(stub.Classify, request)
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "No signature was found with the name: nope",
    )
    regression = regression_pb2.RegressionRequest()
    regression.model_spec.name, regression.model_spec.signature_name = "default", "regress_x_to_y"
    error = rpc_error(stub.Regress, regression)
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Input is empty.")


def test_model_status(server):
    """TFMS testGetModelStatus (one version, 123, error_code OK) and STATUS-TEST (all versions, one
    version, and the errors)."""
    stub = server.models()

    def status(name: str | None, version: int | None = None):
        request = get_model_status_pb2.GetModelStatusRequest()
        if name is not None:
            request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        return stub.GetModelStatus(request, RPC_TIMEOUT)

    result = status("default")
    assert [(s.version, s.state, s.status.error_code) for s in result.model_version_status] == [(123, AVAILABLE, 0)]
    assert {s.version for s in status("two_versions").model_version_status} == {123, 124}
    assert all(s.status.error_message == "" for s in status("two_versions").model_version_status)
    assert [s.version for s in status("two_versions", 123).model_version_status] == [123]
    for name, version, code in [
        (None, None, grpc.StatusCode.INVALID_ARGUMENT),  # MissingOrEmptyModelSpecFailure
        ("nonexistent_model", None, grpc.StatusCode.NOT_FOUND),  # InvalidModelNameFailure
        ("two_versions", 125, grpc.StatusCode.NOT_FOUND),  # InvalidModelVersionFailure
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            status(name, version)
        assert caught.value.code() == code


def test_model_metadata_over_grpc(server):
    """get_model_metadata_impl.cc: every SignatureDef, model_spec with the name and version (no
    signature); its JSON is TF Serving's half_plus_two_model_metadata.json (TFMS)."""
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "default"
    result = server.predictions().GetModelMetadata(request, RPC_TIMEOUT)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    result.metadata["signature_def"].Unpack(signatures)
    expected = json.loads((TESTDATA / "half_plus_two_model_metadata.json").read_text())
    assert (
        json_format.MessageToDict(signatures, preserving_proto_field_name=True, including_default_value_fields=True)
        == (expected["metadata"]["signature_def"])
    )
    assert (result.model_spec.name, result.model_spec.version.value, result.model_spec.signature_name) == (
        "default",
        123,
        "",
    )
    for bad, message in [
        (get_model_metadata_pb2.GetModelMetadataRequest(model_spec={"name": "default"}), "at least one metadata_field"),
        (
            get_model_metadata_pb2.GetModelMetadataRequest(model_spec={"name": "default"}, metadata_field=["x"]),
            # get_model_metadata_impl.cc builds this one with StrCat, so TF Serving's own text reads
            # "Metadata field %s is not supportedx"; this server names the field in place.
            "is not supported",
        ),
    ]:
        error = rpc_error(server.predictions().GetModelMetadata, bad)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in error.details()


# --- REST ----------------------------------------------------------------------------------------


def test_rest_predict_classify_regress(server):
    """TFMS testPredictREST, testPredictColumnarREST, testClassifyREST, testRegressREST."""
    assert server.rest("POST", "/v1/models/default:predict", {"instances": [2.0, 3.0, 4.0]})[::2] == (
        200,
        {"predictions": [3.0, 3.5, 4.0]},
    )
    assert server.rest("POST", "/v1/models/default:predict", {"inputs": [2.0, 3.0, 4.0]})[::2] == (
        200,
        {"outputs": [3.0, 3.5, 4.0]},
    )
    classify = {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}
    assert server.rest("POST", "/v1/models/default:classify", classify)[::2] == (200, {"results": [[["", 3.0]]]})
    regress = {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}
    assert server.rest("POST", "/v1/models/default:regress", regress)[::2] == (200, {"results": [3.0]})


def test_rest_status(server):
    """TFMS testGetStatusREST; REST-HANDLER-TEST GetStatus (all versions, a version, a label):
    every field, defaults included."""
    expected = {
        "model_version_status": [
            {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    for path in [
        "/v1/models/default",
        f"/v1/models/{TWO_VERSIONS}",
        f"/v1/models/{TWO_VERSIONS}/versions/123",
        f"/v1/models/{TWO_VERSIONS}/labels/{VERSION_LABEL}",
    ]:
        status, headers, body = server.rest("GET", path)
        assert (status, body) == (200, expected), path
        assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "model, expected_file",
    [
        ("default", "half_plus_two_model_metadata.json"),
        (TWO_VERSIONS, "saved_model_half_plus_two_2_versions_metadata.json"),
    ],
)
def test_rest_metadata_is_tf_servings_json(server, model, expected_file):
    """TFMS testGetModelMetadataREST and REST-HANDLER-TEST GetModelMetadata: TF Serving's own metadata
    files, with every default-valued field (`"name": ""` of each dim, `"unknown_rank": false`,
    `"defaults": {}`, the model_spec's empty signature_name and its version as a string)."""
    status, headers, body = server.rest("GET", f"/v1/models/{model}/metadata")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == json.loads((TESTDATA / expected_file).read_text())


def test_rest_predict_by_version_label_and_signature(server):
    """REST-HANDLER-TEST Predict: 2-D instances (shapes not checked against [-1, 1]), a version, a
    label, an explicit signature_name, columnar inputs."""
    base = f"/v1/models/{TWO_VERSIONS}"
    cases = [
        (f"{base}:predict", {"instances": [[1.0, 2.0], [3.0, 4.0]]}, {"predictions": [[2.5, 3.0], [3.5, 4.0]]}),
        (f"{base}/versions/123:predict", {"instances": [1.0, 2.0]}, {"predictions": [2.5, 3.0]}),
        (f"{base}/labels/{VERSION_LABEL}:predict", {"instances": [1.0, 2.0]}, {"predictions": [2.5, 3.0]}),
        (
            f"{base}/versions/123:predict",
            {"signature_name": "serving_default", "instances": [3.0, 4.0]},
            {"predictions": [3.5, 4.0]},
        ),
        (
            f"{base}/versions/123:predict",
            {"signature_name": "serving_default", "inputs": [3.0, 4.0]},
            {"outputs": [3.5, 4.0]},
        ),
    ]
    for path, request, expected in cases:
        status, headers, body = server.rest("POST", path, request)
        assert (status, body) == (200, expected), path
        assert headers["Content-Type"] == "application/json"


def test_rest_classify_and_regress_by_version_and_label(server):
    """REST-HANDLER-TEST Regress (x = 80 -> 42) and Classify (x = 20 -> 12, x = 10 -> 7)."""
    base = f"/v1/models/{TWO_VERSIONS}"
    regress = {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]}
    for path in [f"{base}:regress", f"{base}/versions/123:regress", f"{base}/labels/{VERSION_LABEL}:regress"]:
        assert server.rest("POST", path, regress)[::2] == (200, {"results": [42]}), path
    classify = {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]}
    assert server.rest("POST", f"{base}:classify", classify)[::2] == (200, {"results": [[["", 12]]]})
    classify = {"signature_name": "classify_x_to_y", "examples": [{"x": 10.0}]}
    path = f"{base}/labels/{VERSION_LABEL}:classify"
    assert server.rest("POST", path, classify)[::2] == (200, {"results": [[["", 7]]]})


def test_rest_guide_example(server):
    """REST-GUIDE's example on half_plus_three: status, predict (x declared a scalar, sent as [3]),
    regress on the signature named tensorflow/serving/regress, and the 404 of an unknown model."""
    status, _, body = server.rest("GET", "/v1/models/half_plus_three")
    assert (status, body["model_version_status"][0]["state"]) == (200, "AVAILABLE")
    predict = {"instances": [1.0, 2.0, 5.0]}
    assert server.rest("POST", "/v1/models/half_plus_three:predict", predict)[::2] == (
        200,
        {"predictions": [3.5, 4.0, 5.5]},
    )
    regress = {"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}, {"x": 2.0}]}
    assert server.rest("POST", "/v1/models/half_plus_three:regress", regress)[::2] == (200, {"results": [3.5, 4.0]})
    status, headers, body = server.rest("POST", "/v1/models/half:predict", {"instances": [1.0, 5.0]})
    assert (status, body) == (404, {"error": "Servable not found for request: Latest(half)"})
    assert headers["Content-Type"] == "application/json"


REST_ERRORS = [
    # REST-HANDLER-TEST UnsupportedApiCalls: 400 (INVALID_ARGUMENT), "Malformed request".
    ("GET", "/v1/foo", "", 400, "Malformed request"),
    ("POST", "/v1/foo", "", 400, "Malformed request"),
    ("GET", "/v1/models", "", 400, "Missing model name"),
    ("GET", "/v1/models/debug/model_name", "", 400, "Malformed request"),
    ("POST", "/v1/models", "", 400, "Malformed request"),
    ("GET", "/v1/models/foo:predict", "", 400, "Malformed request"),
    ("GET", "/v1/models/foo/version/50:predict", "", 400, "Malformed request"),
    ("POST", "/v1/models/foo/version/50:regress", "", 400, "Malformed request"),
    ("POST", "/v1/models/foo/versions/HELLO:regress", "", 400, "Malformed request"),
    ("POST", f"/v1/models/foo/versions/{2**64 - 1}:regress", "", 400, "Failed to convert version"),
    ("POST", "/v1/models/foo/metadata", "", 400, "Malformed request"),
    ("POST", "/v1/models/foo/label/some_label:regress", "", 400, "Malformed request"),
    ("POST", "/v1/models/foo/versions/50/labels/some_label:regress", "", 400, "Malformed request"),
    ("POST", "/v1/models/foo/versions/some_label:regress", "", 400, "Malformed request"),
    # REST-HANDLER-TEST PredictModelNameVersionErrors: 404 (NOT_FOUND).
    ("POST", "/v1/models/foo:predict", '{ "instances": [1] }', 404, "Servable not found"),
    ("POST", "/v1/models/foo/versions/50:predict", '{ "instances": [1] }', 404, "Servable not found"),
    ("POST", f"/v1/models/{TWO_VERSIONS}99:predict", '{ "instances": [1] }', 404, "Servable not found"),
    # REST-HANDLER-TEST PredictRequestErrors: 400.
    ("POST", f"/v1/models/{TWO_VERSIONS}:predict", "", 400, "JSON Parse error: The document is empty"),
    ("POST", f"/v1/models/{TWO_VERSIONS}:predict", "instances = [1, 2]", 400, "JSON Parse error: Invalid value"),
    ("POST", f"/v1/models/{TWO_VERSIONS}:predict", '{ "instances": ["x", "y"] }', 400, "not of expected type: float"),
    (
        "POST",
        f"/v1/models/{TWO_VERSIONS}/labels/Version_Nonexistent:predict",
        '{ "instances": ["x", "y"] }',
        400,
        "Unrecognized servable version label",
    ),
    (
        "POST",
        f"/v1/models/{TWO_VERSIONS}:predict",
        '{ "signature_name": 100 }',
        400,
        "'signature_name' key must be a string value.",
    ),
    # http_server.cc: a path outside /v1/ has no handler (HttpRestApiHandlerTest.kPathRegex): 404.
    ("GET", "/statuspage", "", 404, ""),
    ("GET", "/index", "", 404, ""),
]


@pytest.mark.parametrize("method, path, body, status, message", REST_ERRORS)
def test_rest_errors(server, method, path, body, status, message):
    code, headers, answer = server.rest(method, path, body.encode())
    assert code == status, answer
    assert message in answer["error"]
    if server.kind == "tfpipe serve" or path.startswith("/v1/"):  # TF Serving's 404 outside /v1/ is its own page
        assert headers["Content-Type"] == "application/json"


# --- the iris run's model behind both servers (the real one only where it is installed) -----------

SHARED_ERRORS = ["unknown model", "unknown version", "wrong input name", "wrong dtype", "unparsable examples"]
needs_tf_serving = pytest.mark.skipif(TF_SERVING is None, reason=NO_TF_SERVING)


@pytest.fixture(scope="module")
def real_iris_server(iris_run: PipelineRun, tmp_path_factory):
    """`tensorflow_model_server` over the iris run's serving dir, configured by its models.config."""
    grpc_port, rest_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("tf-serving") / "server.log"
    process = subprocess.Popen(
        [
            str(TF_SERVING),
            f"--port={grpc_port}",
            f"--rest_api_port={rest_port}",
            f"--model_config_file={iris_run.workdir / 'serving' / MODELS_CONFIG}",
            "--model_config_file_poll_wait_seconds=1",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_available(f"127.0.0.1:{grpc_port}", ["iris"], process, log)
        yield grpc_port, rest_port
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def embedded_iris_server(iris_run: PipelineRun):
    server = ModelServer(iris_run.workdir / "serving", ServerOptions(grpc_port=0, rest_port=0)).start()
    yield server.grpc_port, server.rest_port
    server.stop()


@pytest.fixture(scope="module")
def clients(real_iris_server, embedded_iris_server):
    """(real TF Serving's client, the embedded server's client): the same client class for both."""
    with (
        PredictionClient(f"127.0.0.1:{real_iris_server[0]}") as real,
        PredictionClient(f"127.0.0.1:{embedded_iris_server[0]}") as ours,
    ):
        yield real, ours


@needs_tf_serving
def test_iris_predictions_agree(clients):
    real, ours = (client.predict_response(predict_request("iris", KNOWN_EXAMPLES)) for client in clients)
    assert real == ours  # typed fields and all


@needs_tf_serving
def test_iris_metadata_agrees(clients):
    real, ours = (client.metadata("iris") for client in clients)
    assert real == ours


@needs_tf_serving
def test_iris_status_agrees(clients):
    real, ours = (client.status("iris") for client in clients)
    assert real == ours


@needs_tf_serving
@pytest.mark.parametrize("case", SHARED_ERRORS)
def test_iris_errors_have_the_same_status_codes(clients, case):
    request, code, _ = GRPC_ERRORS[case]
    codes = []
    for client in clients:
        with pytest.raises(grpc.RpcError) as caught:
            client.predict_response(request)
        codes.append(caught.value.code())
    assert codes == [code, code]


@needs_tf_serving
def test_iris_rest_predictions_agree(real_iris_server, embedded_iris_server):
    body = json.dumps({"instances": [b64(example) for example in KNOWN_EXAMPLES]}).encode()
    answers = []
    for _, rest_port in (real_iris_server, embedded_iris_server):
        connection = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=10)
        connection.request("POST", "/v1/models/iris:predict", body=body)
        answers.append(json.loads(connection.getresponse().read())["predictions"])
        connection.close()
    real, ours = answers
    assert [row["species"] for row in real] == [row["species"] for row in ours]
    assert [row["class_id"] for row in real] == [row["class_id"] for row in ours]
    np.testing.assert_allclose([row["probabilities"] for row in real], [row["probabilities"] for row in ours])
