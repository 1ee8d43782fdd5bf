"""The gRPC front end: tensorflow.serving.PredictionService and ModelService.GetModelStatus.

Service and method names, request and response messages come from tensorflow-serving-api's
descriptors, so the wire API is exactly TF Serving's. Each request is parsed here rather than by
gRPC, so bytes that are no message of the method's type are INVALID_ARGUMENT (gRPC's own parsing
would answer INTERNAL, as the C++ server does, and log a traceback per request). Requests larger
than `max_request_bytes` are refused by gRPC itself with RESOURCE_EXHAUSTED before they are read.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from concurrent import futures

import grpc
from google.protobuf import message, symbol_database
from tensorflow_serving.apis import (
    model_service_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
)

from serving.api import ServingApi
from serving.errors import ServingError

log = logging.getLogger(__name__)
# Bytes that end a group they did not open are refused below; the warning protobuf also gives for
# them would be noise.
warnings.filterwarnings("ignore", message="Unexpected end-group tag", category=RuntimeWarning)


def _answer(call: Callable, request, context: grpc.ServicerContext):
    """Runs one API call, turning a ServingError (or a bug) into the call's gRPC status."""
    try:
        return call(request)
    except ServingError as error:
        context.abort(error.code, error.message)
    except Exception as error:  # A bug must cost one request, not the server.
        log.exception("unexpected error answering %s", type(request).__name__)
        context.abort(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}")


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict, Classify, Regress, GetModelMetadata; MultiInference answers UNIMPLEMENTED (the base class's reply)."""

    def __init__(self, api: ServingApi):
        self._api = api

    def Predict(self, request, context):
        return _answer(self._api.predict, request, context)

    def Classify(self, request, context):
        return _answer(self._api.classify, request, context)

    def Regress(self, request, context):
        return _answer(self._api.regress, request, context)

    def GetModelMetadata(self, request, context):
        return _answer(self._api.get_model_metadata, request, context)


class ModelStatusServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus only; HandleReloadConfigRequest answers UNIMPLEMENTED (the base class's reply)."""

    def __init__(self, api: ServingApi):
        self._api = api

    def GetModelStatus(self, request, context):
        return _answer(self._api.get_model_status, request, context)


def _service_handler(descriptor, servicer) -> grpc.GenericRpcHandler:
    """Every method of a service, as the generated `add_*Servicer_to_server` registers them, but
    receiving the request's bytes and parsing them in the handler."""
    messages = symbol_database.Default()
    handlers = {}
    for method in descriptor.methods:
        request_type = messages.GetSymbol(method.input_type.full_name)
        response_type = messages.GetSymbol(method.output_type.full_name)

        behaviour = getattr(servicer, method.name)

        def parse_then_call(data: bytes, context, behaviour=behaviour, request_type=request_type):
            request = request_type()
            try:
                # All of it: protobuf stops at a stray end-group tag and says so only in a warning.
                complete = request.MergeFromString(data) == len(data)
            except (message.DecodeError, RuntimeError, ValueError):
                complete = False
            if not complete:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Failed to parse the request as {request_type.__name__}"
                )
            return behaviour(request, context)

        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            parse_then_call, response_serializer=response_type.SerializeToString
        )
    return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)


def start_grpc_server(api: ServingApi, address: str, max_request_bytes: int, threads: int) -> tuple[grpc.Server, int]:
    """Starts serving on `host:port` (port 0 picks a free one); returns the server and its bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", max_request_bytes),
            ("grpc.max_send_message_length", -1),
            # One server per address: a second server must fail to bind, not share the port.
            ("grpc.so_reuseport", 0),
        ],
    )
    server.add_generic_rpc_handlers(
        (
            _service_handler(
                prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"], PredictionServicer(api)
            ),
            _service_handler(model_service_pb2.DESCRIPTOR.services_by_name["ModelService"], ModelStatusServicer(api)),
        )
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as error:  # grpc's way of saying the address is taken or not ours
        raise OSError(f"cannot listen for gRPC on {address} (in use?)") from error
    server.start()
    return server, port
