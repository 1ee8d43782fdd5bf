"""Writes data/mnist/: 6,000 real MNIST digits as gzipped TFRecord files of tf.Examples, train and test.

Run from the repository root: `.venv/bin/python data/make_mnist.py [SOURCE]`, SOURCE being the
folder of PNG files (default /work/shared/data/mnist/images).
The source is a copy of github.com/robbertstruyven/mnist_pngs (PNG files of the 10,000-image MNIST
test set, commit 3373138ae94a): its first 6,000 images, `NNNNNN-numD.png`, D being the label,
28x28 8-bit grayscale, white digit on black. MNIST (Yann LeCun, Corinna Cortes, Christopher
Burges) is available under Creative Commons Attribution-ShareAlike 3.0.
The layout is one the pipeline reads as given train and eval splits (components/example_gen/layouts.py):
  data/mnist/mnist_train.tfrecord.gz   5,000 examples
  data/mnist/mnist_test.tfrecord.gz    1,000 examples
Each example has the features the image example gen writes: `image` (the PNG file's bytes,
unchanged), `label` (int64, 0-9), `height`, `width` and `channels` (int64: 28, 28, 1).
The split is the file names sorted, then shuffled with a fixed seed: the first 5,000 train, the
other 1,000 test. Each split is written in file name order, its examples serialized
deterministically (protobuf map order is not otherwise fixed), so the files are the same bytes every time.
"""

import re
import sys
from io import BytesIO
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

SOURCE = Path("/work/shared/data/mnist/images")
TARGET = Path(__file__).parent / "mnist"
NAME = re.compile(r"^\d{6}-num(\d)\.png$")
SEED = 20240601
TRAIN_COUNT, TEST_COUNT = 5000, 1000


def _example(png: bytes, label: int) -> tf.train.Example:
    image = Image.open(BytesIO(png))
    image.load()
    if image.mode != "L" or image.size != (28, 28):
        raise ValueError(f"expected a 28x28 8-bit grayscale PNG, got mode {image.mode} size {image.size}")
    width, height = image.size

    def int64(value: int) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
                "label": int64(label),
                "height": int64(height),
                "width": int64(width),
                "channels": int64(1),
            }
        )
    )


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    names = sorted(path.name for path in source.glob("*.png"))
    if len(names) != TRAIN_COUNT + TEST_COUNT:
        raise SystemExit(f"expected {TRAIN_COUNT + TEST_COUNT} PNG files in {source}, found {len(names)}")
    unnamed = [name for name in names if not NAME.match(name)]
    if unnamed:
        raise SystemExit(f"file names not of the form NNNNNN-numD.png: {unnamed[:5]}")
    order = np.random.default_rng(SEED).permutation(len(names))
    splits = {
        "train": sorted(names[i] for i in order[:TRAIN_COUNT]),
        "test": sorted(names[i] for i in order[TRAIN_COUNT:]),
    }
    TARGET.mkdir(parents=True, exist_ok=True)
    for stale in TARGET.glob("*.tfrecord*"):
        stale.unlink()
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for split, split_names in splits.items():
        path = TARGET / f"mnist_{split}.tfrecord.gz"
        counts = np.zeros(10, dtype=int)
        with tf.io.TFRecordWriter(str(path), options) as writer:
            for name in split_names:
                label = int(NAME.match(name).group(1))
                writer.write(_example((source / name).read_bytes(), label).SerializeToString(deterministic=True))
                counts[label] += 1
        print(
            f"wrote {len(split_names)} examples to {path} ({path.stat().st_size:,} bytes); per class {counts.tolist()}"
        )


if __name__ == "__main__":
    main()
