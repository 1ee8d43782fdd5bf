"""Malformed requests for both front ends of `tfpipe serve`, and how to answer them in-process.

REST: raw HTTP requests, each a valid request to one of TF Serving's test models (the contract's
models config) bent one to three ways: its JSON body changed in structure (values of other types,
keys added, dropped or renamed, lists nested deep) or in bytes (flipped, cut, inserted, `[`
repeated), its headers (Content-Length that is no number, too small or too large, two of them,
chunked bodies right and wrong, odd or huge headers), its request line (other methods, paths,
percent-escapes, versions, HTTP versions); or no request at all, random bytes. Each is answered by
the server's own connection handler over an in-memory connection, so no socket is involved and
10,000 take seconds.

gRPC: serialized requests of every method (Predict, Classify, Regress, GetModelMetadata,
GetModelStatus), changed as messages (other model names, versions, labels, signatures, dtypes
including unknown enum values, shapes including negative and huge ones, values in other typed
fields, random tensor_content, random examples and features) or as bytes; each answered by the
server's own method handler (which parses the bytes) with a stand-in for the gRPC context.

Everything comes from one `random.Random(seed)`, so a failure is reproduced by its seed and index.

`connection_burst` opens many connections to a running server at once and times each answer.
`benchmarks/serving_robustness.py` and `tests/test_serving_fuzz.py` use this module.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import random
import re
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import grpc
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2,
    predict_pb2,
    prediction_service_pb2,
    regression_pb2,
)

from serving.api import ServingApi
from serving.grpc_server import ModelStatusServicer, PredictionServicer, _service_handler
from serving.rest_server import handler_class

MODELS = [
    "default",
    "saved_model_half_plus_two_2_versions",
    "two_versions",
    "half_plus_two",
    "half_plus_three",
    "counter",
]
SIGNATURES = [
    "",
    "serving_default",
    "classify_x_to_y",
    "regress_x_to_y",
    "regress_x_to_y2",
    "regress_x2_to_y3",
    "classify_x2_to_y3",
    "tensorflow/serving/regress",
    "get_counter",
    "incr_counter",
    "incr_counter_by",
    "reset_counter",
    "__saved_model_init_op",
]
# Requests the models answer: (method, path, JSON body or None).
REST_SEEDS: list[tuple[str, str, object]] = [
    ("POST", "/v1/models/default:predict", {"instances": [1.0, 2.0, 5.0]}),
    ("POST", "/v1/models/default:predict", {"inputs": {"x": [[1.0], [2.0]]}}),
    ("POST", "/v1/models/default:predict", {"signature_name": "regress_x2_to_y3", "inputs": [[2.0]]}),
    (
        "POST",
        "/v1/models/saved_model_half_plus_two_2_versions/labels/Version_Label:predict",
        {"signature_name": "serving_default", "instances": [[1.0], [2.0]]},
    ),
    ("POST", "/v1/models/two_versions/versions/124:predict", {"instances": [{"x": [1.0]}, {"x": [3.0]}]}),
    ("POST", "/v1/models/counter:predict", {"signature_name": "incr_counter_by", "inputs": 1.0}),
    (
        "POST",
        "/v1/models/default:classify",
        {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}], "context": {"y": [1, 2]}},
    ),
    (
        "POST",
        "/v1/models/default:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": [2.0]}, {"x": 3.5}]},
    ),
    (
        "POST",
        "/v1/models/half_plus_three:regress",
        {"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0, "name": {"b64": "aGVsbG8="}}]},
    ),
    ("GET", "/v1/models/default", None),
    ("GET", "/v1/models/two_versions/versions/123", None),
    ("GET", "/v1/models/saved_model_half_plus_two_2_versions/labels/Version_Label/metadata", None),
]


# --- random JSON ---------------------------------------------------------------------------------

_ODD_NUMBERS = [0, -1, 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63, 2**64, 2**70, -(2**64), 10**400]
_ODD_FLOATS = [0.5, -0.0, 1e-320, 3.4e38, 3.5e38, 1e300, float("nan"), float("inf"), float("-inf"), 16777217.0]
_ODD_TEXT = ["", "x", "é", "\u0000", "\ud800", "😀", "%00", "b64", "instances", "inputs", "x" * 3000]


def random_json(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth > 3 or roll < 0.45:
        kind = rng.randrange(7)
        if kind == 0:
            return None
        if kind == 1:
            return rng.random() < 0.5
        if kind == 2:
            return rng.choice(_ODD_NUMBERS + [rng.randint(-1000, 1000)])
        if kind == 3:
            return rng.choice(_ODD_FLOATS + [rng.uniform(-10, 10)])
        if kind == 4:
            return rng.choice(_ODD_TEXT)
        if kind == 5:
            return {"b64": rng.choice(["aGVsbG8=", "!!!", "", "aGVsbG8", base64.b64encode(rng.randbytes(20)).decode()])}
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(8)))
    if roll < 0.75:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(5))]
    keys = ["x", "inputs", "instances", "examples", "context", "signature_name", "b64", "delta", "y", ""]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def _nodes(value, path=()) -> Iterator[tuple]:
    yield path
    if len(path) >= 40:  # inside a deep nest, the outer levels are enough to change
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, (*path, key))


def _replace(value, path: tuple, new):
    if not path:
        return new
    head, *rest = path
    if isinstance(value, list):
        copy: list | dict = list(value)
    else:
        copy = dict(value)
    copy[head] = _replace(value[head], tuple(rest), new)  # type: ignore[index]
    return copy


def _get(value, path: tuple):
    for step in path:
        value = value[step]
    return value


def mutate_json(rng: random.Random, document):
    """One structural change anywhere in a JSON document."""
    path = rng.choice(list(_nodes(document)))
    node = _get(document, path)
    roll = rng.randrange(8)
    if roll == 0:
        return _replace(document, path, random_json(rng))
    if roll == 1 and isinstance(node, dict) and node:
        key = rng.choice(list(node))
        return _replace(document, path, {k: v for k, v in node.items() if k != key})
    if roll == 2 and isinstance(node, dict):
        return _replace(
            document, path, {**node, rng.choice(["inputs", "instances", "x", "zz", "signature_name"]): random_json(rng)}
        )
    if roll == 3:
        return _replace(document, path, [node] * rng.randrange(0, 3))
    if roll == 4 and isinstance(node, list) and node:
        return _replace(document, path, node + node[: rng.randrange(len(node) + 1)] + [random_json(rng)])
    if roll == 5:
        deep = node
        for _ in range(rng.choice([10, 33, 40, 200, 900, 3000])):
            deep = [deep]
        return _replace(document, path, deep)
    if roll == 6 and isinstance(node, dict) and node:
        key = rng.choice(list(node))
        renamed = {(k + rng.choice(["_", "X", ""]) if k == key else k).upper(): v for k, v in node.items()}
        return _replace(document, path, renamed)
    return _replace(document, path, random_json(rng))


def _dumps(document) -> bytes:
    try:
        return json.dumps(document).encode("utf-8", "surrogatepass")
    except (RecursionError, ValueError):
        return b"[" * 5000


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        roll = rng.randrange(7)
        position = rng.randrange(len(data) + 1)
        if roll == 0 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif roll == 1:
            data[position:position] = rng.randbytes(rng.randrange(1, 9))
        elif roll == 2:
            del data[position : position + rng.randrange(1, 20)]
        elif roll == 3:
            del data[position:]
        elif roll == 4:
            data[position:position] = rng.choice([b"[", b"{", b'"', b"\\", b"]", b"}", b",", b":"]) * rng.randrange(
                1, 5000
            )
        elif roll == 5:
            data[position:position] = rng.choice([b"NaN", b"-Infinity", b"1e999", b"null", b"\xff\xfe", b"\x00"])
        else:
            data[position:position] = data[position : position + rng.randrange(1, 50)]
    return bytes(data)


# --- random HTTP requests ------------------------------------------------------------------------

_METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "", "G\x00T", "post", "XYZZY"]
_VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", "HTTP/", "", "HTTP/99999999999999999999.1", "FTP/1.1"]
_PATH_BITS = [
    "%",
    "%zz",
    "%00",
    "%ff",
    "%2F",
    "/",
    ":",
    "::",
    "..",
    "/versions/",
    "/labels/",
    "/metadata",
    ":predict",
    "é",
    "?a=b",
    "#f",
    " ",
]


def mutate_path(rng: random.Random, path: str) -> str:
    roll = rng.randrange(6)
    if roll == 0:
        position = rng.randrange(len(path) + 1)
        return path[:position] + rng.choice(_PATH_BITS) + path[position:]
    if roll == 1:
        return re.sub(r"[0-9]+", str(rng.choice([0, 7, 2**63, 2**64, 10**30, -1])), path, count=1)
    if roll == 2:
        return (
            path.upper() if rng.random() < 0.5 else path.replace("/v1/", rng.choice(["/V1/", "/v2/", "//v1/", "/v1//"]))
        )
    if roll == 3:
        return "http://localhost:8501" + path
    if roll == 4:
        return path.replace(
            "models/", "models/" + rng.choice(MODELS + ["", "%20", "a" * 300]) + rng.choice(["", "/", ":"])
        )
    return rng.choice(["/", "*", "/v1", "/v1/models/", "/v1/models/default/versions/00000123", "/" + "a" * 70000])


def _chunked(body: bytes, rng: random.Random) -> bytes:
    out = bytearray()
    position = 0
    while position < len(body):
        size = rng.randrange(1, 64)
        chunk = body[position : position + size]
        out += b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        position += size
    return bytes(out) + rng.choice([b"0\r\n\r\n", b"0\r\nX-Trailer: 1\r\n\r\n", b"", b"zz\r\n", b"5\r\nab\r\n"])


def rest_request(rng: random.Random) -> bytes:
    """One malformed HTTP request (or, one time in ten, only random bytes)."""
    if rng.random() < 0.05:
        return rng.randbytes(rng.randrange(2000))
    method, path, document = rng.choice(REST_SEEDS)
    body = _dumps(document) if document is not None else b""
    headers: list[tuple[str, str]] = [("Host", "localhost"), ("Content-Type", "application/json")]
    version = "HTTP/1.1"
    mutations = rng.sample(["json", "bytes", "length", "chunked", "headers", "line", "path"], rng.randrange(1, 4))
    if "json" in mutations and document is not None:
        for _ in range(rng.randrange(1, 4)):
            document = mutate_json(rng, document)
        body = _dumps(document)
    if "bytes" in mutations:
        body = mutate_bytes(rng, body)
    if "line" in mutations:
        method = rng.choice(_METHODS)
        version = rng.choice(_VERSIONS)
    if "path" in mutations:
        path = mutate_path(rng, path)
    body = _framed(rng, body, headers, mutations)
    if "headers" in mutations:
        for _ in range(rng.randrange(1, 4)):
            headers.extend(_odd_header(rng))
    head = f"{method} {path} {version}".rstrip() + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("utf-8", "surrogatepass") + b"\r\n" + body


def _framed(rng: random.Random, body: bytes, headers: list[tuple[str, str]], mutations: list[str]) -> bytes:
    """The body as sent, chunked or with a Content-Length (both perhaps wrong), its headers added."""
    if "chunked" in mutations:
        headers.append(("Transfer-Encoding", rng.choice(["chunked", "chunked", "gzip", "chunked, gzip", "CHUNKED"])))
        if rng.random() < 0.3:
            headers.append(("Content-Length", str(len(body))))
        return _chunked(body, rng)
    length = len(body)
    choices = [str(length), "abc", "-1", "", " 12 ", "1e3", str(2**70), str(length + 1), str(max(length - 3, 0))]
    headers.append(("Content-Length", rng.choice(choices) if "length" in mutations else str(length)))
    if "length" in mutations and rng.random() < 0.3:
        headers.append(("Content-Length", rng.choice(choices)))
    return body


def _odd_header(rng: random.Random) -> list[tuple[str, str]]:
    """A header (or many) a server must survive: long, numerous, Expect, Connection, badly named, folded."""
    roll = rng.randrange(6)
    if roll == 0:
        return [("X-Long", "v" * rng.choice([100, 70000]))]
    if roll == 1:
        return [(f"X-Many-{i}", "1") for i in range(rng.choice([50, 150]))]
    if roll == 2:
        return [("Expect", "100-continue")]
    if roll == 3:
        return [("Connection", rng.choice(["close", "keep-alive", "upgrade", "\x00"]))]
    if roll == 4:
        return [(rng.choice(["Bad Header", "Ünï", "", ":"]), "x")]
    return [("X-Fold", "a\r\n folded")]


class _Connection:
    """A socket stand-in for the standard library's request handler: reads the request, keeps the answer."""

    def __init__(self, data: bytes):
        self._data = data
        self.sent = bytearray()

    def makefile(self, mode: str, buffering: int = -1):
        return io.BufferedReader(io.BytesIO(self._data))

    def sendall(self, data) -> None:
        self.sent += data

    def settimeout(self, timeout) -> None:
        pass

    def setsockopt(self, *args) -> None:
        pass


