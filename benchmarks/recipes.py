"""What the recipe benchmarks share (stock_recipe.py, cifar10_recipe.py, mnist_recipe.py): a recipe of the
notes run twice on the same data, as the notes' plain Keras script and through `tfpipe run` with the same
model, each in its own process and timed from start to exit, imports included; then both sides' scores on
the same eval examples, both wall times, their ratio and the pipeline's seconds per component.

A plain script is an inline string, PLAIN_SCRIPT_START then the recipe's own lines, run by `run_plain`;
its last line of output is a JSON object of what it measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import Results, Value, add_results_option

from pipelines.images import PRECISIONS, AugmentationConfig, ImageConfig
from pipelines.outcome import RunOutcome
from pipelines.registry import config_for

REPO_ROOT = Path(__file__).resolve().parent.parent
TFPIPE = str(Path(sys.executable).parent / "tfpipe")
# The notes' image recipes train batches of 32 with Adam at Keras' default step size.
NOTES_IMAGE_BATCH, NOTES_LEARNING_RATE = 32, 0.001

# Every plain script's first lines: the notes' imports, and one change to how they run.
PLAIN_SCRIPT_START = """
import os, sys, json
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tensorflow as tf
# The pipeline's autograph rule for tf_keras (components/tf_setup.py), so the comparison
# is of the pipeline, not of a TF 2.16 quirk that costs the first fit about 15 s.
from tensorflow.python.autograph.core import config as autograph_config
autograph_config.CONVERSION_RULES = (autograph_config.DoNotConvert("tf_keras"), *autograph_config.CONVERSION_RULES)
tf.keras.utils.set_random_seed(0)
"""

# The image recipes' plain lines, after PLAIN_SCRIPT_START: the shipped TFRecord splits (arguments 1 and 2,
# channels argument 3) as the notes' numpy arrays, what `tf.keras.datasets.*.load_data()` gives them, scaled
# to [0, 1] as they scale them; the epochs (argument 4) and a folder for the notes' checkpoint (argument 5).
LOAD_IMAGES = """
def load_images(path, channels):
    spec = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
    def decode(record):
        example = tf.io.parse_single_example(record, spec)
        return tf.io.decode_image(example["image"], channels=channels, expand_animations=False), example["label"]
    pairs = tf.data.TFRecordDataset(path, compression_type="GZIP").map(decode)
    images, labels = zip(*pairs.as_numpy_iterator())
    return np.stack(images), np.array(labels)
(x_train, y_train), (x_test, y_test) = (load_images(path, int(sys.argv[3])) for path in sys.argv[1:3])
x_train, x_test = x_train / 255.0, x_test / 255.0
epochs, workdir = int(sys.argv[4]), sys.argv[5]
"""

# The image recipes' last lines, the notes' compile and fit, after the recipe's lines that build `model`
# and list `callbacks`; then the accuracy on every test image.
FIT_AND_SCORE_IMAGES = f"""
model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False),
              metrics=["sparse_categorical_accuracy"])
model.fit(x_train, y_train, batch_size={NOTES_IMAGE_BATCH}, epochs=epochs, validation_data=(x_test, y_test),
          validation_freq=1, callbacks=callbacks, verbose=2)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(json.dumps({{"accuracy": float(accuracy), "images": len(y_test), "train_images": len(y_train),
                  "policy": tf.keras.mixed_precision.global_policy().name}}))
