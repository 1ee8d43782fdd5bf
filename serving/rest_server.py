"""The REST front end: TF Serving's REST API on the standard library's threading HTTP server.

    GET  /v1/models/<name>[/versions/<v> | /labels/<label>]            model status
    GET  /v1/models/<name>[/versions/<v> | /labels/<label>]/metadata   signatures
    POST /v1/models/<name>[/versions/<v> | /labels/<label>]:predict    {"instances": [...]} or {"inputs": ...}
    POST ...:classify and ...:regress                                   {"examples": [...], "context": {...}}

Requests are read as TF Serving reads them: URLs by its regular expressions (case-insensitive, the
model name and label URL-decoded; tensorflow_serving/model_servers/http_rest_api_util.cc), JSON
into tensors and tf.Examples by its rules and with its messages (tensorflow_serving/util/
json_tensor.cc: a tensor's shape is that of its nested lists, each value must be of the input's
dtype, `{"b64": ...}` for binary strings), and answered as it answers (floats as the shortest
decimal that gives the float back, NaN and Infinity as tokens, `{"error": message}` with its HTTP
status for the error's code). String outputs are sent as text, or as `{"b64": ...}` when their
name ends in `_bytes` or they are not UTF-8 (TF Serving would write the raw bytes).

Any request, however malformed, gets a 4xx answer, never a 5xx or a dropped connection: bad
request lines and headers, a `Content-Length` that is no number, a body larger than
`max_request_bytes` (413), JSON nested deeper than Python parses; the listener queues as many
pending connections as the kernel allows (gRPC's backlog), and a client that resets its connection
costs one line in the log.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import socket
import sys
import threading
import urllib.parse
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import numpy as np
from google.protobuf import json_format
from tensorflow.core.example import example_pb2
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    model_pb2,
    regression_pb2,
)

from serving.api import SIGNATURE_DEF_FIELD, ServingApi, check_input_names
from serving.errors import ServingError, invalid_argument

log = logging.getLogger(__name__)

# tensorflow_serving/model_servers/http_rest_api_util.cc (kPredictionApiGegex, kModelStatusApiRegex),
# matched in full; RE2's \d is ASCII, hence [0-9].
_REST_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)
_PREDICTION_URL = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE,
)
_STATUS_URL = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.IGNORECASE
)
_CONTENT_LENGTH = re.compile(r"[0-9]+")
_INT32, _INT64, _UINT32, _UINT64 = (-(2**31), 2**31 - 1), (-(2**63), 2**63 - 1), (0, 2**32 - 1), (0, 2**64 - 1)
# Ranks numpy can hold (NPY_MAXDIMS); TF's own limit is higher, but no model here takes more.
_MAX_RANK = 32
# Protos as TF Serving prints them (JsonPrintOptions in http_rest_api_util.cc): proto field names,
# and fields at their default values too (always_print_primitive_fields).
_JSON_OPTIONS = {"preserving_proto_field_name": True, "including_default_value_fields": True}
# How long a connection may sit idle (between or inside requests) before it is closed.
IDLE_TIMEOUT_S = 60.0


def listen_backlog() -> int:
    """The accept queue gRPC's core asks for: the kernel's limit (net.core.somaxconn)."""
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        return socket.SOMAXCONN


class RestServer(ThreadingHTTPServer):
    """A thread per connection, a listen backlog like gRPC's, and a client's dropped connection
    logged as one line rather than the standard library's traceback."""

    daemon_threads = True
    request_queue_size = listen_backlog()

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.info("REST client %s closed the connection: %s", _address(client_address), error)
        else:
            log.exception("unexpected error on the REST connection from %s", _address(client_address))


def handler_class(api: ServingApi, max_request_bytes: int) -> type[RestHandler]:
    """The handler of one connection, bound to the API it answers from and the body size limit."""

    class Handler(RestHandler):
        serving_api = api
        max_body_bytes = max_request_bytes

    return Handler


