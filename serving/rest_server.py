"""The REST front end: TF Serving's REST API on the standard library's threading HTTP server.

    GET  /v1/models/<name>[/versions/<v> | /labels/<label>]            model status
    GET  /v1/models/<name>[/versions/<v> | /labels/<label>]/metadata   signatures
    POST /v1/models/<name>[/versions/<v> | /labels/<label>]:predict    {"instances": [...]} or {"inputs": ...}
    POST ...:classify and ...:regress                                   {"examples": [...], "context": {...}}

JSON is translated into the same protos the gRPC front end receives and answered by the same
ServingApi. Binary strings travel as {"b64": "..."} both ways, as in TF Serving; string outputs
are sent as text unless they are not UTF-8 or their name ends in `_bytes`.
Errors are `{"error": message}` with 404 for NOT_FOUND, 400 for INVALID_ARGUMENT and 413 for a
body over `max_request_bytes`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from serving.api import SIGNATURE_DEF_FIELD, ServingApi
from serving.errors import ServingError, invalid_argument, not_found

log = logging.getLogger(__name__)

_MODEL_URL = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?:(?P<metadata>/metadata)|:(?P<verb>predict|classify|regress))?$"
)


def start_rest_server(api: ServingApi, host: str, port: int, max_request_bytes: int) -> tuple[ThreadingHTTPServer, int]:
    """Starts serving in a background thread (port 0 picks a free one); returns the server and its bound port."""

    class Handler(_RestHandler):
        serving_api = api
        max_body_bytes = max_request_bytes

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        raise OSError(f"cannot listen for REST on {host}:{port} ({error.strerror})") from error
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="rest server", daemon=True).start()
    return server, server.server_address[1]


class _RestHandler(BaseHTTPRequestHandler):
    serving_api: ServingApi
    max_body_bytes: int
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection

    def do_GET(self):
        self._respond(self._get)

    def do_POST(self):
        self._respond(self._post)

    def log_message(self, format, *args):  # the default writes every request to stderr
        log.debug("%s %s", self.address_string(), format % args)

    def _respond(self, handle) -> None:
        try:
            status, body = HTTPStatus.OK, handle()
        except ServingError as error:
            status, body = error.http_status, {"error": error.message}
        except Exception as error:  # A bug must cost one request, not the server.
            log.exception("unexpected error answering %s %s", self.command, self.path)
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(error).__name__}: {error}"}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self) -> tuple[re.Match, model_pb2.ModelSpec]:
        match = _MODEL_URL.match(self.path.split("?", 1)[0])
        if match is None:
            raise not_found(f"Malformed request: {self.command} {self.path}")
        spec = model_pb2.ModelSpec(name=match["name"])
        if match["label"]:
            spec.version_label = match["label"]
        elif match["version"]:
            spec.version.value = int(match["version"])
        return match, spec

    def _get(self) -> dict:
        match, spec = self._route()
        if match["verb"]:
            raise invalid_argument(f"{match['verb']} needs POST")
        if match["metadata"]:
            request = get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=spec, metadata_field=[SIGNATURE_DEF_FIELD]
            )
            return _metadata_json(self.serving_api.get_model_metadata(request))
        status = self.serving_api.get_model_status(get_model_status_pb2.GetModelStatusRequest(model_spec=spec))
        return json_format.MessageToDict(status, preserving_proto_field_name=True, including_default_value_fields=True)

    def _post(self) -> dict:
        # The body is read (or refused) before anything else can fail, so that on a kept-alive
        # connection it is never taken for the start of the next request.
        body = self._json_body()
        match, spec = self._route()
        if not match["verb"]:
            raise invalid_argument("POST needs :predict, :classify or :regress after the model")
        spec.signature_name = body.get("signature_name", "")
        if match["verb"] == "predict":
            return self._predict(spec, body)
        examples = _examples_input(body)
        if match["verb"] == "classify":
            response = self.serving_api.classify(
                classification_pb2.ClassificationRequest(model_spec=spec, input=examples)
            )
            return {"results": [[[c.label, c.score] for c in row.classes] for row in response.result.classifications]}
        response = self.serving_api.regress(regression_pb2.RegressionRequest(model_spec=spec, input=examples))
        return {"results": [regression.value for regression in response.result.regressions]}

    def _json_body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.max_body_bytes:
            self.close_connection = True  # the unread body would otherwise be taken for the next request
            raise ServingError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Request body of {length} bytes is larger than the limit of {self.max_body_bytes} bytes",
            )
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise invalid_argument(f"JSON Parse error: {error}") from None
        if not isinstance(body, dict):
            raise invalid_argument("JSON body must be an object")
        return body

    def _predict(self, spec: model_pb2.ModelSpec, body: dict) -> dict:
        if ("instances" in body) == ("inputs" in body):
            raise invalid_argument("Missing 'inputs' or 'instances' key (exactly one of them is needed)")
        servable, _, signature_def = self.serving_api.resolve_signature(spec)
        # Pin the version resolved here (replacing a label: they are a oneof), so a swap between
        # this line and the call cannot answer with another version than the signature read here.
        spec.version.value = servable.version
        row_format = "instances" in body
        if row_format:
            columns = _columns_from_rows(body["instances"], signature_def)
        else:
            columns = _named_inputs(body["inputs"], signature_def)
        request = predict_pb2.PredictRequest(model_spec=spec)
        for name, value in columns.items():
            # An unknown name goes through as it is, for ServingApi's message naming the expected inputs.
            dtype = signature_def.inputs[name].dtype if name in signature_def.inputs else None
            request.inputs[name].CopyFrom(_tensor_proto(value, dtype, name))
        outputs = {name: tf.make_ndarray(proto) for name, proto in self.serving_api.predict(request).outputs.items()}
        # As in TF Serving, a single output is sent bare, several as an object (per row in row format).
        key = "predictions" if row_format else "outputs"
        if len(outputs) == 1:
            [(name, value)] = outputs.items()
            return {key: _to_json(name, value)}
        if not row_format:
            return {key: {name: _to_json(name, value) for name, value in outputs.items()}}
        batch_sizes = {len(value) for value in outputs.values()}
        if len(batch_sizes) != 1:
            raise invalid_argument("Outputs have different batch sizes; use the columnar 'inputs' format")
        rows = range(batch_sizes.pop())
        return {key: [{name: _to_json(name, value[row]) for name, value in outputs.items()} for row in rows]}


def _columns_from_rows(instances, signature_def) -> dict:
    """Row format: a list of instances, each a value (one-input signature) or an object of named inputs."""
    if not isinstance(instances, list) or not instances:
        raise invalid_argument("'instances' must be a non-empty list")
    named = all(isinstance(row, dict) and not _is_b64(row) for row in instances)
    if not named:
        if len(signature_def.inputs) != 1:
            raise invalid_argument(f"instances must be objects naming the inputs {sorted(signature_def.inputs)}")
        [name] = signature_def.inputs
        return {name: instances}
    names = set(instances[0])
    if any(set(row) != names for row in instances):
        raise invalid_argument("every instance must name the same inputs")
    return {name: [row[name] for row in instances] for name in names}


def _named_inputs(inputs, signature_def) -> dict:
    """Columnar format: an object of named inputs, or one value for a one-input signature."""
    if isinstance(inputs, dict) and not _is_b64(inputs):
        return inputs
    if len(signature_def.inputs) != 1:
        raise invalid_argument(f"'inputs' must be an object naming the inputs {sorted(signature_def.inputs)}")
    [name] = signature_def.inputs
    return {name: inputs}


def _tensor_proto(value, dtype: int | None, name: str):
    """A JSON value as a TensorProto of the signature's dtype (None: as it comes, for an unknown input name).

    Strings become bytes and {"b64": ...} is decoded, for string inputs.
    """
    try:
        if dtype == tf.string.as_datatype_enum or (dtype is None and _holds_text(value)):
            return tf.make_tensor_proto(np.array(_bytes_of(value), dtype=object), dtype=tf.string)
        return tf.make_tensor_proto(np.array(value), dtype=dtype)
    except (ValueError, TypeError) as error:  # ragged lists, text for numbers, numbers for text
        expected = tf.dtypes.as_dtype(dtype).name if dtype else "a tensor"
        raise invalid_argument(f"input '{name}' could not be read as {expected}: {error}") from None


def _bytes_of(value):
    if isinstance(value, list):
        return [_bytes_of(item) for item in value]
    if _is_b64(value):
        return base64.b64decode(value["b64"])
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"expected a string or {{'b64': ...}}, got {value!r}")


def _holds_text(value) -> bool:
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, str) or _is_b64(value)


def _is_b64(value) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _to_json(name: str, value):
    """An output (an array, or one row of it) as JSON; bytes as text, or {"b64": ...} when binary."""
    as_text = not name.endswith("_bytes")

    def convert(item):
        if isinstance(item, np.ndarray):
            return [convert(element) for element in item] if item.dtype == object else item.tolist()
        if isinstance(item, bytes):
            if as_text:
                try:
                    return item.decode()
                except UnicodeDecodeError:
                    pass
            return {"b64": base64.b64encode(item).decode()}
        return item.item() if isinstance(item, np.generic) else item

    return convert(value)


def _examples_input(body: dict) -> input_pb2.Input:
    """Classify/regress body: {"examples": [{feature: value}], "context": {feature: value}} as an Input proto."""
    examples = body.get("examples")
    if not isinstance(examples, list) or not examples:
        raise invalid_argument("'examples' must be a non-empty list of objects")
    converted = [_example(features) for features in examples]
    if "context" in body:
        return input_pb2.Input(
            example_list_with_context=input_pb2.ExampleListWithContext(
                examples=converted, context=_example(body["context"])
            )
        )
    return input_pb2.Input(example_list=input_pb2.ExampleList(examples=converted))


def _example(features) -> example_pb2.Example:
    if not isinstance(features, dict):
        raise invalid_argument(f"an example must be an object of features, got {features!r}")
    example = example_pb2.Example()
    for key, value in features.items():
        values = value if isinstance(value, list) else [value]
        feature = example.features.feature[key]
        if all(isinstance(item, int) and not isinstance(item, bool) for item in values):
            feature.int64_list.CopyFrom(feature_pb2.Int64List(value=values))
        elif all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in values):
            feature.float_list.CopyFrom(feature_pb2.FloatList(value=values))
        else:
            try:
                feature.bytes_list.CopyFrom(feature_pb2.BytesList(value=_bytes_of(values)))
            except TypeError as error:
                raise invalid_argument(f"feature '{key}': {error}") from None
    return example


def _metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict:
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
    spec = response.model_spec
    return {
        "model_spec": {"name": spec.name, "signature_name": spec.signature_name, "version": str(spec.version.value)},
        "metadata": {SIGNATURE_DEF_FIELD: json_format.MessageToDict(signature_map, preserving_proto_field_name=True)},
    }
