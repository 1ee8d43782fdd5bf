"""The notes' six CNNs (and the cifar10 default, vgg6) trained on CIFAR-10 for the same time each, and
bfloat16 mixed precision against float32: parameters, training images/s, wall time, test accuracy.

  .venv/bin/python benchmarks/image_zoo.py [--budget-s 300] [--models baseline,...] [--compare vgg6] [--results-fp PATH]

Each network is built by the zoo (components/models/images/zoo.py) behind the cifar10 pipeline's
augmentation (flips, shifts of 0.1) and trained with Adam at the notes' step size (0.001), batch 128,
on the 50,000 shipped training photos (data/cifar10) for `--budget-s` seconds of fit() in its
default precision (components/precision.py: bfloat16 where the CPU has AVX-512-BF16 or AMX); the test
accuracy is on the 5,000 shipped test photos, evaluated by the float32 copy the pipeline exports.
`--compare` models are then trained again for the same budget under each policy, and their test
accuracy is given both ways: computed in bfloat16 and by the float32 copy. Images/s counts the
steps after the first 20 (tracing and warm-up), wall time includes them. Prints Markdown tables
and, with --results-fp, writes them as benchmarks/results.py's JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from results import Results, add_results_option

from components import precision, tf_setup
from pipelines.images import NOTES_CNNS

DATA = Path(__file__).resolve().parent.parent / "data" / "cifar10"
BATCH = 128
WARM_UP_STEPS = 20


def load(split: str):
    """(images uint8 [n, 32, 32, 3], labels int64 [n]) of a shipped split."""
    import numpy as np
    import tensorflow as tf

    from components.models.images import features

    spec = {
        features.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
        features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    }
    dataset = tf.data.TFRecordDataset(str(DATA / f"cifar10_{split}.tfrecord.gz"), compression_type="GZIP")
    dataset = dataset.map(lambda record: tf.io.parse_single_example(record, spec)).map(
        lambda example: (tf.io.decode_jpeg(example[features.IMAGE_KEY], channels=3), example[features.LABEL_KEY])
    )
    images, labels = zip(*dataset.as_numpy_iterator())
    return np.stack(images), np.array(labels)


def train(name: str, policy: str, budget_s: float, train_data, test_data, seed: int = 0) -> dict:
    """Trains `name` under `policy` for `budget_s` seconds of fit(); its figures."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from components.models.images.model import build_classifier, float32_copy
    from pipelines.cifar10.config import Cifar10Config

    config = Cifar10Config()
    settings = config.model.__class__(name=name, learning_rate=0.001, batch_size=BATCH, seed=seed)
    keras.utils.set_random_seed(seed)

    def build():
        return build_classifier(settings, config.augmentation, (32, 32, 3), len(config.class_names))

    with precision.keras_policy(policy):
        model = build()
    images, labels = train_data
    batches = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .shuffle(len(labels), seed=seed)
        .repeat()
        .batch(BATCH)
        .map(lambda x, y: (tf.cast(x, tf.float32) / 255, y))
        .prefetch(tf.data.AUTOTUNE)
    )
    began = time.monotonic()
    model.fit(batches, steps_per_epoch=WARM_UP_STEPS, epochs=1, verbose=0)
    warm = time.monotonic()
    steps, chunk = 0, 50
    while time.monotonic() - began < budget_s:
        model.fit(batches, steps_per_epoch=chunk, epochs=1, verbose=0)
        steps += chunk
    ended = time.monotonic()
    test_images = test_data[0].astype(np.float32) / 255

    def accuracy(classifier) -> float:
        probabilities = classifier.predict(test_images, batch_size=500, verbose=0)
        return float(np.mean(np.argmax(probabilities, axis=1) == test_data[1]))

    exported = model if policy == precision.FLOAT32_POLICY else float32_copy(model, build)
    return {
        "model": name,
        "policy": policy,
        "parameters": model.count_params(),
        "images_per_s": steps * BATCH / max(ended - warm, 1e-9),
        "wall_s": ended - began,
        "epochs": (WARM_UP_STEPS + steps) * BATCH / len(labels),
        "accuracy_float32": accuracy(exported),
        "accuracy_as_trained": accuracy(model),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=300, help="seconds of training per network (default 300)")
    parser.add_argument("--models", default=",".join(NOTES_CNNS), help="the networks of the equal-time table")
    parser.add_argument("--compare", default="vgg6", help="networks trained both ways, bfloat16 and float32")
    add_results_option(parser)
    args = parser.parse_args()
    recorded = Results("image_zoo")
    tf_setup.configure()
    train_data, test_data = load("train"), load("test")
    flags = precision.cpu_bf16_flags()
    print(
        f"CPU bfloat16 units: {', '.join(flags) or 'none'}; {len(train_data[1]):,} training photos, "
        f"{len(test_data[1]):,} test photos; {args.budget_s:g} s of training each, batch {BATCH}, Adam 0.001."
    )
    print()
    recorded.figure("training budget per network", args.budget_s, "s")
    recorded.figure("CPU bfloat16 units", ", ".join(flags) or "none")
    print("| network | precision | parameters | images/s | wall s | epochs | test accuracy |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    equal_time = []
    for name in filter(None, args.models.split(",")):
        policy = precision.policy_name(precision.AUTO, recurrent=False, cpu_flags=flags)
        row = train(name, policy, args.budget_s, train_data, test_data)
        equal_time.append(
            [
                name,
                policy,
                row["parameters"],
                round(row["images_per_s"]),
                round(row["wall_s"]),
                round(row["epochs"], 1),
                round(row["accuracy_float32"], 4),
            ]
        )
        print(
            f"| {name} | {policy} | {row['parameters']:,} | {row['images_per_s']:,.0f} | {row['wall_s']:.0f} | "
            f"{row['epochs']:.1f} | {row['accuracy_float32']:.3f} |",
            flush=True,
        )
    print()
    print("| network | trained in | images/s | epochs | test accuracy computed as trained | by the float32 copy |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    both_ways = []
    for name in filter(None, args.compare.split(",")):
        for policy in (precision.MIXED_POLICY, precision.FLOAT32_POLICY):
            row = train(name, policy, args.budget_s, train_data, test_data)
            both_ways.append(
                [
                    name,
                    policy,
                    round(row["images_per_s"]),
                    round(row["epochs"], 1),
                    round(row["accuracy_as_trained"], 4),
                    round(row["accuracy_float32"], 4),
                ]
            )
            print(
                f"| {name} | {policy} | {row['images_per_s']:,.0f} | {row['epochs']:.1f} | "
                f"{row['accuracy_as_trained']:.3f} | {row['accuracy_float32']:.3f} |",
                flush=True,
            )
    recorded.table(
        "The notes' CNNs at equal time (test accuracy by the float32 copy)",
        ["network", "precision", "parameters", "images/s", "wall s", "epochs", "test accuracy"],
        equal_time,
    )
    recorded.table(
        "bfloat16 against float32, same budget",
        ["network", "trained in", "images/s", "epochs", "test accuracy as trained", "by the float32 copy"],
        both_ways,
    )
    recorded.write(args.results_fp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
