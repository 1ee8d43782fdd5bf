"""Inputs unlike the training images: the share of images each image model flags `unlike_training_data`,
on its own unseen test images, on the other data set's images and on CIFAR-10's photos, and the share above
each score's threshold (the autoencoder's reconstruction error, the classifier's feature distance).

Run: .venv/bin/python benchmarks/unfamiliar_inputs.py [--workdir DIR] [--set KEY=VALUE ...] [--results-fp PATH]
Trains the mnist and fashion_mnist pipelines with their defaults (`tfpipe run` each on its own workdir
under DIR, `--set` values added to both: about 25 min on 2 cores) unless DIR already holds the model such a
run pushed, then sends each model its images the way `tfpipe predict` does: each image a PNG file, made into
a request by the pipeline's own prediction_inputs module, answered by the latest pushed version's
serving_default. The images, chosen before any result was seen, are the shipped test files:
  mnist          its eval split, data/mnist/mnist_test.tfrecord.gz (1,000 digits it never trained on), and
                 data/fashion_mnist/fashion_mnist_test.tfrecord.gz (5,000 garments)
  fashion_mnist  its eval split, data/fashion_mnist/fashion_mnist_test.tfrecord.gz (5,000 garments it never
                 trained on), and both shipped MNIST files (6,000 digits, none of which it saw)
and, for both, data/cifar10/cifar10_test.tfrecord.gz (5,000 photos, made grayscale and 28x28 by the
pipeline's Transform graph), the pair `autoencoder.score`'s default was chosen on (docs/pipelines.md).
Prints and records the share flagged for each, the share above each score's threshold, the median of each
score and its threshold, and the seconds the scores took in the Trainer (autoencoder.json in its record)
beside the Trainer's.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from results import Results, Value, add_results_option

REPO_ROOT = Path(__file__).resolve().parents[1]
TFPIPE = str(Path(sys.executable).parent / "tfpipe")
DATA = REPO_ROOT / "data"
MNIST_TEST = [DATA / "mnist" / "mnist_test.tfrecord.gz"]
MNIST_ALL = [DATA / "mnist" / "mnist_train.tfrecord.gz", *MNIST_TEST]
FASHION_TEST = [DATA / "fashion_mnist" / "fashion_mnist_test.tfrecord.gz"]
CIFAR10_TEST = [DATA / "cifar10" / "cifar10_test.tfrecord.gz"]
# (model, images shown, their files, whether the model trained on images like them)
CHECKS = (
    ("mnist", "MNIST test digits (its eval split)", MNIST_TEST, True),
    ("mnist", "Fashion-MNIST test images", FASHION_TEST, False),
    ("fashion_mnist", "Fashion-MNIST test images (its eval split)", FASHION_TEST, True),
    ("fashion_mnist", "MNIST digits (all 6,000 shipped)", MNIST_ALL, False),
    ("mnist", "CIFAR-10 test photos", CIFAR10_TEST, False),
    ("fashion_mnist", "CIFAR-10 test photos", CIFAR10_TEST, False),
)
# The serving outputs of each score and its threshold (components/models/images/features.py).
SCORES = {"reconstruction_error": "reconstruction_threshold", "feature_distance": "feature_distance_threshold"}
COLUMNS = [
    "model",
    "images shown",
    "like its training images",
    "images",
    "share flagged",
    "above the reconstruction threshold",
    "above the feature-distance threshold",
    "median error",
    "error threshold",
    "median feature distance",
    "feature-distance threshold",
]
COST_COLUMNS = ["model", "Trainer seconds", "of which the two scores", "their share of the Trainer"]
_BATCH = 256


def pushed_version(workdir: Path, pipeline: str, overrides: list[str]) -> Path:
    """The latest version the pipeline's run pushed in `workdir`, running it first if none was pushed."""
    from serving.predict import latest_version

    version = latest_version(workdir / "serving" / pipeline)
    if version is None:
        arguments = [item for override in overrides for item in ("--set", override)]
        subprocess.run([TFPIPE, "run", pipeline, "--workdir", str(workdir), *arguments], check=True, cwd=REPO_ROOT)
        version = latest_version(workdir / "serving" / pipeline)
    if version is None:
        raise SystemExit(f"The {pipeline} run in {workdir} pushed no model (not blessed?); see its log.")
    return version


