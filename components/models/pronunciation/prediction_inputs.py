"""`tfpipe predict pronunciation`: each input is a word; one line per input out, its ARPAbet phonemes.

    tfpipe predict pronunciation tensorflow mlflow     tensorflow: T EH N S AO R F L OW, mlflow: M AH L F L OW

The SavedModel decodes (greedy or beam, as trained) and refuses a word it cannot pronounce, with
one sentence that is printed in place of the phonemes: a word with anything but the letters a-z
(either case) and apostrophes, an empty word, a word longer than the model reads. A server's
answers are the same, so `--server` prints the same lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.models.pronunciation import features
from components.tf_example import serialized


def to_examples(inputs: list[str], config) -> list[bytes]:
    """Words -> serialized tf.Examples holding each as `word`."""
    return [serialized({features.WORD_KEY: text}) for text in inputs]


def batch_inputs(path: Path, config) -> list[str]:
    """`--batch FILE`: each non-blank line of a text file (UTF-8), spaces around it taken off -> a word."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def describe(outputs: dict[str, np.ndarray], index: int) -> str:
    """The word's phonemes, or the sentence saying why it was refused."""
    refused = outputs["refused"][index].decode()
    return refused or outputs["phonemes"][index].decode()
