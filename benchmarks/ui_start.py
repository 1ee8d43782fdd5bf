"""Seconds until `tfpipe ui` answers and until it has stopped after SIGTERM, per number of MLflow
server workers: on a new workdir (the store's tables made first) and on one whose store exists.

  .venv/bin/python benchmarks/ui_start.py [--repeats 3] [--workers 1,4] [--results-fp PATH]

"Answers" is when `tfpipe ui` prints its address, which it does once MLflow's /health answers.
"""

import argparse
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from results import Results, add_results_option

BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_and_stop(workdir: Path, workers: int) -> tuple[float, float]:
    """Seconds from the command to its address line, and from SIGTERM to its exit."""
    started = time.monotonic()
    process = subprocess.Popen(
        [str(BIN / "tfpipe"), "ui", "--workdir", str(workdir), "--port", str(_free_port()), "--workers", str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    answering = time.monotonic() - started
    if not line.startswith("MLflow UI on"):
        process.kill()
        raise RuntimeError(f"tfpipe ui did not start: {line!r}")
    stopping = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    return answering, time.monotonic() - stopping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,4", help="worker counts to compare, comma-separated")
    add_results_option(parser)
    args = parser.parse_args()
    rows = []
    for workers in (int(count) for count in args.workers.split(",")):
        new, existing, stops = [], [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as folder:
                seconds, stop = start_and_stop(Path(folder), workers)
                new.append(seconds)
                stops.append(stop)
                seconds, stop = start_and_stop(Path(folder), workers)
                existing.append(seconds)
                stops.append(stop)
        row = [workers, statistics.median(new), statistics.median(existing), statistics.median(stops)]
        answers = f"answers in {row[1]:.1f} s (new store), {row[2]:.1f} s (existing)"
        print(f"workers {workers}: {answers}, stops in {row[3]:.1f} s")
        rows.append([workers, *(round(value, 1) for value in row[1:])])
    recorded = Results("ui_start")
    recorded.table(
        f"`tfpipe ui`, median of {args.repeats}",
        ["workers", "answers, new store (s)", "answers, existing store (s)", "stops after SIGTERM (s)"],
        rows,
    )
    recorded.write(args.results_fp)


if __name__ == "__main__":
    main()