def start_rest_server(api: ServingApi, host: str, port: int, max_request_bytes: int) -> tuple[RestServer, int]:
    """Starts serving in a background thread (port 0 picks a free one); returns the server and its bound port."""
    try:
        server = RestServer((host, port), handler_class(api, max_request_bytes))
    except OSError as error:
        raise OSError(f"cannot listen for REST on {host}:{port} ({error.strerror})") from error
    threading.Thread(target=server.serve_forever, name="rest server", daemon=True).start()
    return server, server.server_address[1]


def _address(client_address) -> str:
    try:
        return f"{client_address[0]}:{client_address[1]}"
    except (TypeError, IndexError):
        return str(client_address)


class RestHandler(BaseHTTPRequestHandler):
    """One connection: TF Serving's REST API for each request on it (kept alive between requests)."""

    serving_api: ServingApi
    max_body_bytes: int
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection
    timeout = IDLE_TIMEOUT_S

    def handle_one_request(self) -> None:
        """The standard library's, with every method routed here: TF Serving answers a method it has no
        API for as a malformed request (400), not 501."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline, self.request_version, self.command = "", "", ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():  # an error has been sent
                return
            if self.request_version == "HTTP/0.9":  # no status line, no headers: nothing TF Serving speaks
                self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 requests are not served")
                return
            self._handle()
            self.wfile.flush()
        except TimeoutError as error:
            log.debug("REST connection %s idle: %s", _address(self.client_address), error)
            self.close_connection = True

    def send_error(self, code, message=None, explain=None) -> None:
        """The standard library's errors (a bad request line, too many headers, an HTTP version
        other than 1.x) as JSON; HTTP/2 asked of an HTTP/1.1 server is a bad request, not a 505."""
        if code >= 500:
            code = HTTPStatus.BAD_REQUEST
        if self.request_version == "HTTP/0.9":  # the request line was no HTTP/1.x one: answer in 1.0
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        status = HTTPStatus(code)
        self._send(status, {"error": message or status.phrase})

    def log_message(self, format, *args) -> None:  # the default writes every request to stderr
        log.debug("%s %s", self.address_string(), format % args)

    # --- dispatch (tensorflow_serving/model_servers/http_server.cc, http_rest_api_handler.cc) -----

    def _handle(self) -> None:
        path = _uri_path(self.path)
        status: int
        try:
            body = self._read_body()  # a GET's too: left unread, it would be taken for the next request
            if not _REST_PATH.fullmatch(path):
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"Not found: {self.command} {path}")
            answer = self._dispatch(self.command, path, body)
            status = HTTPStatus.OK
        except ServingError as error:
            status, answer = error.http_status, {"error": error.message}
        except RecursionError:  # JSON nested deeper than Python's parser or our walk of it goes
            status, answer = HTTPStatus.BAD_REQUEST, {"error": "JSON Parse error: document nested too deeply"}
        except (ConnectionError, TimeoutError):
            raise
        except Exception as error:  # A bug must cost one request, not the server.
            log.exception("unexpected error answering %s %s", self.command, self.path)
            status, answer = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(error).__name__}: {error}"}
        self._send(status, answer)

    def _send(self, status: int, answer: dict) -> None:
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _dispatch(self, method: str, path: str, body: bytes) -> dict:
        malformed = invalid_argument(f"Malformed request: {method} {path}")
        if method == "POST":
            match = _PREDICTION_URL.fullmatch(path)
            if match is None:
                raise malformed
            name, version, label, verb = match.groups()
            spec = _model_spec(name, version, label)
            if verb == "predict":
                return self._predict(spec, body)
            if verb == "classify":
                request = classification_pb2.ClassificationRequest(model_spec=spec)
                _fill_examples_request(body, request)
                response = self.serving_api.classify(request)
                return {
                    "results": [
                        [[c.label, _decimal(c.score, np.float32)] for c in row.classes]
                        for row in response.result.classifications
                    ]
                }
            if verb == "regress":
                request = regression_pb2.RegressionRequest(model_spec=spec)
                _fill_examples_request(body, request)
                response = self.serving_api.regress(request)
                return {"results": [_decimal(r.value, np.float32) for r in response.result.regressions]}
            raise malformed  # a verb in other case: the regex ignores case, the dispatch does not
        if method == "GET":
            match = _STATUS_URL.fullmatch(path)
            if match is None:
                raise malformed
            name, version, label, subresource = match.groups()
            if not name:
                raise invalid_argument("Missing model name in request.")
            spec = _model_spec(name, version, label)
            if subresource:
                metadata = self.serving_api.get_model_metadata(
                    get_model_metadata_pb2.GetModelMetadataRequest(
                        model_spec=spec, metadata_field=[SIGNATURE_DEF_FIELD]
                    )
                )
                return _metadata_json(metadata)
            status = self.serving_api.get_model_status(get_model_status_pb2.GetModelStatusRequest(model_spec=spec))
            return json_format.MessageToDict(status, **_JSON_OPTIONS)
        raise malformed

    def _read_body(self) -> bytes:
        """The request's body, by Content-Length or chunked; a body that cannot be read is refused
        (400, or 413 over the size limit) and the connection closed, since what is left unread
        would be taken for the next request."""
        transfer = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if transfer:
            # Only chunked, and never with a Content-Length (RFC 9112 6.3: a request smuggling risk).
            if [value.strip().lower() for value in transfer] != ["chunked"] or lengths:
                self.close_connection = True
                raise invalid_argument(f"Malformed request: unsupported Transfer-Encoding {', '.join(transfer)}")
            return self._read_chunked()
        if not lengths:
            return b""
        values = {value.strip() for value in lengths}
        if len(values) != 1 or not _CONTENT_LENGTH.fullmatch(next(iter(values))):
            self.close_connection = True
            raise invalid_argument(f"Malformed request: Content-Length {', '.join(lengths)!r} is not a length")
        length = int(values.pop())
        self._check_size(length)
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            raise ConnectionAbortedError(f"body ended after {len(body)} of {length} bytes")
        return body

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1026)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size_text):
                self.close_connection = True
                if not line:
                    raise ConnectionAbortedError("chunked body ended early")
                raise invalid_argument("Malformed request: bad chunk size line in a chunked body")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            self._check_size(total)
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3).strip():
                self.close_connection = True
                raise invalid_argument("Malformed request: chunk shorter than its size")
            chunks.append(chunk)
        for _ in range(100):  # trailer fields, up to the empty line
            if self.rfile.readline(8192).strip() == b"":
                break
        return b"".join(chunks)

    def _check_size(self, length: int) -> None:
        if length > self.max_body_bytes:
            self.close_connection = True
            raise ServingError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Request body of {length} bytes is larger than the limit of {self.max_body_bytes} bytes",
                http_status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )

    # --- Predict (json_tensor.cc: FillPredictRequestFromJson, MakeJsonFromTensors) ----------------

    def _predict(self, spec: model_pb2.ModelSpec, body: bytes) -> dict:
        document = _parse_json(body)
        _fill_signature_name(document, spec)
        servable, signature_name, signature = self.serving_api.resolve_signature(spec)
        if not signature.inputs:
            raise invalid_argument(f"Failed to get input map for signature: {spec.signature_name or 'DEFAULT'}")
        if "instances" in document and "inputs" in document:
            raise _format_error(
                document, "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist "
            )
        if "instances" in document:
            row_format, arrays = True, _rows_to_tensors(document, signature)
        elif "inputs" in document:
            row_format, arrays = False, _columns_to_tensors(document["inputs"], signature)
        else:
            raise invalid_argument("Missing 'inputs' or 'instances' key")
        check_input_names(signature, arrays)
        outputs = self.serving_api.run_predict(servable, signature_name, signature, arrays, [])
        self.serving_api.log_predict(servable, signature_name, arrays, outputs)
        return _row_json(outputs) if row_format else _columnar_json(outputs)


def _uri_path(target: str) -> str:
    """The path of a request target (an origin-form path, or an absolute URI), without query or fragment."""
    path = target.split("#", 1)[0].split("?", 1)[0]
    scheme = re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*", path)
    if scheme is None:
        return path
    return path[scheme.end() :] or "/"


def _model_spec(name: str, version: str | None, label: str | None) -> model_pb2.ModelSpec:
    """FillModelSpecWithNameVersionAndLabel, after ParseModelInfo's decoding."""
    spec = model_pb2.ModelSpec(name=urllib.parse.unquote(name, errors="replace"))
    if version:
        number = int(version)
        if number > _INT64[1]:
            raise invalid_argument(f"Failed to convert version: {version} to numeric.")
        spec.version.value = number
    if label:
        spec.version_label = urllib.parse.unquote(label, errors="replace")
    return spec


