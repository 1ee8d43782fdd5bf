"""Writes data/fashion_mnist/: Fashion-MNIST's 60,000 training images and 5,000 of its test images,
as gzipped TFRecord files of tf.Examples.

Run from the repository root: `.venv/bin/python data/make_fashion_mnist.py [FOLDER]`, FOLDER holding
`train.tar.gz`, `test_0000-0499.tar.gz` and `LICENSE` (default /work/shared/data/fashion_mnist): the
PNG export of Fashion-MNIST distributed with the book "Neural Networks from Scratch"
(github.com/Sentdex/nnfs_book, pull request 17, commit 6c459c9ebadc), `<split>/<label>/NNNN.png`,
28x28 8-bit grayscale, light garment on black; the test archive holds test images 0000-0499 of each
label. Fashion-MNIST is Copyright 2017 Zalando SE, under the MIT license, copied beside the data.
The layout is one the pipeline reads as given train and eval splits (components/example_gen/layouts.py):
  data/fashion_mnist/fashion_mnist_train.tfrecord.gz   60,000 examples
  data/fashion_mnist/fashion_mnist_test.tfrecord.gz     5,000 examples
Labels are the folders' numbers, 0-9 (T-shirt/top ... Ankle boot, named by
pipelines/fashion_mnist/config.py). The PNG bytes are stored unchanged (data/image_archive.py).
"""

import shutil
import sys
from pathlib import Path

from image_archive import write_split

SOURCE = Path("/work/shared/data/fashion_mnist")
TARGET = Path(__file__).parent / "fashion_mnist"
ARCHIVES = {"train": "train.tar.gz", "test": "test_0000-0499.tar.gz"}


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    for split, archive in ARCHIVES.items():
        write_split(source / archive, split, TARGET / f"fashion_mnist_{split}.tfrecord.gz", (28, 28), "L")
    shutil.copyfile(source / "LICENSE", TARGET / "LICENSE")


if __name__ == "__main__":
    main()
