"""TF Serving's API on its own protos: Predict, Classify, Regress, GetModelMetadata, GetModelStatus.

Both front ends (gRPC in `grpc_server.py`, REST in `rest_server.py`) translate their requests into
these protos (or, for REST Predict, straight into the arrays they hold) and call this class, so
validation, version selection and errors are the same on both. What is checked, in what order and
with what message, is TF Serving's (each check names the TF Serving source it follows): input names
against the signature, dtypes, output filters; shapes are not checked (TF Serving feeds whatever
shape it gets to the graph, which fails with INVALID_ARGUMENT if it cannot take it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import grpc
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
    prediction_log_pb2,
    regression_pb2,
)

from serving.errors import ServingError, invalid_argument
from serving.model_manager import ModelManager
from serving.request_log import RequestLogger
from serving.servables import DEFAULT_SIGNATURE, Servable

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
SIGNATURE_DEF_FIELD = "signature_def"
# The most elements a request's tensor may expand to. A TensorProto's typed fields may hold fewer
# values than its shape (the last is repeated), so a few bytes can ask for terabytes.
MAX_TENSOR_ELEMENTS = 2**24


class ServingApi:
    """Answers TF Serving's requests from the versions a ModelManager has loaded; with a RequestLogger,
    logs a sample of the requests it answers (both front ends' alike: a REST request as the gRPC one it
    translates to)."""

    def __init__(self, manager: ModelManager, request_log: RequestLogger | None = None):
        self.manager = manager
        self.request_log = request_log

    # --- Predict (tensorflow_serving/servables/tensorflow/predict_util.cc) ------------------------

    def predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")  # predict_impl.cc
        servable = self.manager.servable(request.model_spec)
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = servable.signature_defs.get(signature_name)
        if signature is None:
            raise ServingError(
                grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature key "{signature_name}" not found.'
            )
        check_input_names(signature, request.inputs)
        arrays = {}
        for alias in sorted(signature.inputs):
            proto = request.inputs[alias] if alias in request.inputs else signature.defaults[alias]
            arrays[alias] = tensor_array(proto, alias)
        outputs = self.run_predict(servable, signature_name, signature, arrays, list(request.output_filter))
        response = predict_pb2.PredictResponse(model_spec=_answered_spec(servable, signature_name))
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tensor_proto(value))
        self._log("predict_log", request, response)
        return response

    def _log(self, kind: str, request, response) -> None:
        """Logs an answered request as the PredictionLog field `kind` (predict_log, classify_log, regress_log)."""
        if self.request_log is None:
            return

        def record() -> prediction_log_pb2.PredictionLog:
            entry = prediction_log_pb2.PredictionLog()
            getattr(entry, kind).request.CopyFrom(request)
            getattr(entry, kind).response.CopyFrom(response)
            return entry

        self.request_log.log(response.model_spec, record)

    def log_predict(
        self,
        servable: Servable,
        signature_name: str,
        inputs: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray],
    ) -> None:
        """Logs a REST Predict (answered from arrays, `run_predict`) as the PredictRequest and
        PredictResponse it stands for; the protos are built on the log's thread."""
        if self.request_log is None:
            return
        spec = _answered_spec(servable, signature_name)

        def record() -> prediction_log_pb2.PredictionLog:
            entry = prediction_log_pb2.PredictionLog()
            entry.predict_log.request.model_spec.CopyFrom(spec)
            entry.predict_log.response.model_spec.CopyFrom(spec)
            for name, value in inputs.items():
                entry.predict_log.request.inputs[name].CopyFrom(tensor_proto(value))
            for name, value in outputs.items():
                entry.predict_log.response.outputs[name].CopyFrom(tensor_proto(value))
            return entry

        self.request_log.log(spec, record)

    def resolve_signature(self, model_spec: model_pb2.ModelSpec) -> tuple[Servable, str, meta_graph_pb2.SignatureDef]:
        """The servable, signature name and SignatureDef a REST request names, with the REST handler's
        message for an unknown signature (GetInfoMap in http_rest_api_handler.cc)."""
        servable = self.manager.servable(model_spec)
        signature_name = model_spec.signature_name or DEFAULT_SIGNATURE
        signature = servable.signature_defs.get(signature_name)
        if signature is None:
            raise invalid_argument(f'Serving signature name: "{signature_name}" not found in signature def')
        return servable, signature_name, signature

    def run_predict(
        self,
        servable: Servable,
        signature_name: str,
        signature: meta_graph_pb2.SignatureDef,
        arrays: Mapping[str, np.ndarray],
        output_filter: list[str],
    ) -> dict[str, np.ndarray]:
        """Runs a signature on arrays named as its inputs (checked by `check_input_names`), fetching
        the filtered outputs, or all of them."""
        seen: set[str] = set()
        for alias in output_filter:
            if alias not in signature.outputs:
                raise invalid_argument(
                    f"output tensor alias not found in signature: {alias} Outputs expected to be in the "
                    f"set {{{','.join(sorted(signature.outputs))}}}."
                )
            if alias in seen:
                raise invalid_argument(f"duplicate output tensor alias: {alias}")
            seen.add(alias)
        _check_dtypes(servable.feed_dtypes[signature_name], arrays)
        if signature_name not in servable.runnable_signatures:
            raise invalid_argument(f'Signature "{signature_name}" has no tensor outputs to run')
        wanted = tuple(output_filter) if output_filter else None
        return servable.run(signature_name, arrays, wanted)

    # --- Classify and Regress (classifier.cc, regressor.cc, util.cc) ------------------------------

    def classify(self, request: classification_pb2.ClassificationRequest) -> classification_pb2.ClassificationResponse:
        servable, signature_name, signature = self._examples_signature(request, CLASSIFY_METHOD, "classification")
        _check_classification_signature(signature)
        examples = _serialized_examples(request.input)
        outputs = self._run_on_examples(servable, signature_name, signature, examples)
        classes, scores = outputs.get("classes"), outputs.get("scores")
        count = len(examples)
        _check_classification_outputs(classes, scores, count)
        width = (classes if classes is not None else scores).shape[1]  # type: ignore[union-attr]
        response = classification_pb2.ClassificationResponse(model_spec=_answered_spec(servable, signature_name))
        for row in range(count):
            classifications = response.result.classifications.add()
            for column in range(width):
                entry = classifications.classes.add()
                if classes is not None:
                    entry.label = _text(classes[row][column])
                if scores is not None:
                    entry.score = float(scores[row][column])
        self._log("classify_log", request, response)
        return response

    def regress(self, request: regression_pb2.RegressionRequest) -> regression_pb2.RegressionResponse:
        servable, signature_name, signature = self._examples_signature(request, REGRESS_METHOD, "regression")
        if len(signature.inputs) != 1:
            raise invalid_argument("Expected one input Tensor.")
        if len(signature.outputs) != 1:
            raise invalid_argument("Expected one output Tensor.")
        if "inputs" not in signature.inputs:
            raise ServingError(grpc.StatusCode.FAILED_PRECONDITION, "No regression inputs found in SignatureDef")
        if "outputs" not in signature.outputs:
            raise ServingError(grpc.StatusCode.FAILED_PRECONDITION, "No regression outputs found in SignatureDef")
        examples = _serialized_examples(request.input)
        values = self._run_on_examples(servable, signature_name, signature, examples)["outputs"]
        count = len(examples)
        if not (values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1)):
            raise invalid_argument(
                "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
                f"{list(values.shape)}"
            )
        if values.shape[0] != count:
            raise invalid_argument(f"Input batch size did not match output batch size: {count} vs. {values.shape[0]}")
        if values.dtype != np.float32:
            raise invalid_argument(f"Expected output Tensor of DT_FLOAT.  Got: {_dtype_name(values)}")
        response = regression_pb2.RegressionResponse(model_spec=_answered_spec(servable, signature_name))
        for value in values.reshape([-1]).tolist():
            response.result.regressions.add(value=value)
        self._log("regress_log", request, response)
        return response

    # --- Metadata and status (get_model_metadata_impl.cc, get_model_status_impl.cc) ---------------

    def get_model_metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
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
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
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

    def _examples_signature(self, request, method: str, kind: str) -> tuple[Servable, str, meta_graph_pb2.SignatureDef]:
        """GetClassificationSignatureDef / GetRegressionSignatureDef."""
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        servable = self.manager.servable(request.model_spec)
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = servable.signature_defs.get(signature_name)
        if signature is None:
            raise invalid_argument(f"No signature was found with the name: {signature_name}")
        if signature.method_name != method:
            raise invalid_argument(
                f"Expected {kind} signature method_name to be {method}. Was: {signature.method_name}"
            )
        return servable, signature_name, signature

    def _run_on_examples(
        self, servable: Servable, signature_name: str, signature: meta_graph_pb2.SignatureDef, examples: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The serialized tf.Examples fed to the signature's input `inputs`, whatever its dtype (a
        float input fails as TF Serving's Session::Run fails it)."""
        inputs = {"inputs": examples}
        _check_dtypes(servable.feed_dtypes[signature_name], inputs)
        if signature_name not in servable.runnable_signatures:
            raise invalid_argument(f'Signature "{signature_name}" has no tensor outputs to run')
        return servable.run(signature_name, inputs)


def check_input_names(signature: meta_graph_pb2.SignatureDef, sent: Iterable[str]) -> None:
    """VerifyRequestInputsSize (predict_util.cc), then the names GetInputValues
    (tensorflow/cc/saved_model/util.cc) cannot match to a signature input or a default."""
    sent_names, expected = set(sent), set(signature.inputs)
    if len(sent_names) > len(expected) or (len(sent_names) < len(expected) and not signature.defaults):
        raise invalid_argument(
            f"input size does not match signature: {len(sent_names)}!={len(expected)} "
            f"len({{{','.join(sorted(sent_names))}}}) != len({{{','.join(sorted(expected))}}}). "
            f"Sent extra: {{{','.join(sorted(sent_names - expected))}}}. "
            f"Missing but required: {{{','.join(sorted(expected - sent_names))}}}."
        )
    for alias in sorted(expected):
        if alias not in sent_names and alias not in signature.defaults:
            raise invalid_argument(
                f"Signature input alias: {alias}(feed name: {signature.inputs[alias].name}) not found in request "
                f"and no default value provided. Inputs expected to be in the request "
                f"{{{','.join(sorted(sent_names))}}}, or default input alias set: "
                f"{','.join(sorted(signature.defaults))}"
            )
    if sent_names - expected:
        raise invalid_argument(
            f"Inputs contains invalid name. Used request inputs: {','.join(sorted(sent_names & expected))}, "
            f"request input: {','.join(sorted(sent_names))}"
        )


def _check_dtypes(feed_dtypes: Mapping[str, int], arrays: Mapping[str, np.ndarray]) -> None:
    """Session::Run's check of each fed tensor's dtype against the graph's (its message: `Expects
    arg[0] to be float but string is provided`, as predict_util_test.cc pins it); the feeds are in
    input-name order."""
    for index, alias in enumerate(sorted(arrays)):
        expected = feed_dtypes[alias]
        got = _dtype_enum(arrays[alias])
        if got != expected:
            raise invalid_argument(
                f"Expects arg[{index}] to be {_type_string(expected)} but {_type_string(got)} is provided"
            )


def tensor_array(proto: tensor_pb2.TensorProto, alias: str) -> np.ndarray:
    """A request's TensorProto as an array (Tensor::FromProto); INVALID_ARGUMENT `tensor parsing
    error: <alias>` when it does not describe a tensor (an unknown dtype, content that does not fit
    its shape)."""
    dims = [dim.size for dim in proto.tensor_shape.dim]
    if any(size < 0 for size in dims) or proto.dtype in (
        types_pb2.DT_INVALID,
        types_pb2.DT_RESOURCE,
        types_pb2.DT_VARIANT,
    ):
        raise invalid_argument(f"tensor parsing error: {alias}")
    if math.prod(dims) > MAX_TENSOR_ELEMENTS:
        raise invalid_argument(
            f"tensor parsing error: {alias} (shape {dims} has more than this server's {MAX_TENSOR_ELEMENTS} elements)"
        )
    try:
        array = tf.make_ndarray(proto)
    except Exception:  # whatever make_ndarray cannot read is no tensor
        raise invalid_argument(f"tensor parsing error: {alias}") from None
    if list(array.shape) != dims:
        raise invalid_argument(f"tensor parsing error: {alias}")
    return array


def _check_classification_signature(signature: meta_graph_pb2.SignatureDef) -> None:
    """A classification signature: one input `inputs`, one or two outputs among `classes` and `scores`."""
    if len(signature.inputs) != 1:
        raise invalid_argument("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise invalid_argument(f"Expected one or two output Tensors, found {len(signature.outputs)}")
    if "inputs" not in signature.inputs:
        raise ServingError(grpc.StatusCode.FAILED_PRECONDITION, "No classification inputs found in SignatureDef")
    if not {"classes", "scores"} & set(signature.outputs):
        raise ServingError(
            grpc.StatusCode.FAILED_PRECONDITION,
            'Expected classification signature outputs to contain at least one of "classes" or "scores".',
        )


def _check_classification_outputs(classes: np.ndarray | None, scores: np.ndarray | None, count: int) -> None:
    """Classes (strings) and scores (floats), each [count, classes], of one width where both are given."""
    for tensor, dtype, dtype_name, name in (
        (classes, object, "DT_STRING", "classes"),
        (scores, np.float32, "DT_FLOAT", "scores"),
    ):
        if tensor is None:
            continue
        if tensor.ndim != 2:
            raise invalid_argument(f"Expected Tensor shape: [batch_size num_classes] but got {list(tensor.shape)}")
        if tensor.dtype != dtype:
            raise invalid_argument(f"Expected {name} Tensor of {dtype_name}. Got: {_dtype_name(tensor)}")
        if tensor.shape[0] != count:
            raise invalid_argument(f"Expected {name} output batch size of {count}. Got: {tensor.shape[0]}")
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise invalid_argument(
            f"Tensors class and score should match in dim_size(1). Got {classes.shape[1]} vs. {scores.shape[1]}"
        )


def _serialized_examples(examples: input_pb2.Input) -> np.ndarray:
    """InputToSerializedExampleTensor (util.cc): one serialized tf.Example per example, the
    context's bytes before each example's (concatenated protos parse as their merge)."""
    kind = examples.WhichOneof("kind")
    if kind == "example_list":
        serialized = [example.SerializeToString() for example in examples.example_list.examples]
    elif kind == "example_list_with_context":
        context = examples.example_list_with_context.context.SerializeToString()
        serialized = [context + example.SerializeToString() for example in examples.example_list_with_context.examples]
    else:
        serialized = []
    if not serialized:
        raise invalid_argument("Input is empty.")
    array = np.empty(len(serialized), dtype=object)
    array[:] = serialized
    return array


def _answered_spec(servable: Servable, signature_name: str) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=servable.model_name, signature_name=signature_name)
    spec.version.value = servable.version
    return spec


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _dtype_enum(array: np.ndarray) -> int:
    if array.dtype == object or array.dtype.kind in "SU":
        return types_pb2.DT_STRING
    try:
        return tf.dtypes.as_dtype(array.dtype).as_datatype_enum
    except TypeError:
        return types_pb2.DT_INVALID


def _type_string(dtype: int) -> str:
    """TensorFlow's DataTypeString: DT_FLOAT -> float, DT_STRING -> string."""
    try:
        return types_pb2.DataType.Name(dtype)[3:].lower()
    except ValueError:
        return f"unknown dtype enum ({dtype})"


def _dtype_name(array: np.ndarray) -> str:
    return types_pb2.DataType.Name(_dtype_enum(array))


# Tensor::AsProtoField: the repeated field each dtype's values go in (tensorflow/core/framework/tensor.cc).
_TYPED_FIELDS = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_UINT16: "int_val",
    types_pb2.DT_INT16: "int_val",
    types_pb2.DT_INT8: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_UINT32: "uint32_val",
    types_pb2.DT_UINT64: "uint64_val",
    types_pb2.DT_BOOL: "bool_val",
    types_pb2.DT_STRING: "string_val",
}


def tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """An output as TF Serving's Predict sends it (PostProcessPredictionResult in predict_util.cc:
    Tensor::AsProtoField): dtype, shape, and every value in the dtype's typed field (`float_val`,
    `int64_val`, `string_val`, ...), not `tensor_content`; half and complex values as their
    fields' bit patterns and pairs."""
    array = np.asarray(array)
    dtype = _dtype_enum(array)
    proto = tensor_pb2.TensorProto(dtype=dtype)
    proto.tensor_shape.dim.extend(tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in array.shape)
    flat = array.ravel()
    field = _TYPED_FIELDS.get(dtype)
    if dtype == types_pb2.DT_STRING:
        proto.string_val.extend(value if isinstance(value, bytes) else str(value).encode() for value in flat.tolist())
    elif field is not None:
        getattr(proto, field).extend(flat.tolist())
    elif dtype in (types_pb2.DT_HALF, types_pb2.DT_BFLOAT16):
        proto.half_val.extend(flat.view(np.uint16).tolist())
    elif dtype == types_pb2.DT_COMPLEX64:
        proto.scomplex_val.extend(flat.view(np.float32).tolist())
    elif dtype == types_pb2.DT_COMPLEX128:
        proto.dcomplex_val.extend(flat.view(np.float64).tolist())
    else:  # no typed field (quantized types): TF's own conversion
        return tf.make_tensor_proto(array)
    return proto