# --- JSON in: parsing (ParseJson) ------------------------------------------------------------------

# rapidjson's GetParseError_En texts, for Python's messages that mean the same.
_PARSE_ERRORS = {
    "Extra data": "The document root must not be followed by other values.",
    "Expecting property name enclosed in double quotes": "Missing a name for object member.",
    "Expecting ':' delimiter": "Missing a colon after a name of object member.",
    "Unterminated string starting at": "Missing a closing quotation mark in string.",
    "Invalid \\escape": "Invalid escape character in string.",
    "Invalid \\uXXXX escape": "Incorrect hex digit after \\u escape in string.",
    "Invalid control character at": "Invalid encoding in string.",
}


def _parse_json(body: bytes) -> dict:
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        text = body.decode("utf-8")
        document = json.loads(text)
    except UnicodeDecodeError as error:
        raise invalid_argument(f"JSON Parse error: Invalid encoding in string. at offset: {error.start}") from None
    except json.JSONDecodeError as error:
        raise invalid_argument(f"JSON Parse error: {_parse_error_text(error)} at offset: {error.pos}") from None
    except ValueError:  # a whole number of more digits than Python converts (sys.get_int_max_str_digits)
        raise invalid_argument("JSON Parse error: Number too big to be stored in double.") from None
    if not isinstance(document, dict):
        raise _format_error(document, "Is not object")
    return document


