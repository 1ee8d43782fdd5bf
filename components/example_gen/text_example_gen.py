"""TextExampleGen: tf.Examples from the lines of text files (a word list, one sentence per line), on Beam.

No standard TFX ExampleGen turns a line of text into several examples, or lists the lines it could
not use. This is TFX's custom ExampleGen pattern, the one way tfpipe writes an ExampleGen that reads
files (as file_example_gen.py does for one example per file): an executor whose
GetInputSourceToExamplePTransform turns one split pattern into tf.Examples, run by FileBasedExampleGen.

What a line holds is the pipeline's business: its module code has a line reader module (for
example components/models/letters/ingest.py) with
  read(line, options) -> [{feature name: int, float or bytes value}, ...]   the line's examples
                         (any number, none included), or ValueError(reason) for a line it refuses
Every file of the data folder that the file pattern matches is read, as UTF-8 text; blank lines
are skipped. A refused line, and one that is not UTF-8, is listed with its file, line number and
reason (rejected_inputs.py) and gives no example.

The examples are split by hash of one feature the reader writes (TFX's partition_feature_name):
all examples of a line with the same value of it (a word's prefixes, say) land in the same split.
A split left with no example fails the run, naming the data folder.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf
from google.protobuf import struct_pb2
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs

from components.example_gen.beam_executor import (
    ReadWithReader,
    RejectingExecutor,
    custom_settings,
    write_rejected,
)
from components.tf_example import tf_example


def TextExampleGen(
    data_dir: str,
    file_pattern: str,
    reader: str,
    reader_options: dict[str, Any],
    partition_feature: str,
    split_buckets: dict[str, int],
    component_id: str,
) -> FileBasedExampleGen:
    """The component over the files of `data_dir` that `file_pattern` matches.

    Args:
      reader: the import name of the module that turns a line into examples (above).
      reader_options: what the reader needs of the config (how many letters of context, say); they
        travel in a protobuf Struct, so the reader gets every number as a float.
      partition_feature: a bytes or int feature of every example; its hash picks the split.
      split_buckets: each split's share of the hash buckets, e.g. {"train": 4, "eval": 1}.
      component_id: the node's name in the DAG and the console (WordExampleGen).
    """
    settings = struct_pb2.Struct()
    # The reader's source is part of the settings: TFX caches the component on its inputs and
    # settings, and an edited reader must read the files again.
    settings.update({"reader": reader, "reader_options": reader_options, "reader_digest": _digest(reader)})
    custom_config = example_gen_pb2.CustomConfig()
    custom_config.custom_config.Pack(settings)
    return FileBasedExampleGen(
        input_base=data_dir,
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern=file_pattern)]
        ),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)
                    for name, buckets in split_buckets.items()
                ],
                partition_feature_name=partition_feature,
            )
        ),
        custom_config=custom_config,
        custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
    ).with_id(component_id)


def _digest(module_name: str) -> str:
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        raise ValueError(f"reader module {module_name} cannot be found")
    with open(spec.origin, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _LinesToExamples(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str) -> beam.PCollection:
    """The lines of the files a split pattern names -> tf.Examples; the refused lines are written aside."""
    settings = custom_settings(exec_properties)
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    paths = sorted(path for path in fileio.glob(os.path.join(input_base, split_pattern)) if not fileio.isdir(path))
    examples, rejected = (
        pipeline
        | "Files" >> beam.Create(paths)
        | "Lines" >> beam.FlatMap(_numbered_lines, input_base)
        | "ReadLines"
        >> beam.ParDo(_ReadLine(settings["reader"], settings["reader_options"])).with_outputs(
            _ReadLine.REJECTED, main="examples"
        )
    )
    write_rejected(rejected, exec_properties, split_pattern)
    return examples


def _numbered_lines(path: str, input_base: str) -> Iterator[tuple[str, bytes]]:
    """(`<file> line <n>`, the line's bytes) for each line that is not blank."""
    name = os.path.relpath(path, input_base)
    with fileio.open(path, "rb") as f:
        content = f.read()
    for number, line in enumerate(content.splitlines(), start=1):
        if line.strip():
            yield f"{name} line {number}", line


class _ReadLine(ReadWithReader):
    """A line -> its tf.Examples, or `<where>: <problem>` on the REJECTED output."""

    def process(self, numbered_line: tuple[str, bytes]):
        where, line = numbered_line
        try:
            examples = self._reader.read(line.decode("utf-8"), self._options)
        except UnicodeDecodeError:
            yield beam.pvalue.TaggedOutput(self.REJECTED, f"{where}: is not UTF-8 text")
            return
        except ValueError as error:
            yield beam.pvalue.TaggedOutput(self.REJECTED, f"{where}: {error}")
            return
        for values in examples:
            yield tf_example(values)


class Executor(RejectingExecutor):
    """Reads the lines into tf.Examples, then records what it refused and checks that no split is empty."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _LinesToExamples

    def empty_split_message(self, split: str, rejected: list[str], exec_properties: dict[str, Any]) -> str:
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        return f"No example in {input_base} for the {split} split; {len(rejected)} line(s) refused" + (
            f", the first: {rejected[0]}." if rejected else "."
        )
