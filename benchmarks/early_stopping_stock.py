"""The stock pipeline with early stopping on and off (`--set early_stopping.enabled=...`), at the
notes' recipe settings (benchmarks/stock_recipe.py's, `--recipe-epochs` passes over the training
windows) and at the stock defaults: the RMSE on the eval split, the wall time, the Trainer's
seconds and the epochs it trained. What decided the stock default (docs/pipelines.md).

  .venv/bin/python benchmarks/early_stopping_stock.py [--recipe-epochs 50] [--workdir DIR] [--results-fp PATH]

The recipe's runs are the long part (each trains up to the notes' 50 epochs, 6,000 steps);
`--recipe-epochs 0` (bench.py's --quick) runs the defaults alone.

Each run is `tfpipe run stock` in its own workdir, timed from start to exit, one after another.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import Results, add_results_option
from stock_recipe import recipe_overrides

from components import training_record
from pipelines.outcome import RunOutcome

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_stock(workdir: Path, settings: list[str]) -> dict:
    """One `tfpipe run stock` with `settings` (--set arguments): its eval RMSE, wall and Trainer seconds,
    and the Trainer's epochs (with early stopping, its record's early_stopping.* figures)."""
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "tfpipe"), "run", "stock", "--workdir", str(workdir), *settings],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
    )
    seconds = time.monotonic() - started
    outcome = RunOutcome.read(sorted((workdir / "stock" / "runs").iterdir())[-1])
    model_run = max(
        (workdir / "stock" / "pipeline_root" / "Trainer" / "model_run").iterdir(), key=lambda p: int(p.name)
    )
    epochs = len(training_record.read_history(str(model_run / training_record.HISTORY_FILE)))
    best_epoch = training_record.read_metrics(str(model_run)).get("early_stopping.best_epoch")
    return {
        "rmse": (outcome.results.metrics or {})["overall"]["forecast/root_mean_squared_error"],
        "seconds": seconds,
        "trainer_seconds": outcome.components["Trainer"].seconds or 0.0,
        "epochs": epochs,
        "best_epoch": "" if best_epoch is None else int(best_epoch) + 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipe-epochs", type=int, default=50, help="the notes' 50 by default; 0: the stock defaults only"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="default: a fresh temporary folder")
    add_results_option(parser)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="early-stopping-stock-"))
    settings = {"defaults": []}
    if args.recipe_epochs:
        settings[f"notes' recipe, {args.recipe_epochs} epochs"] = recipe_overrides(args.recipe_epochs)
    recorded = Results("early_stopping_stock")
    rows = []
    for index, (name, overrides) in enumerate(settings.items()):
        for enabled in (False, True):
            switch = ["--set", f"early_stopping.enabled={str(enabled).lower()}"]
            result = run_stock(workdir / f"{index}-{enabled}", [*overrides, *switch])
            label = f"{name}, early stopping {'on' if enabled else 'off'}"
            print(
                f"{label}: RMSE {result['rmse']:.4f}, {result['seconds']:.1f} s "
                f"(Trainer {result['trainer_seconds']:.1f} s), {result['epochs']} epochs, "
                f"best {result['best_epoch'] or '-'}",
                flush=True,
            )
            recorded.figure(f"{label}: RMSE on the eval split", round(result["rmse"], 4), "dollars")
            recorded.figure(f"{label}: wall", round(result["seconds"], 1), "s")
            rows.append(
                [
                    name,
                    "on" if enabled else "off",
                    round(result["rmse"], 4),
                    round(result["seconds"], 1),
                    round(result["trainer_seconds"], 1),
                    result["epochs"],
                    result["best_epoch"],
                ]
            )
    recorded.table(
        "Each run",
        ["settings", "early stopping", "RMSE (dollars)", "wall (s)", "Trainer (s)", "epochs trained", "best epoch"],
        rows,
    )
    recorded.write(args.results_fp)


if __name__ == "__main__":
    main()