_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def answer_rest(handler: type, data: bytes) -> list[int]:
    """The HTTP statuses the handler sends for one connection's bytes (several, when the bytes hold
    several requests; none when the request ended before its body did, as a client that went away)."""
    connection = _Connection(data)
    with contextlib.suppress(ConnectionError):  # the body ended early: the client went away
        handler(connection, ("127.0.0.1", 1), SimpleNamespace())
    return [int(status) for status in _STATUS_LINE.findall(bytes(connection.sent))]


# --- random gRPC requests ------------------------------------------------------------------------

_DTYPES = [*types_pb2.DataType.values(), 0, 27, 99, 100, 200, 2**31 - 1]
_DIMS = [0, 1, 1, 2, 3, 5, -1, -7, 2**25, 2**40, 2**63 - 1]
_TYPED = [
    "float_val",
    "double_val",
    "int_val",
    "int64_val",
    "string_val",
    "bool_val",
    "half_val",
    "scomplex_val",
    "uint32_val",
    "uint64_val",
]


def _random_values(rng: random.Random, name: str) -> list:
    count = rng.randrange(0, 6)
    if name in ("float_val", "double_val", "scomplex_val"):
        return [rng.choice(_ODD_FLOATS + [rng.uniform(-5, 5)]) for _ in range(count)]
    if name == "string_val":
        return [rng.randbytes(rng.randrange(30)) for _ in range(count)]
    if name == "bool_val":
        return [rng.random() < 0.5 for _ in range(count)]
    bounds = {"int_val": (-(2**31), 2**31 - 1), "half_val": (-(2**31), 2**31 - 1), "uint32_val": (0, 2**32 - 1)}
    low, high = bounds.get(name, (-(2**63), 2**63 - 1) if name == "int64_val" else (0, 2**64 - 1))
    return [rng.choice([low, high, 0, 1, rng.randint(low, high)]) for _ in range(count)]


