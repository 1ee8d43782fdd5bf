"""Where the stock Trainer's steps go: the notes' recipe model fit on the pipeline's transformed data,
one setting per process, milliseconds per step.

  .venv/bin/python benchmarks/stock_train_steps.py [--workdir DIR] [--settings numpy,dataset,...] [--epochs 4]
      [--results-fp PATH]

Runs the stock pipeline once with the notes' recipe (stock_recipe.py's settings, one epoch) for its
Transform output, unless --workdir already holds such a run; then, in a fresh process per setting,
builds the recipe's model as the Trainer does and fits it for --epochs epochs of 120 steps, scoring
the eval split after each. Prints the first epoch's seconds (tracing included) and the median
milliseconds per step of the others. Settings:

  numpy              the transformed windows read into numpy arrays first (the plain script's input)
  dataset            the Trainer's input: components/models/training.py transformed_dataset
  dataset_callbacks  that, with the Trainer's TensorBoard and progress callbacks
  numpy_callbacks    numpy arrays with those callbacks
  threads_1_1        dataset, 1 intra-op and 1 inter-op thread
  threads_2_1        dataset, 2 intra-op threads and 1 inter-op thread
  steps_per_execution_20  dataset, Keras running 20 steps per call
  unroll             dataset, the LSTM layers unrolled over the window
  xla                dataset, the train step compiled by XLA (slow on a CPU: about 150 s an epoch)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import Results, add_results_option
from stock_recipe import REPO_ROOT, recipe_overrides

STEPS = 120  # one pass over the recipe's 7,623 training windows in batches of 64
DEFAULT_SETTINGS = (
    "numpy,dataset,dataset_callbacks,numpy_callbacks,threads_1_1,threads_2_1,steps_per_execution_20,unroll"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="default: a fresh temporary folder")
    parser.add_argument("--settings", default=DEFAULT_SETTINGS)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    add_results_option(parser)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_fit(args.workdir / "stock" / "pipeline_root", args.child, args.epochs)))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="stock-steps-"))
    if not (workdir / "stock" / "pipeline_root" / "Transform").is_dir():
        subprocess.run(
            [str(Path(sys.executable).parent / "tfpipe"), "run", "stock", "--workdir", str(workdir)]
            + recipe_overrides(epochs=1),
            check=True,
            cwd=REPO_ROOT,
            capture_output=True,
        )
    fits = {}
    for setting in args.settings.split(","):
        child = subprocess.run(
            [sys.executable, __file__, "--workdir", str(workdir), "--epochs", str(args.epochs), "--child", setting],
            capture_output=True,
            text=True,
            check=True,
        )
        fits[setting] = json.loads(child.stdout.strip().splitlines()[-1])
        first_epoch_s, ms_per_step = fits[setting]["first_epoch_s"], fits[setting]["ms_per_step"]
        print(f"{setting:24s} first epoch {first_epoch_s:6.1f} s, then {ms_per_step:7.1f} ms a step", flush=True)
    results(args.epochs, fits).write(args.results_fp)


def results(epochs: int, fits: dict[str, dict[str, float]]) -> Results:
    """The figures of one run: `fits` by setting, as `_fit` returns them."""
    recorded = Results("stock_train_steps")
    recorded.figure("epochs of 120 steps per setting", epochs)
    for setting, fit in fits.items():
        recorded.figure(f"{setting}: median step after the first epoch", round(fit["ms_per_step"], 1), "ms")
    recorded.table(
        "Per setting: the first epoch (tracing included) and the median step of the others",
        ["setting", "first epoch (s)", "ms per step"],
        [[setting, round(fit["first_epoch_s"], 1), round(fit["ms_per_step"], 1)] for setting, fit in fits.items()],
    )
    return recorded


def _fit(pipeline_root: Path, setting: str, epochs: int) -> dict:
    """Fits the recipe's model in this process under `setting`; the first epoch and the median step."""
    sys.path.insert(0, str(REPO_ROOT))
    from components import tf_setup

    tf_setup.configure()
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras
    from tensorflow_transform import TFTransformOutput
    from tfx.components.trainer.fn_args_utils import DataAccessor
    from tfx.components.util import tfxio_utils
    from tfx.types import standard_artifacts
    from tfx_bsl.public import tfxio

    from components.models import training
    from components.models.stock import features
    from components.models.stock import model as stock_model
    from pipelines.config import apply_overrides
    from pipelines.stock.config import StockConfig

    if setting.startswith("threads_"):
        intra, inter = setting.split("_")[1:]
        tf.config.threading.set_intra_op_parallelism_threads(int(intra))
        tf.config.threading.set_inter_op_parallelism_threads(int(inter))
    overrides = recipe_overrides(epochs=1)
    config = apply_overrides(StockConfig(), [value for flag, value in zip(overrides, overrides[1:]) if flag == "--set"])
    transform_output = TFTransformOutput(sorted((pipeline_root / "Transform" / "transform_graph").glob("*"))[-1])
    examples = standard_artifacts.Examples()
    examples.uri = str(sorted((pipeline_root / "Transform" / "transformed_examples").glob("*"))[-1])
    examples.split_names = '["train", "eval"]'
    accessor = DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=None,
        data_view_decode_fn=None,
    )
    files = {split: [f"{examples.uri}/Split-{split}/*"] for split in ("train", "eval")}

    keras.utils.set_random_seed(config.model.seed)
    if setting == "unroll":
        model = stock_model._recurrent_model(
            lambda size, return_sequences: keras.layers.LSTM(size, return_sequences=return_sequences, unroll=True),
            config.window_days,
            1,
            config.model.units,
            config.model.dropout,
        )
    else:
        model = stock_model.build_model(config.model, config.window_days, 1)
    compile_options = {"xla": {"jit_compile": True}, "steps_per_execution_20": {"steps_per_execution": 20}}
    model.compile(
        optimizer=keras.optimizers.Adam(config.model.learning_rate),
        loss="mean_squared_error",
        metrics=[keras.metrics.MeanAbsoluteError()],
        **compile_options.get(setting, {}),
    )

    class EpochTimes(keras.callbacks.Callback):
        seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    callbacks: list = [EpochTimes()]
    if setting.endswith("_callbacks"):
        logs = tempfile.mkdtemp(prefix="stock-steps-tensorboard-")
        callbacks += [keras.callbacks.TensorBoard(log_dir=logs, write_graph=True), training.ProgressReport()]
    if setting.startswith("numpy"):

        def arrays(split):
            batches = accessor.tf_dataset_factory(
                files[split],
                tfxio.TensorFlowDatasetOptions(batch_size=1024, num_epochs=1, shuffle=False),
                transform_output.transformed_metadata.schema,
            )
            pairs = [
                (stock_model.model_input(b, config.feature_columns).numpy(), b[features.TARGET_SCALED_KEY].numpy())
                for b in batches
            ]
            return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])

        x, y = arrays("train")
        model.fit(
            x,
            y,
            batch_size=config.model.batch_size,
            epochs=epochs,
            validation_data=arrays("eval"),
            callbacks=callbacks,
            verbose=0,
        )
    else:
        train, evaluation = (
            stock_model._dataset(files[split], accessor, transform_output, config) for split in ("train", "eval")
        )
        model.fit(
            train,
            epochs=epochs,
            steps_per_epoch=STEPS,
            validation_data=evaluation,
            validation_steps=5,
            callbacks=callbacks,
            verbose=0,
        )
    times = EpochTimes.seconds
    return {"first_epoch_s": times[0], "ms_per_step": 1000 * statistics.median(times[1:]) / STEPS}


if __name__ == "__main__":
    main()
