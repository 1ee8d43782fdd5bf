"""A benchmark's figures as data: what each script writes with `--results-fp PATH`, and the stored
record `bench.py` keeps of it under benchmarks/results/<benchmark>.json, with its provenance.

A script builds a `Results`, adds its figures (a name, a value, a unit) and tables, prints what it
always printed, and calls `results.write(args.results_fp)`:

    {"benchmark": "first_fit",
     "figures": [{"name": "first fit, with the autograph rule", "value": 0.54, "unit": "s"}],
     "tables": [{"title": "...", "columns": ["...", ...], "rows": [[...], ...]}]}

A stored result is that object plus `title` (what the benchmark measures) and `provenance`: the
date (UTC), the commit measured, the machine, the exact command, and where the figures came from
when they were not written by the script itself (`source`). A stored result without a command is
refused: a figure whose command is unknown is not a result.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

Value = float | int | str | bool | None


@dataclasses.dataclass
class Figure:
    name: str
    value: Value
    unit: str = ""
    """s, ms, GiB, requests/s, ...; empty for a count, a ratio or an accuracy."""


@dataclasses.dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Value]]


@dataclasses.dataclass
class Results:
    """What one run of a benchmark script measured."""

    benchmark: str
    figures: list[Figure] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)

    def figure(self, name: str, value: Value, unit: str = "") -> None:
        self.figures.append(Figure(name, value, unit))

    def table(self, title: str, columns: list[str], rows: list[list[Value]]) -> None:
        self.tables.append(Table(title, columns, rows))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        return cls(
            benchmark=data["benchmark"],
            figures=[Figure(**figure) for figure in data.get("figures", [])],
            tables=[Table(**table) for table in data.get("tables", [])],
        )

    def write(self, path: Path | None) -> None:
        """Writes the JSON to `path`; nothing when no `--results-fp` was given."""
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


def add_results_option(parser: argparse.ArgumentParser) -> None:
    """The `--results-fp PATH` option every benchmark script takes."""
    parser.add_argument(
        "--results-fp",
        type=Path,
        default=None,
        help="also write the figures as JSON to this file (benchmarks/results.py; default: print only)",
    )


@dataclasses.dataclass
class Machine:
    """The machine a result was measured on; None where it was not recorded."""

    cpus: int | None = None
    memory_gib: float | None = None
    cpu_model: str | None = None
    avx512_bf16: bool | None = None
    amx: bool | None = None
    platform: str | None = None
    python: str | None = None
    load_average: str | None = None
    """As recorded, e.g. "1.2 at the start, 2.7 at the end"."""
    note: str | None = None
    """What else was recorded about it, e.g. "shared with other jobs"."""


@dataclasses.dataclass
class Provenance:
    date: str
    """UTC, `YYYY-MM-DD HH:MM UTC` (or only the day, where only it was recorded)."""
    commit: str
    """The commit whose code was measured."""
    machine: Machine
    command: str
    """The exact command, from the repository root."""
    seconds: float | None = None
    """How long the command took."""
    source: str | None = None
    """Where the figures come from when not from the script's own JSON (e.g. parsed output)."""


@dataclasses.dataclass
class StoredResult:
    """benchmarks/results/<benchmark>.json: a script's results with their provenance."""

    title: str
    results: Results
    provenance: Provenance

    @property
    def benchmark(self) -> str:
        return self.results.benchmark

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, **self.results.to_json(), "provenance": dataclasses.asdict(self.provenance)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredResult:
        """The stored result in `data`; ValueError when its provenance lacks a date, commit or command."""
        provenance = dict(data.get("provenance") or {})
        for required in ("date", "commit", "command"):
            if not provenance.get(required):
                raise ValueError(f"stored result {data.get('benchmark')!r} has no {required}: not a result")
        provenance["machine"] = Machine(**provenance.get("machine", {}))
        return cls(data.get("title", ""), Results.from_json(data), Provenance(**provenance))

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> StoredResult:
        try:
            return cls.from_json(json.loads(path.read_text()))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