def _random_tensor(rng: random.Random, tensor) -> None:
    tensor.Clear()
    tensor.dtype = rng.choice(_DTYPES + [types_pb2.DT_FLOAT] * 5)
    if rng.random() < 0.1:
        tensor.tensor_shape.unknown_rank = True
    for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 3, 6])):
        tensor.tensor_shape.dim.add(size=rng.choice(_DIMS))
    if rng.random() < 0.2:
        tensor.tensor_content = rng.randbytes(rng.choice([0, 1, 4, 8, 13]))
    else:
        field_name = rng.choice(_TYPED + ["float_val"] * 4)
        getattr(tensor, field_name).extend(_random_values(rng, field_name))


def _random_example(rng: random.Random, example) -> None:
    for _ in range(rng.randrange(0, 4)):
        feature = example.features.feature[rng.choice(["x", "x", "y", "", "é"])]
        kind = rng.randrange(3)
        if kind == 0:
            feature.float_list.value.extend(rng.choice(_ODD_FLOATS[:6] + [2.0]) for _ in range(rng.randrange(4)))
        elif kind == 1:
            feature.int64_list.value.extend(rng.randint(-5, 5) for _ in range(rng.randrange(4)))
        else:
            feature.bytes_list.value.extend(rng.randbytes(4) for _ in range(rng.randrange(3)))