def _parse_error_text(error: json.JSONDecodeError) -> str:
    if error.msg == "Expecting value":
        return "The document is empty." if not error.doc.strip() else "Invalid value."
    if error.msg == "Expecting ',' delimiter":
        opener = _innermost_bracket(error.doc[: error.pos])
        return (
            "Missing a comma or '}' after an object member."
            if opener == "{"
            else "Missing a comma or ']' after an array element."
        )
    return _PARSE_ERRORS.get(error.msg, "Invalid value.")


def _innermost_bracket(text: str) -> str:
    """The bracket open at the end of a JSON prefix ('[' or '{'), strings skipped."""
    stack, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else "["


def _json_text(value, limit: int = 256) -> str:
    """A JSON value as TF Serving quotes it in errors (JsonValueToString), cut short when long."""
    try:
        text = json.dumps(value, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        text = f"<{_json_type(value)}>"
    return text if len(text) <= limit else text[:limit] + "..."


def _json_type(value) -> str:
    """JsonTypeString."""
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def _format_error(value, *text: str) -> ServingError:
    return invalid_argument(f"JSON Value: {_json_text(value)} {''.join(text)}")


def _fill_signature_name(document: dict, spec: model_pb2.ModelSpec) -> None:
    """FillSignature: an optional string."""
    if "signature_name" in document:
        if not isinstance(document["signature_name"], str):
            raise _format_error(document, "not formatted correctly. 'signature_name' key must be a string value.")
        spec.signature_name = document["signature_name"]


# --- JSON in: tensors (FillTensorMapFromInstancesList, FillTensorMapFromInputsMap) -----------------


def _is_b64(value) -> bool:
    """IsValBase64Object: an object with one key, "b64", holding a string."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _is_named_object(value) -> bool:
    return isinstance(value, dict) and not _is_b64(value)


def _b64_decode(value) -> bytes:
    if not _is_b64(value):
        raise _format_error(value, "not formatted correctly for base64 data")
    text = value["b64"].strip()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_argument("Unable to base64 decode") from None


def _type_error(value, dtype: int) -> ServingError:
    return invalid_argument(
        f"JSON Value: {_json_text(value)} Type: {_json_type(value)} is not of expected type: {_type_string(dtype)}"
    )


def _type_string(dtype: int) -> str:
    try:
        return types_pb2.DataType.Name(dtype)[3:].lower()
    except ValueError:
        return str(dtype)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _lossless(value, float_type) -> bool:
    """IsLosslessDecimal: whole numbers within the float's exact integers, others within its range."""
    if isinstance(value, float) and not math.isfinite(value):
        return True
    if isinstance(value, int):
        return abs(value) <= 2 ** np.finfo(float_type).nmant * 2 - 1
    return abs(value) <= float(np.finfo(float_type).max)


def _in_range(value, bounds: tuple[int, int]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]


def _leaf(value, dtype: int):
    """AddValueToTensor (and JsonDecodeBase64Object for objects): one JSON value as the dtype's value."""
    if isinstance(value, dict):
        if dtype == types_pb2.DT_STRING:
            return _b64_decode(value)
        raise _type_error(value, dtype)
    if dtype in (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE):
        return _float_leaf(value, dtype)
    if dtype in _INTEGER_RANGES:
        if not _in_range(value, _INTEGER_RANGES[dtype]):
            raise _type_error(value, dtype)
        return value
    if dtype == types_pb2.DT_BOOL:
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    if dtype == types_pb2.DT_STRING:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8", "surrogatepass")
    raise ServingError(
        grpc.StatusCode.UNIMPLEMENTED, f"Conversion of JSON Value: {_json_text(value)} to type: {_type_string(dtype)}"
    )


# The JSON integers each integer dtype takes: TF Serving reads the narrow ones as int32, then wraps.
_INTEGER_RANGES = {
    types_pb2.DT_INT32: _INT32,
    types_pb2.DT_INT16: _INT32,
    types_pb2.DT_INT8: _INT32,
    types_pb2.DT_UINT8: _INT32,
    types_pb2.DT_INT64: _INT64,
    types_pb2.DT_UINT32: _UINT32,
    types_pb2.DT_UINT64: _UINT64,
}


def _float_leaf(value, dtype: int) -> float:
    if not _is_number(value):
        raise _type_error(value, dtype)
    float_type = np.float32 if dtype == types_pb2.DT_FLOAT else np.float64
    if not _lossless(value, float_type):
        target = "float" if dtype == types_pb2.DT_FLOAT else "double"
        raise invalid_argument(f"Cannot convert JSON value: {_json_text(value)} to {target} without loss of precision.")
    return float(value)


_NUMPY_TYPES = {
    types_pb2.DT_FLOAT: np.float32,
    types_pb2.DT_DOUBLE: np.float64,
    types_pb2.DT_INT32: np.int32,
    types_pb2.DT_INT16: np.int16,
    types_pb2.DT_INT8: np.int8,
    types_pb2.DT_UINT8: np.uint8,
    types_pb2.DT_INT64: np.int64,
    types_pb2.DT_UINT32: np.uint32,
    types_pb2.DT_UINT64: np.uint64,
    types_pb2.DT_BOOL: np.bool_,
}


def _dense_shape(value) -> list[int]:
    """GetDenseTensorShape: the sizes of the first element's nested lists."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
        if len(shape) > _MAX_RANK:
            raise invalid_argument(f"JSON Value nests lists deeper than {_MAX_RANK} dimensions")
    return shape


def _json_tensor(value, dtype: int) -> tuple[list, list[int]]:
    """FillTensorProto: the values of a (nested) JSON value in order, and its shape; every value
    must sit at the depth of the shape and every list have its dimension's size."""
    shape = _dense_shape(value)
    rank, values = len(shape), []

    def fill(item, level: int) -> None:
        if not isinstance(item, list):
            if level != rank:
                raise invalid_argument(
                    f"JSON Value: {_json_text(item)} found at incorrect level: {level + 1} in the JSON DOM. "
                    f"Expected at level: {rank}"
                )
            values.append(_leaf(item, dtype))
            return
        if level >= rank:
            raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
        if len(item) != shape[level]:
            raise invalid_argument(
                f"Encountered list at unexpected size: {len(item)} at level: {level} expected size: {shape[level]}"
            )
        for element in item:
            fill(element, level + 1)

    fill(value, 0)
    return values, shape


def _array(values: list, shape: list[int], dtype: int) -> np.ndarray:
    if dtype == types_pb2.DT_STRING:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    numpy_type = _NUMPY_TYPES[dtype]
    if numpy_type in (np.int8, np.int16, np.uint8):  # int_val holds them as int32; the tensor wraps
        return np.array(values, dtype=np.int64).astype(numpy_type).reshape(shape)
    return np.array(values, dtype=numpy_type).reshape(shape)


def _rows_to_tensors(document: dict, signature: meta_graph_pb2.SignatureDef) -> dict[str, np.ndarray]:
    """Row format: each instance one value (a one-input signature) or an object naming every input;
    all instances of an input must have one shape, and the instances become the first dimension."""
    instances = document["instances"]
    if not isinstance(instances, list):
        raise _format_error(document, "Excepting 'instances' to be an list/array")
    if not instances:
        raise _format_error(document, "No values in 'instances' array")
    names = sorted(signature.inputs)
    if not isinstance(instances[0], dict) and len(names) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input tensors required as "
            "per tensorinfo_map"
        )
    rows = _Rows(signature)
    add_row = rows.add_named if _is_named_object(instances[0]) else rows.add_plain
    for index, element in enumerate(instances):
        add_row(index, element)
    return rows.tensors(len(instances))


