"""TimeSeriesExampleGen: daily price CSV files -> windows as tf.Examples, split by time.

TFX's ExampleGens split by hash (or by file); a forecast must be scored on days after
every day it learned from, so this custom ExampleGen splits each series by date and windows it
in Beam: the grouping by ticker and the windowing scale out with the runner, to thousands of
tickers.

What a row and a window hold is the pipeline's business: its module code has a windowing module
(for stock, components/models/stock/windowing.py), named by import name, with
  TRAIN, EVAL                        the split names
  read_layout(path)                  a file's header -> its layout, or ValueError(reason)
  parse_row(layout, line)            -> (series key, day), a problem (a str), or None for a blank line
  series_windows(key, days, window_days, horizon_days, eval_days, target_column)
                                     -> windows (`.split`, `.example`) and problems (str)
Its output is an ordinary Examples artifact (Split-train, Split-eval, gzipped TFRecords), as
CsvExampleGen's is.

Its windows are written as they are made, in a bounded random order (`ShuffleBuffer`), not through
TFX's WriteSplit, whose full shuffle (Beam's Reshuffle, a GroupByKey over every example) Beam's
local runners hold in memory whole: 5 GiB more at 1,000,000 rows (docs/design.md, Measured decisions).
"""

import importlib
import json
import os
import random

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue
from tfx.components.example_gen.write_split import DEFAULT_FILE_NAME
from tfx.dsl.component.experimental.annotations import BeamComponentParameter, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from components.validation_gate import InputDataError

# Problems are listed up to this many; the count says how many more.
_PROBLEMS_SHOWN = 10
# Windows the written order is drawn from: about 30 series of 2,000 days, some 60 MB of examples.
SHUFFLE_BUFFER = 50_000


def input_fingerprint(input_folders: list[str]) -> str:
    """Changes when any input file does (size or modification time), as CsvExampleGen's does:
    the component is cached on it."""
    return "\n".join(
        io_utils.generate_fingerprint("single_split", os.path.join(folder, "*")) for folder in input_folders
    )