def _random_spec(rng: random.Random, spec) -> None:
    roll = rng.randrange(6)
    if roll == 0:
        spec.name = rng.choice(MODELS + ["", "nope", "é" * 3])
    elif roll == 1:
        spec.version.value = rng.choice([0, 123, 124, 125, -1, 2**63 - 1])
    elif roll == 2:
        spec.version_label = rng.choice(["Version_Label", "stable", ""])
    elif roll == 3:
        spec.signature_name = rng.choice(SIGNATURES + ["nope"])
    elif roll == 4:
        spec.ClearField("name")
    else:
        if rng.random() < 0.5:
            spec.Clear()


def _seed_predict(rng: random.Random) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = rng.choice(MODELS)
    request.model_spec.signature_name = rng.choice(SIGNATURES[:8])
    name = "x" if request.model_spec.signature_name in ("", "serving_default") else "inputs"
    request.inputs[name].dtype = types_pb2.DT_FLOAT
    request.inputs[name].float_val.extend([1.0, 2.0])
    request.inputs[name].tensor_shape.dim.add(size=2)
    request.inputs[name].tensor_shape.dim.add(size=1)
    return request


def _predict_request(rng: random.Random) -> predict_pb2.PredictRequest:
    """A seed Predict request with one to three things changed: its spec, an input, an output filter."""
    request = _seed_predict(rng)
    for _ in range(rng.randrange(1, 4)):
        change = rng.randrange(5)
        if change == 0:
            _random_spec(rng, request.model_spec)
        elif change == 1 and request.inputs:
            _random_tensor(rng, request.inputs[rng.choice(list(request.inputs))])
        elif change == 2:
            _random_tensor(rng, request.inputs[rng.choice(["x", "inputs", "delta", "zz", ""])])
        elif change == 3:
            request.output_filter.append(rng.choice(["y", "outputs", "scores", "output", "nope", ""]))
        elif request.inputs:
            del request.inputs[rng.choice(list(request.inputs))]
    return request


