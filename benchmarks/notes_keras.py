"""The notes' Keras code on iris beside the functional model: `tfpipe run iris` with model.name mlp (functional)
and IrisModel (the notes' subclass), each trained by Keras' fit and by the notes' tf.GradientTape loop; the
eval accuracy TFMA gives, whether it is blessed, and the Trainer's seconds. Each run on a fresh workdir with
the iris defaults (500 steps, Adam 0.1, L2 0.001).

  .venv/bin/python benchmarks/notes_keras.py [--train-steps N] [--results-fp PATH]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import Results, add_results_option

from pipelines.outcome import RunOutcome

TFPIPE = str(Path(sys.executable).parent / "tfpipe")
VARIANTS = [(name, loop) for name in ("mlp", "IrisModel") for loop in ("fit", "gradient_tape")]


def run_iris(workdir: str, *options: str) -> tuple[float, RunOutcome]:
    started = time.monotonic()
    subprocess.run([TFPIPE, "run", "iris", "--workdir", workdir, *options], check=True, capture_output=True)
    seconds = time.monotonic() - started
    return seconds, RunOutcome.read(sorted((Path(workdir) / "iris" / "runs").iterdir())[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int, default=500, help="the Trainer's steps (default: iris's 500)")
    add_results_option(parser)
    args = parser.parse_args()
    recorded = Results("notes_keras")
    rows = []
    for name, loop in VARIANTS:
        with tempfile.TemporaryDirectory() as workdir:
            wall, outcome = run_iris(
                workdir,
                "--set",
                f"train_steps={args.train_steps}",
                "--set",
                f"model.name={name}",
                "--set",
                f"model.training_loop={loop}",
            )
        accuracy = (outcome.results.metrics or {})["overall"]["sparse_categorical_accuracy"]
        trainer = round(outcome.components["Trainer"].seconds or 0.0, 1)
        blessed = bool(outcome.results.blessed)
        print(f"{name:10} {loop:14} eval accuracy {accuracy:.4f}, blessed {blessed}, Trainer {trainer} s, {wall:.0f} s")
        rows.append([name, loop, round(accuracy, 4), blessed, trainer, round(wall, 1)])
        recorded.figure(f"{name}, {loop}: eval accuracy", round(accuracy, 4))
        recorded.figure(f"{name}, {loop}: Trainer", trainer, "s")
    recorded.table(
        f"iris, {args.train_steps} steps, each on a fresh workdir",
        ["model.name", "model.training_loop", "eval accuracy", "blessed", "Trainer (s)", "whole run (s)"],
        rows,
    )
    recorded.write(args.results_fp)


if __name__ == "__main__":
    main()
