"""The notes' stock recipe twice on the same data and split: as the notes' plain Keras
script, and through the whole stock pipeline. Prints both RMSEs and both wall times.

  .venv/bin/python benchmarks/stock_recipe.py [--epochs 50] [--workdir DIR] [--results-fp PATH]

The recipe: the open price alone, MinMax scaling fit on the training days, 60-day windows,
LSTM(80, return_sequences) -> Dropout(0.2) -> LSTM(100) -> Dropout(0.2) -> Dense(1), Adam
1e-3, MSE loss, batch 64, 50 epochs, scored on the held-out last 300 days every epoch, with the
notes' best-weights checkpoint. One change so both score the same windows: the evaluation
windows are the 300 whose target day is among the last 300 (the notes' code builds 240 from
those days alone); the pipeline's TimeSeriesExampleGen does the same.

Each side runs in its own process and is timed from start to exit, imports included.
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import Results, add_results_option

from pipelines.outcome import RunOutcome

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = REPO_ROOT / "data" / "stock" / "msft.csv"
WINDOW_DAYS, EVAL_DAYS, BATCH_SIZE = 60, 300, 64

# The notes' script, kept close to how they wrote it (pandas, sklearn's MinMaxScaler, numpy windows).
PLAIN_SCRIPT = f"""
import os, sys, json
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, pandas as pd, tensorflow as tf
# The pipeline's autograph rule for tf_keras (components/tf_setup.py), so the comparison
# is of the pipeline, not of a TF 2.16 quirk that costs the first fit about 15 s.
from tensorflow.python.autograph.core import config as autograph_config
autograph_config.CONVERSION_RULES = (autograph_config.DoNotConvert("tf_keras"), *autograph_config.CONVERSION_RULES)
from sklearn.preprocessing import MinMaxScaler
tf.keras.utils.set_random_seed(0)
data, epochs, workdir = pd.read_csv(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
opens = data[["open"]].values
training_set, test_set = opens[:-{EVAL_DAYS}], opens[-{EVAL_DAYS} - {WINDOW_DAYS}:]
sc = MinMaxScaler(feature_range=(0, 1))
training_set_scaled = sc.fit_transform(training_set)
test_set_scaled = sc.transform(test_set)
x_train = np.array([training_set_scaled[i - {WINDOW_DAYS}:i, 0]
                    for i in range({WINDOW_DAYS}, len(training_set_scaled))])
y_train = training_set_scaled[{WINDOW_DAYS}:, 0]
x_test = np.array([test_set_scaled[i - {WINDOW_DAYS}:i, 0] for i in range({WINDOW_DAYS}, len(test_set_scaled))])
y_test = test_set_scaled[{WINDOW_DAYS}:, 0]
np.random.seed(7); order = np.random.permutation(len(x_train)); x_train, y_train = x_train[order], y_train[order]
x_train, x_test = x_train[..., np.newaxis], x_test[..., np.newaxis]
model = tf.keras.Sequential([
    tf.keras.layers.LSTM(80, return_sequences=True), tf.keras.layers.Dropout(0.2),
    tf.keras.layers.LSTM(100), tf.keras.layers.Dropout(0.2), tf.keras.layers.Dense(1)])
model.compile(optimizer=tf.keras.optimizers.Adam(0.001), loss="mean_squared_error")
checkpoint = tf.keras.callbacks.ModelCheckpoint(filepath=os.path.join(workdir, "LSTM_stock.ckpt"),
    save_weights_only=True, save_best_only=True, monitor="val_loss")
model.fit(x_train, y_train, batch_size={BATCH_SIZE}, epochs=epochs, validation_data=(x_test, y_test),
          validation_freq=1, callbacks=[checkpoint], verbose=2)
predicted = sc.inverse_transform(model.predict(x_test))[:, 0]
real = sc.inverse_transform(y_test[:, np.newaxis])[:, 0]
print(json.dumps({{"rmse": float(np.sqrt(np.mean((predicted - real) ** 2))), "windows": len(real)}}))
"""


def run_plain(epochs: int, workdir: Path) -> dict:
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-c", PLAIN_SCRIPT, str(DATA), str(epochs), str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(process.stdout.strip().splitlines()[-1])
    return {**result, "seconds": time.monotonic() - started}


def recipe_overrides(epochs: int) -> list[str]:
    """`tfpipe run stock` arguments for the notes' recipe: open price only, MinMax, LSTM 80/100,
    batch 64, as many steps as the script's `epochs` passes over the training windows."""
    train_windows = 7983 - EVAL_DAYS - WINDOW_DAYS  # the shipped series' training windows
    steps = epochs * math.ceil(train_windows / BATCH_SIZE)
    settings = {
        "scaling": "min_max",
        "feature_columns": "open",
        "target_column": "open",
        "window_days": WINDOW_DAYS,
        "eval_days": EVAL_DAYS,
        "epochs": epochs,
        "train_steps": steps,
        "eval_steps": math.ceil(EVAL_DAYS / BATCH_SIZE),
        "must_beat_persistence": "false",
        "model.architecture": "lstm",
        "model.units": "80,100",
        "model.dropout": 0.2,
        "model.optimizer": "adam",
        "model.learning_rate": 0.001,
        "model.batch_size": BATCH_SIZE,
        # The notes train every epoch; the pipeline's early stopping is benchmarks/early_stopping_stock.py's.
        "early_stopping.enabled": "false",
    }
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]


