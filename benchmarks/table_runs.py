"""The table pipeline on the two shipped tables, each against its naive baseline.

Run: .venv/bin/python benchmarks/table_runs.py [--workdir DIR] [--results-fp PATH]

One `tfpipe run table --name NAME` per table, one after another, in a fresh workdir, on the default
settings (MLP 32-16, 1,000 steps in 10 epochs, seed 0). The eval split is CsvExampleGen's default,
fixed before any result was seen: a third of the rows by a hash of each row, train on the rest. The
task and classes are read from the data (wine's `cultivar` is text: a classification; diabetes'
`progression` a number: a regression). Prints, per table, the model's and the naive baseline's figures
on the eval split (TFMA; the baseline is the train split's majority class, or its mean label), whether
the model was blessed and the wall time.
"""

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import Results, Value, add_results_option

from pipelines.outcome import RunOutcome

TFPIPE = str(Path(sys.executable).parent / "tfpipe")
TABLES = Path(__file__).resolve().parent.parent / "data" / "tables"

# (name, label, [(figure, model's metric, baseline's metric)])
RUNS = [
    (
        "wine",
        "cultivar",
        [("accuracy", "probabilities/sparse_categorical_accuracy", "majority/sparse_categorical_accuracy")],
    ),
    (
        "diabetes",
        "progression",
        [
            ("RMSE", "prediction/root_mean_squared_error", "mean/root_mean_squared_error"),
            ("MAE", "prediction/mean_absolute_error", "mean/mean_absolute_error"),
        ],
    ),
]
COLUMNS = ["table", "metric", "model", "naive baseline", "eval rows", "blessed", "wall (s)", "Trainer (s)"]


def run(workdir: Path, name: str, label: str) -> tuple[float, RunOutcome]:
    started = time.monotonic()
    command = [TFPIPE, "run", "table", "--name", name, "--workdir", str(workdir)]
    command += ["--set", f"data_dir={TABLES / name}", "--set", f"label={label}"]
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.monotonic() - started
    latest = sorted((workdir / name / "runs").iterdir())[-1]
    return seconds, RunOutcome.read(latest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary folder, removed after)")
    add_results_option(parser)
    args = parser.parse_args()
    recorded = Results("table_runs")
    rows: list[list[Value]] = []
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + " --- |" * len(COLUMNS))
    with contextlib.ExitStack() as stack:
        workdir = Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory()))
        for name, label, metrics in RUNS:
            seconds, outcome = run(workdir, name, label)
            overall = (outcome.results.metrics or {})["overall"]
            rows_evaluated = int(overall[f"{metrics[0][1].split('/')[0]}/example_count"])
            blessed = "yes" if outcome.results.blessed else "no: " + "; ".join(outcome.results.blessing_failures)
            trainer = outcome.components["Trainer"].seconds or 0.0
            for figure, model_metric, baseline_metric in metrics:
                model, baseline = round(overall[model_metric], 4), round(overall[baseline_metric], 4)
                recorded.figure(f"{name}: {figure}", model)
                recorded.figure(f"{name}: naive baseline's {figure}", baseline)
                row: list[Value] = [name, figure, model, baseline, rows_evaluated, blessed]
                row += [round(seconds), round(trainer)]
                rows.append(row)
                print("| " + " | ".join(str(cell) for cell in row) + " |", flush=True)
            recorded.figure(f"{name}: blessed", bool(outcome.results.blessed))
            recorded.figure(f"{name}: wall", round(seconds, 1), "s")
    recorded.table("The eval split, the model against its naive baseline (TFMA)", COLUMNS, rows)
    recorded.write(args.results_fp)


if __name__ == "__main__":
    main()
