"""Wall time of `tfpipe run iris` on a fresh workdir, with seconds per component; then of the same
command again (nothing changed: answered before TensorFlow loads), and with --rerun (every
component cached but those that run every time).

  .venv/bin/python benchmarks/iris_rerun.py [--workdir DIR] [--results-fp PATH]

Target for the unchanged re-run: 10 s or less.
"""

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import Results, add_results_option

from pipelines.outcome import RunOutcome

TFPIPE = str(Path(sys.executable).parent / "tfpipe")


def timed_run(workdir: str, *options: str) -> tuple[float, RunOutcome]:
    started = time.monotonic()
    subprocess.run([TFPIPE, "run", "iris", "--workdir", workdir, *options], check=True, capture_output=True)
    seconds = time.monotonic() - started
    latest = sorted((Path(workdir) / "iris" / "runs").iterdir())[-1]
    return seconds, RunOutcome.read(latest)


def component_seconds(outcome: RunOutcome) -> dict[str, float]:
    return {name: round(component.seconds or 0.0, 1) for name, component in outcome.components.items()}


def results(
    first_s: float,
    accuracy: float,
    blessed: bool,
    first_components: dict[str, float],
    unchanged_s: float,
    rerun_s: float,
    rerun_ran: list[str],
    rerun_components: dict[str, float],
) -> Results:
    """The figures of one run; `rerun_ran` the components --rerun ran rather than took from the cache."""
    recorded = Results("iris_rerun")
    recorded.figure("first run, fresh workdir", round(first_s, 1), "s")
    recorded.figure("first run, eval accuracy", accuracy)
    recorded.figure("first run, blessed", blessed)
    for name in ("Transform", "MlflowTracker"):
        recorded.figure(f"first run, {name}", first_components.get(name), "s")
    recorded.figure("unchanged re-run, best of 3", round(unchanged_s, 1), "s")
    recorded.figure("--rerun", round(rerun_s, 1), "s")
    recorded.figure("--rerun, components cached", len(rerun_components) - len(rerun_ran))
    recorded.figure("--rerun, components run", ", ".join(sorted(rerun_ran)))
    recorded.table(
        "Seconds per component",
        ["component", "first run (s)", "--rerun (s)"],
        [[name, seconds, rerun_components.get(name)] for name, seconds in first_components.items()],
    )
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary folder, removed after)")
    add_results_option(parser)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or stack.enter_context(tempfile.TemporaryDirectory())
        first, outcome = timed_run(workdir)
        accuracy = (outcome.results.metrics or {})["overall"]["sparse_categorical_accuracy"]
        blessed = bool(outcome.results.blessed)
        print(f"first run:  {first:6.1f} s wall, eval accuracy {accuracy:.4f}, blessed {blessed}")
        first_components = component_seconds(outcome)
        print(f"first run seconds per component: {first_components}")
        unchanged = min(timed_run(workdir)[0] for _ in range(3))
        print(f"unchanged:  {unchanged:6.1f} s wall (best of 3; nothing run: up to date)")
        rerun, outcome = timed_run(workdir, "--rerun")
        ran = sorted(name for name, component in outcome.components.items() if component.status != "cached")
        rerun_components = component_seconds(outcome)
        cached = len(rerun_components) - len(ran)
        print(f"--rerun:    {rerun:6.1f} s wall, {cached} components cached; ran: {', '.join(ran)}")
        print(f"re-run seconds per component: {rerun_components}")
    results(first, accuracy, blessed, first_components, unchanged, rerun, ran, rerun_components).write(args.results_fp)


if __name__ == "__main__":
    main()
