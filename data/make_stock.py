"""Writes data/stock/msft.csv from the Microsoft daily prices that pmdarima's wheel ships.

pmdarima is not a dependency of tfpipe; its wheel is only the data's source:
  pip download --no-deps pmdarima==2.1.1 -d /tmp/pmdarima
  .venv/bin/python data/make_stock.py /tmp/pmdarima/pmdarima-2.1.1-*.whl
The wheel's pmdarima/datasets/data/msft.tar.gz holds msft.csv (Date, Open, High, Low,
Close, Volume, OpenInt; 7,983 trading days, 1986-03-13 to 2017-11-10, split-adjusted
prices in US dollars). This keeps the days and the OHLCV columns, lower-cased, and adds
the ticker column.
"""

import csv
import io
import sys
import tarfile
import zipfile
from pathlib import Path

from components.models.stock.features import DAILY_COLUMNS, DATE_COLUMN, TICKER_COLUMN

TICKER = "MSFT"
_MEMBER = "pmdarima/datasets/data/msft.tar.gz"


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as archive, tarfile.open(fileobj=io.BytesIO(archive.read(_MEMBER))) as tar:
        rows = list(csv.DictReader(io.TextIOWrapper(tar.extractfile("msft.csv"), encoding="utf-8")))
    target = Path(__file__).parent / "stock" / "msft.csv"
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([DATE_COLUMN, *DAILY_COLUMNS, TICKER_COLUMN])
        for row in rows:
            writer.writerow([row["Date"], *(row[column.capitalize()] for column in DAILY_COLUMNS), TICKER])
    print(f"wrote {len(rows)} days to {target}")


if __name__ == "__main__":
    main(sys.argv[1])