def training_cost(workdir: Path, pipeline: str) -> list[Value]:
    """The Trainer's seconds in the run that trained the pushed model, and the scores' part of them."""
    from pipelines.outcome import RunOutcome

    outcomes = [RunOutcome.read(run) for run in sorted((workdir / pipeline / "runs").iterdir())]
    trainer = [outcome.components["Trainer"] for outcome in outcomes if "Trainer" in outcome.components][-1]
    # The newest Trainer execution's record: folders are named by execution id.
    records = (workdir / pipeline / "pipeline_root" / "Trainer" / "model_run").glob("*/autoencoder.json")
    newest = max(records, key=lambda record: int(record.parent.name))
    scores_seconds = json.loads(newest.read_text())["train_seconds"]
    trainer_seconds = float(trainer.seconds or 0.0)
    return [
        pipeline,
        round(trainer_seconds),
        round(scores_seconds),
        round(scores_seconds / trainer_seconds, 3),
    ]


def write_pngs(record_files: list[Path], folder: Path) -> list[str]:
    """Each record's image, its PNG bytes unchanged, as a file in `folder`: what a user would hand tfpipe predict."""
    import tensorflow as tf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for record in tf.data.TFRecordDataset([str(path) for path in record_files], compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        path = folder / f"{len(paths):05d}.png"
        path.write_bytes(example.features.feature["image"].bytes_list.value[0])
        paths.append(str(path))
    return paths


def flagged(version: Path, pipeline: str, paths: list[str]) -> dict:
    """The serving outputs `unlike_training_data` and each score and its threshold (those the model
    serves) for the image files `paths`."""
    import numpy as np

    from pipelines.registry import config_for
    from serving.predict import load

    config = config_for(pipeline)
    requests = importlib.import_module(config.request_module)
    predict = load(version)
    answers = [
        predict(requests.to_examples(paths[start : start + _BATCH], config)) for start in range(0, len(paths), _BATCH)
    ]
    served = ["unlike_training_data", *(name for pair in SCORES.items() for name in pair if name in answers[0])]
    return {name: np.concatenate([answer[name] for answer in answers]) for name in served}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="run (or find) the pipelines here (default: a temporary folder)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="more --set values for both runs")
    add_results_option(parser)
    args = parser.parse_args()

    import numpy as np

    from components import tf_setup

    tf_setup.configure()
    with contextlib.ExitStack() as stack:
        root = Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory()))
        versions = {
            pipeline: pushed_version(root / pipeline, pipeline, args.overrides)
            for pipeline in ("mnist", "fashion_mnist")
        }
        rows: list[list[Value]] = []
        for index, (pipeline, shown, files, familiar) in enumerate(CHECKS):
            paths = write_pngs(files, root / "images" / str(index))
            outputs = flagged(versions[pipeline], pipeline, paths)
            # A score the model does not serve (autoencoder.score other than either) leaves its columns empty.
            shares: list[Value] = [
                round(float(np.mean(outputs[name] > outputs[threshold])), 4) if name in outputs else None
                for name, threshold in SCORES.items()
            ]
            medians: list[Value] = []
            for name, threshold in SCORES.items():
                served = name in outputs
                medians += [
                    round(float(np.median(outputs[name])), 4) if served else None,
                    round(float(outputs[threshold][0]), 4) if served else None,
                ]
            scores = shares + medians
            rows.append(
                [
                    pipeline,
                    shown,
                    familiar,
                    len(paths),
                    round(float(np.mean(outputs["unlike_training_data"])), 4),
                    *scores,
                ]
            )
            print(
                f"{pipeline} model, {shown}: " + ", ".join(f"{c} {v}" for c, v in zip(COLUMNS[3:], rows[-1][3:])),
                flush=True,
            )
        costs = [training_cost(root / pipeline, pipeline) for pipeline in ("mnist", "fashion_mnist")]
        for pipeline, trainer_seconds, scores_seconds, share in costs:
            print(f"{pipeline}: the Trainer took {trainer_seconds} s, scores {scores_seconds} s ({share:.0%})")

    recorded = Results("unfamiliar_inputs")
    for pipeline, shown, _, _, share, *_ in rows:
        recorded.figure(f"{pipeline} model, {shown}: share flagged", share)
    for pipeline, trainer_seconds, scores_seconds, _ in costs:
        recorded.figure(
            f"{pipeline}: the autoencoder and the feature statistics (of the Trainer's {trainer_seconds} s)",
            scores_seconds,
            "s",
        )
    recorded.table("Share flagged unlike_training_data, through tfpipe predict's path", COLUMNS, rows)
    recorded.table("The scores' cost in the Trainer", COST_COLUMNS, costs)
    recorded.write(args.results_fp)


if __name__ == "__main__":
    main()
