"""What the platform asks of a pipeline's module code, as Protocols: `tfpipe predict` calls a
pipeline's request module (its config's `request_module`) through these and nothing else.
tests/test_contracts.py checks every registered pipeline's module against them. No TensorFlow here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

Outputs = dict[str, np.ndarray]
"""A SavedModel signature's outputs for a batch, by output name."""
Predict = Callable[[list[bytes]], Outputs]
"""Serialized tf.Examples -> the model's outputs."""


class RequestModule(Protocol):
    """Turns `tfpipe predict`'s command-line inputs into tf.Examples and the model's outputs into lines."""

    def to_examples(self, inputs: list[str], config: Any) -> list[bytes]:
        """Serialized tf.Examples, one per input; ValueError (one sentence) for an input it cannot use."""
        ...

    def describe(self, outputs: Outputs, index: int) -> str:
        """The prediction for input `index` in words."""
        ...


class ForecastRequestModule(RequestModule, Protocol):
    """A request module whose inputs decide what a prediction is for (stock: the day after a file's last)."""

    def predicted_for(self, input: str, config: Any) -> str:
        """What the forecast for `input` is for, e.g. `the next trading day after 2017-11-10`."""
        ...


class SequenceRequestModule(RequestModule, Protocol):
    """A request module that can continue a sequence step by step (letters: a word to its end)."""

    def complete(self, inputs: list[str], config: Any, predict: Predict) -> list[str]:
        """Each input continued to its end, a line each."""
        ...


PROTOCOLS: dict[str, type] = {
    "label": RequestModule,
    "forecast": ForecastRequestModule,
    "sequence": SequenceRequestModule,
}
"""The protocol a request module meets, by its config's prediction_kind."""


class FileReader(Protocol):
    """FileExampleGen's reader of one kind of file (images, audio): a module of the pipeline's module code."""

    CONTENT_KEY: str
    """The feature that holds the file's bytes: as read, unless `read` gives them converted."""

    def read(self, content: bytes, options: dict) -> dict[str, int | bytes]:
        """The features read from the file besides its bytes (sizes, say), and under CONTENT_KEY the
        bytes converted where the file had to be (an image in another colour model); ValueError (one
        sentence) for a file that is not of this kind, which the ExampleGen then leaves out and lists."""
        ...


class LineReader(Protocol):
    """TextExampleGen's reader of one line of a text file (a word of a word list)."""

    def read(self, line: str, options: dict) -> list[dict[str, bytes | int]]:
        """The examples the line makes, each as features by name; ValueError for a line it cannot use."""
        ...