class _Rows:
    """The values of each input gathered from the instances of a row-format request, and their one shape."""

    def __init__(self, signature: meta_graph_pb2.SignatureDef):
        self._signature = signature
        self._names = sorted(signature.inputs)
        self._values: dict[str, list] = {}
        self._shapes: dict[str, list[int]] = {}

    def add_named(self, index: int, element) -> None:
        """An instance that is an object naming every input."""
        if not _is_named_object(element):
            raise invalid_argument(f"Expecting object but got list at item {index} of input list")
        for key, item in element.items():
            try:
                self._add(item, key)
            except ServingError as error:
                raise invalid_argument(
                    f"Failed to process element: {index} key: {key} of 'instances' list. "
                    f"Error: INVALID_ARGUMENT: {error.message}"
                ) from None
        if set(element) != set(self._names):
            raise invalid_argument(
                f"Failed to process element: {index} of 'instances' list. JSON object: {_json_text(element)} "
                f"must only have keys: {','.join(self._names)}"
            )

    def add_plain(self, index: int, element) -> None:
        """An instance that is the one input's value."""
        if _is_named_object(element):
            raise invalid_argument(f"Expecting value/list but got object at item {index} of input list")
        try:
            self._add(element, self._names[0])
        except ServingError as error:
            raise invalid_argument(
                f"Failed to process element: {index} of 'instances' list. Error: INVALID_ARGUMENT: {error.message}"
            ) from None

    def tensors(self, count: int) -> dict[str, np.ndarray]:
        return {
            name: _array(self._values[name], [count, *shape], self._signature.inputs[name].dtype)
            for name, shape in self._shapes.items()
        }

    def _add(self, item, name: str) -> None:
        if name not in self._signature.inputs:
            raise invalid_argument(f"JSON object: does not have named input: {name}")
        item_values, shape = _json_tensor(item, self._signature.inputs[name].dtype)
        if name not in self._shapes:
            self._shapes[name], self._values[name] = shape, []
        elif math.prod(self._shapes[name]) != len(item_values):
            raise invalid_argument(
                f"Expecting tensor size: {math.prod(self._shapes[name])} but got: {len(item_values)}"
            )
        elif self._shapes[name] != shape:
            raise invalid_argument(f"Expecting shape {_shape_text(self._shapes[name])} but got: {_shape_text(shape)}")
        self._values[name].extend(item_values)


