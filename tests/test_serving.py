"""The embedded model server over real localhost sockets: gRPC and REST predictions from the pushed
iris model, metadata and status, version selection and hot swaps, batching, the client, every error.

The model is the one the session's iris run pushed (`iris_run`); each server serves a copy of that
serving tree in tmp_path, so tests can add versions without touching the run's workdir.
"""

import base64
import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT, PipelineRun
from google.protobuf import text_format
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from components.tf_example import serialized
from serving.batching import Batcher, BatchingOptions
from serving.client import PredictionClient, predict_request
from serving.errors import invalid_argument
from serving.model_server import ModelServer, ServerOptions
from serving.push import MODELS_CONFIG, models_config, push_model

# Real rows of data/iris/iris.csv, in centimetres.
KNOWN_ROWS = {
    "setosa": dict(sepal_length=5.0, sepal_width=3.4, petal_length=1.5, petal_width=0.2),
    "versicolor": dict(sepal_length=5.7, sepal_width=2.8, petal_length=4.1, petal_width=1.3),
    "virginica": dict(sepal_length=6.7, sepal_width=3.0, petal_length=5.2, petal_width=2.3),
}
KNOWN_EXAMPLES = [serialized(row) for row in KNOWN_ROWS.values()]
MAX_REQUEST_BYTES = 64 * 1024
AVAILABLE = get_model_status_pb2.ModelVersionStatus.State.AVAILABLE
END = get_model_status_pb2.ModelVersionStatus.State.END


def copy_serving_tree(iris_run: PipelineRun, destination: Path) -> Path:
    """A copy of the run's serving dir, its models.config pointing at the copy (as a push there would)."""
    serving_dir = destination / "serving"
    shutil.copytree(iris_run.workdir / "serving", serving_dir)
    write_models_config(serving_dir / MODELS_CONFIG, models_config(serving_dir, str(serving_dir)))
    return serving_dir


def write_models_config(path: Path, config) -> None:
    """Replaces a models.config as the Pusher does: a whole new file renamed over the old one."""
    staged = path.with_name(f".{path.name}.new")
    staged.write_text(text_format.MessageToString(config) if not isinstance(config, str) else config)
    staged.rename(path)


def versions(serving_dir: Path) -> list[int]:
    return sorted(int(path.name) for path in (serving_dir / "iris").iterdir() if path.name.isdigit())


def push_version(serving_dir: Path) -> int:
    """Pushes the latest version again, as the pipeline's Pusher does; returns the new version."""
    latest = serving_dir / "iris" / str(versions(serving_dir)[-1])
    return int(push_model(latest, serving_dir / "iris").name)


def start_server(serving_dir: Path, **options) -> ModelServer:
    defaults = dict(grpc_port=0, rest_port=0, poll_interval_s=0.1, max_request_bytes=MAX_REQUEST_BYTES)
    return ModelServer(serving_dir, ServerOptions(**(defaults | options))).start()


