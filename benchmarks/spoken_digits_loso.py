"""Spoken digits, leave one speaker out: the Trainer's model trained on four FSDD voices and scored on every
recording of the fifth, each voice in turn; mean, worst and per voice, for each configuration asked for.

Run: .venv/bin/python benchmarks/spoken_digits_loso.py [--variant 'LABEL|KEY=VALUE|KEY=VALUE' ...]
     [--speakers george,jackson,...] [--extra-train-dir FOLDER] [--log PATH] [--results-fp PATH]
     .venv/bin/python benchmarks/spoken_digits_loso.py --from-log PATH [--results-fp PATH]

Each `--variant` is a label and `--set` values of the spoken_digits config (no values: the defaults);
without any, the defaults alone. For each variant and held-out voice it runs what the pipeline runs,
without the TFX machinery around it: the Transform's per-recording spectrogram
(`preprocessing.recording_spectrograms`), each mel band standardised with the mean and variance of the
training voices' frames (what `tft.mean` and `tft.var` compute over the train split), then the Trainer's
`build_classifier` and `training_batches`, fit for `train_steps` in `epochs` with the config's seed,
batches shuffled as the Trainer shuffles them. The score is the accuracy on all 500 recordings of the
held-out voice; the time is the fit's alone, one training at a time. `--extra-train-dir` adds a folder's
recordings (same names and format, e.g. data/spoken_digits_synthetic) to the train side of every fold,
through the same spectrogram and standardisation: they are never scored, the held-out voice is always one
of the shipped ones.

The protocol was fixed before any result: five folds, one per shipped voice, every recording of the
held-out voice scored; a variant is reported by the mean over the five and the worst voice, and
every fold is kept. `--log` keeps each fold as a JSON line (accuracy, training seconds, confusion
matrix) and reuses a fold only when the variant's settings, the extra training recordings and the code
it runs (the spoken_digits module code and config) are unchanged; `--from-log` trains nothing and
reports every variant of a log. About 30 s a fold on 2 idle cores: 2.5 min a configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import statistics
import time
from pathlib import Path

import numpy as np
from results import Results, Value, add_results_option
from spoken_digits_speakers import SPEAKERS

from pipelines.config import REPO_ROOT, apply_overrides
from pipelines.registry import config_for
from pipelines.spoken_digits.config import SpokenDigitsConfig

# The code a fold's figures depend on: a fold in the log is reused only while these are unchanged.
CODE = (
    "components/models/spoken_digits/preprocessing.py",
    "components/models/spoken_digits/audionet.py",
    "components/models/spoken_digits/model.py",
    "pipelines/spoken_digits/config.py",
)
COLUMNS = ["variant", "settings", "mean", "worst", *SPEAKERS, "training s per run", "code"]
# Recordings turned into spectrograms at a time.
_BATCH = 250


@dataclasses.dataclass(frozen=True)
class Variant:
    label: str
    overrides: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Variant:
        label, *overrides = text.split("|")
        return cls(label.strip(), tuple(item.strip() for item in overrides if item.strip()))

    def config(self) -> SpokenDigitsConfig:
        config = apply_overrides(config_for("spoken_digits"), list(self.overrides))
        config.check()
        return config  # type: ignore[return-value]


def code_version() -> str:
    digest = hashlib.sha256()
    for path in CODE:
        digest.update((REPO_ROOT / path).read_bytes())
    return digest.hexdigest()[:16]


def extra_train_version(folder: Path) -> str:
    """A digest of the folder's recordings, names and bytes: a fold trained on them is reused while it holds."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.wav")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def recordings(config: SpokenDigitsConfig, folder: Path | None = None) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """The recordings of `folder` (default: the shipped ones): WAV bytes, labels, speakers (from
    `<digit>_<speaker>_<take>.wav`)."""
    paths = sorted((folder or REPO_ROOT / config.data_dir).glob("*.wav"))
    if not paths:
        raise SystemExit(f"{folder}: no `<digit>_<speaker>_<take>.wav` recordings found.")
    names = [path.stem.split("_") for path in paths]
    labels = np.array([config.class_names.index(name[0]) for name in names])
    return [path.read_bytes() for path in paths], labels, np.array([name[1] for name in names])


def spectrograms(wav_files: list[bytes], config: SpokenDigitsConfig) -> np.ndarray:
    """The Transform's per-recording spectrograms, [recordings, frames, mel bins]."""
    import tensorflow as tf

    from components.models.spoken_digits import preprocessing

    transform = config.transform_config()
    parts = [
        preprocessing.recording_spectrograms(tf.constant(wav_files[start : start + _BATCH]), transform).numpy()
        for start in range(0, len(wav_files), _BATCH)
    ]
    return np.concatenate(parts)


