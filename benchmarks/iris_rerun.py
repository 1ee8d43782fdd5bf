"""Wall time of `tfpipe run iris` on a fresh workdir, then of an unchanged re-run (all cached).

Run: .venv/bin/python benchmarks/iris_rerun.py   (target for the re-run: 20 s or less)
"""

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
    with tempfile.TemporaryDirectory() as workdir:
        first, summary = timed_run(workdir)
        accuracy = summary["metrics"]["overall"]["sparse_categorical_accuracy"]
        print(f"first run:  {first:6.1f} s wall, eval accuracy {accuracy:.4f}, blessed {summary['blessed']}")
        rerun, summary = timed_run(workdir)
        statuses = {name: component["status"] for name, component in summary["components"].items()}
        cached = sorted(name for name, status in statuses.items() if status == "cached")
        ran = sorted(name for name, status in statuses.items() if status != "cached")
        print(f"re-run:     {rerun:6.1f} s wall, {len(cached)} components cached; ran: {', '.join(ran)}")


if __name__ == "__main__":
    main()
