"""Wall time of `tfpipe run iris` on a fresh workdir, with seconds per component; then of the same
command again (nothing changed: answered before TensorFlow loads), and with --rerun (every
component cached but those that run every time).

Run: .venv/bin/python benchmarks/iris_rerun.py   (target for the unchanged re-run: 10 s or less)
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


def timed_run(workdir: str, *options: str) -> tuple[float, dict]:
    started = time.monotonic()
    subprocess.run([TFPIPE, "run", "iris", "--workdir", workdir, *options], check=True, capture_output=True)
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
        seconds = {name: round(component["seconds"] or 0.0, 1) for name, component in summary["components"].items()}
        print(f"first run seconds per component: {seconds}")
        unchanged = min(timed_run(workdir)[0] for _ in range(3))
        print(f"unchanged:  {unchanged:6.1f} s wall (best of 3; nothing run: up to date)")
        rerun, summary = timed_run(workdir, "--rerun")
        statuses = {name: component["status"] for name, component in summary["components"].items()}
        cached = sorted(name for name, status in statuses.items() if status == "cached")
        ran = sorted(name for name, status in statuses.items() if status != "cached")
        print(f"--rerun:    {rerun:6.1f} s wall, {len(cached)} components cached; ran: {', '.join(ran)}")
        seconds = {name: round(component["seconds"] or 0.0, 1) for name, component in summary["components"].items()}
        print(f"re-run seconds per component: {seconds}")


if __name__ == "__main__":
    main()
