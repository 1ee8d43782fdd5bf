"""Shared by make_cifar10.py and make_fashion_mnist.py: an archive of `<split>/<class folder>/NNNN.<ext>`
images -> one gzipped TFRecord file of tf.Examples per split, as the image ExampleGen writes them.

Each example holds `image` (the file's bytes, unchanged), `label` (int64: the class folder's rank
among the archive's class folders, or the folder's own number where every folder is a number),
`height`, `width` and `channels` (int64). Members are read in name order and serialized
deterministically, so the same archive gives the same bytes every time.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image


def _int64(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def example(encoded: bytes, label: int, expected_size: tuple[int, int], expected_mode: str) -> tf.train.Example:
    """One image's tf.Example; ValueError unless the image is `expected_size` (width, height) in `expected_mode`."""
    image = Image.open(BytesIO(encoded))
    image.load()
    if image.mode != expected_mode or image.size != expected_size:
        raise ValueError(f"expected a {expected_size} {expected_mode} image, got mode {image.mode} size {image.size}")
    width, height = image.size
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
                "label": _int64(label),
                "height": _int64(height),
                "width": _int64(width),
                "channels": _int64(len(image.getbands())),
            }
        )
    )


def members(archive: Path, split: str) -> Iterator[tuple[str, bytes]]:
    """(class folder, file bytes) of every image file `<split>/<class>/<name>` in `archive`, in name order."""
    with tarfile.open(archive) as tar:
        files = sorted(
            (member for member in tar.getmembers() if member.isfile() and member.name.count("/") == 2),
            key=lambda member: member.name,
        )
        for member in files:
            top, folder, _ = member.name.split("/")
            if top != split:
                raise SystemExit(f"{archive}: {member.name} is not under {split}/")
            handle = tar.extractfile(member)
            assert handle is not None
            yield folder, handle.read()


def class_labels(folders: list[str]) -> dict[str, int]:
    """Each class folder's label: its own number where every folder is one (0 ... 9), else its rank in name order."""
    if all(folder.isdigit() for folder in folders):
        return {folder: int(folder) for folder in folders}
    return {folder: rank for rank, folder in enumerate(sorted(folders))}


def write_split(
    archive: Path,
    split: str,
    target: Path,
    expected_size: tuple[int, int],
    expected_mode: str,
) -> tuple[list[str], np.ndarray]:
    """Writes every image of `split` in `archive` to `target` (a .tfrecord.gz file); returns the class
    folders in label order and the count per label."""
    images = list(members(archive, split))
    labels = class_labels(sorted({folder for folder, _ in images}))
    counts = np.zeros(len(labels), dtype=int)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(target), tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for folder, encoded in images:
            label = labels[folder]
            writer.write(example(encoded, label, expected_size, expected_mode).SerializeToString(deterministic=True))
            counts[label] += 1
    print(f"wrote {len(images):,} examples to {target} ({target.stat().st_size:,} bytes); per class {counts.tolist()}")
    return sorted(labels, key=labels.__getitem__), counts