def _examples_request(rng: random.Random, classify: bool):
    """A Classify or Regress request with random examples, a list or a list with context (or none)."""
    request = classification_pb2.ClassificationRequest() if classify else regression_pb2.RegressionRequest()
    request.model_spec.name = rng.choice(MODELS)
    request.model_spec.signature_name = rng.choice(SIGNATURES)
    kind = rng.randrange(3)
    if kind == 0:
        for _ in range(rng.randrange(0, 4)):
            _random_example(rng, request.input.example_list.examples.add())
    elif kind == 1:
        _random_example(rng, request.input.example_list_with_context.context)
        for _ in range(rng.randrange(0, 3)):
            _random_example(rng, request.input.example_list_with_context.examples.add())
    if rng.random() < 0.3:
        _random_spec(rng, request.model_spec)
    return request


def grpc_request(rng: random.Random) -> tuple[str, str, bytes]:
    """(service, method, request bytes) of one malformed request."""
    roll = rng.randrange(10)
    if roll < 5:
        service, method, request = "PredictionService", "Predict", _predict_request(rng)
    elif roll < 8:
        classify = roll == 5 or (roll == 7 and rng.random() < 0.5)
        method = "Classify" if classify else "Regress"
        service = "PredictionService"
        request = _examples_request(rng, classify)
    elif roll == 8:
        service, method = "PredictionService", "GetModelMetadata"
        request = get_model_metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = rng.choice(MODELS)
        request.metadata_field.extend(rng.choice([[], ["signature_def"], ["x"], ["signature_def", "signature_def"]]))
        _random_spec(rng, request.model_spec)
    else:
        service, method = "ModelService", "GetModelStatus"
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = rng.choice(MODELS)
        _random_spec(rng, request.model_spec)
    data = request.SerializeToString()
    if rng.random() < 0.3:
        data = mutate_bytes(rng, data)
    return service, method, data


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(details)
        self.code = code


class _Context:
    """The part of grpc.ServicerContext the handlers use."""

    def abort(self, code, details):
        raise Aborted(code, details)


