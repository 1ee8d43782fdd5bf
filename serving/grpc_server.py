"""The gRPC front end: tensorflow.serving.PredictionService and ModelService.GetModelStatus.

Servicer base classes and registration come from tensorflow-serving-api, so the wire API is
exactly TF Serving's. Requests larger than `max_request_bytes` are refused by gRPC itself with
RESOURCE_EXHAUSTED before they are read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.api import ServingApi
from serving.errors import ServingError

log = logging.getLogger(__name__)


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
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(api), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelStatusServicer(api), server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as error:  # grpc's way of saying the address is taken or not ours
        raise OSError(f"cannot listen for gRPC on {address} (in use?)") from error
    server.start()
    return server, port
