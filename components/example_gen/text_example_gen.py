"""TextExampleGen: tf.Examples from the lines of text files (a word list, one sentence per line), on Beam.

No standard TFX ExampleGen turns a line of text into several examples, or lists the lines it could
not use. This is TFX's custom ExampleGen pattern, the one way tfpipe writes an ExampleGen that reads
files (as file_example_gen.py does for one example per file): an executor whose
GetInputSourceToExamplePTransform turns one split pattern into tf.Examples, run by FileBasedExampleGen.

What a line holds is the pipeline's business: its module code has a line reader module (for
example components/models/letters/ingest.py) with
  read(line, options) -> [{feature name: int, float or bytes value}, ...]   the line's examples
                         (any number, none included), or ValueError(reason) for a line it refuses
Every file of the data folder (or of each span folder the run reads: spans.py; the latest span is
recorded as the Examples' `span`) that the file pattern matches is read, as UTF-8 text (after a
byte-order mark, if it starts with one) whose lines end with a line feed (or a carriage return and
a line feed); blank lines are skipped. A refused line, one that is not UTF-8, and one longer than
`max_line_bytes` (never held whole in memory: a file is read in pieces) is listed with its file,
line number and reason (rejected_inputs.py) and gives no example; so is a file that cannot be read
(a link that leads nowhere or round in a circle) or that is no regular file (a link to /dev/zero).

The examples are split by hash of one feature the reader writes (TFX's partition_feature_name):
all examples of a line with the same value of it (a word's prefixes, say) land in the same split.
A split left with no example fails the run, naming the data folder.
"""

from __future__ import annotations

import codecs
import hashlib
import importlib
import importlib.util
import os
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import struct_pb2
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs

from components.example_gen import rejected_inputs
from components.example_gen.beam_executor import (
    NOT_A_REGULAR_FILE,
    ReadWithReader,
    RejectingExecutor,
    custom_settings,
    is_special_file,
    window_paths,
    window_settings,
    write_rejected,
)
from components.example_gen.spans import WindowRead
from components.tf_example import tf_example


def TextExampleGen(
    data_dir: str,
    file_pattern: str,
    window: WindowRead,
    reader: str,
    reader_options: dict[str, Any],
    partition_feature: str,
    split_buckets: dict[str, int],
    component_id: str,
    max_line_bytes: int,
) -> FileBasedExampleGen:
    """The component over the files that `file_pattern` matches in the folders of `data_dir` that `window` reads.

    Args:
      window: the folders read (`data_dir` itself, or its span folders), the span recorded, and their
        fingerprint, on which the component is cached (TFX's own sees only files directly in `data_dir`).
      reader: the import name of the module that turns a line into examples (above).
      reader_options: what the reader needs of the config (how many letters of context, say); they
        travel in a protobuf Struct, so the reader gets every number as a float.
      partition_feature: a bytes or int feature of every example; its hash picks the split.
      split_buckets: each split's share of the hash buckets, e.g. {"train": 4, "eval": 1}.
      component_id: the node's name in the DAG and the console (WordExampleGen).
      max_line_bytes: the longest line read, in bytes; a longer one is left out and listed.
    """
    settings = struct_pb2.Struct()
    # The reader's source is part of the settings: TFX caches the component on its inputs and
    # settings, and an edited reader must read the files again.
    settings.update(
        {
            "reader": reader,
            "reader_options": reader_options,
            "reader_digest": _digest(reader),
            "max_line_bytes": max_line_bytes,
            **window_settings(window),
        }
    )
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
    paths = [path for path in window_paths(exec_properties, split_pattern) if not fileio.isdir(path)]
    examples, rejected = (
        pipeline
        | "Files" >> beam.Create(paths)
        | "Lines" >> beam.FlatMap(_numbered_lines, input_base, int(settings["max_line_bytes"]))
        | "ReadLines"
        >> beam.ParDo(_ReadLine(settings["reader"], settings["reader_options"])).with_outputs(
            _ReadLine.REJECTED, main="examples"
        )
    )
    write_rejected(rejected, exec_properties, split_pattern)
    return examples


# How much of a file is read at a time: a line is never held whole beyond max_line_bytes.
_CHUNK_BYTES = 1 << 20


class _Line(NamedTuple):
    """A line to read (`text`), or a known problem with it or its file."""

    where: str
    text: bytes | None = None
    problem: str | None = None


def _numbered_lines(path: str, input_base: str, max_line_bytes: int) -> Iterator[_Line]:
    """Each line of the file that is not blank, with `<file> line <n>`; a line longer than
    `max_line_bytes`, or the file itself when it cannot be read, as a problem."""
    name = os.path.relpath(path, input_base)
    if is_special_file(path):
        yield _Line(name, problem=NOT_A_REGULAR_FILE)
        return
    try:
        with fileio.open(path, "rb") as f:
            for number, line, length in split_lines(iter(lambda: f.read(_CHUNK_BYTES), b""), max_line_bytes):
                where = f"{name} line {number}"
                if line is None:
                    yield _Line(
                        where, problem=f"is {length:,} bytes long; the longest line read is {max_line_bytes:,} bytes"
                    )
                elif line.strip():
                    # A byte-order mark, as Notepad writes at the start of UTF-8, is no part of the text.
                    yield _Line(where, line.removeprefix(codecs.BOM_UTF8) if number == 1 else line)
    except (OSError, tf.errors.OpError) as error:
        yield _Line(name, problem=rejected_inputs.unreadable(path, error))


def split_lines(chunks: Iterable[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number from 1, the line without its line end or None when it is longer than
    `max_line_bytes`, its length in bytes) for each line of the text that `chunks` carry in order."""
    number, kept, length = 1, bytearray(), 0
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            length += len(piece)
            if length <= max_line_bytes + 1:  # + 1: room for the carriage return of a CRLF line end
                kept += piece
            if end < 0:
                break
            yield _finished(number, kept, length, max_line_bytes)
            number, kept, length, start = number + 1, bytearray(), 0, end + 1
    if length:
        yield _finished(number, kept, length, max_line_bytes)


def _finished(number: int, kept: bytearray, length: int, max_line_bytes: int) -> tuple[int, bytes | None, int]:
    if kept.endswith(b"\r"):
        del kept[-1:]
        length -= 1
    return number, bytes(kept) if length <= max_line_bytes else None, length


class _ReadLine(ReadWithReader):
    """A line -> its tf.Examples, or `<where>: <problem>` on the REJECTED output."""

    def process(self, line: _Line):
        where = line.where
        if line.text is None:
            yield beam.pvalue.TaggedOutput(self.REJECTED, f"{where}: {line.problem}")
            return
        try:
            examples = self._reader.read(line.text.decode("utf-8"), self._options)
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
