"""`tfpipe predict` for iris: each input is one flower's measurements; one line per flower out."""

import csv
from pathlib import Path

import numpy as np

from components.models.iris import features
from components.tf_example import serialized

_EXPECTED = (
    f"expected {','.join(f'{key}=<cm>' for key in features.FEATURE_KEYS)} "
    f"or four numbers in that order, e.g. 5.1,3.5,1.4,0.2"
)


def to_examples(inputs: list[str], config) -> list[bytes]:
    """`sepal_length=5.1,sepal_width=3.5,petal_length=1.4,petal_width=0.2`, or the four numbers
    alone (`5.1,3.5,1.4,0.2`), in centimetres -> serialized tf.Examples."""
    return [serialized(_measurements(text)) for text in inputs]


def batch_inputs(path: Path, config) -> list[str]:
    """`--batch FILE`: each row of a CSV file whose header names the four measurements (other columns, the
    species say, are left out) -> an input as to_examples takes it."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [key for key in features.FEATURE_KEYS if key not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"its header names no {', '.join(missing)}; expected a CSV file with the columns "
                f"{', '.join(features.FEATURE_KEYS)} (in cm)"
            )
        return [",".join(f"{key}={row[key]}" for key in features.FEATURE_KEYS) for row in reader]


def _measurements(text: str) -> dict[str, float]:
    fields = [field.strip() for field in text.split(",")]
    if all("=" in field for field in fields):
        pairs = dict(field.split("=", 1) for field in fields)
    elif not any("=" in field for field in fields) and len(fields) == len(features.FEATURE_KEYS):
        pairs = dict(zip(features.FEATURE_KEYS, fields))
    else:
        raise ValueError(f"{text!r}: {_EXPECTED}.")
    if sorted(pairs) != sorted(features.FEATURE_KEYS):
        raise ValueError(f"{text!r} names {', '.join(pairs)}; {_EXPECTED}.")
    try:
        return {key: float(pairs[key]) for key in features.FEATURE_KEYS}
    except ValueError:
        raise ValueError(f"{text!r} holds a value that is not a number; {_EXPECTED}.") from None


def describe(outputs: dict[str, np.ndarray], index: int) -> str:
    """The predicted species and its probability."""
    class_id = int(outputs["class_id"][index])
    return f"{outputs['species'][index].decode()} (probability {outputs['probabilities'][index][class_id]:.3f})"
