"""Whether an input is like the training images: the autoencoder's reconstruction error
(components/models/images/autoencoder.py) and the classifier's own feature distance
(components/models/images/feature_distance.py), each with a threshold from training images held out of
their fit, and the rule `autoencoder.score` that turns them into `unlike_training_data`.

Both are set up after the classifier is trained, in the same Trainer run, and exported in its SavedModel
(components/models/images/model.py). The thresholds come from the train split's every fifth image
(autoencoder.HELD_OUT_EVERY), which neither the autoencoder nor the class statistics were fitted on:
with one score its threshold is the `autoencoder.threshold_percentile`th percentile of their scores; with
`either`, both thresholds are the same percentile q of their own scores, q the smallest at or above it at
which the two together flag no more of those images than one alone would.

The Trainer's record (`model_run`, which MlflowTracker logs): `autoencoder.json` (the rule, the
thresholds, the share of the eval split flagged, the seconds), the figures also in training_record's
metrics file, and a histogram per score of the held-out training images and the eval split
(`reconstruction_errors.png`, `feature_distances.png`) with its threshold.
"""

import dataclasses
import json
import os
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras
from absl import logging
from tensorflow.io import gfile

from components import training_record
from components.models.images import autoencoder, feature_distance, features
from pipelines.images import EITHER, FEATURE_DISTANCE, RECONSTRUCTION, AutoencoderConfig

RECORD_FILE = "autoencoder.json"
DISTANCE_HISTOGRAM_FILE = "feature_distances.png"
# Halvings of the percentile's step when `either` raises the thresholds: far below one image's share.
_SEARCH_STEPS = 40


@dataclasses.dataclass(frozen=True)
class Familiarity:
    """What the serving signatures need to judge an input: the scores the rule reads (None: not computed)
    and each one's threshold, keyed by its serving output."""

    thresholds: dict[str, float]
    autoencoder: keras.Model | None = None
    penultimate_features: keras.Model | None = None
    class_gaussians: feature_distance.ClassGaussians | None = None

    def track_on(self, model: keras.Model) -> None:
        """Keeps the scores' models and statistics on `model` so they are saved with it."""
        if self.autoencoder is not None:
            model.autoencoder = self.autoencoder
        if self.class_gaussians is not None and self.penultimate_features is not None:
            model.penultimate_features = self.penultimate_features
            model.class_gaussians = self.class_gaussians

    # Plain TensorFlow ops inside the serving signatures: not for autograph to convert (see
    # autoencoder.reconstruction_error).
    @tf.autograph.experimental.do_not_convert
    def serving_outputs(self, pixels: tf.Tensor) -> dict[str, tf.Tensor]:
        """What the serving signatures return beside the class probabilities, one value per image: each
        score, its threshold, and `unlike_training_data`, any score above its threshold."""
        scores = {}
        if self.autoencoder is not None:
            scores[features.ERROR_OUTPUT] = autoencoder.reconstruction_error(self.autoencoder, pixels)
        if self.class_gaussians is not None and self.penultimate_features is not None:
            scores[features.DISTANCE_OUTPUT] = self.class_gaussians.distance(self.penultimate_features(pixels))
        outputs = {}
        above = []
        for name, score in scores.items():
            threshold = tf.constant(self.thresholds[name], tf.float32)
            outputs[name] = score
            outputs[features.THRESHOLDS[name]] = tf.fill(tf.shape(score), threshold)
            above.append(score > threshold)
        outputs[features.FLAG_OUTPUT] = tf.reduce_any(tf.stack(above), axis=0)
        return outputs


def thresholds_from(held_out_scores: dict[str, np.ndarray], percentile: float) -> tuple[dict[str, float], float]:
    """Each score's threshold from the held-out training images' scores, so that no more than (100 -
    `percentile`)% of them are above any: the same percentile q of each, q the smallest at or above
    `percentile` that keeps to it (`percentile` itself with one score).

    Returns:
      (thresholds by score, q).
    """
    allowed = 1 - percentile / 100

    def at(level: float) -> tuple[dict[str, float], float]:
        thresholds = {name: float(np.percentile(scores, level)) for name, scores in held_out_scores.items()}
        above = np.any([scores > thresholds[name] for name, scores in held_out_scores.items()], axis=0)
        return thresholds, float(np.mean(above))

    if at(percentile)[1] <= allowed:
        return at(percentile)[0], percentile
    low, high = percentile, 100.0
    for _ in range(_SEARCH_STEPS):
        middle = (low + high) / 2
        low, high = (low, middle) if at(middle)[1] <= allowed else (middle, high)
    return at(high)[0], high


