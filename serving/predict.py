"""`tfpipe predict`: the latest pushed version of a model, called on serialized tf.Examples."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from serving.servables import is_complete_version


def latest_version(model_dir: Path) -> Path | None:
    """The newest complete version folder under `<serving dir>/<model>/`, as a server would load it."""
    versions = [path for path in model_dir.iterdir() if is_complete_version(path)] if model_dir.is_dir() else []
    return max(versions, key=lambda path: int(path.name), default=None)


def predict(version_dir: Path, examples: list[bytes]) -> dict[str, np.ndarray]:
    """The outputs of `serving_default` for `examples`, by output name, one row per example.

    The model runs in this process; this is the one place that calls it, so a client of a
    model server can take its place.
    """
    return load(version_dir)(examples)


def load(version_dir: Path) -> Callable[[list[bytes]], dict[str, np.ndarray]]:
    """`predict` for the version loaded once, for callers that ask it again and again (tfpipe
    predict --complete asks once per letter)."""
    # Held by the closure: the signature reads the loaded object's variables.
    loaded = tf.saved_model.load(str(version_dir))
    serve = loaded.signatures["serving_default"]
    ((input_name, _),) = serve.structured_input_signature[1].items()

    def call(examples: list[bytes]) -> dict[str, np.ndarray]:
        outputs = loaded.signatures["serving_default"](**{input_name: tf.constant(examples)})
        return {name: value.numpy() for name, value in outputs.items()}

    return call
