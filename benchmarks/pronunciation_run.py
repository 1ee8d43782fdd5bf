"""`tfpipe run pronunciation` with its defaults on a fresh workdir: the whole CMU Pronouncing Dictionary.

Run: .venv/bin/python benchmarks/pronunciation_run.py [--workdir DIR] [--set KEY=VALUE ...] [--results-fp PATH]
     .venv/bin/python benchmarks/pronunciation_run.py --run-folder WORKDIR/pronunciation/runs/STAMP

Runs the pipeline once (or, with --run-folder, reads a run made before) and prints the eval split's
word and phoneme error rates (TFMA) of the model and of the two naive baselines, overall and by word
length, whether the run was blessed and pushed, and where its time went.
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
OUTPUTS = {"phoneme_errors": "model", "nearest_spelling": "nearest spelling", "letter_to_phoneme": "letter to phoneme"}
COMPONENTS = ("DictionaryExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator", "MlflowTracker")


def run(workdir: Path, overrides: list[str]) -> tuple[float, Path]:
    """Runs the pipeline; its wall time and run folder."""
    started = time.monotonic()
    command = [TFPIPE, "run", "pronunciation", "--workdir", str(workdir)]
    for assignment in overrides:
        command += ["--set", assignment]
    subprocess.run(command, check=True)
    return time.monotonic() - started, sorted((workdir / "pronunciation" / "runs").iterdir())[-1]


def results(outcome: RunOutcome, wall_seconds: float | None) -> Results:
    recorded = Results("pronunciation_run")
    metrics = outcome.results.metrics or {}
    overall = metrics["overall"]
    for output, shown in OUTPUTS.items():
        recorded.figure(f"{shown}: word error rate (eval split)", round(overall[f"{output}/word_error_rate"], 4))
        recorded.figure(f"{shown}: phoneme error rate", round(overall[f"{output}/phoneme_error_rate"], 4))
    recorded.figure("eval words", int(overall["phoneme_errors/example_count"]))
    recorded.figure("blessed", bool(outcome.results.blessed))
    recorded.figure("pushed", outcome.results.pushed_version is not None)
    recorded.figure("in the run", round(outcome.seconds or 0.0, 1), "s")
    if wall_seconds is not None:
        recorded.figure("wall (time)", round(wall_seconds, 1), "s")
    for name in COMPONENTS:
        if name in outcome.components and outcome.components[name].seconds is not None:
            recorded.figure(name, round(outcome.components[name].seconds or 0.0, 1), "s")
    rows = []
    for name, values in metrics.items():
        if name != "overall":
            rows.append(
                [
                    int(name.split("=")[1]),
                    int(values["phoneme_errors/example_count"]),
                    *(
                        round(values[f"{output}/{metric}"], 4)
                        for metric in ("word_error_rate", "phoneme_error_rate")
                        for output in OUTPUTS
                    ),
                ]
            )
    columns = ["letters", "words"] + [f"{shown} {metric}" for metric in ("WER", "PER") for shown in OUTPUTS.values()]
    recorded.table("By word length (TFMA slices of the eval split)", columns, rows)
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="run in this workdir (default: a temporary folder, removed after)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config value to run with")
    parser.add_argument("--run-folder", type=Path, help="read this run's summary instead of running the pipeline")
    add_results_option(parser)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.run_folder:
            wall, folder = None, args.run_folder
        else:
            root = Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory()))
            wall, folder = run(root, args.set)
        recorded = results(RunOutcome.read(folder), wall)
    for figure in recorded.figures:
        print(f"{figure.name}: {figure.value}{' ' + figure.unit if figure.unit else ''}")
    recorded.write(args.results_fp)


if __name__ == "__main__":
    main()
