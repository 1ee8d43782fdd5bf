"""The one error type of the server: a gRPC status code and a message, as TF Serving reports them.

Both front ends raise and report the same error: gRPC aborts the call with its code, REST
answers `{"error": message}` with the HTTP status TF Serving's REST API uses for that code.
"""

from __future__ import annotations

from http import HTTPStatus

import grpc

_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
}

# TensorFlow's OpError carries the same numeric codes as gRPC (both follow absl::StatusCode).
_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class ServingError(Exception):
    """A request the server refuses or cannot answer; the server itself keeps serving."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> HTTPStatus:
        return _HTTP_STATUS.get(self.code, HTTPStatus.INTERNAL_SERVER_ERROR)

    @classmethod
    def from_tensorflow(cls, error) -> ServingError:
        """The status of a `tf.errors.OpError` raised while running a model (bad example bytes, say)."""
        return cls(_STATUS_BY_NUMBER.get(error.error_code, grpc.StatusCode.INTERNAL), error.message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)