def _columns_to_tensors(inputs, signature: meta_graph_pb2.SignatureDef) -> dict[str, np.ndarray]:
    """Columnar format: one value for a one-input signature, or an object with every input (other keys ignored)."""
    names = sorted(signature.inputs)
    if not isinstance(inputs, dict) or _is_b64(inputs):
        if len(names) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input tensors required as "
                "per tensorinfo_map"
            )
        selected = {names[0]: inputs}
    else:
        selected = {}
        for name in names:
            if name not in inputs:
                raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
            selected[name] = inputs[name]
    arrays = {}
    for name, value in selected.items():
        dtype = signature.inputs[name].dtype
        values, shape = _json_tensor(value, dtype)
        arrays[name] = _array(values, shape, dtype)
    return arrays


def _shape_text(shape: list[int]) -> str:
    return "[" + ",".join(str(size) for size in shape) + "]"


# --- JSON out (MakeRowFormatJsonFromTensors, MakeColumnarFormatJsonFromTensors, WriteDecimal) ------


def _decimal(value: float, float_type) -> float:
    """WriteDecimal: the float's shortest %g text (6 digits) if it reads back as the same float,
    else all its digits; returned as the float that text means, which JSON writes as that text."""
    if not math.isfinite(value):
        return value
    text = f"{value:g}"
    if float_type(text) != float_type(value):
        text = f"{value:.{9 if float_type is np.float32 else 17}g}"
    return float(text)


