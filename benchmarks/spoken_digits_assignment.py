"""The course assignment's format, 40 spectrogram PNGs to train and 20 to test: AudioNet fine-tuned from the
spoken_digits model against AudioNet trained on the 40 from scratch.

Run: .venv/bin/python benchmarks/spoken_digits_assignment.py [--seeds 0,1,2] [--set KEY=VALUE ...]
     [--results-fp PATH]

The PNGs are the assignment's (components/models/spoken_digits/spectrogram_images.py): to train, one
recording of each digit by jackson, nicolas, theo and yweweler; to test, two of each digit by george.
The spoken_digits model is the Trainer's, trained as the pipeline trains it on every recording of the
four voices, george held out (benchmarks/spoken_digits_loso.py's `train`), with the config and its
`--set` values. A PNG is read back as the image the assignment gives (8-bit grey, min-max scaled per
image), each mel band then standardised with the 40 training images' mean and variance, as the
Transform standardises with the train split's. Three ways to the 20 test images, each scored on them:
  - the spoken_digits model as it is (no fine-tuning);
  - fine-tuned: that model trained further on the 40, all layers, `--fine-tune-steps` at a tenth of its
    learning rate, its augmentation on;
  - from scratch: AudioNet with the same settings trained on the 40 alone for `train_steps`.
Fine-tuning and training from scratch are seeded with each of `--seeds`; every seed's score is kept.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from results import Results, add_results_option
from spoken_digits_loso import Variant, accuracy, recordings, spectrograms, standardise, train

from pipelines.config import REPO_ROOT, apply_overrides
from pipelines.spoken_digits.config import SpokenDigitsConfig

TEST_VOICE = "george"
COLUMNS = ["model", "seed", "test accuracy (20)", "training s"]


def read_pngs(folder: Path, class_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A split's PNGs -> ([images, frames, mel bins] in 0-1, labels): the image's columns are frames, its rows
    mel bands with the lowest at the bottom."""
    images, labels = [], []
    for label, name in enumerate(class_names):
        for path in sorted((folder / name).glob("*.png")):
            pixels = np.asarray(Image.open(path), np.float32) / 255
            images.append(pixels[::-1].T)
            labels.append(label)
    return np.stack(images), np.array(labels)


def fine_tune(classifier, config: SpokenDigitsConfig, images: np.ndarray, labels: np.ndarray, steps: int, seed: int):
    """`classifier` trained further on `images` at a tenth of its learning rate, batches of the 40 shuffled."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    classifier.compile(
        optimizer=keras.optimizers.Adam(config.model.learning_rate / 10),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    batches = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(len(labels), seed=seed).batch(20).repeat()
    classifier.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)
    return classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", default="0,1,2", help="comma-separated seeds of fine-tuning and training from scratch"
    )
    parser.add_argument("--fine-tune-steps", type=int, default=100, help="steps of fine-tuning (batches of 20)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="spoken_digits --set values")
    add_results_option(parser)
    args = parser.parse_args()
    import tf_keras as keras

    from components import tf_setup
    from components.models.spoken_digits import spectrogram_images

    tf_setup.configure()
    config = Variant("", tuple(args.overrides)).config()
    with tempfile.TemporaryDirectory() as folder:
        spectrogram_images.write_class_folders(REPO_ROOT / config.data_dir, Path(folder), config)
        train_images, train_labels = read_pngs(Path(folder) / "train", config.class_names)
        test_images, test_labels = read_pngs(Path(folder) / "test", config.class_names)
    train_images, test_images = standardise(train_images, test_images)

    wav_files, labels, voices = recordings(config)
    held_out = voices == TEST_VOICE
    features = spectrograms(wav_files, config)
    four_voices, _ = standardise(features[~held_out], features[held_out])
    base, base_seconds = train(config, four_voices, labels[~held_out])
    weights = base.get_weights()
    rows = [
        [
            "spoken_digits model, not fine-tuned",
            config.model.seed,
            accuracy(base, test_images, test_labels),
            round(base_seconds),
        ]
    ]
    for seed in (int(value) for value in args.seeds.split(",")):
        tuned = keras.models.clone_model(base)
        tuned.set_weights(weights)
        tuned = fine_tune(tuned, config, train_images, train_labels, args.fine_tune_steps, seed)
        rows.append(["fine-tuned from the spoken_digits model", seed, accuracy(tuned, test_images, test_labels), None])
        scratch_config = apply_overrides(config, [f"model.seed={seed}"])
        assert isinstance(scratch_config, SpokenDigitsConfig)
        scratch, seconds = train(scratch_config, train_images, train_labels)
        rows.append(["from scratch on the 40", seed, accuracy(scratch, test_images, test_labels), round(seconds)])
        print(f"seed {seed}: fine-tuned {rows[-2][2]:.2f}, from scratch {rows[-1][2]:.2f}", flush=True)
    recorded = Results("spoken_digits_assignment")
    recorded.figure("spoken_digits model, not fine-tuned: accuracy", round(rows[0][2], 3))
    for name in ("fine-tuned from the spoken_digits model", "from scratch on the 40"):
        scores = [row[2] for row in rows if row[0] == name]
        recorded.figure(f"{name}: mean accuracy over seeds", round(statistics.mean(scores), 3))
        recorded.figure(f"{name}: lowest accuracy over seeds", round(min(scores), 3))
    recorded.table(
        "The assignment's 20 test spectrograms (george)",
        COLUMNS,
        [[*row[:2], round(row[2], 3), row[3]] for row in rows],
    )
    for row in rows:
        print(f"{row[0]:<42} seed {row[1]}: {row[2]:.3f}")
    recorded.write(args.results_fp)


if __name__ == "__main__":
    main()