"""


@dataclasses.dataclass(frozen=True)
class Score:
    """What a recipe is judged by, on the eval split."""

    name: str
    """As the figures name it: `RMSE`, `accuracy`."""
    unit: str
    """`dollars`; empty for an accuracy."""
    examples: str
    """What it is scored on, plural: `eval windows`, `eval images`."""


ACCURACY = Score("accuracy", "", "eval images")


@dataclasses.dataclass
class Side:
    """One side of the comparison: the plain script or the whole pipeline."""

    score: float
    examples: int
    """How many eval examples `score` is over."""
    seconds: float
    """Wall time from start to exit."""
    policy: str
    """The Keras dtype policy it trained under: `float32` or `mixed_bfloat16` (components/precision.py)."""
    components: dict[str, float] = dataclasses.field(default_factory=dict)
    """The pipeline's seconds per component, in the run's order; empty for the plain script."""

    def line(self, label: str, score: Score) -> str:
        return (
            f"{label}: {score.name} {self.score:.4f} on {self.examples} {score.examples}, "
            f"{self.seconds:.1f} s, trained in {self.policy}"
        )


def run_plain(script: str, *arguments: str) -> tuple[dict, float]:
    """Runs `script` (PLAIN_SCRIPT_START and a recipe's lines) with `arguments` in its own Python:
    (the JSON object its last line prints, its seconds from start to exit)."""
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-c", script, *arguments], capture_output=True, text=True, check=True)
    return json.loads(process.stdout.strip().splitlines()[-1]), time.monotonic() - started


def set_arguments(settings: dict[str, object]) -> list[str]:
    """`--set key=value` arguments of `settings`, in order."""
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]


def run_pipeline(pipeline: str, workdir: Path, arguments: list[str]) -> tuple[RunOutcome, float]:
    """`tfpipe run pipeline` on `workdir` with `arguments`: (its outcome, its seconds from the command to
    its exit). SystemExit when it pushed no model: the figure counts everything up to the pushed model."""
    started = time.monotonic()
    subprocess.run(
        [TFPIPE, "run", pipeline, "--workdir", str(workdir), *arguments], check=True, cwd=REPO_ROOT, capture_output=True
    )
    seconds = time.monotonic() - started
    outcome = RunOutcome.read(sorted((workdir / pipeline / "runs").iterdir())[-1])
    if not outcome.results.pushed_model:
        raise SystemExit(f"`tfpipe run {pipeline}` in {workdir} pushed no model ({outcome.status}): no recipe figure")
    return outcome, seconds


def pipeline_side(outcome: RunOutcome, seconds: float, score_key: str, count_key: str, policy: str) -> Side:
    """The pipeline's side: TFMA's `score_key` and `count_key` over the whole eval split."""
    overall = (outcome.results.metrics or {})["overall"]
    components = {name: round(component.seconds or 0.0, 1) for name, component in outcome.components.items()}
    return Side(overall[score_key], int(overall[count_key]), seconds, policy, components)


def latest_model_run(workdir: Path, pipeline: str) -> Path:
    """The Trainer's latest record folder (components/training_record.py)."""
    model_runs = workdir / pipeline / "pipeline_root" / "Trainer" / "model_run"
    return max(model_runs.iterdir(), key=lambda path: int(path.name))


def trained_policy(workdir: Path, pipeline: str) -> str:
    """The dtype policy the Trainer's latest run trained under, from its model_summary.json."""
    from components.training_record import SUMMARY_FILE

    return json.loads((latest_model_run(workdir, pipeline) / SUMMARY_FILE).read_text())["dtype_policy"]


def timed_steps(workdir: Path, pipeline: str) -> dict[str, Value]:
    """`model.precision=auto`'s timed training step per policy in the Trainer's latest run, as figures
    (none where it chose without timing: components/models/images/model.py's measured_policy)."""
    from components.training_record import read_metrics

    return {
        f"pipeline's timed training step under {name.removeprefix('precision.').removesuffix('_ms_per_step')} (ms)": (
            round(value, 1)
        )
        for name, value in read_metrics(str(latest_model_run(workdir, pipeline))).items()
        if name.startswith("precision.")
    }


def compare(benchmark: str, score: Score, settings: dict[str, Value], plain: Side, pipeline: Side) -> Results:
    """Prints the pipeline's side and the ratio (the plain side is printed as it ends); the figures of one
    run: `settings` (the recipe's, e.g. its epochs) first, then each side's, the pipeline's seconds outside
    its components, the ratio, and its seconds per component."""
    print(pipeline.line("whole pipeline", score))
    outside = pipeline.seconds - sum(pipeline.components.values())
    print(f"  components: {pipeline.components}; outside them {outside:.1f} s")
    ratio = pipeline.seconds / plain.seconds
    print(f"wall-time ratio pipeline / plain: {ratio:.2f}")
    recorded = Results(benchmark)
    for name, value in settings.items():
        recorded.figure(name, value)
    for label, side in (("plain Keras script", plain), ("whole pipeline", pipeline)):
        recorded.figure(f"{label}, {score.name} on {side.examples} {score.examples}", round(side.score, 4), score.unit)
        recorded.figure(f"{label}, wall", round(side.seconds, 1), "s")
        recorded.figure(f"{label}, trained in", side.policy)
    # What no component's time holds: the command's start-up, orchestration between components.
    recorded.figure("whole pipeline, outside its components", round(outside, 1), "s")
    recorded.figure("wall-time ratio pipeline / plain", round(ratio, 2))
    recorded.table(
        "The pipeline's seconds per component",
        ["component", "seconds"],
        [[name, seconds] for name, seconds in pipeline.components.items()],
    )
    return recorded


def image_recipe_settings(
    model_name: str, train_images: int, eval_images: int, epochs: int, precision: str
) -> dict[str, object]:
    """`tfpipe run` settings of an image pipeline for the notes' recipe: the zoo model `model_name`, Adam
    at a constant 0.001, batch 32, as many steps as `epochs` passes over `train_images`, every eval image
    scored after each epoch, no augmentation, no autoencoder, no early stopping; blessed whatever its accuracy,
    so the run ends with the pushed model as the script ends with its trained one."""
    no_augmentation = {
        f"augmentation.{field.name}": "false" if isinstance(field.default, bool) else 0
        for field in dataclasses.fields(AugmentationConfig)
    }
    return {
        "model.name": model_name,
        "model.learning_rate": NOTES_LEARNING_RATE,
        "model.learning_rate_schedule": "constant",
        "model.batch_size": NOTES_IMAGE_BATCH,
        "model.precision": precision,
        "epochs": epochs,
        "train_steps": epochs * math.ceil(train_images / NOTES_IMAGE_BATCH),
        "eval_steps": math.ceil(eval_images / NOTES_IMAGE_BATCH),
        **no_augmentation,
        # The notes train the classifier alone; the autoencoder would train as many steps again.
        "autoencoder.enabled": "false",
        "early_stopping.enabled": "false",
        "blessing_threshold": 0.0,
    }


def image_recipe_main(benchmark: str, description: str, pipeline: str, plain_script: str, model_name: str) -> None:
    """An image recipe's command line: the notes' `plain_script` (LOAD_IMAGES, the recipe's model,
    FIT_AND_SCORE_IMAGES) on the pipeline's shipped splits, then `tfpipe run pipeline` with the zoo's
    `model_name` and image_recipe_settings for as many images as the script read; prints both and writes
    the figures to --results-fp."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=5, help="the notes' 5 by default")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="the pipeline's model.precision (default auto: bfloat16 where the CPU has the units); "
        "the plain script trains in float32, as the notes",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="default: a fresh temporary folder")
    add_results_option(parser)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"{benchmark.replace('_', '-')}-"))
    config = config_for(pipeline)
    assert isinstance(config, ImageConfig), f"{pipeline} is not an image pipeline"
    data = REPO_ROOT / config.data_dir
    splits = [str(data / f"{pipeline}_{split}.tfrecord.gz") for split in ("train", "test")]
    printed, seconds = run_plain(plain_script, *splits, str(config.channels), str(args.epochs), str(workdir / "plain"))
    plain = Side(printed["accuracy"], printed["images"], seconds, printed["policy"])
    print(plain.line("plain Keras script", ACCURACY), flush=True)
    settings = image_recipe_settings(
        model_name, printed["train_images"], printed["images"], args.epochs, args.precision
    )
    outcome, seconds = run_pipeline(pipeline, workdir / "pipeline", set_arguments(settings))
    policy = trained_policy(workdir / "pipeline", pipeline)
    side = pipeline_side(outcome, seconds, "sparse_categorical_accuracy", "example_count", policy)
    figures = {"epochs": args.epochs, "pipeline's model.precision": args.precision}
    figures |= timed_steps(workdir / "pipeline", pipeline)
    compare(benchmark, ACCURACY, figures, plain, side).write(args.results_fp)
