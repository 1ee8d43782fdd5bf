"""`tfpipe predict NAME` for a table pipeline: each input is one row, `column=value,...` for every
feature column; one line per row out (the class and its probability, or the predicted value).

The columns and their types are the pipeline's schema's (the one its runs hold the data to)."""

import csv
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components.tf_example import serialized


def columns(config) -> dict[str, int]:
    """The feature columns of `config`'s schema (every column but the label) and their schema types."""
    schema = text_format.Parse(config.schema_path.read_text(), schema_pb2.Schema())
    return {feature.name: feature.type for feature in schema.feature if feature.name != config.label}


def to_examples(inputs: list[str], config) -> list[bytes]:
    """`alcohol=13.2,malic_acid=1.78,...`: every feature column named once -> serialized tf.Examples."""
    if not config.schema_path.is_file():
        raise ValueError(f"{config.name} has no schema yet ({config.schema_path}); run it first.")
    types = columns(config)
    return [serialized(_row(text, types)) for text in inputs]


def batch_inputs(path: Path, config) -> list[str]:
    """`--batch FILE`: each row of a CSV file whose header names every feature column (other columns, the
    label say, are left out) -> an input as to_examples takes it."""
    wanted = list(columns(config))
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [key for key in wanted if key not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"its header names no {', '.join(missing)}; expected the columns {', '.join(wanted)}")
        return [",".join(f"{key}={row[key]}" for key in wanted) for row in reader]


def _row(text: str, types: dict[str, int]) -> dict[str, float | int | str]:
    expected = f"expected column=value for each of {', '.join(types)}, separated by commas"
    fields = [field.strip() for field in text.split(",") if field.strip()]
    if not all("=" in field for field in fields):
        raise ValueError(f"{text!r}: {expected}.")
    pairs = dict(field.split("=", 1) for field in fields)
    missing, unknown = [key for key in types if key not in pairs], [key for key in pairs if key not in types]
    if missing or unknown:
        wrong = "; ".join(
            part
            for part in (
                f"no value for {', '.join(missing)}" if missing else "",
                f"no column {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
        raise ValueError(f"{text!r}: {wrong}; {expected}.")
    row: dict[str, float | int | str] = {}
    for key, kind in types.items():
        value = pairs[key].strip()
        try:
            row[key] = int(value) if kind == schema_pb2.INT else float(value) if kind == schema_pb2.FLOAT else value
        except ValueError:
            raise ValueError(f"{text!r}: {key}={value} is not a number; {expected}.") from None
    return row


def describe(outputs: dict[str, np.ndarray], index: int) -> str:
    """The predicted class and its probability, or the predicted value."""
    if "class" in outputs:
        return f"{outputs['class'][index].decode()} (probability {outputs['probability'][index]:.3f})"
    return f"{float(outputs['prediction'][index]):.4g}"