# No `from __future__ import annotations` here: the decorator reads real type objects.
@component(use_beam=True)
def TimeSeriesExampleGen(
    examples: OutputArtifact[standard_artifacts.Examples],
    input_base: Parameter[str],
    input_folders: Parameter[str],
    span: Parameter[int],
    input_fingerprint: Parameter[str],
    windowing_module: Parameter[str],
    window_days: Parameter[int],
    horizon_days: Parameter[int],
    eval_days: Parameter[int],
    target_column: Parameter[str],
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
):
    """Windows every CSV file in `input_folders` (JSON: the span folders of the data folder `input_base` a run
    reads, or `input_base` itself) with `windowing_module` (above), which says the split rule. `span` is the
    latest span read (0: no spans), recorded as the Examples' `span`, as TFX's ExampleGens record it.

    Fails with InputDataError, listing every problem found, when a file or a series
    can't be used: then no Examples are published and nothing downstream runs.
    """
    windowing = importlib.import_module(windowing_module)
    paths = [path for folder in json.loads(input_folders) for path in sorted(fileio.glob(os.path.join(folder, "*")))]
    if not paths:
        raise InputDataError(f"No input in {input_base}", ["expected daily price CSV files"])
    layouts = {}
    for path in paths:
        try:
            layouts[path] = windowing.read_layout(path)
        except ValueError as error:
            raise InputDataError(f"Input file {path} can't be read", [str(error)]) from None

    splits = (windowing.TRAIN, windowing.EVAL)
    examples.split_names = artifact_utils.encode_split_names(list(splits))
    # Beam's side outputs land beside the splits, and are removed once read.
    work_dir = os.path.join(examples.uri, "_windowing")
    problems_path, counts_path = os.path.join(work_dir, "problems"), os.path.join(work_dir, "counts")
    with beam_pipeline as pipeline:
        parsed = (
            pipeline
            | "ListFiles" >> beam.Create(paths)
            | "ReadLines" >> beam.io.ReadAllFromText(skip_header_lines=1, with_filename=True)
            | "ParseRows"
            >> beam.Map(lambda file_and_line: windowing.parse_row(layouts[file_and_line[0]], file_and_line[1]))
            | "DropBlankLines" >> beam.Filter(lambda row: row is not None)
        )
        rows, row_problems = parsed | "SeparateBadRows" >> beam.Partition(lambda row, _: int(isinstance(row, str)), 2)
        windows = (
            rows
            | "GroupBySeries" >> beam.GroupByKey()
            | "Window"
            >> beam.FlatMap(
                lambda series: windowing.series_windows(
                    series[0], list(series[1]), window_days, horizon_days, eval_days, target_column
                )
            )
        )
        good, series_problems = windows | "SeparateBadSeries" >> beam.Partition(
            lambda item, _: int(isinstance(item, str)), 2
        )
        by_split = good | "BySplit" >> beam.Partition(lambda window, _: splits.index(window.split), len(splits))
        count_lines = []
        for split, windows_of_split in zip(splits, by_split):
            (
                windows_of_split
                | f"Serialize[{split}]" >> beam.Map(lambda window: window.example.SerializeToString())
                | f"Shuffle[{split}]" >> beam.ParDo(ShuffleBuffer(SHUFFLE_BUFFER, seed=splits.index(split)))
                | f"Write[{split}]"
                >> beam.io.WriteToTFRecord(
                    os.path.join(artifact_utils.get_split_uri([examples], split), DEFAULT_FILE_NAME),
                    file_name_suffix=".gz",
                )
            )
            count_lines.append(
                windows_of_split
                | f"Count[{split}]" >> beam.combiners.Count.Globally()
                | f"Name[{split}]" >> beam.Map(lambda count, split=split: f"{split} {count}")
            )
        (
            tuple(count_lines)
            | "AllCounts" >> beam.Flatten()
            | "WriteCounts" >> beam.io.WriteToText(counts_path, shard_name_template="")
        )
        (
            (row_problems, series_problems)
            | "AllProblems" >> beam.Flatten()
            | "WriteProblems" >> beam.io.WriteToText(problems_path, shard_name_template="")
        )

    problems = _read_lines(problems_path)
    counts = {split: int(count) for split, count in (line.split() for line in _read_lines(counts_path))}
    if not problems and not counts.get(windowing.TRAIN):
        problems = [
            f"no series has a training window: each needs more than eval_days {eval_days} + window_days "
            f"{window_days} + horizon_days {horizon_days} - 1 days"
        ]
    if problems:
        shown = sorted(problems)[:_PROBLEMS_SHOWN]
        if len(problems) > _PROBLEMS_SHOWN:
            shown.append(f"... and {len(problems) - _PROBLEMS_SHOWN} more problems like these")
        raise InputDataError(f"Input data in {input_base} can't be windowed", shown)
    fileio.rmtree(work_dir)
    examples.span = span
    examples.set_string_custom_property("input_fingerprint", input_fingerprint)
    examples.set_string_custom_property("payload_format", "FORMAT_TF_EXAMPLE")
    examples.set_string_custom_property("file_format", "tfrecords_gzip")
    for split, count in counts.items():
        examples.set_int_custom_property(f"{split}_windows", count)


class ShuffleBuffer(beam.DoFn):
    """Passes its input on in a random order drawn from a buffer of `size` elements, as tf.data's
    shuffle does: series that come one after another leave mixed, and memory stays that of `size`
    elements however many pass. A bundle's last `size` elements leave shuffled when it ends."""

    def __init__(self, size: int, seed: int):
        self._size = size
        self._seed = seed

    def start_bundle(self):
        self._buffer: list = []
        self._random = random.Random(self._seed)

    def process(self, element):
        if len(self._buffer) < self._size:
            self._buffer.append(element)
            return
        index = self._random.randrange(self._size)
        yield self._buffer[index]
        self._buffer[index] = element

    def finish_bundle(self):
        self._random.shuffle(self._buffer)
        for element in self._buffer:
            yield WindowedValue(element, MIN_TIMESTAMP, [GlobalWindow()])
        self._buffer = []


def _read_lines(path: str) -> list[str]:
    if not fileio.exists(path):
        return []
    with fileio.open(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]
