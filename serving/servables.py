"""One loaded model version (a "servable" in TF Serving's words): its signatures and how to run them.

A version is loaded as TF Serving loads it: the `serve` MetaGraph of the SavedModel into a graph
and a session (its variables restored, its init op run), and a signature is run by feeding its
input tensors and fetching its output tensors by name. So the model sees exactly what TF
Serving's `Session::Run` gives it: any shape (a signature's declared shapes are not checked, as
TF Serving does not check them; an input the graph cannot take fails in the graph, as
INVALID_ARGUMENT), TF1 SavedModels with reference variables (TF Serving's `saved_model_counter`)
as well as TF2 ones, and state kept between calls of stateful signatures.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, saved_model_pb2

from serving.batching import Batcher, BatchingOptions
from serving.errors import ServingError, invalid_argument

SERVING_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"
# TF Serving's version folders: a base-10 number, leading zeros allowed ("00000123" is 123), that
# fits the int64 of ModelSpec.version.
_VERSION_NAME = re.compile(r"[0-9]+")
MAX_VERSION = 2**63 - 1


def version_number(path: Path) -> int | None:
    """The version a folder's name gives (`00000123` -> 123), or None if it names no version."""
    if not _VERSION_NAME.fullmatch(path.name):
        return None
    number = int(path.name)
    return number if number <= MAX_VERSION else None


def is_complete_version(path: Path) -> bool:
    """A version folder a server may load: named by a number, holding saved_model.pb.

    The Pusher's layout is `<model>/<version>/`; a folder still being written (no
    saved_model.pb yet) or any other name (a temporary folder) is not a version.
    """
    return version_number(path) is not None and (path / "saved_model.pb").is_file()


class Servable:
    """A SavedModel version loaded for serving.

    Attributes:
      model_name: the model's folder name under the base path.
      version: the version's number.
      signature_defs: every SignatureDef of the `serve` MetaGraph, as saved (names, dtypes and
        shapes of inputs and outputs, method name): what GetModelMetadata reports and what
        requests are resolved against.
      runnable_signatures: the names of those a request may call: those whose outputs are all
        tensors (not `__saved_model_init_op`, whose output is an op).
    """

    def __init__(self, model_name: str, version: int, path: Path, batching: BatchingOptions | None):
        self.model_name = model_name
        self.version = version
        self.path = path
        self.signature_defs = _signature_defs(path)
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        with self._graph.as_default():
            tf.compat.v1.saved_model.loader.load(self._session, [SERVING_TAG], str(path))
        self._graph.finalize()
        self.runnable_signatures = frozenset(
            name
            for name, signature in self.signature_defs.items()
            if signature.outputs and all(":" in info.name for info in signature.outputs.values())
        )
        # What Session::Run checks a fed tensor's dtype against: the graph's tensor, not the
        # SignatureDef (TF Serving's half_plus_three declares its string input DT_FLOAT).
        self.feed_dtypes = {
            name: {alias: _graph_dtype(self._graph, info) for alias, info in signature.inputs.items()}
            for name, signature in self.signature_defs.items()
        }
        self._callables: dict[tuple, Callable] = {}
        self._callables_lock = threading.Lock()
        self._batchers = {}
        if batching is not None:
            self._batchers = {
                name: Batcher(functools.partial(self._call, name), batching)
                for name in self.runnable_signatures
                if _is_batchable(self.signature_defs[name])
            }

    def run(
        self, signature_name: str, inputs: Mapping[str, np.ndarray], outputs: tuple[str, ...] | None = None
    ) -> dict[str, np.ndarray]:
        """Runs a signature (all its outputs, or those named) on inputs named as its SignatureDef
        names them; batched with other requests when enabled and every input has the same first
        dimension."""
        batcher = self._batchers.get(signature_name)
        if batcher is not None and outputs is None:
            return batcher.run(inputs)
        return self._call(signature_name, inputs, outputs)

    def close(self) -> None:
        """Stops batching: queued requests are still answered, later ones holding this servable run unbatched."""
        for batcher in self._batchers.values():
            batcher.close()

    def _call(
        self, signature_name: str, inputs: Mapping[str, np.ndarray], outputs: tuple[str, ...] | None = None
    ) -> dict[str, np.ndarray]:
        signature = self.signature_defs[signature_name]
        feeds = sorted(inputs)
        fetches = tuple(outputs) if outputs is not None else tuple(sorted(signature.outputs))
        run = self._callable(signature, tuple(feeds), fetches)
        try:
            values = run(*(inputs[name] for name in feeds))
        except tf.errors.OpError as error:
            raise ServingError.from_tensorflow(error) from None
        return dict(zip(fetches, values))

    def _callable(self, signature: meta_graph_pb2.SignatureDef, feeds: tuple, fetches: tuple) -> Callable:
        """The session's callable feeding and fetching these tensors, made once. A callable runs the
        graph as the C++ Session::Run does, without the Python client's check of fed shapes."""
        key = (id(signature), feeds, fetches)
        run = self._callables.get(key)
        if run is None:
            with self._callables_lock:
                run = self._callables.get(key)
                if run is None:
                    options = config_pb2.CallableOptions(
                        feed=[signature.inputs[name].name for name in feeds],
                        fetch=[signature.outputs[name].name for name in fetches],
                    )
                    try:
                        # The API Keras 2's backend calls its graph functions through.
                        run = self._session._make_callable_from_options(options)
                    except tf.errors.OpError as error:
                        raise invalid_argument(f"signature cannot be run: {error.message}") from None
                    self._callables[key] = run
        return run


def _signature_defs(path: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    saved_model = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if SERVING_TAG in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    raise ValueError(f"{path} has no MetaGraph tagged '{SERVING_TAG}'")


def _graph_dtype(graph: tf.Graph, info: meta_graph_pb2.TensorInfo) -> int:
    """The dtype enum of the graph tensor a TensorInfo names (its base type), or the TensorInfo's."""
    try:
        return graph.get_tensor_by_name(info.name).dtype.base_dtype.as_datatype_enum
    except (KeyError, ValueError, TypeError):
        return info.dtype


def _is_batchable(signature_def: meta_graph_pb2.SignatureDef) -> bool:
    """Requests can be joined only when every input has an open first (batch) dimension."""
    return bool(signature_def.inputs) and all(
        not info.tensor_shape.unknown_rank and info.tensor_shape.dim and info.tensor_shape.dim[0].size == -1
        for info in signature_def.inputs.values()
    )
