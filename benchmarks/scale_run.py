"""The stock pipeline on many tickers: wall time, time per 100,000 rows and peak memory, per Beam profile.

  .venv/bin/python benchmarks/scale_run.py [--tickers 500] [--days 2000] [--profiles in-memory,multi-processing]
      [--results-fp PATH]

Writes the data with make_scale_data.py into a temporary folder, then runs `tfpipe run stock` on it
once per Beam profile with training capped (a few steps: the data steps are what is measured),
sampling the resident memory of the run's whole process tree (Beam workers included) every 0.2 s,
and reading the run's console lines as they come, so each component's peak is known: the most the
tree held between the line of the component before it and its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from results import Results, add_results_option

from pipelines.outcome import RunOutcome

BENCHMARKS = Path(__file__).resolve().parent
TFPIPE = str(Path(sys.executable).parent / "tfpipe")
CAPPED_TRAINING = ["train_steps=20", "epochs=1", "eval_steps=2", "model.units=8,8"]
# The console's line for a finished component (tfpipe/console.py): name, status, seconds.
COMPONENT_LINE = re.compile(r"^\s+(\S.*?)\s+(done|cached|failed|interrupted)\s+[\d.]+ s$")
DATA_STEPS = ("TimeSeriesExampleGen", "StatisticsGen", "ExampleValidator", "DataValidationGate", "Transform")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--days", type=int, default=2000)
    parser.add_argument("--profiles", default="in-memory,multi-processing")
    add_results_option(parser)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tfpipe-scale-"))
    data_dir = root / "data"
    subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "make_scale_data.py"),
            str(data_dir),
            "--tickers",
            str(args.tickers),
            "--days",
            str(args.days),
        ],
        check=True,
    )
    rows = args.tickers * args.days
    runs = []
    for profile in args.profiles.split(","):
        workdir = root / f"workdir-{profile}"
        command = [
            TFPIPE,
            "run",
            "stock",
            "--workdir",
            str(workdir),
            "--beam-profile",
            profile,
            "--set",
            f"data_dir={data_dir}",
            *(arg for value in CAPPED_TRAINING for arg in ("--set", value)),
        ]
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        peak = _PeakMemory(process.pid)
        component_peaks = {}
        output_lines = []
        assert process.stdout is not None
        for line in process.stdout:
            output_lines.append(line)
            finished = COMPONENT_LINE.match(line.rstrip())
            if finished:
                component_peaks[finished.group(1)] = round(peak.since_last_read() / 2**30, 2)
        output = "".join(output_lines)
        process.wait()
        peak.stop()
        seconds = time.monotonic() - started
        run_dirs = sorted((workdir / "stock" / "runs").iterdir()) if (workdir / "stock" / "runs").is_dir() else []
        outcome = RunOutcome.read(run_dirs[-1]) if run_dirs else None
        components = {name: round(c.seconds or 0.0, 1) for name, c in (outcome.components if outcome else {}).items()}
        data_steps = sum(components.get(name, 0.0) for name in DATA_STEPS)
        print(
            f"{profile}: {rows:,} rows, exit {process.returncode}, {seconds:.0f} s wall, peak resident "
            f"{peak.bytes / 2**30:.2f} GiB (process tree), data steps {data_steps:.0f} s = "
            f"{data_steps / rows * 100_000:.1f} s per 100,000 rows",
            flush=True,
        )
        print(f"  components: {components}", flush=True)
        print(f"  peak resident GiB by component: {component_peaks}", flush=True)
        if process.returncode:
            print(output[-3000:])
        runs.append(
            ProfileRun(
                profile, process.returncode, seconds, peak.bytes / 2**30, data_steps, components, component_peaks
            )
        )
    results(args.tickers, args.days, runs).write(args.results_fp)


@dataclasses.dataclass
class ProfileRun:
    """One `tfpipe run stock` of the scale run."""

    profile: str
    exit_status: int
    seconds: float
    peak_gib: float
    """The process tree's peak resident memory."""
    data_steps_s: float
    """The seconds of DATA_STEPS together."""
    components: dict[str, float]
    """Seconds per component."""
    component_peaks: dict[str, float]
    """GiB per component (and for loading TensorFlow and TFX), as the console lines came."""


def results(tickers: int, days: int, runs: list[ProfileRun]) -> Results:
    rows = tickers * days
    recorded = Results("scale_run")
    recorded.figure("rows", rows)
    recorded.figure("tickers", tickers)
    for run in runs:
        recorded.figure(f"{run.profile}: exit status", run.exit_status)
        recorded.figure(f"{run.profile}: wall", round(run.seconds), "s")
        recorded.figure(f"{run.profile}: peak resident (process tree)", round(run.peak_gib, 2), "GiB")
        recorded.figure(f"{run.profile}: data steps", round(run.data_steps_s), "s")
        recorded.figure(f"{run.profile}: data steps per 100,000 rows", round(run.data_steps_s / rows * 100_000, 1), "s")
        recorded.figure(f"{run.profile}: Evaluator", run.components.get("Evaluator"), "s")
    profiles = [run.profile for run in runs]
    tables = {
        "Seconds per component": [run.components for run in runs],
        "Peak resident GiB by component": [run.component_peaks for run in runs],
    }
    for title, per_run in tables.items():
        names = list(dict.fromkeys(name for figures in per_run for name in figures))
        recorded.table(
            title, ["component", *profiles], [[name, *(figures.get(name) for figures in per_run)] for name in names]
        )
    return recorded


class _PeakMemory:
    """The largest total resident memory of a process and its children, sampled in a thread."""

    def __init__(self, pid: int):
        self.bytes = 0
        self._latest = 0
        self._since_read = 0
        self._process = psutil.Process(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            try:
                tree = [self._process, *self._process.children(recursive=True)]
                total = 0
                for member in tree:
                    try:
                        total += member.memory_info().rss
                    except psutil.Error:
                        continue
                self.bytes = max(self.bytes, total)
                self._since_read = max(self._since_read, total)
                self._latest = total
            except psutil.Error:
                return

    def since_last_read(self) -> int:
        """The largest total since the last call (or the start); the latest sample when none was taken
        since (a component shorter than the sampling interval)."""
        largest, self._since_read = self._since_read, 0
        return largest or self._latest

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


if __name__ == "__main__":
    main()