def grpc_handlers(api: ServingApi) -> dict[str, Callable]:
    """`Service/Method` -> the server's own handler of that method's request bytes."""
    handlers = {}
    services = [
        (prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"], PredictionServicer(api)),
        (model_service_pb2.DESCRIPTOR.services_by_name["ModelService"], ModelStatusServicer(api)),
    ]
    for descriptor, servicer in services:
        generic = _service_handler(descriptor, servicer)
        for method in descriptor.methods:
            details = SimpleNamespace(method=f"/{descriptor.full_name}/{method.name}")
            handlers[f"{descriptor.name}/{method.name}"] = generic.service(details).unary_unary
    return handlers


def answer_grpc(handlers: dict[str, Callable], service: str, method: str, data: bytes) -> grpc.StatusCode:
    try:
        handlers[f"{service}/{method}"](data, _Context())
    except Aborted as aborted:
        return aborted.code
    return grpc.StatusCode.OK


# --- a run ---------------------------------------------------------------------------------------

SERVER_ERRORS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}


@dataclass
class FuzzResult:
    requests: int = 0
    seconds: float = 0.0
    http_statuses: dict[int, int] = field(default_factory=dict)
    grpc_codes: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # "kind index: what", the first few


def fuzz(
    api: ServingApi, rest_count: int, grpc_count: int, seed: int = 15, max_request_bytes: int = 4 << 20
) -> FuzzResult:
    """Sends `rest_count` malformed REST and `grpc_count` malformed gRPC requests through the
    server's own handlers; a failure is a 5xx, a gRPC INTERNAL/UNKNOWN/DATA_LOSS, or an exception."""
    rng = random.Random(seed)
    rest_handler = handler_class(api, max_request_bytes)
    handlers = grpc_handlers(api)
    result = FuzzResult()
    started = time.perf_counter()
    for index in range(rest_count):
        data = rest_request(rng)
        try:
            statuses = answer_rest(rest_handler, data)
        except Exception as error:
            result.failures.append(f"rest {index}: {type(error).__name__}: {error}")
            continue
        for status in statuses:
            result.http_statuses[status] = result.http_statuses.get(status, 0) + 1
            if status >= 500:
                result.failures.append(f"rest {index}: HTTP {status} for {data[:300]!r}")
        result.requests += 1
    for index in range(grpc_count):
        service, method, data = grpc_request(rng)
        try:
            code = answer_grpc(handlers, service, method, data)
        except Exception as error:
            result.failures.append(f"grpc {index}: {type(error).__name__}: {error} for {method} {data[:300]!r}")
            continue
        result.grpc_codes[code.name] = result.grpc_codes.get(code.name, 0) + 1
        if code in SERVER_ERRORS:
            result.failures.append(f"grpc {index}: {code.name} for {method} {data[:300]!r}")
        result.requests += 1
    result.seconds = time.perf_counter() - started
    return result


# --- a burst of connections ----------------------------------------------------------------------


def connection_burst(port: int, connections: int, request: bytes, timeout_s: float = 10.0) -> list[tuple[float, bytes]]:
    """Opens `connections` connections to 127.0.0.1:`port` at once (non-blocking, from one thread, so
    the clients cost little CPU), sends `request` on each (it should ask `Connection: close`) and
    reads the answer to its end. Returns, per connection, (seconds from its connect to the end of
    its answer, the answer's first line); inf seconds for one that got no complete answer in time."""
    selector = selectors.DefaultSelector()
    results: list[tuple[float, bytes]] = [(float("inf"), b"")] * connections
    for index in range(connections):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        state = {"index": index, "sock": sock, "start": time.perf_counter(), "out": request, "in": bytearray()}
        selector.register(sock, selectors.EVENT_WRITE, state)
    open_count, deadline = connections, time.perf_counter() + timeout_s
    while open_count and time.perf_counter() < deadline:
        for key, mask in selector.select(timeout=0.05):
            state = key.data
            sock = state["sock"]
            try:
                if mask & selectors.EVENT_WRITE:
                    state["out"] = state["out"][sock.send(state["out"]) :]
                    if not state["out"]:
                        selector.modify(sock, selectors.EVENT_READ, state)
                    continue
                data = sock.recv(65536)
                if data:
                    state["in"] += data
                    continue
                results[state["index"]] = (
                    time.perf_counter() - state["start"],
                    bytes(state["in"]).split(b"\r\n", 1)[0],
                )
            except BlockingIOError:
                continue
            except OSError:
                pass
            selector.unregister(sock)
            sock.close()
            open_count -= 1
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()
    return results
