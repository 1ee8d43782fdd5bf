"""The one error type of the server: a gRPC status code and a message, as TF Serving reports them.

Both front ends raise and report the same error: gRPC aborts the call with its code, REST
answers `{"error": message}` with the HTTP status TF Serving's REST API uses for that code.
"""

from __future__ import annotations

from http import HTTPStatus

import grpc

# TF Serving's REST status for each code (ToHTTPStatusCode in
# tensorflow_serving/model_servers/http_server.cc).
_HTTP_STATUS = {
    grpc.StatusCode.OK: HTTPStatus.OK,
    grpc.StatusCode.CANCELLED: 499,  # nginx's "client closed request", as TF Serving's net_http has it
    grpc.StatusCode.UNKNOWN: HTTPStatus.INTERNAL_SERVER_ERROR,
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.CONFLICT,
    grpc.StatusCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.TOO_MANY_REQUESTS,
    grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.ABORTED: HTTPStatus.CONFLICT,
    grpc.StatusCode.OUT_OF_RANGE: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    grpc.StatusCode.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS: HTTPStatus.INTERNAL_SERVER_ERROR,
    grpc.StatusCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
}

# TensorFlow's OpError carries the same numeric codes as gRPC (both follow absl::StatusCode).
_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class ServingError(Exception):
    """A request the server refuses or cannot answer; the server itself keeps serving."""

    def __init__(self, code: grpc.StatusCode, message: str, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self._http_status = http_status

    @property
    def http_status(self) -> int:
        """TF Serving's HTTP status for the code, unless the error names its own (a body over this
        server's size limit is 413: TF Serving has no such limit, so no status of its own for it)."""
        if self._http_status is not None:
            return self._http_status
        return _HTTP_STATUS.get(self.code, HTTPStatus.INTERNAL_SERVER_ERROR)

    @classmethod
    def from_tensorflow(cls, error) -> ServingError:
        """The status of a `tf.errors.OpError` raised while running a model (bad example bytes, say)."""
        return cls(_STATUS_BY_NUMBER.get(error.error_code, grpc.StatusCode.INTERNAL), error.message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)
