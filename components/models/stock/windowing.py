"""Daily price files -> one tf.Example per window, split by time. Plain functions the
ExampleGen's Beam steps call, so they can be tested without Beam.

A series is one ticker's days in date order (the file's row order does not matter).
A window is `window_days` consecutive trading days of a series and its target is the
target column `horizon_days` trading days after the window's last day. The evaluation
period is each series' last `eval_days` days: a window whose target day falls in it is
an evaluation window, every other window a training window. So a series has
`eval_days` evaluation windows (the notes build theirs from the last 300 days alone,
240 windows), and no training window's inputs or target reach into the evaluation
period. Windows never span two series.
"""

import csv
import dataclasses
import datetime
import math
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf

from components.models.stock import features
from components.tf_example import FeatureValue, tf_example

TRAIN = "train"
EVAL = "eval"
REQUIRED_COLUMNS = (features.DATE_COLUMN, *features.DAILY_COLUMNS)


@dataclasses.dataclass(frozen=True)
class FileLayout:
    """Where each column sits in one file's rows."""

    path: str
    positions: dict  # column name -> index in a row
    fields: int  # fields in the header, and so in every row
    ticker: str  # used when the file has no ticker column: the file's name


@dataclasses.dataclass(frozen=True)
class Day:
    date: datetime.date
    values: tuple  # one float per features.DAILY_COLUMNS


@dataclasses.dataclass(frozen=True)
class Window:
    split: str
    example: tf.train.Example


class Problem(str):
    """A sentence saying what is wrong with the input, naming the file and the column."""


def read_layout(path: str) -> FileLayout:
    """Reads a file's header. Column names are matched without case; a leading unnamed
    column (the notes' files start with a pandas index) is ignored.

    Raises ValueError (one sentence) for an empty file or missing columns.
    """
    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), None)
    if not header or not any(name.strip() for name in header):
        raise ValueError(
            f"{path} is empty; expected a header line {','.join(REQUIRED_COLUMNS)}[,ticker] and one row per day."
        )
    names = [name.strip().lower() for name in header]
    positions = {name: index for index, name in enumerate(names) if name}
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        raise ValueError(
            f"{path} has no column {', '.join(repr(c) for c in missing)}; "
            f"expected columns {','.join(REQUIRED_COLUMNS)} and optionally ticker (or code); found {','.join(header)}."
        )
    ticker_column = next((name for name in features.TICKER_ALIASES if name in positions), None)
    if ticker_column:
        positions[features.TICKER_COLUMN] = positions[ticker_column]
    return FileLayout(path, positions, len(header), Path(path).stem.upper())


def parse_row(layout: FileLayout, line: str) -> tuple[str, Day] | Problem | None:
    """(ticker, day) for one CSV line, a Problem for a bad one, None for a blank one."""
    if not line.strip():
        return None
    cells = next(csv.reader([line]))
    if len(cells) != layout.fields:
        return Problem(
            f"{layout.path}: line {line.strip()!r} has {len(cells)} fields; expected {layout.fields}, as in the header."
        )
    raw_date = cells[layout.positions[features.DATE_COLUMN]].strip()
    try:
        date = datetime.date.fromisoformat(raw_date[:10])
    except ValueError:
        return Problem(f"{layout.path}: column 'date' holds {raw_date!r}; expected a date like 2017-11-10.")
    values = []
    for column in features.DAILY_COLUMNS:
        raw = cells[layout.positions[column]].strip()
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            return Problem(f"{layout.path}: column '{column}' on {date} holds {raw!r}; expected a number.")
        if column in features.PRICE_COLUMNS and value <= 0:
            return Problem(f"{layout.path}: column '{column}' on {date} holds {raw!r}; expected a price above 0.")
        values.append(value)
    ticker = (
        cells[layout.positions[features.TICKER_COLUMN]].strip()
        if features.TICKER_COLUMN in layout.positions
        else layout.ticker
    )
    return ticker, Day(date, tuple(values))


def series_windows(
    ticker: str, days: list[Day], window_days: int, horizon_days: int, eval_days: int, target_column: str
) -> Iterator[Window | Problem]:
    """Every window of one series, each tagged with its split; a Problem if the series can't be windowed."""
    days = sorted(days, key=lambda day: day.date)
    duplicates = sorted({a.date for a, b in zip(days, days[1:]) if a.date == b.date})
    if duplicates:
        shown = ", ".join(map(str, duplicates[:3])) + (
            f" and {len(duplicates) - 3} more" if len(duplicates) > 3 else ""
        )
        yield Problem(f"series {ticker} has more than one row for {shown}; expected one row per trading day.")
        return
    needed = window_days + horizon_days
    if len(days) < needed:
        yield Problem(
            f"series {ticker} has {len(days)} days; a window needs at least {needed} "
            f"(window_days {window_days} + horizon_days {horizon_days})."
        )
        return
    columns = dict(zip(features.DAILY_COLUMNS, zip(*(day.values for day in days))))
    first_eval_day = len(days) - eval_days
    for last in range(window_days - 1, len(days) - horizon_days):
        target_day = last + horizon_days
        window: dict[str, FeatureValue] = {
            column: values[last - window_days + 1 : last + 1] for column, values in columns.items()
        }
        window[features.TARGET_KEY] = [columns[target_column][target_day]]
        window[features.TICKER_COLUMN] = ticker
        window[features.TARGET_DATE_KEY] = days[target_day].date.isoformat()
        window[features.YEAR_KEY] = days[target_day].date.year
        split = EVAL if target_day >= first_eval_day else TRAIN
        yield Window(split, tf_example(window))
