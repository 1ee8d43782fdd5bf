"""A Python client for TF Serving's gRPC API (the embedded server or the real `tensorflow_model_server`).

    with PredictionClient("127.0.0.1:8500") as client:
        outputs = client.predict(predict_request("iris", [serialized({"sepal_length": 5.0, ...})]))
        outputs["species"]  # array([b'setosa'], dtype=object)

Every call has a deadline; a call that fails with UNAVAILABLE (server starting, restarting, or
briefly unreachable) is retried a bounded number of times with a growing pause. Every other
status is raised at once as `grpc.RpcError`: retrying a bad request cannot make it good.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)


class PredictionClient:
    """PredictionService and ModelService over one channel, with deadlines and retries on UNAVAILABLE.

    Args:
      target: `host:port` of the gRPC server.
      timeout_s: deadline of each attempt, in seconds.
      attempts: most tries per call (1 = no retry), all on UNAVAILABLE only.
      backoff_s: pause before the first retry, in seconds; it doubles for each further retry.
      max_message_bytes: the largest response accepted (gRPC's default is 4 MiB).
    """

    def __init__(
        self,
        target: str,
        timeout_s: float = 10.0,
        attempts: int = 3,
        backoff_s: float = 0.1,
        max_message_bytes: int = 64 * 1024 * 1024,
    ):
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", max_message_bytes)])
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def predict(self, request: predict_pb2.PredictRequest) -> dict[str, np.ndarray]:
        """The request's outputs as arrays (strings as bytes objects)."""
        response = self._call(self._predictions.Predict, request)
        return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}

    def predict_examples(
        self, model_name: str, serialized_examples: Iterable[bytes], signature_name: str = "serving_default"
    ) -> dict[str, np.ndarray]:
        """The latest version's outputs for serialized tf.Examples, fed to the signature's one input
        under the name the server's metadata gives it, so no input name is assumed.

        Raises ValueError if the model has no such signature, or one taking other inputs.
        """
        signatures = get_model_metadata_pb2.SignatureDefMap()
        self.metadata(model_name).metadata["signature_def"].Unpack(signatures)
        if signature_name not in signatures.signature_def:
            raise ValueError(
                f"Model {model_name} has no signature {signature_name!r}; it has "
                f"{', '.join(sorted(signatures.signature_def))}."
            )
        inputs = signatures.signature_def[signature_name].inputs
        if len(inputs) != 1:
            raise ValueError(
                f"Signature {signature_name!r} of model {model_name} takes {len(inputs)} inputs "
                f"({', '.join(sorted(inputs))}), not one tensor of serialized tf.Examples."
            )
        (input_name,) = inputs
        return self.predict(predict_request(model_name, serialized_examples, input_name, signature_name))

    def predict_response(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        """The whole PredictResponse, with the model_spec (version) that answered."""
        return self._call(self._predictions.Predict, request)

    def metadata(self, model_name: str, version: int | None = None) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """The model's SignatureDefs (latest version, or `version`), packed as TF Serving packs them."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        _set_model(request.model_spec, model_name, version)
        return self._call(self._predictions.GetModelMetadata, request)

    def status(self, model_name: str, version: int | None = None) -> get_model_status_pb2.GetModelStatusResponse:
        """The state (AVAILABLE, END...) of each version the server has seen, or of `version`."""
        request = get_model_status_pb2.GetModelStatusRequest()
        _set_model(request.model_spec, model_name, version)
        return self._call(self._models.GetModelStatus, request)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> PredictionClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _call(self, method: Callable, request):
        for attempt in range(1, self.attempts + 1):
            try:
                return method(request, timeout=self.timeout_s)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == self.attempts:
                    raise
                time.sleep(self.backoff_s * 2 ** (attempt - 1))


class ServerError(Exception):
    """A model server did not answer a prediction: one sentence naming the server and why."""


def predict_on_server(server: str, timeout_s: float, model_name: str, examples: list[bytes]) -> dict[str, np.ndarray]:
    """The latest version's outputs for serialized tf.Examples, from the gRPC server at `server`;
    ServerError when it cannot be asked, serves no such model or refuses the request."""
    try:
        with PredictionClient(server, timeout_s=timeout_s) as client:
            return client.predict_examples(model_name, examples)
    except ValueError as error:
        raise ServerError(f"--server {server}: {error}") from None
    except grpc.RpcError as error:
        code = error.code()
        details = error.details()
        if code == grpc.StatusCode.NOT_FOUND:
            raise ServerError(f"--server {server} serves no model named {model_name}: {details}") from None
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise ServerError(
                f"--server {server}: no gRPC model server answered ({code.name}); "
                "is `tfpipe serve` or TensorFlow Serving running there?"
            ) from None
        raise ServerError(f"--server {server} refused the request: {code.name}: {details}") from None


def predict_request(
    model_name: str,
    serialized_examples: Iterable[bytes],
    input_name: str = "examples",
    signature_name: str = "serving_default",
    version: int | None = None,
    version_label: str = "",
) -> predict_pb2.PredictRequest:
    """A PredictRequest feeding serialized tf.Examples to a signature's string input.

    Args:
      version: ask for this version; None (and no label) asks for the latest.
      version_label: ask for the version the server's label names (e.g. "stable").
    """
    request = predict_pb2.PredictRequest()
    _set_model(request.model_spec, model_name, version)
    request.model_spec.signature_name = signature_name
    if version_label:  # version and version_label are a oneof: setting one clears the other
        request.model_spec.version_label = version_label
    request.inputs[input_name].CopyFrom(tf.make_tensor_proto(list(serialized_examples), dtype=tf.string))
    return request


def _set_model(spec, model_name: str, version: int | None) -> None:
    spec.name = model_name
    if version is not None:
        spec.version.value = version
