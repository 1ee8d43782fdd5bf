"""A pipeline's model search (the Tuner) against its default model, trained with the same budget.

Run: .venv/bin/python benchmarks/model_search.py PIPELINE --trials N --steps-per-trial S
        [--set KEY=VALUE ...] [--workdir DIR] [--results-fp PATH]

Two `tfpipe run PIPELINE` in workdirs of their own, one after the other, with the same `--set`
values: the default model, then `--set tuning.trials=N --set tuning.steps_per_trial=S` (the search
space is the pipeline's default, narrowed by any `--set search_space.KEY=...`). Prints the search's
leaderboard (trial, values, score on the eval split after its steps, seconds) and the eval split's
figure (TFMA, the blessing metric) of the default model and of the model the Trainer trained with
the search's best values, each with its run's wall time.
"""

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import Results, Value, add_results_option

from pipelines.history import blessing_metric_key, recorded_config
from pipelines.outcome import RunOutcome

TFPIPE = str(Path(sys.executable).parent / "tfpipe")


def run(pipeline: str, workdir: Path, assignments: list[str]) -> tuple[float, RunOutcome]:
    started = time.monotonic()
    command = [TFPIPE, "run", pipeline, "--workdir", str(workdir)]
    for assignment in assignments:
        command += ["--set", assignment]
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.monotonic() - started
    return seconds, RunOutcome.read(sorted((workdir / pipeline / "runs").iterdir())[-1])


def eval_figure(outcome: RunOutcome) -> tuple[str, float]:
    """The blessing metric on the whole eval split (TFMA), with its name."""
    overall = (outcome.results.metrics or {})["overall"]
    name = blessing_metric_key(recorded_config(outcome), overall)
    return name, round(float(overall[name]), 4)


def results(pipeline: str, default: tuple[float, RunOutcome], searched: tuple[float, RunOutcome]) -> Results:
    recorded = Results(f"model_search_{pipeline}")
    metric, default_score = eval_figure(default[1])
    _, searched_score = eval_figure(searched[1])
    search = searched[1].results.search
    assert search is not None, "the search run recorded no search"
    best = search.best
    recorded.figure(f"default model: eval {metric}", default_score)
    recorded.figure(f"searched model (trial {best.trial if best else '-'}): eval {metric}", searched_score)
    recorded.figure("default run, wall time", round(default[0]), "s")
    recorded.figure(f"search run ({len(search.leaderboard)} trials), wall time", round(searched[0]), "s")
    keys = list(dict.fromkeys(key for trial in search.leaderboard for key in trial.values))
    rows: list[list[Value]] = [
        [
            trial.trial,
            *(str(trial.values.get(key, "")) for key in keys),
            round(trial.score, 4) if trial.score is not None else f"failed: {trial.error}",
            trial.seconds,
        ]
        for trial in search.leaderboard
    ]
    recorded.table(
        f"Leaderboard: {search.objective} on the eval split after each trial's steps, best first",
        ["trial", *keys, search.objective, "seconds"],
        rows,
    )
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline")
    parser.add_argument("--trials", type=int, required=True, help="tuning.trials")
    parser.add_argument("--steps-per-trial", type=int, required=True, help="tuning.steps_per_trial")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary folder, removed after)")
    add_results_option(parser)
    args = parser.parse_args()
    search = [f"tuning.trials={args.trials}", f"tuning.steps_per_trial={args.steps_per_trial}"]
    with contextlib.ExitStack() as stack:
        root = Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory()))
        default = run(args.pipeline, root / "default", args.assignments)
        searched = run(args.pipeline, root / "search", [*args.assignments, *search])
    recorded = results(args.pipeline, default, searched)
    for figure in recorded.figures:
        print(f"{figure.name}: {figure.value}{' ' + figure.unit if figure.unit else ''}")
    for table in recorded.tables:
        print(table.title)
        for row in [table.columns, *table.rows]:
            print("  " + "  ".join(str(cell) for cell in row))
    recorded.write(args.results_fp)


if __name__ == "__main__":
    main()
