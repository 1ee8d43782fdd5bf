"""The letters pipeline's models and the notes' fixed contexts against the bigram baseline, on the shipped words.

Run: .venv/bin/python benchmarks/letters_models.py [--workdir DIR] [--results-fp PATH]

One `tfpipe run letters` per row, one after another: the default run (GRU), then each other model
of the zoo with `--set model.name=...` in the same workdir (ExampleGen, StatisticsGen and Transform
are cached, and each model is also compared with the latest blessed one), then the notes' 1- and
4-letter contexts (`--set min_context=N --set max_context=N`), each in a workdir of its own. Prints
a Markdown table of the eval split's figures (TFMA: accuracy, top-5 accuracy, cross-entropy of the
model and of the bigram baseline on the same examples), blessing and wall time.
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

# (row, workdir, overrides)
RUNS = [
    ("gru (default)", "models", []),
    ("one_hot_rnn", "models", ["model.name=one_hot_rnn"]),
    ("embedding_rnn", "models", ["model.name=embedding_rnn"]),
    ("lstm", "models", ["model.name=lstm"]),
    ("bidirectional_lstm", "models", ["model.name=bidirectional_lstm"]),
    ("gru, 1 letter (1pre1)", "context1", ["min_context=1", "max_context=1"]),
    ("gru, 4 letters (4pre1)", "context4", ["min_context=4", "max_context=4"]),
]
COLUMNS = [
    "run",
    "accuracy",
    "top-5",
    "cross-entropy",
    "bigram accuracy",
    "bigram top-5",
    "bigram cross-entropy",
    "blessed",
    "wall (s)",
    "Trainer (s)",
]


def run(workdir: Path, overrides: list[str]) -> tuple[float, RunOutcome]:
    started = time.monotonic()
    command = [TFPIPE, "run", "letters", "--workdir", str(workdir)]
    for assignment in overrides:
        command += ["--set", assignment]
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.monotonic() - started
    latest = sorted((workdir / "letters" / "runs").iterdir())[-1]
    return seconds, RunOutcome.read(latest)


def results(rows: list[list[Value]]) -> Results:
    """The figures of one run: `rows` in COLUMNS' order."""
    recorded = Results("letters_models")
    for row in rows:
        recorded.figure(f"{row[0]}: accuracy", row[1])
        recorded.figure(f"{row[0]}: bigram baseline's accuracy", row[4])
    recorded.table("The eval split, model against the bigram baseline (TFMA)", COLUMNS, rows)
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary folder, removed after)")
    add_results_option(parser)
    args = parser.parse_args()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + " --- |" * len(COLUMNS))
    rows: list[list[Value]] = []
    with contextlib.ExitStack() as stack:
        root = Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory()))
        for name, folder, overrides in RUNS:
            seconds, outcome = run(root / folder, overrides)
            overall = (outcome.results.metrics or {})["overall"]
            figures = [
                round(overall[f"{output}/{metric}"], 4)
                for output in ("probabilities", "bigram")
                for metric in (
                    "sparse_categorical_accuracy",
                    "sparse_top_k_categorical_accuracy",
                    "sparse_categorical_crossentropy",
                )
            ]
            blessed = "yes" if outcome.results.blessed else "no: " + "; ".join(outcome.results.blessing_failures)
            trainer = outcome.components["Trainer"].seconds or 0.0
            rows.append([name, *figures, blessed, round(seconds), round(trainer)])
            cells = " | ".join(f"{value:.4f}" for value in figures)
            print(f"| {name} | {cells} | {blessed} | {seconds:.0f} s | {trainer:.0f} s |", flush=True)
    results(rows).write(args.results_fp)


if __name__ == "__main__":
    main()
