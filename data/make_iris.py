"""Writes data/iris/iris.csv from the iris data set that scikit-learn ships.

Run from the repository root: `.venv/bin/python data/make_iris.py`.
Columns are the four measurements in centimetres and the species as an index
into components.models.iris.features.SPECIES_NAMES (scikit-learn's order).
"""

import csv
from pathlib import Path

from sklearn.datasets import load_iris

from components.models.iris.features import FEATURE_KEYS, LABEL_KEY, SPECIES_NAMES


def main() -> None:
    iris = load_iris()
    assert tuple(iris.target_names) == SPECIES_NAMES, iris.target_names
    target = Path(__file__).parent / "iris" / "iris.csv"
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*FEATURE_KEYS, LABEL_KEY])
        for measurements, species in zip(iris.data, iris.target):
            writer.writerow([*(f"{value:.1f}" for value in measurements), int(species)])
    print(f"wrote {len(iris.target)} rows to {target}")


if __name__ == "__main__":
    main()