def _values_json(name: str, array: np.ndarray):
    """AddTensorValues: an array (or one row of an output) as nested JSON lists of its values."""
    as_bytes = name.endswith("_bytes")
    if array.dtype == np.float32 or array.dtype == np.float64:
        float_type = array.dtype.type
        convert = np.frompyfunc(lambda value: _decimal(value, float_type), 1, 1)
        return convert(array).tolist() if array.ndim else _decimal(float(array), float_type)
    if array.dtype == object:
        convert = np.frompyfunc(lambda value: _string_json(value, as_bytes), 1, 1)
        return convert(array).tolist() if array.ndim else _string_json(array.item(), as_bytes)
    if array.dtype.kind in "iub":
        return array.tolist()
    raise invalid_argument(f"Failed to write JSON value for tensor type: {array.dtype.name}")


def _string_json(value, as_bytes: bool):
    data = value if isinstance(value, bytes) else str(value).encode()
    if not as_bytes:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {"b64": base64.b64encode(data).decode()}


def _row_json(outputs: Mapping[str, np.ndarray]) -> dict:
    batch = 0
    for name, value in outputs.items():
        if np.ndim(value) == 0:
            raise invalid_argument(f"Tensor name: {name} has no shape information ")
        size = len(value)
        if size < 1:
            raise invalid_argument(f"Tensor name: {name} has invalid batch size: {size}")
        if batch and size != batch:
            raise invalid_argument(f"Tensor name: {name} has inconsistent batch size: {size} expecting: {batch}")
        batch = size
    if len(outputs) == 1:
        [(name, value)] = outputs.items()
        return {"predictions": _values_json(name, np.asarray(value))}
    columns = {name: _values_json(name, np.asarray(value)) for name, value in outputs.items()}
    return {"predictions": [{name: column[row] for name, column in columns.items()} for row in range(batch)]}


