"""How far two deliveries of iris-like data drift apart by chance: the measurements the iris schema's
drift thresholds are chosen from (schemas/iris/schema.pbtxt).

  .venv/bin/python benchmarks/drift_thresholds_iris.py [--deliveries 200] [--seed 0] [--results-fp PATH]

The shipped iris table has no dates, so there is no history to replay as drift_thresholds.py replays
the stock prices. A delivery here is what a new span of the same flowers would be: 150 rows drawn with
replacement from data/iris/iris.csv, a random two thirds of them the train split and the rest the eval
split (the CSV pipeline's split, 2:1). Each delivery's split statistics are compared with the previous
delivery's, split by split, as the data gate compares them (Jensen-Shannon divergence for the
measurements, L-infinity distance for the species), and the largest distance of each column is
reported, with the distance when a delivery's measurements are in millimetres instead of centimetres.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drift_thresholds import comparators_schema, distances
from results import Results, add_results_option

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
MEASUREMENTS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
ROWS, TRAIN_SHARE = 150, 2 / 3


def delivery_statistics(rows) -> dict:
    """TFDV's statistics of a delivery's train and eval splits (its first two thirds and the rest)."""
    import tensorflow_data_validation as tfdv

    cut = round(len(rows) * TRAIN_SHARE)
    return {
        split: tfdv.generate_statistics_from_dataframe(part.reset_index(drop=True))
        for split, part in (("train", rows.iloc[:cut]), ("eval", rows.iloc[cut:]))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=200, help="deliveries drawn (default: 200)")
    parser.add_argument("--seed", type=int, default=0)
    add_results_option(parser)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    schema = comparators_schema(MEASUREMENTS, ("species",))
    flowers = pd.read_csv(REPO_ROOT / "data" / "iris" / "iris.csv")
    # The species as a category (the schema's int index would be compared as a number).
    flowers["species"] = flowers["species"].astype(str)
    generator = np.random.default_rng(args.seed)

    def delivery():
        return flowers.iloc[generator.integers(0, len(flowers), ROWS)]

    largest: dict[tuple[str, str], float] = {}
    previous = delivery_statistics(delivery())
    for _ in range(args.deliveries - 1):
        current = delivery_statistics(delivery())
        for key, value in distances(schema, current, previous).items():
            largest[key] = max(value, largest.get(key, 0.0))
        previous = current
    in_millimetres = delivery()
    in_millimetres[list(MEASUREMENTS)] *= 10
    millimetres = distances(schema, delivery_statistics(in_millimetres), previous)

    results = Results("drift_thresholds_iris")
    results.figure("deliveries compared (each with the previous one)", args.deliveries - 1)
    rows = []
    for column in (*MEASUREMENTS, "species"):
        for split in ("train", "eval"):
            value = round(largest.get((column, split), 0.0), 4)
            moved = round(millimetres.get((column, split), 0.0), 4)
            rows.append([column, split, value, moved])
            results.figure(f"{column}, {split} split: largest distance from the previous delivery", value)
            results.figure(f"{column}, {split} split: a delivery in millimetres", moved)
    results.table(
        f"Per column and split: the largest distance over {args.deliveries - 1} deliveries, each compared with the "
        "one before, and the distance of a delivery in millimetres",
        ["column", "split", "largest", "in millimetres"],
        rows,
    )
    for row in rows:
        print("  ".join(str(cell) for cell in row))
    results.write(args.results_fp)


if __name__ == "__main__":
    main()
