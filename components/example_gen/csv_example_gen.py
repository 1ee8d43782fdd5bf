"""CsvExampleGen reading column names written in quotes, as R's `write.csv` and many exports write them.

TFX's CsvExampleGen parses its rows as CSV (quoted values included) but splits the header line at
every comma as it is, so `"sepal_length","sepal_width"` would name the columns `"sepal_length"`
with the quotes, and the gate would find none of the schema's columns. This executor is TFX's,
with the quotes around each column name taken off the examples it writes. (Other dialects, a
semicolon between columns or a decimal comma, are refused before anything runs:
pipelines/csv_input.py.)
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2

from components.example_gen.spans import SPAN_PATTERN


def CsvExampleGen(data_dir: str, spans_read: int | None = None, split: str = "") -> FileBasedExampleGen:
    """CsvExampleGen over every CSV file of `data_dir`, split train:eval 2:1 by hash, with this executor
    (TFX's CsvExampleGen takes no other executor: this is the FileBasedExampleGen it is, by the same name).
    With `spans_read`, `data_dir` holds span folders: TFX's driver reads the latest span and the
    `spans_read - 1` before it (its `{SPAN}` pattern and rolling range), and records the span.
    With `split`, every example goes to the one split of that name (unlabelled data to score)."""
    if split:
        return FileBasedExampleGen(
            input_base=data_dir,
            output_config=example_gen_pb2.Output(
                split_config=example_gen_pb2.SplitConfig(
                    splits=[example_gen_pb2.SplitConfig.Split(name=split, hash_buckets=1)]
                )
            ),
            custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
        ).with_id("CsvExampleGen")
    spans = {}
    if spans_read:
        spans = {
            "input_config": example_gen_pb2.Input(
                splits=[example_gen_pb2.Input.Split(name="single_split", pattern=f"{SPAN_PATTERN}/*")]
            ),
            "range_config": range_config_pb2.RangeConfig(
                rolling_range=range_config_pb2.RollingRange(num_spans=spans_read)
            ),
        }
    return FileBasedExampleGen(
        input_base=data_dir, custom_executor_spec=executor_spec.BeamExecutorSpec(Executor), **spans
    ).with_id("CsvExampleGen")


def unquoted(example: tf.train.Example) -> tf.train.Example:
    """`example` with every feature named `"name"` renamed `name`."""
    features = example.features.feature
    quoted = [name for name in features if len(name) >= 2 and name[0] == name[-1] == '"']
    for name in quoted:
        features[name[1:-1].replace('""', '"')].CopyFrom(features[name])
        del features[name]
    return example


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _CsvToUnquotedExamples(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str):
    # TFX's own transform (a private name of TFX 1.16's executor module): rows are read exactly as
    # CsvExampleGen reads them.
    return (
        pipeline
        | "CsvToExample" >> csv_executor._CsvToExample(exec_properties, split_pattern)
        | "UnquoteColumnNames" >> beam.Map(unquoted)
    )


class Executor(csv_executor.Executor):
    """TFX's CSV executor, whose examples' feature names have no quotes around them."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CsvToUnquotedExamples