def standardise(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both standardised per mel band with the train frames' mean and (population) variance, as
    preprocessing_fn does with tft.mean and tft.var over the train split."""
    from components.models.spoken_digits import preprocessing

    bands = train.reshape(-1, train.shape[-1]).astype(np.float64)
    mean, variance = bands.mean(axis=0), bands.var(axis=0)
    scale = 1 / np.sqrt(variance + preprocessing.VARIANCE_FLOOR)
    return (
        ((train - mean) * scale)[..., np.newaxis].astype(np.float32),
        ((other - mean) * scale)[..., np.newaxis].astype(np.float32),
    )


def train(config: SpokenDigitsConfig, spectrograms: np.ndarray, labels: np.ndarray):
    """The Trainer's classifier for `config`, fit on standardised `spectrograms` [n, frames, bins, 1] as
    run_fn fits it: seeded, shuffled, `train_steps` in `epochs`. Returns (classifier, seconds of fit)."""
    import tensorflow as tf
    import tf_keras as keras

    from components.models import training
    from components.models.spoken_digits import model as spoken_model

    keras.utils.set_random_seed(config.model.seed)
    classifier = spoken_model.build_classifier(
        config.model,
        config.augmentation,
        config.spectrogram_shape,
        len(config.class_names),
        config.train_steps,
        spoken_model.mel_edges_hertz(config),
    )
    batches = (
        tf.data.Dataset.from_tensor_slices((spectrograms, labels))
        .cache()
        .shuffle(training._SHUFFLE_BUFFER, seed=config.model.seed, reshuffle_each_iteration=True)
        .batch(config.model.batch_size)
        .repeat()
    )
    batches = spoken_model.training_batches(batches, config.augmentation, config.model.seed)
    epochs = max(1, min(config.epochs, config.train_steps))
    began = time.monotonic()
    classifier.fit(
        batches.prefetch(tf.data.AUTOTUNE), epochs=epochs, steps_per_epoch=config.train_steps // epochs, verbose=0
    )
    return classifier, time.monotonic() - began


def predictions(classifier, spectrograms: np.ndarray) -> np.ndarray:
    return np.argmax(classifier.predict(spectrograms, batch_size=256, verbose=0), axis=1)


def accuracy(classifier, spectrograms: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predictions(classifier, spectrograms) == labels))


def fold(
    config: SpokenDigitsConfig,
    features: np.ndarray,
    labels: np.ndarray,
    held_out: np.ndarray,
    extra_train: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Trains on the recordings not `held_out` and on `extra_train` (spectrograms, labels) if given, scores the
    held-out ones: accuracy, training seconds and the confusion matrix (rows: the digit said, columns: the
    digit answered)."""
    train_features, train_labels = features[~held_out], labels[~held_out]
    if extra_train is not None:
        train_features = np.concatenate([train_features, extra_train[0]])
        train_labels = np.concatenate([train_labels, extra_train[1]])
    train_x, eval_x = standardise(train_features, features[held_out])
    classifier, seconds = train(config, train_x, train_labels)
    predicted = predictions(classifier, eval_x)
    confusion = np.zeros((len(config.class_names),) * 2, int)
    np.add.at(confusion, (labels[held_out], predicted), 1)
    return {
        "accuracy": float(np.mean(predicted == labels[held_out])),
        "seconds": seconds,
        "confusion": confusion.tolist(),
    }


def run_variant(
    variant: Variant, speakers: list[str], log: Path | None, code: str, extra_train_dir: Path | None = None
) -> dict[str, dict]:
    """Each held-out voice's fold of `variant`, from the log where it is there for this `code` (code_version)
    and these extra training recordings."""
    config = variant.config()
    extra = None if extra_train_dir is None else f"{extra_train_dir} {extra_train_version(extra_train_dir)}"
    key = {"overrides": list(variant.overrides), "code": code, "extra_train": extra}
    done: dict[str, dict] = {}
    if log is not None and log.is_file():
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if {"overrides": entry["overrides"], "code": entry["code"], "extra_train": entry.get("extra_train")} == key:
                done[entry["speaker"]] = entry
    missing = [speaker for speaker in speakers if speaker not in done]
    if missing:
        wav_files, labels, voices = recordings(config)
        features = spectrograms(wav_files, config)
        extra_train = None
        if extra_train_dir is not None:
            extra_wav_files, extra_labels, _ = recordings(config, extra_train_dir)
            extra_train = (spectrograms(extra_wav_files, config), extra_labels)
        for speaker in missing:
            result = fold(config, features, labels, voices == speaker, extra_train)
            done[speaker] = {**key, "label": variant.label, "speaker": speaker, **result}
            if log is not None:
                with log.open("a") as f:
                    f.write(json.dumps(done[speaker]) + "\n")
            print(
                f"{variant.label:<24} held out {speaker:<9} accuracy {result['accuracy']:.3f}, "
                f"training {result['seconds']:.0f} s",
                flush=True,
            )
    return {speaker: done[speaker] for speaker in speakers}


def row(variant: Variant, folds: dict[str, dict]) -> list[Value]:
    """One variant's row, in COLUMNS' order (voices not run: None)."""
    accuracies = [folds[speaker]["accuracy"] for speaker in folds]
    codes = sorted({entry["code"] for entry in folds.values()})
    extra = sorted({f"train also on {entry['extra_train']}" for entry in folds.values() if entry.get("extra_train")})
    return [
        variant.label,
        ", ".join([*variant.overrides, *extra]) or "defaults",
        round(statistics.mean(accuracies), 3),
        round(min(accuracies), 3),
        *(round(folds[speaker]["accuracy"], 3) if speaker in folds else None for speaker in SPEAKERS),
        round(statistics.mean(entry["seconds"] for entry in folds.values())),
        ", ".join(codes),
    ]


def logged_variants(log: Path) -> list[tuple[Variant, dict[str, dict]]]:
    """Every variant the log holds, in the order first run, with its folds; one variant per label, settings
    and code version."""
    variants: dict[tuple, tuple[Variant, dict[str, dict]]] = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        key = (entry["label"], tuple(entry["overrides"]), entry["code"], entry.get("extra_train"))
        variants.setdefault(key, (Variant(entry["label"], tuple(entry["overrides"])), {}))[1][entry["speaker"]] = entry
    return list(variants.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="LABEL|KEY=VALUE|...: a configuration to score (repeatable; default: the defaults)",
    )
    parser.add_argument("--speakers", default=",".join(SPEAKERS), help="comma-separated voices to hold out in turn")
    parser.add_argument(
        "--extra-train-dir",
        type=Path,
        help="a folder of more `<digit>_<speaker>_<take>.wav` recordings for every fold's train side, never scored",
    )
    parser.add_argument("--log", type=Path, help="JSON lines of finished folds, reused while the code is unchanged")
    parser.add_argument(
        "--timing-rounds",
        type=int,
        default=0,
        help="score nothing: time each variant's fit (george held out) this many rounds, the variants taking turns",
    )
    parser.add_argument(
        "--from-log", type=Path, help="train nothing: report every variant of this log (each code version apart)"
    )
    add_results_option(parser)
    args = parser.parse_args()
    if args.from_log:
        report(logged_variants(args.from_log), args.results_fp)
        return
    from components import tf_setup

    tf_setup.configure()
    # The code as imported now, before anything could change it on disk.
    from components.models.spoken_digits import model, preprocessing  # noqa: F401

    code = code_version()
    variants = [Variant.parse(text) for text in args.variant] or [Variant("defaults", ())]
    if args.timing_rounds:
        time_fits(variants, args.timing_rounds, args.results_fp)
        return
    speakers = [speaker for speaker in args.speakers.split(",") if speaker]
    report(
        [(variant, run_variant(variant, speakers, args.log, code, args.extra_train_dir)) for variant in variants],
        args.results_fp,
    )


def time_fits(variants: list[Variant], rounds: int, results_fp: Path | None) -> None:
    """The seconds of each variant's fit, the variants taking turns so that a machine's changing load
    falls on all alike; the median of each and its ratio to the first variant's."""
    seconds: dict[str, list[float]] = {variant.label: [] for variant in variants}
    prepared = {}
    for variant in variants:
        config = variant.config()
        wav_files, labels, voices = recordings(config)
        features, held_out = spectrograms(wav_files, config), voices == "george"
        train_x, _ = standardise(features[~held_out], features[held_out])
        prepared[variant.label] = (config, train_x, labels[~held_out])
    for turn in range(rounds):
        for variant in variants:
            config, train_x, train_labels = prepared[variant.label]
            seconds[variant.label].append(train(config, train_x, train_labels)[1])
            print(f"round {turn + 1}: {variant.label} {seconds[variant.label][-1]:.1f} s", flush=True)
    recorded = Results("spoken_digits_loso_timing")
    first = statistics.median(seconds[variants[0].label])
    rows: list[list[Value]] = []
    for variant in variants:
        median = statistics.median(seconds[variant.label])
        rows.append(
            [variant.label, ", ".join(variant.overrides) or "defaults", round(median, 1), round(median / first, 2)]
        )
        recorded.figure(f"{variant.label}: training per run, median", round(median, 1), "s")
        print(f"{variant.label}: median {median:.1f} s, {median / first:.2f}x {variants[0].label}", flush=True)
    recorded.table(
        "Seconds of each fit (george held out), variants taking turns",
        ["variant", "settings", "median s", f"x {variants[0].label}"],
        rows,
    )
    recorded.write(results_fp)


def report(variants: list[tuple[Variant, dict[str, dict]]], results_fp: Path | None) -> None:
    """Prints and records each variant's mean, worst voice and training time, and the table of every fold."""
    recorded = Results("spoken_digits_loso")
    rows = []
    for variant, folds in variants:
        rows.append(row(variant, folds))
        label, _, mean, worst, *_, seconds, _ = rows[-1]
        print(f"{label}: mean {mean:.3f}, worst {worst:.3f}; training {seconds} s per run", flush=True)
        recorded.figure(f"{label}: mean", mean)
        recorded.figure(f"{label}: worst voice", worst)
        recorded.figure(f"{label}: training per run", seconds, "s")
    recorded.table("Accuracy on each held-out voice (all 500 of its recordings)", COLUMNS, rows)
    recorded.write(results_fp)


if __name__ == "__main__":
    main()
