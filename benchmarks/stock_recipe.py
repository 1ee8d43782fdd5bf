"""The notes' stock recipe twice on the same data and split: as the notes' plain Keras
script, and through the whole stock pipeline. Prints both RMSEs and both wall times.

  .venv/bin/python benchmarks/stock_recipe.py [--epochs 50] [--workdir DIR] [--results-fp PATH]

The recipe: the open price alone, MinMax scaling fit on the training days, 60-day windows,
LSTM(80, return_sequences) -> Dropout(0.2) -> LSTM(100) -> Dropout(0.2) -> Dense(1), Adam
1e-3, MSE loss, batch 64, 50 epochs, scored on the held-out last 300 days every epoch, with the
notes' best-weights checkpoint. One change so both score the same windows: the evaluation
windows are the 300 whose target day is among the last 300 (the notes' code builds 240 from
those days alone); the pipeline's TimeSeriesExampleGen does the same. The pipeline trains the same
model with its early stopping on (docs/pipelines.md#early-stopping): the notes' epochs are the most it
trains; it stops once the latest training days, held out of its training windows, stop improving.

Each side runs in its own process and is timed from start to exit, imports included.
"""

import argparse
import math
import tempfile
from pathlib import Path

from recipes import (
    PLAIN_SCRIPT_START,
    REPO_ROOT,
    Score,
    Side,
    compare,
    latest_model_run,
    pipeline_side,
    run_pipeline,
    run_plain,
    set_arguments,
    trained_policy,
)
from results import add_results_option

from components.training_record import read_metrics

DATA = REPO_ROOT / "data" / "stock" / "msft.csv"
WINDOW_DAYS, EVAL_DAYS, BATCH_SIZE = 60, 300, 64
RMSE = Score("RMSE", "dollars", "eval windows")

# The notes' script, kept close to how they wrote it (pandas, sklearn's MinMaxScaler, numpy windows).
PLAIN_SCRIPT = (
    PLAIN_SCRIPT_START
    + f"""
import pandas as pd
from sklearn.preprocessing import MinMaxScaler
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
print(json.dumps({{"rmse": float(np.sqrt(np.mean((predicted - real) ** 2))), "windows": len(real),
                  "policy": tf.keras.mixed_precision.global_policy().name}}))
"""
)


def recipe_overrides(epochs: int) -> list[str]:
    """`tfpipe run stock` arguments for the notes' recipe: open price only, MinMax, LSTM 80/100,
    batch 64, at most as many steps as the script's `epochs` passes over the training windows, early stopping on."""
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
        # Blessed whatever its RMSE, so the run ends with the pushed model as the script ends with its own:
        # an upper bound in dollars no model misses. Without any bound TFMA finds no threshold to check on
        # a first run (the no-regression one needs a blessed model) and blesses nothing.
        "blessing_threshold": 1_000_000,
        "model.architecture": "lstm",
        "model.units": "80,100",
        "model.dropout": 0.2,
        "model.optimizer": "adam",
        "model.learning_rate": 0.001,
        "model.batch_size": BATCH_SIZE,
        # The notes train all 50 epochs blind; the pipeline stops once its validation slice (each ticker's
        # latest training days, never the eval days) stops improving and keeps the best epoch's weights.
        "early_stopping.enabled": "true",
    }
    return set_arguments(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="the notes' 50 by default")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a fresh temporary folder")
    add_results_option(parser)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="stock-recipe-"))
    printed, seconds = run_plain(PLAIN_SCRIPT, str(DATA), str(args.epochs), str(workdir / "plain"))
    plain = Side(printed["rmse"], printed["windows"], seconds, printed["policy"])
    print(plain.line("plain Keras script", RMSE), flush=True)
    outcome, seconds = run_pipeline("stock", workdir / "pipeline", recipe_overrides(args.epochs))
    policy = trained_policy(workdir / "pipeline", "stock")
    pipeline = pipeline_side(outcome, seconds, "forecast/root_mean_squared_error", "forecast/example_count", policy)
    stopped = read_metrics(str(latest_model_run(workdir / "pipeline", "stock")))
    figures = {
        "epochs": args.epochs,
        "whole pipeline, epochs trained": int(stopped["early_stopping.epochs_trained"]),
        # history.csv counts epochs from 0; the figure counts them as the notes' logs do, from 1.
        "whole pipeline, epoch whose weights it kept": int(stopped["early_stopping.best_epoch"]) + 1,
    }
    compare("stock_recipe", RMSE, figures, plain, pipeline).write(args.results_fp)


if __name__ == "__main__":
    main()
