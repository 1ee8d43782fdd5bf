"""TF Serving's API on its own protos: Predict, Classify, Regress, GetModelMetadata, GetModelStatus.

Both front ends (gRPC in `grpc_server.py`, REST in `rest_server.py`) translate their requests into
these protos and call this class, so validation, version selection and errors are the same on
both. Requests are checked against the SavedModel's SignatureDef before the model runs; a mismatch
is INVALID_ARGUMENT with a message that names what the signature expects.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import error_codes_pb2, meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from serving.errors import ServingError, invalid_argument
from serving.model_manager import ModelManager
from serving.servables import DEFAULT_SIGNATURE, Servable

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
SIGNATURE_DEF_FIELD = "signature_def"


class ServingApi:
    """Answers TF Serving's requests from the versions a ModelManager has loaded."""

    def __init__(self, manager: ModelManager):
        self.manager = manager

    def predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        servable, signature_name, signature_def = self.resolve_signature(request.model_spec, method=None)
        inputs = _checked_inputs(servable, signature_name, signature_def, request.inputs)
        unknown = [name for name in request.output_filter if name not in signature_def.outputs]
        if unknown:
            raise invalid_argument(
                f"output tensor alias not found in signature: {', '.join(unknown)}. "
                f"Outputs expected to be in the set {{{', '.join(sorted(signature_def.outputs))}}}."
            )
        outputs = servable.run(signature_name, inputs)
        wanted = request.output_filter or outputs
        response = predict_pb2.PredictResponse(model_spec=_answered_spec(servable, signature_name))
        for name in wanted:
            response.outputs[name].CopyFrom(tensor_proto(outputs[name]))
        return response

    def classify(self, request: classification_pb2.ClassificationRequest) -> classification_pb2.ClassificationResponse:
        servable, signature_name, outputs = self._run_on_examples(request.model_spec, request.input, CLASSIFY_METHOD)
        classes, scores = outputs.get("classes"), outputs.get("scores")
        rows, width = np.shape(classes if classes is not None else outputs["scores"])  # one is there
        response = classification_pb2.ClassificationResponse(model_spec=_answered_spec(servable, signature_name))
        for row in range(rows):
            classifications = response.result.classifications.add()
            for column in range(width):
                classifications.classes.add(
                    label=classes[row][column].decode() if classes is not None else "",
                    score=float(scores[row][column]) if scores is not None else 0.0,
                )
        return response

    def regress(self, request: regression_pb2.RegressionRequest) -> regression_pb2.RegressionResponse:
        servable, signature_name, outputs = self._run_on_examples(request.model_spec, request.input, REGRESS_METHOD)
        values = np.reshape(outputs["outputs"], [-1])
        response = regression_pb2.RegressionResponse(model_spec=_answered_spec(servable, signature_name))
        for value in values:
            response.result.regressions.add(value=float(value))
        return response

    def get_model_metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if not request.metadata_field:
            raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
        unsupported = [field for field in request.metadata_field if field != SIGNATURE_DEF_FIELD]
        if unsupported:
            raise invalid_argument(f"Metadata field {unsupported[0]} is not supported")
        servable = self.manager.servable(request.model_spec)
        response = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=_answered_spec(servable, ""))
        signature_map = get_model_metadata_pb2.SignatureDefMap(signature_def=servable.signature_defs)
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response

    def get_model_status(
        self, request: get_model_status_pb2.GetModelStatusRequest
    ) -> get_model_status_pb2.GetModelStatusResponse:
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        if spec.version_label:
            version = self.manager.labelled_version(spec.name, spec.version_label)
        response = get_model_status_pb2.GetModelStatusResponse()
        statuses = self.manager.version_statuses(spec.name, version)
        for number, status in sorted(statuses.items(), reverse=True):
            entry = response.model_version_status.add(version=number, state=status.state)
            entry.status.SetInParent()  # present even when OK, as TF Serving sends it
            if status.error:
                entry.status.error_code = error_codes_pb2.INTERNAL
                entry.status.error_message = status.error
        return response

    def resolve_signature(
        self, model_spec: model_pb2.ModelSpec, method: str | None = None
    ) -> tuple[Servable, str, meta_graph_pb2.SignatureDef]:
        """The servable, signature name and SignatureDef a ModelSpec asks for; `method` if it must be
        classify/regress."""
        servable = self.manager.servable(model_spec)
        signature_name = model_spec.signature_name or DEFAULT_SIGNATURE
        signature_def = servable.signature_defs.get(signature_name)
        if signature_def is None or signature_name not in servable.runnable_signatures:
            raise invalid_argument(f'Serving signature name: "{signature_name}" not found in signature def')
        if method is not None and signature_def.method_name != method:
            raise invalid_argument(
                f"Expected signature '{signature_name}' method_name to be {method}. Was: {signature_def.method_name}"
            )
        return servable, signature_name, signature_def

    def _run_on_examples(
        self, model_spec: model_pb2.ModelSpec, examples: input_pb2.Input, method: str
    ) -> tuple[Servable, str, dict[str, np.ndarray]]:
        """Classify and Regress: serialized tf.Examples into the signature's single string input."""
        servable, signature_name, signature_def = self.resolve_signature(model_spec, method)
        if len(signature_def.inputs) != 1:
            raise invalid_argument(
                f"Expected one input (serialized tf.Examples) in signature '{signature_name}', "
                f"found {{{_describe_tensors(signature_def.inputs)}}}"
            )
        [input_name] = signature_def.inputs
        outputs = servable.run(signature_name, {input_name: _serialized_examples(examples)})
        expected_outputs = {"classes", "scores"} if method == CLASSIFY_METHOD else {"outputs"}
        if not expected_outputs & set(outputs):
            raise invalid_argument(
                f"Expected output {' or '.join(sorted(expected_outputs))} in signature '{signature_name}', "
                f"found {{{_describe_tensors(signature_def.outputs)}}}"
            )
        return servable, signature_name, outputs


