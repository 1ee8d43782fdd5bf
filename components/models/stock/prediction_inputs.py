"""`tfpipe predict stock`: each input is a daily price CSV file of one series (the layout the
pipeline reads); its last `window_days` days are the window. One forecast per file out."""

import numpy as np

from components.models.stock import features, windowing
from serving.client import example


def to_examples(inputs: list[str], config) -> list[bytes]:
    """Price files -> serialized tf.Examples of each file's last `config.window_days` days."""
    return [example(_last_window(path, config.window_days)) for path in inputs]


def _last_window(path: str, window_days: int) -> dict[str, list[float]]:
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
    days = sorted((day for _, day in series), key=lambda day: day.date)
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