def run_pipeline(epochs: int, workdir: Path) -> dict:
    overrides = recipe_overrides(epochs)
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "tfpipe"), "run", "stock", "--workdir", str(workdir), *overrides],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
    )
    seconds = time.monotonic() - started
    outcome = RunOutcome.read(sorted((workdir / "stock" / "runs").iterdir())[-1])
    overall = (outcome.results.metrics or {})["overall"]
    return {
        "rmse": overall["forecast/root_mean_squared_error"],
        "windows": int(overall["forecast/example_count"]),
        "seconds": seconds,
        "components": {name: round(c.seconds or 0.0, 1) for name, c in outcome.components.items()},
    }


def results(epochs: int, plain: dict, pipeline: dict) -> Results:
    """The figures of one run: `plain` and `pipeline` as run_plain and run_pipeline return them."""
    recorded = Results("stock_recipe")
    recorded.figure("epochs", epochs)
    for side, result in (("plain Keras script", plain), ("whole pipeline", pipeline)):
        recorded.figure(f"{side}, RMSE on {result['windows']} eval windows", round(result["rmse"], 4), "dollars")
        recorded.figure(f"{side}, wall", round(result["seconds"], 1), "s")
    recorded.figure("wall-time ratio pipeline / plain", round(pipeline["seconds"] / plain["seconds"], 2))
    recorded.table(
        "The pipeline's seconds per component",
        ["component", "seconds"],
        [[name, seconds] for name, seconds in pipeline["components"].items()],
    )
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="the notes' 50 by default")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a fresh temporary folder")
    add_results_option(parser)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="stock-recipe-"))
    plain = run_plain(args.epochs, workdir / "plain")
    print(
        f"plain Keras script: RMSE {plain['rmse']:.4f} on {plain['windows']} windows, {plain['seconds']:.1f} s",
        flush=True,
    )
    pipeline = run_pipeline(args.epochs, workdir / "pipeline")
    print(
        f"whole pipeline:     RMSE {pipeline['rmse']:.4f} on {pipeline['windows']} windows, {pipeline['seconds']:.1f} s"
    )
    print(f"  components: {pipeline['components']}")
    print(f"wall-time ratio pipeline / plain: {pipeline['seconds'] / plain['seconds']:.2f}")
    results(args.epochs, plain, pipeline).write(args.results_fp)


if __name__ == "__main__":
    main()
