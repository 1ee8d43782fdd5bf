"""Batch prediction through Beam: many inputs scored by a model and written as one CSV file, as the data
components run (so it scales with the runner: the model is loaded once per worker, inputs go in batches).

    rows = predict_to_csv(inputs, functools.partial(lines_for, ...), Path("predictions.csv"))

`lines_for()` is called once per worker and returns a function of a batch of inputs -> one line of
prediction per input, the same lines `tfpipe predict` prints for them. The file has a header and one row
per input, `row,input,prediction` (row: the input's place, from 0), in the inputs' order; it is written in
a hidden folder beside the output and renamed into place when every input is scored, so a failed batch
leaves nothing.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

Lines = Callable[[list[str]], list[str]]
"""A batch of inputs -> a line of prediction per input."""
HEADER = ("row", "input", "prediction")


class _Predict(beam.DoFn):
    def __init__(self, lines_for: Callable[[], Lines]):
        self._lines_for = lines_for

    def setup(self):
        self._lines = self._lines_for()

    def process(self, batch: list[tuple[int, str]]):
        rows, inputs = zip(*batch)
        yield from zip(rows, inputs, self._lines(list(inputs)))


def _csv_line(row: tuple[int, str, str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue()


def predict_to_csv(
    inputs: Sequence[str],
    lines_for: Callable[[], Lines],
    output: Path,
    beam_pipeline_args: Sequence[str] = (),
    batch_size: int = 64,
) -> int:
    """Scores `inputs` with `lines_for()`'s function in batches of up to `batch_size` and writes `output`;
    returns the number of rows. Whatever a batch raises is raised here, and `output` is left as it was."""
    # Beam writes beside its target (its temporary folder too): a hidden folder beside the output holds both.
    folder = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    incoming = folder / output.name
    try:
        with beam.Pipeline(options=PipelineOptions(list(beam_pipeline_args))) as pipeline:
            (
                pipeline
                | "Inputs" >> beam.Create(list(enumerate(inputs)))
                | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=batch_size)
                | "Predict" >> beam.ParDo(_Predict(lines_for))
                | "ByRow" >> beam.Map(lambda row: (0, row))
                | "Gather" >> beam.GroupByKey()
                | "InOrder" >> beam.FlatMap(lambda keyed: sorted(keyed[1]))
                | "AsCsv" >> beam.Map(_csv_line)
                | "Write" >> beam.io.WriteToText(str(incoming), shard_name_template="", header=",".join(HEADER))
            )
        os.replace(incoming, output)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return len(inputs)
