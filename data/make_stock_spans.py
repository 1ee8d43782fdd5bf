"""Cuts the shipped stock prices (data/stock/msft.csv) into monthly spans, to replay data arriving a month
at a time (the stock pipeline reads the latest span and the `span_window` before it):

  .venv/bin/python data/make_stock_spans.py DIR --start 2015-01 --spans 24   # span-0001 ... span-0024
  .venv/bin/tfpipe run stock --set data_dir=DIR
  .venv/bin/python data/make_stock_spans.py DIR --start 2015-01 --spans 25   # a new month arrives: span-0025
  .venv/bin/tfpipe run stock --set data_dir=DIR --set warm_start=true
  .venv/bin/python data/make_stock_spans.py DIR --start 2015-01 --spans 26 --in-cents   # a drifted month

Span n holds the n-th calendar month from --start (default: the first month of the file) as
`span-<n, 4 digits>/prices.csv`, the shipped file's columns and rows; spans already there are
rewritten with the same rows. --in-cents writes the last span's prices in cents instead of dollars,
the drift the schema's comparators stop at the data gate (docs/pipelines.md#spans-and-drift).
"""

import argparse
import csv
from pathlib import Path

from components.models.stock.features import PRICE_COLUMNS

SHIPPED = Path(__file__).resolve().parent / "stock" / "msft.csv"


def months(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """The rows by calendar month (`YYYY-MM` of their date), in order."""
    by_month: dict[str, list[dict[str, str]]] = {}
    for row in sorted(rows, key=lambda row: row["date"]):
        by_month.setdefault(row["date"][:7], []).append(row)
    return by_month


def write_spans(target: Path, start: str, count: int, in_cents: bool) -> list[Path]:
    with SHIPPED.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        by_month = months(list(reader))
    chosen = [month for month in by_month if month >= start][:count]
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} months from {start} in {SHIPPED}; asked for {count} spans.")
    folders = []
    for number, month in enumerate(chosen, start=1):
        rows = by_month[month]
        if in_cents and number == count:
            rows = [{**row, **{column: f"{float(row[column]) * 100:.4f}" for column in PRICE_COLUMNS}} for row in rows]
        folder = target / f"span-{number:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "prices.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(rows)
        folders.append(folder)
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", type=Path, help="the data folder the span folders are written into")
    parser.add_argument("--start", default="", help="the first span's month, YYYY-MM (default: the file's first)")
    parser.add_argument("--spans", type=int, required=True, help="how many monthly spans to write")
    parser.add_argument("--in-cents", action="store_true", help="the last span's prices in cents (a drifted span)")
    args = parser.parse_args()
    folders = write_spans(args.target, args.start, args.spans, args.in_cents)
    print(f"{len(folders)} spans in {args.target}: {folders[0].name} to {folders[-1].name}")


if __name__ == "__main__":
    main()
