"""Wall time of `tfpipe run iris` on a fresh workdir, then of an unchanged re-run (all cached).

Run: .venv/bin/python benchmarks/iris_rerun.py   (target for the re-run: 20 s or less)
"""

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TFPIPE = str(Path(sys.executable).parent / "tfpipe")


def timed_run(workdir: str) -> tuple[float, dict]:
    started = time.monotonic()
    subprocess.run([TFPIPE, "run", "iris", "--workdir", workdir], check=True, capture_output=True)
    seconds = time.monotonic() - started
    latest = sorted((Path(workdir) / "iris" / "runs").iterdir())[-1]
    return seconds, json.loads((latest / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary folder, removed after)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or stack.enter_context(tempfile.TemporaryDirectory())
        first, summary = timed_run(workdir)
        accuracy = summary["metrics"]["overall"]["sparse_categorical_accuracy"]
        print(f"first run:  {first:6.1f} s wall, eval accuracy {accuracy:.4f}, blessed {summary['blessed']}")
        rerun, summary = timed_run(workdir)
        statuses = {name: component["status"] for name, component in summary["components"].items()}
        cached = sorted(name for name, status in statuses.items() if status == "cached")
        ran = sorted(name for name, status in statuses.items() if status != "cached")
        print(f"re-run:     {rerun:6.1f} s wall, {len(cached)} components cached; ran: {', '.join(ran)}")
        seconds = {name: round(component["seconds"] or 0.0, 1) for name, component in summary["components"].items()}
        print(f"re-run seconds per component: {seconds}")


if __name__ == "__main__":
    main()
