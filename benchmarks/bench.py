"""`make bench`: every benchmark script in one run, its output written into benchmarks/RESULTS.md.

  .venv/bin/python benchmarks/bench.py [--quick]

Runs, one after another on a quiet machine (each is timed, so nothing else should run):
  first_fit.py         the first fit() with and without the autograph rule
  iris_rerun.py        iris: first run and unchanged re-run, seconds per component
  serving_latency.py   serving latency and throughput of the iris model just pushed, against the
                       in-process call and an empty gRPC server
  stock_recipe.py      the notes' stock recipe: plain Keras script against the whole pipeline
                       (--quick: 5 epochs instead of the notes' 50)
  scale_run.py         the stock pipeline's data steps on 100 simulated tickers of 2,000 days
                       (200,000 rows; --quick: 25 tickers), in memory and with 2 Beam worker
                       processes: time per 100,000 rows and peak memory (the 1,000,000-row run
                       is `scale_run.py --profiles in-memory`, 17 min: RESULTS.md)
  image_zoo.py         the notes' six CNNs on CIFAR-10, 300 s of training each, and vgg6 in bfloat16
                       against float32 (--quick: 60 s each)
The section between the `make bench` markers in RESULTS.md is replaced by this run's date,
machine, commands and their output, verbatim; the rest of RESULTS.md (curated figures, each
with its own date and command) is left as it is.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
RESULTS = BENCHMARKS / "RESULTS.md"
BEGIN = "<!-- make bench: begin (benchmarks/bench.py writes this section) -->"
END = "<!-- make bench: end -->"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the stock recipe with 5 epochs, not 50")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tfpipe-bench-"))
    commands = [
        ["first_fit.py"],
        ["iris_rerun.py", "--workdir", str(workdir / "iris")],
        ["serving_latency.py", "--model", "iris", "--workdir", str(workdir / "iris")],
        ["stock_recipe.py", "--epochs", "5" if args.quick else "50", "--workdir", str(workdir / "stock")],
        ["scale_run.py", "--tickers", "25" if args.quick else "100", "--days", "2000"],
        ["image_zoo.py", "--budget-s", "60" if args.quick else "300"],
    ]
    started = datetime.datetime.now(datetime.timezone.utc)
    sections = []
    for command in commands:
        print(f"bench: {' '.join(command)}", flush=True)
        begun = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(BENCHMARKS / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            cwd=BENCHMARKS.parent,
        )
        output = result.stdout.strip() or "(no output)"
        if result.returncode:
            output += f"\n(exit status {result.returncode})\n{result.stderr.strip()[-2000:]}"
        print(output, flush=True)
        shown = " ".join(["benchmarks/" + command[0], *command[1:]]).replace(str(workdir), "$BENCH_DIR")
        sections.append(f"`.venv/bin/python {shown}` ({time.monotonic() - begun:.0f} s)\n\n```\n{output}\n```\n")
    _write(started, sections)
    print(f"bench: wrote {RESULTS}")
    return 0


def _machine() -> str:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs, {memory_gib:.0f} GiB, {platform.platform()}, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )


def _write(started: datetime.datetime, sections: list[str]) -> None:
    body = "\n".join(
        [
            BEGIN,
            "## Latest `make bench`",
            "",
            f"Date: {started:%Y-%m-%d %H:%M} UTC. Machine: {_machine()}. Command: `make bench`"
            " (`$BENCH_DIR` is the run's temporary folder).",
            "",
            *sections,
            END,
        ]
    )
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + body + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
