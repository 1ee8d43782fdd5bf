"""How far the shipped stock data drifts from one monthly span to the next: the measurements the stock
schema's drift thresholds are chosen from (schemas/stock/schema.pbtxt).

  .venv/bin/python benchmarks/drift_thresholds.py [--span-window 24] [--eval-days 300] [--results-fp PATH]

Replays data/stock/msft.csv as data/make_stock_spans.py cuts it, a calendar month per span: for every
run that reads a window of `--span-window` months, its rows are split as the stock pipeline splits by
time (each series' last `--eval-days` days are the eval split) and TFDV computes each split's statistics,
which are compared with the previous month's run's, split by split, as the data gate compares them:
Jensen-Shannon divergence for the numeric columns, L-infinity distance for the ticker. It reports the
largest distance of each column over the whole history, and the distance when the newest month of the
last window is written in cents instead of dollars (make_stock_spans.py --in-cents).

The gate compares the statistics of the pipeline's examples, windows of `window_days` days of each
column, where this compares the rows: every day is in about `window_days` windows, so the two
distributions differ only at each split's edges.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from results import Results, add_results_option

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
NUMERIC = ("open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")


def comparators_schema(numeric=NUMERIC, categorical=("ticker",)):
    """A schema with only the comparators (Jensen-Shannon for the `numeric` columns, L-infinity for the
    `categorical` ones), each at a threshold every distance passes, so TFDV reports them all."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    for column in numeric:
        feature = schema.feature.add(name=column, type=schema_pb2.FLOAT)
        feature.drift_comparator.jensen_shannon_divergence.threshold = 1e-9
    for column in categorical:
        feature = schema.feature.add(name=column, type=schema_pb2.BYTES)
        feature.drift_comparator.infinity_norm.threshold = 1e-9
    return schema


def split_statistics(rows, eval_days: int) -> dict:
    """TFDV's statistics of the rows' train and eval splits: each series' last `eval_days` days are eval."""
    import tensorflow_data_validation as tfdv

    rows = rows.sort_values("date")
    eval_rows = rows.groupby("ticker").tail(eval_days)
    train_rows = rows.drop(eval_rows.index)
    return {
        split: tfdv.generate_statistics_from_dataframe(part[[*NUMERIC, "ticker"]].reset_index(drop=True))
        for split, part in (("train", train_rows), ("eval", eval_rows))
    }


def distances(schema, current: dict, previous: dict) -> dict[tuple[str, str], float]:
    """Each column's distance from the previous statistics, by (column, split)."""
    import tensorflow_data_validation as tfdv

    found = {}
    for split in current:
        anomalies = tfdv.validate_statistics(current[split], schema, previous_statistics=previous[split])
        for info in anomalies.drift_skew_info:
            for measurement in info.drift_measurements:
                found[(".".join(info.path.step), split)] = measurement.value
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--span-window", type=int, default=24, help="months each run reads (default: 24)")
    parser.add_argument("--eval-days", type=int, default=300, help="each series' last days, the eval split")
    add_results_option(parser)
    args = parser.parse_args()

    import pandas as pd

    schema = comparators_schema()
    prices = pd.read_csv(REPO_ROOT / "data" / "stock" / "msft.csv")
    prices["volume"] = prices["volume"].astype(float)
    prices["month"] = prices["date"].str[:7]
    months = sorted(prices["month"].unique())

    def run_statistics(window: list[str], rows=prices) -> dict:
        return split_statistics(rows[rows["month"].isin(window)], args.eval_days)

    largest: dict[tuple[str, str], tuple[float, str]] = {}
    previous = None
    runs = 0
    for end in range(args.span_window, len(months) + 1):
        window = months[end - args.span_window : end]
        current = run_statistics(window)
        if previous is not None:
            runs += 1
            for key, value in distances(schema, current, previous).items():
                if value >= largest.get(key, (-1.0, ""))[0]:
                    largest[key] = (value, window[-1])
        previous = current

    drifted = prices.copy()
    drifted.loc[drifted["month"] == months[-1], list(PRICES)] *= 100
    in_cents = distances(
        schema, run_statistics(months[-args.span_window :], drifted), run_statistics(months[-args.span_window - 1 : -1])
    )

    results = Results("drift_thresholds")
    results.figure("runs compared (each with the previous month's)", runs)
    rows = []
    for column in (*NUMERIC, "ticker"):
        for split in ("train", "eval"):
            value, month = largest.get((column, split), (0.0, ""))
            cents = round(in_cents.get((column, split), 0.0), 4)
            rows.append([column, split, round(value, 4), month, cents])
            results.figure(f"{column}, {split} split: largest distance from the previous month's run", round(value, 4))
            results.figure(f"{column}, {split} split: the newest month in cents", cents)
    results.table(
        f"Per column and split: the largest distance over {runs} monthly runs of {args.span_window} months, the "
        "newest month of that run, and the distance when the newest month is in cents",
        ["column", "split", "largest", "newest month then", "in cents"],
        rows,
    )
    for row in rows:
        print("  ".join(str(cell) for cell in row))
    results.write(args.results_fp)


if __name__ == "__main__":
    main()
