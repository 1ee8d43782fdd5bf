"""`tfpipe predict stock`: each input is a daily price CSV file of one series (the layout the
pipeline reads); its last `window_days` days are the window. One forecast per file out, with the
day it is for."""

import datetime

import numpy as np

from components.models.stock import features, windowing
from components.tf_example import serialized


def to_examples(inputs: list[str], config) -> list[bytes]:
    """Price files -> serialized tf.Examples of each file's last `config.window_days` days."""
    return [serialized(_last_window(path, config.window_days)) for path in inputs]


def _days(path: str) -> list[windowing.Day]:
    """The file's days in date order; ValueError (one sentence) for a file that is no single series."""
    try:
        layout = windowing.read_layout(path)
    except OSError:
        raise ValueError(f"{path} can't be read; expected a daily price CSV file.") from None
    with open(path, encoding="utf-8") as f:
        next(f)
        rows = [row for row in map(lambda line: windowing.parse_row(layout, line), f) if row is not None]
    problems = [row for row in rows if isinstance(row, windowing.Problem)]
    if problems:
        raise ValueError(problems[0])
    series = [row for row in rows if not isinstance(row, windowing.Problem)]
    tickers = sorted({ticker for ticker, _ in series})
    if len(tickers) != 1:
        raise ValueError(
            f"{path} holds {len(tickers)} series ({', '.join(tickers) or 'no rows'}); expected one per file."
        )
    return sorted((day for _, day in series), key=lambda day: day.date)


def _last_window(path: str, window_days: int) -> dict[str, list[float]]:
    days = _days(path)
    if len(days) < window_days:
        raise ValueError(
            f"{path} has {len(days)} days; expected at least window_days ({window_days}), the window the "
            "model was trained on (--set window_days=N if it was not the default)."
        )
    window = days[-window_days:]
    return {column: [day.values[i] for day in window] for i, column in enumerate(features.DAILY_COLUMNS)}


def describe(outputs: dict[str, np.ndarray], index: int) -> str:
    """The forecast price."""
    return f"forecast {float(outputs['forecast'][index]):.4f}"


def predicted_for(path: str, config) -> str:
    """The day the file's forecast is for (see forecast_day)."""
    return forecast_day(_days(path)[-1].date, config.horizon_days)


def forecast_day(last_date: datetime.date, horizon_days: int) -> str:
    """`the next trading day after 2017-11-10`, `the 5th trading day after 2017-11-10`.

    Counted in trading days, the rows of a series, as the model was trained: no calendar date is
    named, since the data says nothing of weekends and holidays to come."""
    if horizon_days == 1:
        return f"the next trading day after {last_date.isoformat()}"
    suffix = "th" if 10 <= horizon_days % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(horizon_days % 10, "th")
    return f"the {horizon_days}{suffix} trading day after {last_date.isoformat()}"
