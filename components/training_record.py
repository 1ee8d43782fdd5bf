"""The training record every Trainer leaves in its ModelRun artifact and MlflowTracker reads back.

history.csv          one row per epoch: when it ended, train and validation loss and metrics (on the
                     eval split, or with early stopping on its validation slice of the training split)
training_curves.png  the notes' accuracy / loss figure, drawn from history.csv
model_summary.json   every layer with its weights' shapes and statistics
weights.txt          every trainable variable's name, shape and values, as the notes write them
model_summary.txt    Keras' `model.summary()`, nested models expanded
architecture.dot     Keras' `plot_model` diagram as Graphviz DOT text; architecture.png beside it
                     where Graphviz's `dot` program is installed (components/model_inspection.py)
metrics.json         figures a pipeline's run_fn adds (name -> number), logged as MLflow metrics; with
                     early stopping, early_stopping.* (components/models/training.py EarlyStopping.record)

Beside the SavedModel (`Format-Serving`, TFX's) in the Trainer's Model artifact, the same model in the
notes' other saving formats: `Format-HDF5/model.h5` (the whole model) and `Format-Checkpoint/weights`
(a weights-only TensorFlow checkpoint).
"""

import csv
import json
import os
from collections.abc import Sequence

from tensorflow.io import gfile

HISTORY_FILE = "history.csv"
# The history's column of when each epoch ended: MLflow's timestamp of that epoch's metrics.
EPOCH_END = "epoch_end_time"
CURVES_FILE = "training_curves.png"
SUMMARY_FILE = "model_summary.json"
TENSORBOARD_DIR = "logs"
WEIGHTS_FILE = "weights.txt"
SUMMARY_TEXT_FILE = "model_summary.txt"
ARCHITECTURE_DOT_FILE = "architecture.dot"
ARCHITECTURE_PNG_FILE = "architecture.png"
# Folders of the Model artifact, named like TFX's own Format-Serving and Format-TFMA.
HDF5_DIR = "Format-HDF5"
HDF5_FILE = f"{HDF5_DIR}/model.h5"
CHECKPOINT_DIR = "Format-Checkpoint"
CHECKPOINT_PREFIX = f"{CHECKPOINT_DIR}/weights"
METRICS_FILE = "metrics.json"


def pyplot():
    """matplotlib's pyplot drawing to files only: there is no display on servers and in containers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_history(history: dict[str, list[float]], path: str, epoch_ends: Sequence[float]) -> None:
    """One row per epoch: its number, when it ended (EPOCH_END, seconds since the epoch of Unix time),
    then Keras' metrics of it."""
    names = sorted(history)
    with gfile.GFile(path, "w") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", EPOCH_END, *names])
        for epoch, (ended, *values) in enumerate(zip(epoch_ends, *(history[name] for name in names))):
            writer.writerow([epoch, ended, *values])


def read_history(path: str) -> list[dict[str, float]]:
    """The rows write_history wrote; a record from before EPOCH_END has none."""
    with gfile.GFile(path) as f:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(f)]


def epoch_metrics(row: dict[str, float]) -> dict[str, float]:
    """One history row's metrics, without its epoch number and time."""
    return {name: value for name, value in row.items() if name not in ("epoch", EPOCH_END)}


def write_metrics(metrics: dict[str, float], model_run_dir: str) -> None:
    """Adds `metrics` to the run's metrics file (METRICS_FILE)."""
    path = os.path.join(model_run_dir, METRICS_FILE)
    with gfile.GFile(path, "w") as f:
        json.dump({**read_metrics(model_run_dir), **metrics}, f, indent=2)


def read_metrics(model_run_dir: str) -> dict[str, float]:
    """The metrics file's figures; none when the run_fn wrote none."""
    path = os.path.join(model_run_dir, METRICS_FILE)
    if not gfile.exists(path):
        return {}
    with gfile.GFile(path) as f:
        return json.load(f)


def plot_history(history: dict[str, list[float]], path: str, validation: str = "evaluation") -> None:
    """One panel per metric, training and validation curves together; `validation` names what the
    validation metrics were scored on (the eval split, or early stopping's validation slice)."""
    plt = pyplot()
    metrics = sorted(name for name in history if not name.startswith("val_"))
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for axis, name in zip(axes[0], metrics):
        epochs = range(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], label="training")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], label=validation)
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.legend()
    figure.tight_layout()
    with gfile.GFile(path, "wb") as f:
        figure.savefig(f, format="png", dpi=100)
    plt.close(figure)