def wait_for(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def serving_dir(iris_run: PipelineRun, tmp_path_factory) -> Path:
    return copy_serving_tree(iris_run, tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
def server(serving_dir: Path):
    """One server for the tests that do not change versions."""
    server = start_server(serving_dir, batching=BatchingOptions(max_batch_size=8, batch_timeout_s=0.005))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(server: ModelServer):
    with PredictionClient(f"127.0.0.1:{server.grpc_port}", timeout_s=10) as client:
        yield client


def rest(server: ModelServer, path: str, body=None) -> tuple[int, dict]:
    """(HTTP status, JSON body) of a GET, or of a POST when there is a body (bytes are sent as they are)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{server.rest_port}{path}", data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


# --- predictions ---------------------------------------------------------------------------------


def test_grpc_predict_gives_the_species_of_known_rows(client, serving_dir):
    response = client.predict_response(predict_request("iris", KNOWN_EXAMPLES))
    outputs = {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
    assert [name.decode() for name in outputs["species"]] == list(KNOWN_ROWS)
    assert list(outputs["class_id"]) == [0, 1, 2]
    assert outputs["probabilities"].shape == (3, 3)
    np.testing.assert_allclose(outputs["probabilities"].sum(axis=1), 1, rtol=1e-5)
    # Latest version by default, and the response says which answered.
    assert response.model_spec.version.value == versions(serving_dir)[-1]
    assert response.model_spec.signature_name == "serving_default"


def test_grpc_output_filter_returns_only_the_named_outputs(client):
    request = predict_request("iris", KNOWN_EXAMPLES)
    request.output_filter.append("species")
    assert set(client.predict(request)) == {"species"}


def test_rest_predict_in_row_format(server):
    status, body = rest(server, "/v1/models/iris:predict", {"instances": [b64(e) for e in KNOWN_EXAMPLES]})
    assert status == 200, body
    assert [row["species"] for row in body["predictions"]] == list(KNOWN_ROWS)
    assert [row["class_id"] for row in body["predictions"]] == [0, 1, 2]
    assert all(len(row["probabilities"]) == 3 for row in body["predictions"])


def test_rest_predict_in_columnar_format(server):
    status, body = rest(server, "/v1/models/iris:predict", {"inputs": {"examples": [b64(e) for e in KNOWN_EXAMPLES]}})
    assert status == 200, body
    assert body["outputs"]["species"] == list(KNOWN_ROWS)
    assert body["outputs"]["class_id"] == [0, 1, 2]


def test_rest_predict_from_plain_measurements(server):
    """`predict_measurements`: JSON clients send the measurements themselves, no tf.Examples."""
    status, body = rest(
        server,
        "/v1/models/iris:predict",
        {"signature_name": "predict_measurements", "instances": list(KNOWN_ROWS.values())},
    )
    assert status == 200, body
    assert [row["species"] for row in body["predictions"]] == list(KNOWN_ROWS)
    columns = {name: [row[name] for row in KNOWN_ROWS.values()] for name in KNOWN_ROWS["setosa"]}
    status, body = rest(
        server, "/v1/models/iris:predict", {"signature_name": "predict_measurements", "inputs": columns}
    )
    assert (status, body["outputs"]["species"]) == (200, list(KNOWN_ROWS))
    # Whole numbers are numbers too (a float input takes JSON integers, as TF Serving's does).
    status, body = rest(
        server,
        "/v1/models/iris:predict",
        {"signature_name": "predict_measurements", "instances": [dict(KNOWN_ROWS["virginica"], sepal_width=3)]},
    )
    assert (status, body["predictions"][0]["species"]) == (200, "virginica")


def test_grpc_outputs_fill_the_typed_fields(client):
    """As TF Serving's Predict (Tensor::AsProtoField): a client reading `float_val` gets the values."""
    outputs = client.predict_response(predict_request("iris", KNOWN_EXAMPLES)).outputs
    assert list(outputs["class_id"].int64_val) == [0, 1, 2]
    assert list(outputs["species"].string_val) == [name.encode() for name in KNOWN_ROWS]
    assert len(outputs["probabilities"].float_val) == 9
    assert not any(output.tensor_content for output in outputs.values())


def test_concurrent_requests_each_get_their_own_rows(client):
    """With batching on, requests merged into one model call still get exactly their rows back."""
    rows = list(KNOWN_ROWS.items())
    failures, answers = [], {}

    def ask(index):
        species, measurements = rows[index % 3]
        try:
            outputs = client.predict(predict_request("iris", [serialized(measurements)] * (1 + index % 2)))
            answers[index] = ([name.decode() for name in outputs["species"]], species, 1 + index % 2)
        except grpc.RpcError as error:
            failures.append(error)

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    for got, species, count in answers.values():
        assert got == [species] * count


# --- metadata and status -------------------------------------------------------------------------


def test_grpc_metadata_describes_the_serving_signature(client, serving_dir):
    response = client.metadata("iris")
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    serving_default = signatures.signature_def["serving_default"]
    assert serving_default.method_name == "tensorflow/serving/predict"
    assert set(serving_default.inputs) == {"examples"}
    assert serving_default.inputs["examples"].dtype == tf.string.as_datatype_enum
    assert set(serving_default.outputs) == {"probabilities", "class_id", "species"}
    assert response.model_spec.version.value == versions(serving_dir)[-1]
    measurements = signatures.signature_def["predict_measurements"]
    assert set(measurements.inputs) == {"sepal_length", "sepal_width", "petal_length", "petal_width"}
    assert {info.dtype for info in measurements.inputs.values()} == {tf.float32.as_datatype_enum}


def test_rest_metadata_describes_the_serving_signature(server, serving_dir):
    status, body = rest(server, "/v1/models/iris/metadata")
    assert status == 200, body
    assert body["model_spec"] == {"name": "iris", "signature_name": "", "version": str(versions(serving_dir)[-1])}
    serving_default = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert serving_default["inputs"]["examples"]["dtype"] == "DT_STRING"
    assert serving_default["outputs"]["species"]["dtype"] == "DT_STRING"


def test_status_reports_the_loaded_version_available(client, server, serving_dir):
    [status] = client.status("iris").model_version_status
    assert (status.version, status.state) == (versions(serving_dir)[-1], AVAILABLE)
    code, body = rest(server, "/v1/models/iris")
    assert code == 200
    assert body == {
        "model_version_status": [
            {
                "version": str(versions(serving_dir)[-1]),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


# --- versions ------------------------------------------------------------------------------------


def test_version_selection_by_number_label_and_default(iris_run, tmp_path):
    serving_dir = copy_serving_tree(iris_run, tmp_path)
    old = versions(serving_dir)[-1]
    new = push_version(serving_dir)
    server = start_server(serving_dir, versions_to_keep=2, version_labels={"iris": {"stable": old}})
    try:
        with PredictionClient(f"127.0.0.1:{server.grpc_port}") as client:

            def answered(**selection):
                return client.predict_response(
                    predict_request("iris", KNOWN_EXAMPLES[:1], **selection)
                ).model_spec.version.value

            assert answered() == new
            assert answered(version=old) == old
            assert answered(version_label="stable") == old
            assert [s.version for s in client.status("iris").model_version_status] == [new, old]
        code, body = rest(server, f"/v1/models/iris/versions/{old}:predict", {"instances": [b64(KNOWN_EXAMPLES[0])]})
        assert (code, body["predictions"][0]["species"]) == (200, "setosa")
        code, body = rest(server, "/v1/models/iris/labels/stable/metadata")
        assert (code, body["model_spec"]["version"]) == (200, str(old))
        code, body = rest(server, f"/v1/models/iris/versions/{old}")
        assert [entry["version"] for entry in body["model_version_status"]] == [str(old)]
    finally:
        server.stop()


def test_models_config_names_the_models_their_version_policies_and_labels(iris_run, tmp_path):
    serving_dir = copy_serving_tree(iris_run, tmp_path)
    first = versions(serving_dir)[-1]
    second, third = push_version(serving_dir), push_version(serving_dir)
    # Kept outside the serving dir, as a deployment's own config would be; one folder serves two
    # models: iris pinned to two versions with a label, and a canary that follows the latest.
    config_file = tmp_path / "deploy" / "models.config"
    config_file.parent.mkdir()
    write_models_config(
        config_file,
        f"""
model_config_list {{
  config {{ name: "iris" base_path: "{serving_dir / "iris"}" model_platform: "tensorflow"
           model_version_policy {{ specific {{ versions: {first} versions: {second} }} }}
           version_labels {{ key: "stable" value: {first} }} }}
  config {{ name: "iris_canary" base_path: "../serving/iris" model_platform: "tensorflow" }}
}}""",
    )
    server = start_server(serving_dir, model_config_file=config_file)
    try:
        assert server.manager.model_names() == ["iris", "iris_canary"]
        assert server.manager.loaded_versions("iris") == [first, second]
        assert server.manager.loaded_versions("iris_canary") == [third]  # TF Serving's default: the latest
        with PredictionClient(f"127.0.0.1:{server.grpc_port}") as client:
            response = client.predict_response(predict_request("iris", KNOWN_EXAMPLES[:1], version_label="stable"))
            assert response.model_spec.version.value == first
            canary = client.predict_response(predict_request("iris_canary", KNOWN_EXAMPLES[:1]))
            assert (canary.model_spec.version.value, tf.make_ndarray(canary.outputs["species"])[0]) == (
                third,
                b"setosa",
            )
            # The config is re-read at every poll: a model it drops is unloaded, a new label works.
            write_models_config(
                config_file,
                f"""
model_config_list {{
  config {{ name: "iris" base_path: "{serving_dir / "iris"}" model_platform: "tensorflow"
           model_version_policy {{ all {{}} }} version_labels {{ key: "stable" value: {second} }} }}
}}""",
            )
            wait_for(lambda: server.manager.model_names() == ["iris"])
            wait_for(lambda: server.manager.loaded_versions("iris") == [first, second, third])
            response = client.predict_response(predict_request("iris", KNOWN_EXAMPLES[:1], version_label="stable"))
            assert response.model_spec.version.value == second
            with pytest.raises(grpc.RpcError) as error:
                client.predict(predict_request("iris_canary", KNOWN_EXAMPLES[:1]))
            assert error.value.code() == grpc.StatusCode.NOT_FOUND
            # A config broken mid-edit is reported in the log; what is loaded keeps serving.
            write_models_config(config_file, "model_config_list { config { name: ")
            time.sleep(0.5)
            assert client.predict(predict_request("iris", KNOWN_EXAMPLES[:1]))["species"][0] == b"setosa"
    finally:
        server.stop()


def test_an_unreadable_models_config_stops_the_server_before_it_listens(iris_run, tmp_path):
    serving_dir = copy_serving_tree(iris_run, tmp_path)
    (serving_dir / MODELS_CONFIG).write_text("model_config_list { config { name: ")
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfpipe.cli",
            "serve",
            "--workdir",
            str(tmp_path),
            "--grpc-port",
            "0",
            "--rest-port",
            "0",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 2
    assert (
        process.stderr.strip()
        .splitlines()[-1]
        .startswith(f"tfpipe: {serving_dir / MODELS_CONFIG} is not a readable ModelServerConfig text proto: ")
    )


def test_new_version_is_loaded_while_a_client_loop_runs_without_a_failed_request(iris_run, tmp_path):
    serving_dir = copy_serving_tree(iris_run, tmp_path)
    old = versions(serving_dir)[-1]
    server = start_server(serving_dir, batching=BatchingOptions(max_batch_size=8, batch_timeout_s=0.002))
    answered_by, failures, stop = [], [], threading.Event()

    def client_loop():
        with PredictionClient(f"127.0.0.1:{server.grpc_port}", attempts=1) as client:
            while not stop.is_set():
                try:
                    response = client.predict_response(predict_request("iris", KNOWN_EXAMPLES))
                    species = [name.decode() for name in tf.make_ndarray(response.outputs["species"])]
                    assert species == list(KNOWN_ROWS)
                    answered_by.append(response.model_spec.version.value)
                except (grpc.RpcError, AssertionError) as error:
                    failures.append(error)

    loops = [threading.Thread(target=client_loop) for _ in range(4)]
    try:
        for loop in loops:
            loop.start()
        wait_for(lambda: len(answered_by) > 20)
        first = push_version(serving_dir)
        wait_for(lambda: answered_by[-1] == first)
        second = push_version(serving_dir)
        wait_for(lambda: answered_by[-1] == second)
        count = len(answered_by)
        wait_for(lambda: len(answered_by) > count + 20)
    finally:
        stop.set()
        for loop in loops:
            loop.join()
        with PredictionClient(f"127.0.0.1:{server.grpc_port}") as client:
            statuses = {status.version: status.state for status in client.status("iris").model_version_status}
        server.stop()
    assert failures == []
    assert {old, first, second} <= set(answered_by)
    # The default policy keeps only the newest version loaded.
    assert statuses == {old: END, first: END, second: AVAILABLE}


def test_a_version_folder_without_saved_model_is_not_loaded(iris_run, tmp_path):
    serving_dir = copy_serving_tree(iris_run, tmp_path)
    old = versions(serving_dir)[-1]
    half_written = serving_dir / "iris" / str(old + 1)
    shutil.copytree(serving_dir / "iris" / str(old) / "variables", half_written / "variables")
    server = start_server(serving_dir)
    try:
        time.sleep(0.5)  # several polls
        assert server.manager.loaded_versions("iris") == [old]
        shutil.copyfile(serving_dir / "iris" / str(old) / "saved_model.pb", half_written / "saved_model.pb")
        # Complete now: loaded, and it replaces the older version.
        wait_for(lambda: server.manager.loaded_versions("iris") == [old + 1])
    finally:
        server.stop()


def test_a_version_that_fails_to_load_is_reported_and_the_previous_one_keeps_serving(iris_run, tmp_path):
    serving_dir = copy_serving_tree(iris_run, tmp_path)
    old = versions(serving_dir)[-1]
    broken = serving_dir / "iris" / str(old + 1)
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    server = start_server(serving_dir)
    try:
        with PredictionClient(f"127.0.0.1:{server.grpc_port}") as client:
            response = client.predict_response(predict_request("iris", KNOWN_EXAMPLES))
            assert response.model_spec.version.value == old
            statuses = {status.version: status for status in client.status("iris").model_version_status}
        assert statuses[old].state == AVAILABLE
        assert statuses[old + 1].state == END
        assert statuses[old + 1].status.error_code == grpc.StatusCode.INTERNAL.value[0]
        assert statuses[old + 1].status.error_message
    finally:
        server.stop()


# --- errors: the server answers each with TF Serving's status and keeps serving ------------------


def _grpc_error(client: PredictionClient, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        client.predict_response(request)
    return caught.value


def _request(inputs: dict, **spec) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = spec.pop("name", "iris")
    if "version" in spec:
        request.model_spec.version.value = spec.pop("version")
    request.model_spec.signature_name = spec.pop("signature_name", "")
    if "version_label" in spec:
        request.model_spec.version_label = spec.pop("version_label")
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


GRPC_ERRORS = {
    "unknown model": (
        _request({"examples": KNOWN_EXAMPLES}, name="roses"),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(roses)",
    ),
    "unknown version": (
        _request({"examples": KNOWN_EXAMPLES}, version=7),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Specific(iris, 7)",
    ),
    "unknown label": (
        _request({"examples": KNOWN_EXAMPLES}, version_label="canary"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Unrecognized servable version label: canary",
    ),
    # TF Serving's statuses and texts (predict_util.cc, tensorflow/cc/saved_model/util.cc,
    # Session::Run); tests/test_tf_serving_contract.py checks them on TF Serving's own models.
    "unknown signature": (
        _request({"examples": KNOWN_EXAMPLES}, signature_name="classify"),
        grpc.StatusCode.FAILED_PRECONDITION,
        'Serving signature key "classify" not found.',
    ),
    "wrong input name": (
        _request({"features": KNOWN_EXAMPLES}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Signature input alias: examples(feed name: ",
    ),
    "wrong dtype": (
        _request({"examples": [5.0, 3.4]}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expects arg[0] to be string but float is provided",
    ),
    # Shapes are the model's business, as in TF Serving: its example parser refuses a matrix.
    "wrong shape": (
        _request({"examples": [KNOWN_EXAMPLES]}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expected serialized to be a scalar or vector, got shape: [1,3]",
    ),
    "unparsable examples": (
        _request({"examples": [b"not a tf.Example"]}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Could not parse example input",
    ),
    "oversized request": (
        _request({"examples": [b"x" * MAX_REQUEST_BYTES]}),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "larger than max",
    ),
}


@pytest.mark.parametrize("case", GRPC_ERRORS, ids=list(GRPC_ERRORS))
def test_grpc_errors_are_tf_serving_statuses_and_the_server_keeps_serving(client, case):
    request, code, message = GRPC_ERRORS[case]
    error = _grpc_error(client, request)
    assert error.code() == code
    assert message in error.details()
    assert [s.decode() for s in client.predict(predict_request("iris", KNOWN_EXAMPLES))["species"]] == list(KNOWN_ROWS)


def test_grpc_bad_output_filter_is_invalid_argument(client):
    request = predict_request("iris", KNOWN_EXAMPLES)
    request.output_filter.append("petals")
    error = _grpc_error(client, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "output tensor alias not found in signature: petals" in error.details()


def test_status_of_unknown_model_or_version_is_not_found(client):
    for model, version, message in [
        ("roses", None, "Could not find any versions of model roses"),
        ("iris", 7, "Could not find version 7 of model iris"),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            client.status(model, version)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert message in caught.value.details()


REST_ERRORS = {
    "unknown model": ("/v1/models/roses:predict", {"instances": [b64(KNOWN_EXAMPLES[0])]}, 404, "Latest(roses)"),
    "unknown version": (
        "/v1/models/iris/versions/7:predict",
        {"instances": [b64(KNOWN_EXAMPLES[0])]},
        404,
        "Specific(iris, 7)",
    ),
    "unknown model status": ("/v1/models/roses", None, 404, "Could not find any versions of model roses"),
    # TF Serving's statuses and texts (http_rest_api_handler.cc, json_tensor.cc).
    "malformed URL": ("/v1/modelz/iris", None, 400, "Malformed request: GET /v1/modelz/iris"),
    "not the REST API": ("/v2/models/iris", None, 404, "Not found"),
    "wrong input name": (
        "/v1/models/iris:predict",
        {"inputs": {"features": [b64(KNOWN_EXAMPLES[0])]}},
        400,
        "Missing named input: examples in 'inputs' object.",
    ),
    "wrong dtype": ("/v1/models/iris:predict", {"instances": [5.0, 3.4]}, 400, "is not of expected type: string"),
    "wrong shape": (
        "/v1/models/iris:predict",
        {"inputs": {"examples": [[b64(KNOWN_EXAMPLES[0])]]}},
        400,
        "Expected serialized to be a scalar or vector, got shape: [1,1]",
    ),
    "ragged input": (
        "/v1/models/iris:predict",
        {"inputs": {"examples": [[b64(KNOWN_EXAMPLES[0])], b64(KNOWN_EXAMPLES[0])]}},
        400,
        "found at incorrect level",
    ),
    "neither instances nor inputs": ("/v1/models/iris:predict", {"rows": []}, 400, "'inputs' or 'instances'"),
    "not JSON": ("/v1/models/iris:predict", b"{instances: oops", 400, "JSON Parse error"),
    "oversized request": (
        "/v1/models/iris:predict",
        {"instances": [b64(b"x" * MAX_REQUEST_BYTES)]},
        413,
        "larger than the limit",
    ),
}


@pytest.mark.parametrize("case", REST_ERRORS, ids=list(REST_ERRORS))
def test_rest_errors_are_tf_serving_statuses_and_the_server_keeps_serving(server, case):
    path, body, http_status, message = REST_ERRORS[case]
    status, answer = rest(server, path, body)
    assert status == http_status, answer
    assert message in answer["error"]
    status, answer = rest(server, "/v1/models/iris:predict", {"instances": [b64(e) for e in KNOWN_EXAMPLES]})
    assert (status, [row["species"] for row in answer["predictions"]]) == (200, list(KNOWN_ROWS))


def test_a_kept_alive_rest_connection_stays_usable_after_errors(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=10)
    good = json.dumps({"instances": [b64(KNOWN_EXAMPLES[0])]})
    try:
        for path, body, status in [
            ("/v1/modelz/iris:predict", good, 400),
            ("/v1/models/iris:predict", "{oops", 400),
            ("/v1/models/iris:predict", good, 200),
        ]:
            connection.request("POST", path, body=body)
            response = connection.getresponse()
            assert (response.status, path) == (status, path)
            answer = json.load(response)
        assert answer["predictions"][0]["species"] == "setosa"
    finally:
        connection.close()


# --- Classify and Regress ------------------------------------------------------------------------


def _save_classify_regress_model(path: Path) -> None:
    """A TF1-style SavedModel with classify and regress signatures over one float feature `x`:
    classes ("low", "high") with scores (1 - x, x), and the regression 2x."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
        x = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]
        classes = tf.tile(tf.constant([["low", "high"]]), [tf.shape(x)[0], 1])
        builder = tf.compat.v1.saved_model.Builder(str(path))
        builder.add_meta_graph_and_variables(
            session,
            ["serve"],
            signature_def_map={
                "classify_x": tf.compat.v1.saved_model.classification_signature_def(
                    serialized, classes, tf.concat([1 - x, x], 1)
                ),
                "regress_x": tf.compat.v1.saved_model.regression_signature_def(serialized, 2 * x),
            },
        )
        builder.save()


@pytest.fixture(scope="module")
def examples_server(tmp_path_factory):
    serving_dir = tmp_path_factory.mktemp("examples") / "serving"
    _save_classify_regress_model(serving_dir / "threshold" / "1")
    server = start_server(serving_dir)
    yield server
    server.stop()


def _examples_input(*values: float) -> input_pb2.Input:
    examples = input_pb2.Input()
    for value in values:
        examples.example_list.examples.add().features.feature["x"].float_list.value.append(value)
    return examples


def test_grpc_classify_and_regress(examples_server):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{examples_server.grpc_port}")
    )
    request = classification_pb2.ClassificationRequest(input=_examples_input(0.25, 0.75))
    request.model_spec.name, request.model_spec.signature_name = "threshold", "classify_x"
    result = stub.Classify(request, timeout=10).result
    assert [[(c.label, round(c.score, 6)) for c in row.classes] for row in result.classifications] == [
        [("low", 0.75), ("high", 0.25)],
        [("low", 0.25), ("high", 0.75)],
    ]
    request = regression_pb2.RegressionRequest(input=_examples_input(0.25, 0.75))
    request.model_spec.name, request.model_spec.signature_name = "threshold", "regress_x"
    assert [r.value for r in stub.Regress(request, timeout=10).result.regressions] == [0.5, 1.5]
    # Classify needs a classification signature, as in TF Serving.
    request = classification_pb2.ClassificationRequest(input=_examples_input(0.25))
    request.model_spec.name, request.model_spec.signature_name = "threshold", "regress_x"
    with pytest.raises(grpc.RpcError) as caught:
        stub.Classify(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "method_name to be tensorflow/serving/classify" in caught.value.details()


def test_rest_classify_and_regress(examples_server):
    status, body = rest(
        examples_server,
        "/v1/models/threshold:classify",
        {"signature_name": "classify_x", "examples": [{"x": 0.25}, {"x": 0.75}]},
    )
    assert status == 200, body
    assert [[label for label, _ in row] for row in body["results"]] == [["low", "high"]] * 2
    np.testing.assert_allclose([[score for _, score in row] for row in body["results"]], [[0.75, 0.25], [0.25, 0.75]])
    status, body = rest(
        examples_server,
        "/v1/models/threshold:regress",
        {"signature_name": "regress_x", "context": {"x": 0.5}, "examples": [{}, {}]},
    )
    assert (status, body) == (200, {"results": [1.0, 1.0]})


# --- batching ------------------------------------------------------------------------------------


def test_requests_that_arrive_together_share_a_model_call():
    calls = []

    def double(inputs):
        calls.append(len(inputs["x"]))
        time.sleep(0.01)
        return {"y": inputs["x"] * 2}

    batcher = Batcher(double, BatchingOptions(max_batch_size=16, batch_timeout_s=0.05))
    results = {}
    threads = [
        threading.Thread(target=lambda i=i: results.update({i: batcher.run({"x": np.array([i, i])})})) for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batcher.close()
    assert {i: list(result["y"]) for i, result in results.items()} == {i: [2 * i, 2 * i] for i in range(8)}
    assert sum(calls) == 16 and len(calls) < 8  # merged
    assert max(calls) <= 16
    assert (batcher.batches, batcher.requests_batched) == (len(calls), 8)


def test_one_bad_request_does_not_fail_the_others_in_its_batch():
    def reject_negative(inputs):
        if (inputs["x"] < 0).any():
            raise invalid_argument("negative x")
        return {"y": inputs["x"] + 1}

    batcher = Batcher(reject_negative, BatchingOptions(max_batch_size=16, batch_timeout_s=0.05))
    outcomes = {}

    def run(value):
        try:
            outcomes[value] = int(batcher.run({"x": np.array([value])})["y"][0])
        except Exception as error:
            outcomes[value] = str(error)

    threads = [threading.Thread(target=run, args=(value,)) for value in (1, -1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batcher.close()
    assert outcomes == {1: 2, -1: "negative x", 2: 3}


# --- the client ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_client_retries_while_the_server_is_unavailable(serving_dir):
    port = _free_port()
    with PredictionClient(f"127.0.0.1:{port}", timeout_s=2, attempts=1) as impatient:
        with pytest.raises(grpc.RpcError) as caught:
            impatient.predict(predict_request("iris", KNOWN_EXAMPLES))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

    started = []
    starter = threading.Timer(0.5, lambda: started.append(start_server(serving_dir, grpc_port=port, rest_port=None)))
    starter.start()
    try:
        with PredictionClient(f"127.0.0.1:{port}", timeout_s=2, attempts=8, backoff_s=0.1) as patient:
            species = patient.predict(predict_request("iris", KNOWN_EXAMPLES))["species"]
        assert [name.decode() for name in species] == list(KNOWN_ROWS)
    finally:
        starter.join()
        for server in started:
            server.stop()


# --- the command ---------------------------------------------------------------------------------


def test_tfpipe_serve_serves_the_workdir_until_terminated(iris_run, tmp_path):
    copy_serving_tree(iris_run, tmp_path)
    rest_port = _free_port()
    log_path = tmp_path / "stderr.txt"
    # `python -m tfpipe.cli` from the repository root runs this checkout's CLI even where the
    # installed `tfpipe` script belongs to another checkout sharing the venv.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tfpipe.cli",
            "serve",
            "--workdir",
            str(tmp_path),
            "--grpc-port",
            "0",
            "--rest-port",
            str(rest_port),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=log_path.open("w"),
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        # The Pusher's models.config names the models to serve.
        assert first_line.startswith(f"Serving {tmp_path / 'serving' / 'models.config'}: iris ["), (
            first_line + log_path.read_text()
        )
        grpc_port = int(re.search(r"gRPC on 127\.0\.0\.1:(\d+)", process.stdout.readline()).group(1))
        with PredictionClient(f"127.0.0.1:{grpc_port}") as client:
            assert client.predict(predict_request("iris", KNOWN_EXAMPLES[:1]))["species"][0] == b"setosa"
        with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/v1/models/iris", timeout=10) as response:
            assert json.load(response)["model_version_status"][0]["state"] == "AVAILABLE"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    # Quiet: TensorFlow's messages in the workdir's serve.log, the server's own lines once on stderr.
    stderr = log_path.read_text()
    assert "oneDNN" not in stderr and "tensorflow" not in stderr.lower(), stderr
    assert stderr.count("INFO loaded iris version") == 1, stderr
    assert "oneDNN" in (tmp_path / "serve.log").read_text()