def _checked_inputs(
    servable: Servable,
    signature_name: str,
    signature_def: meta_graph_pb2.SignatureDef,
    tensors: Mapping[str, tensor_pb2.TensorProto],
) -> dict[str, np.ndarray]:
    """The request's tensors as arrays, after checking names, dtypes and shapes against the signature."""
    expected = signature_def.inputs

    def refuse(problem: str) -> ServingError:
        return invalid_argument(
            f"{problem}. Signature '{signature_name}' of model {servable.model_name} version {servable.version} "
            f"expects inputs {{{_describe_tensors(expected)}}}"
        )

    extra, missing = sorted(set(tensors) - set(expected)), sorted(set(expected) - set(tensors))
    if extra or missing:
        raise refuse(f"input names do not match: sent extra {extra}, missing but required {missing}")
    arrays = {}
    for name, proto in tensors.items():
        info = expected[name]
        if proto.dtype != info.dtype:
            raise refuse(f"input '{name}' is {_dtype_name(proto.dtype)}, expected {_dtype_name(info.dtype)}")
        try:
            array = tf.make_ndarray(proto)
        except Exception as error:  # A TensorProto whose content does not fill its shape.
            raise refuse(f"input '{name}' is not a well-formed tensor ({error})") from None
        if not _shape_fits(array.shape, info.tensor_shape):
            raise refuse(f"input '{name}' has shape {list(array.shape)}, expected {_shape_text(info.tensor_shape)}")
        arrays[name] = array
    batch_sizes = {len(array) for array in arrays.values() if array.ndim}
    if len(batch_sizes) > 1:
        raise refuse(f"inputs have different batch sizes {sorted(batch_sizes)}")
    return arrays


def _describe_tensors(tensor_infos: Mapping[str, meta_graph_pb2.TensorInfo]) -> str:
    """`examples: DT_STRING [-1]`, one entry per tensor (-1 is a dimension of any size)."""
    return ", ".join(
        f"{name}: {_dtype_name(info.dtype)} {_shape_text(info.tensor_shape)}"
        for name, info in sorted(tensor_infos.items())
    )


def _shape_fits(shape: tuple, expected) -> bool:
    if expected.unknown_rank:
        return True
    return len(shape) == len(expected.dim) and all(dim.size in (-1, size) for dim, size in zip(expected.dim, shape))


def _shape_text(shape) -> str:
    return "any shape" if shape.unknown_rank else str([dim.size for dim in shape.dim])


def _dtype_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype)


def _serialized_examples(examples: input_pb2.Input) -> np.ndarray:
    kind = examples.WhichOneof("kind")
    if kind == "example_list":
        serialized = [example.SerializeToString() for example in examples.example_list.examples]
    elif kind == "example_list_with_context":
        # Concatenated serialized protos parse as their merge: each example with the context's features.
        context = examples.example_list_with_context.context.SerializeToString()
        serialized = [context + example.SerializeToString() for example in examples.example_list_with_context.examples]
    else:
        serialized = []
    if not serialized:
        raise invalid_argument("Input is empty")
    return np.array(serialized, dtype=object)


def _answered_spec(servable: Servable, signature_name: str) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=servable.model_name, signature_name=signature_name)
    spec.version.value = servable.version
    return spec


def tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """`tf.make_tensor_proto(array)` for a model's output without its conversions and checks, which
    cost 100 us for iris's three outputs (27 us here), a tenth of the server's work per request:
    numbers go as raw little-endian bytes (`tensor_content`), strings as `string_val`."""
    proto = tensor_pb2.TensorProto(dtype=tf.dtypes.as_dtype(array.dtype).as_datatype_enum)
    proto.tensor_shape.dim.extend(tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in array.shape)
    if array.dtype == object:
        proto.string_val.extend(array.ravel().tolist())
    else:
        proto.tensor_content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return proto
