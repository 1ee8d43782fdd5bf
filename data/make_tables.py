"""Writes the table pipeline's two example tables from data sets that scikit-learn ships.

Run from the repository root: `.venv/bin/python data/make_tables.py`. Nothing reads scikit-learn at
run time: the CSV files are committed.

- `data/tables/wine/wine.csv`: 178 wines, 13 chemical measurements each, and `cultivar`, the grape
  cultivar as scikit-learn names it (class_0, class_1, class_2): a classification table whose label
  is text. The column `od280/od315_of_diluted_wines` is written `od280_od315_of_diluted_wines`
  (a column name the table pipeline takes is letters, digits, `_`, `.` and `-`).
- `data/tables/diabetes/diabetes.csv`: 442 patients, ten baseline values in their own units
  (`load_diabetes(scaled=False)`: age in years, sex as 1 or 2, body mass index, blood pressure, six
  serum measurements) and `progression`, a measure of the disease's progression one year later: a
  regression table.
"""

import csv
from pathlib import Path

from sklearn.datasets import load_diabetes, load_wine

TABLES = Path(__file__).parent / "tables"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {path}")


def _number(value: float) -> str:
    """The value as Python prints a float: exact, with `.0` on whole numbers (so the column reads as FLOAT)."""
    return repr(float(value))


def main() -> None:
    wine = load_wine()
    header = [name.replace("/", "_") for name in wine.feature_names]
    rows = [
        [*(_number(value) for value in measurements), str(wine.target_names[target])]
        for measurements, target in zip(wine.data, wine.target)
    ]
    _write(TABLES / "wine" / "wine.csv", [*header, "cultivar"], rows)

    diabetes = load_diabetes(scaled=False)
    rows = [
        [*(_number(value) for value in baseline), _number(progression)]
        for baseline, progression in zip(diabetes.data, diabetes.target)
    ]
    _write(TABLES / "diabetes" / "diabetes.csv", [*diabetes.feature_names, "progression"], rows)


if __name__ == "__main__":
    main()
