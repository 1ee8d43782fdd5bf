"""`tfpipe predict letters`: each input is the first letters of a word; one line per input out.

    tfpipe predict letters hel tensorflo              the next letter and its probability
    tfpipe predict letters hel tensorflo --complete   letter by letter to the end of the word

The model reads the last `max_context` letters of an input (the config it was trained with; the
Transform graph in the SavedModel cuts them). A character it never saw in training (a capital,
a digit, an accent the word list lacked) is read as the one unknown character, and the line
says how many there were. An empty input has no letter to go on: it is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from components.models.letters import features
from components.tf_example import serialized

# --complete stops a word that has not ended after this many added letters.
MAX_ADDED_LETTERS = 30


def to_examples(inputs: list[str], config) -> list[bytes]:
    """Prefixes -> serialized tf.Examples holding each as `prefix`."""
    for text in inputs:
        if not text:
            raise ValueError(
                "An empty input has no letter to predict from; give the first letters of a word, e.g. hel."
            )
    return [serialized({features.PREFIX_KEY: text}) for text in inputs]


def batch_inputs(path: Path, config) -> list[str]:
    """`--batch FILE`: each non-blank line of a text file (UTF-8), spaces around it taken off -> an input."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def describe(outputs: dict[str, np.ndarray], index: int) -> str:
    """The next letter (or the end of the word) and its probability."""
    probability = float(outputs["probability"][index])
    return f"{_letter(outputs, index)} (probability {probability:.3f}){_unseen(outputs, index)}"


def complete(inputs: list[str], config, predict: Callable[[list[bytes]], dict[str, np.ndarray]]) -> list[str]:
    """Each input continued with the most probable letter, one at a time, until the model predicts
    the end of the word (or MAX_ADDED_LETTERS): one line per input, the word and each step."""
    to_examples(inputs, config)  # refuses bad input before the first call
    words = list(inputs)
    steps: list[list[str]] = [[] for _ in inputs]
    unseen = [""] * len(inputs)
    ended = [False] * len(inputs)
    for step in range(MAX_ADDED_LETTERS + 1):
        open_ = [index for index, done in enumerate(ended) if not done]
        if not open_:
            break
        outputs = predict(to_examples([words[index] for index in open_], config))
        for row, index in enumerate(open_):
            letter = outputs["letter"][row].decode()
            probability = float(outputs["probability"][row])
            if step == 0:
                unseen[index] = _unseen(outputs, row)
            if letter == features.END_OF_WORD:
                steps[index].append(f"end {probability:.2f}")
                ended[index] = True
            elif step == MAX_ADDED_LETTERS:
                steps[index].append(f"no end of word after {MAX_ADDED_LETTERS} letters")
                ended[index] = True
            else:
                words[index] += letter
                steps[index].append(f"+{letter} {probability:.2f}")
    return [f"{word} ({', '.join(taken)}){note}" for word, taken, note in zip(words, steps, unseen)]


def _letter(outputs: dict[str, np.ndarray], index: int) -> str:
    letter = outputs["letter"][index].decode()
    return "end of word" if letter == features.END_OF_WORD else letter


def _unseen(outputs: dict[str, np.ndarray], index: int) -> str:
    count = int(outputs["unseen_characters"][index])
    if not count:
        return ""
    return f"; {count} of the letters read never occurred in training and count as unknown"
