"""One loaded model version (a "servable" in TF Serving's words): its signatures and how to run them."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from serving.batching import Batcher, BatchingOptions
from serving.errors import ServingError

SERVING_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"


def is_complete_version(path: Path) -> bool:
    """A version folder a server may load: named by an integer, holding saved_model.pb.

    The Pusher's layout is `<model>/<version>/`; a folder still being written (no
    saved_model.pb yet) or any other name (a temporary folder) is not a version.
    """
    return path.name.isdigit() and (path / "saved_model.pb").is_file()


class Servable:
    """A SavedModel version loaded for serving.

    Attributes:
      model_name: the model's folder name under the base path.
      version: the version folder's integer name.
      signature_defs: every SignatureDef of the `serve` MetaGraph, as saved (names, dtypes and
        shapes of inputs and outputs, method name): what GetModelMetadata reports and what
        requests are validated against.
      runnable_signatures: the names of those a request may call (not `__saved_model_init_op`).
    """

    def __init__(self, model_name: str, version: int, path: Path, batching: BatchingOptions | None):
        self.model_name = model_name
        self.version = version
        self.path = path
        self.signature_defs = _signature_defs(path)
        self._model = tf.saved_model.load(str(path), tags=[SERVING_TAG])
        self.runnable_signatures = frozenset(self._model.signatures)
        self._batchers = {}
        if batching is not None:
            self._batchers = {
                name: Batcher(functools.partial(self._call, name), batching)
                for name in self.runnable_signatures
                if _is_batchable(self.signature_defs[name])
            }

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs a signature on inputs already checked against its SignatureDef; batched with others when enabled."""
        batcher = self._batchers.get(signature_name)
        if batcher is not None:
            return batcher.run(inputs)
        return self._call(signature_name, inputs)

    def close(self) -> None:
        """Stops batching: queued requests are still answered, later ones holding this servable run unbatched."""
        for batcher in self._batchers.values():
            batcher.close()

    def _call(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        signature = self._model.signatures[signature_name]
        tensor_infos = self.signature_defs[signature_name].inputs
        try:
            outputs = signature(
                **{
                    name: tf.constant(value, dtype=tf.dtypes.as_dtype(tensor_infos[name].dtype))
                    for name, value in inputs.items()
                }
            )
        except tf.errors.OpError as error:
            raise ServingError.from_tensorflow(error) from None
        return {name: tensor.numpy() for name, tensor in outputs.items()}


def _signature_defs(path: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    saved_model = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if SERVING_TAG in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    raise ValueError(f"{path} has no MetaGraph tagged '{SERVING_TAG}'")


def _is_batchable(signature_def: meta_graph_pb2.SignatureDef) -> bool:
    """Requests can be joined only when every input has an open first (batch) dimension."""
    return bool(signature_def.inputs) and all(
        not info.tensor_shape.unknown_rank and info.tensor_shape.dim and info.tensor_shape.dim[0].size == -1
        for info in signature_def.inputs.values()
    )
