"""Writes a multi-ticker daily price set for the stock pipeline's scale run; not committed.

  .venv/bin/python benchmarks/make_scale_data.py OUT_DIR [--tickers 500] [--days 2000] [--files 10]

Real prices resampled: each synthetic ticker replays a block bootstrap of the shipped Microsoft
series' daily moves (data/stock/msft.csv; blocks of 20 trading days, drawn with a fixed seed per
ticker), from a starting price of its own. Each day keeps MSFT's shape of the day (open, high and
low relative to the close, and the volume) from the same source day, so every row meets the
stock schema (positive prices, low <= open, close <= high). 500 tickers of 2,000 days are
1,000,000 rows; they are spread over --files CSV files, tickers interleaved, as a market data
export would be.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import random
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "data" / "stock" / "msft.csv"
BLOCK_DAYS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--days", type=int, default=2000)
    parser.add_argument("--files", type=int, default=10)
    args = parser.parse_args()
    with SOURCE.open() as f:
        source = list(csv.DictReader(f))
    # Per source day: the close-to-close move and the day's shape relative to its close.
    days = [
        (
            float(today["close"]) / float(yesterday["close"]),
            float(today["open"]) / float(today["close"]),
            float(today["high"]) / float(today["close"]),
            float(today["low"]) / float(today["close"]),
            int(today["volume"]),
        )
        for yesterday, today in zip(source, source[1:])
    ]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    writers, files = [], []
    for index in range(args.files):
        f = (args.out_dir / f"prices_{index:02d}.csv").open("w", newline="")
        files.append(f)
        writers.append(csv.writer(f))
        writers[-1].writerow(["date", "open", "high", "low", "close", "volume", "ticker"])
    dates = _trading_days(datetime.date(2010, 1, 4), args.days)
    for ticker_index in range(args.tickers):
        rng = random.Random(ticker_index)
        close = rng.uniform(5, 500)
        ticker = f"T{ticker_index:04d}"
        moves: list[tuple] = []
        while len(moves) < args.days:
            start = rng.randrange(len(days) - BLOCK_DAYS)
            moves.extend(days[start : start + BLOCK_DAYS])
        writer = writers[ticker_index % args.files]
        for date, (move, open_, high, low, volume) in zip(dates, moves):
            close *= move
            writer.writerow(
                [
                    date.isoformat(),
                    f"{close * open_:.4f}",
                    f"{close * high:.4f}",
                    f"{close * low:.4f}",
                    f"{close:.4f}",
                    volume,
                    ticker,
                ]
            )
    for f in files:
        f.close()
    print(f"{args.tickers * args.days:,} rows of {args.tickers} tickers in {args.files} files under {args.out_dir}")


def _trading_days(first: datetime.date, count: int) -> list[datetime.date]:
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += datetime.timedelta(days=1)
    return days


if __name__ == "__main__":
    main()