def _columnar_json(outputs: Mapping[str, np.ndarray]) -> dict:
    if len(outputs) == 1:
        [(name, value)] = outputs.items()
        return {"outputs": _values_json(name, np.asarray(value))}
    return {"outputs": {name: _values_json(name, np.asarray(value)) for name, value in outputs.items()}}


# --- Classify and Regress in (FillClassifyRegressRequestFromJson, MakeExampleFromJsonObject) -------


def _fill_examples_request(body: bytes, request) -> None:
    document = _parse_json(body)
    _fill_signature_name(document, request.model_spec)
    context = None
    if "context" in document:
        context = _example(document["context"])
    if "examples" not in document:
        raise _format_error(document, "When method is classify, key 'examples' is expected and was not found")
    examples = document["examples"]
    if not isinstance(examples, list):
        raise _format_error(document, "Expecting 'examples' value to be an list/array")
    if not examples:
        raise _format_error(document, "'examples' value is an empty array")
    converted = [_example(features) for features in examples]
    if context is not None:
        request.input.CopyFrom(
            input_pb2.Input(
                example_list_with_context=input_pb2.ExampleListWithContext(examples=converted, context=context)
            )
        )
    else:
        request.input.CopyFrom(input_pb2.Input(example_list=input_pb2.ExampleList(examples=converted)))


_FEATURE_KINDS = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}


def _example(features) -> example_pb2.Example:
    if not isinstance(features, dict):
        raise invalid_argument(f"Example must be JSON object but got JSON {_json_type(features)}")
    example = example_pb2.Example()
    for name, content in features.items():
        feature = example.features.feature[name]
        for value in content if isinstance(content, list) else [content]:
            _add_to_feature(value, name, feature)
    return example


def _add_to_feature(value, name: str, feature) -> None:
    """AddValueToFeature: a feature's values must all be of one kind, the first value's."""

    def kind(wanted: str):
        current = feature.WhichOneof("kind")
        if current not in (None, wanted):
            raise invalid_argument(
                f"Unexpected element type in feature: {name} expecting type: {_FEATURE_KINDS[current]}"
            )
        return getattr(feature, wanted).value

    if value is None or isinstance(value, list) or (isinstance(value, dict) and not _is_b64(value)):
        raise invalid_argument(f"Feature: {name} has element with unexpected JSON type: {_json_type(value)}")
    if isinstance(value, bool):
        kind("int64_list").append(int(value))
    elif isinstance(value, dict):
        kind("bytes_list").append(_b64_decode(value))
    elif isinstance(value, str):
        kind("bytes_list").append(value.encode("utf-8", "surrogatepass"))
    elif isinstance(value, int) and value <= _UINT64[1]:
        kind("int64_list").append(_int64_feature_value(value, name))
    else:  # a decimal, or a whole number too large for 64 bits (a double to rapidjson)
        values = kind("float_list")
        if not _lossless(float(value), np.float32):
            raise invalid_argument(
                f"Cannot convert JSON value: {_json_text(value)} to float without loss of precision."
            )
        values.append(float(value))


def _int64_feature_value(value: int, name: str) -> int:
    if value > _INT64[1]:
        raise invalid_argument(f"Feature: {name} has uint64 element. Only int64 is supported.")
    if value < _INT64[0]:
        raise invalid_argument(f"Feature: {name} has element with unexpected JSON type: Number")
    return value


# --- metadata (ToJsonString in http_rest_api_util.cc) -----------------------------------------------


def _metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict:
    """The model spec and the SignatureDefMap printed as TF Serving prints them: proto field names,
    every field present including those at their defaults (`"name": ""`, `"defaults": {}`)."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
    return {
        "model_spec": json_format.MessageToDict(response.model_spec, **_JSON_OPTIONS),
        "metadata": {SIGNATURE_DEF_FIELD: json_format.MessageToDict(signature_map, **_JSON_OPTIONS)},
    }