def train(
    settings: AutoencoderConfig,
    classifier: keras.Model,
    fn_args,
    transform_output,
    input_shape: tuple[int, int, int],
    class_count: int,
    batch_size: int,
    seed: int,
    in_memory: bool,
) -> Familiarity:
    """Fits the scores `settings.score` reads on the train split but its held-out images: the autoencoder
    (`settings`) and the class statistics of the trained `classifier`'s penultimate features; sets their
    thresholds from the held-out images and writes the record above to `fn_args.model_run_dir`."""
    held_out_images = autoencoder.held_out_images(fn_args, transform_output, held_out=True).batch(
        autoencoder.READ_BATCH
    )
    evaluation = autoencoder.split_pixels(fn_args.eval_files, fn_args.data_accessor, transform_output)
    held_out, on_eval, seconds = {}, {}, {}
    fitted = {}
    if settings.score in (RECONSTRUCTION, EITHER):
        started = time.monotonic()
        fitted["autoencoder"] = autoencoder.train(
            settings, fn_args, transform_output, input_shape, batch_size, seed, in_memory
        )
        held_out[features.ERROR_OUTPUT] = autoencoder.errors_over(fitted["autoencoder"], held_out_images)
        seconds["autoencoder_seconds"] = time.monotonic() - started
        on_eval[features.ERROR_OUTPUT] = autoencoder.errors_over(fitted["autoencoder"], evaluation)
    # `either` reads the scores the classifier can serve: the notes' subclassed Baseline has no penultimate layer.
    if settings.score == FEATURE_DISTANCE or (
        settings.score == EITHER and feature_distance.has_penultimate(classifier)
    ):
        started = time.monotonic()
        penultimate = feature_distance.penultimate(classifier)
        fitted_examples = autoencoder.held_out_examples(fn_args, transform_output, held_out=False)
        gaussians = feature_distance.fit(penultimate, fitted_examples.batch(autoencoder.READ_BATCH), class_count)
        fitted.update(penultimate_features=penultimate, class_gaussians=gaussians)
        held_out[features.DISTANCE_OUTPUT] = feature_distance.distances_over(penultimate, gaussians, held_out_images)
        seconds["feature_distance_seconds"] = time.monotonic() - started
        on_eval[features.DISTANCE_OUTPUT] = feature_distance.distances_over(penultimate, gaussians, evaluation)
    thresholds, score_percentile = thresholds_from(held_out, settings.threshold_percentile)
    familiarity = Familiarity(thresholds, **fitted)
    flagged = np.any([on_eval[name] > thresholds[name] for name in on_eval], axis=0)
    record = {
        "score": settings.score,
        "threshold_percentile": settings.threshold_percentile,
        "score_percentile": score_percentile,
        "threshold_images": len(next(iter(held_out.values()))),
        "eval_images": len(flagged),
        "eval_share_flagged": float(np.mean(flagged)),
        **{f"{name}_threshold": thresholds[name] for name in thresholds},
        **{f"eval_median_{name}": float(np.median(values)) for name, values in on_eval.items()},
        **{
            f"eval_share_above_{name}_threshold": float(np.mean(values > thresholds[name]))
            for name, values in on_eval.items()
        },
        **(
            {"code_size": settings.code_size, "train_steps": settings.train_steps or fn_args.train_steps}
            if familiarity.autoencoder
            else {}
        ),
        **{name: round(value, 1) for name, value in seconds.items()},
        # The Trainer seconds both scores cost together.
        "train_seconds": round(sum(seconds.values()), 1),
    }
    _write_record(record, fn_args.model_run_dir)
    for name, histogram in (
        (features.ERROR_OUTPUT, autoencoder.HISTOGRAM_FILE),
        (features.DISTANCE_OUTPUT, DISTANCE_HISTOGRAM_FILE),
    ):
        if name in held_out:
            plot_scores(
                name, held_out[name], on_eval[name], thresholds[name], os.path.join(fn_args.model_run_dir, histogram)
            )
    if familiarity.autoencoder is not None:
        autoencoder.plot_worst_reconstructed(
            familiarity.autoencoder,
            evaluation,
            on_eval[features.ERROR_OUTPUT],
            thresholds[features.ERROR_OUTPUT],
            os.path.join(fn_args.model_run_dir, autoencoder.WORST_FILE),
        )
    logging.info(
        "Unlike the training images (%s): thresholds %s; %.1f%% of the eval split flagged",
        settings.score,
        thresholds,
        100 * record["eval_share_flagged"],
    )
    return familiarity


def _write_record(record: dict, model_run_dir: str) -> None:
    gfile.makedirs(model_run_dir)
    with gfile.GFile(os.path.join(model_run_dir, RECORD_FILE), "w") as f:
        json.dump(record, f, indent=2)
    metrics = {
        "autoencoder.eval_share_flagged": record["eval_share_flagged"],
        "autoencoder.train_seconds": record["train_seconds"],
    }
    if f"{features.ERROR_OUTPUT}_threshold" in record:
        metrics["autoencoder.threshold"] = record[f"{features.ERROR_OUTPUT}_threshold"]
        metrics["autoencoder.eval_median_error"] = record[f"eval_median_{features.ERROR_OUTPUT}"]
    if f"{features.DISTANCE_OUTPUT}_threshold" in record:
        metrics["autoencoder.feature_distance_threshold"] = record[f"{features.DISTANCE_OUTPUT}_threshold"]
        metrics["autoencoder.eval_median_feature_distance"] = record[f"eval_median_{features.DISTANCE_OUTPUT}"]
    training_record.write_metrics(metrics, model_run_dir)


_AXIS_WORDS = {
    features.ERROR_OUTPUT: "reconstruction error (mean squared pixel difference)",
    features.DISTANCE_OUTPUT: "feature distance (squared Mahalanobis distance to the nearest class)",
}


def plot_scores(name: str, held_out: np.ndarray, on_eval: np.ndarray, threshold: float, path: str) -> None:
    """A histogram of one score over the held-out training images and the eval split, with its threshold."""
    plt = training_record.pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, max(held_out.max(), on_eval.max(), threshold) * 1.05, 60)
    axis.hist(held_out, bins=bins, density=True, alpha=0.5, label=f"held-out training images ({len(held_out)})")
    axis.hist(on_eval, bins=bins, density=True, alpha=0.5, label=f"eval split ({len(on_eval)})")
    axis.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    axis.set_xlabel(_AXIS_WORDS[name])
    axis.set_ylabel("share of images (density)")
    axis.set_title(f"{np.mean(on_eval > threshold):.1%} of the eval split above the threshold")
    axis.legend()
    figure.tight_layout()
    with gfile.GFile(path, "wb") as f:
        figure.savefig(f, format="png", dpi=100)
    plt.close(figure)
