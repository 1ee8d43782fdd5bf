"""The folder layouts a file-reading pipeline (images, audio) reads, recognised without TensorFlow
(the CLI checks a data folder before it loads anything).

A data folder holds one of:
  a labels file   `<name>.txt`, one `<file name> <label>` line per image (the notes' layout);
                  file names are relative to the folder `<name>/` beside it if there is one,
                  else to the labels file's own folder
  class folders   one sub-folder per class, named by the class (Keras' image_dataset_from_directory)
  TFRecord files  `*.tfrecord[s][.gz]`, tf.Examples with the features FileExampleGen writes
  named files     the files directly in the folder, each name starting with its class and `_`
                  (FSDD's `7_george_12.wav`: class 7); the rest of the name may carry more fields
                  (FileExampleGen's `name_fields`: speaker `george`, take `12`)

Train and test data given separately are two of these whose names contain `train` and `test`
(or `eval`): two labels files, two folders of class folders or of named files, or two sets of
TFRecord files. The pipeline uses them as its train and eval splits; anything else it splits 2:1
by hash, or by the rule its config gives (FileExampleGen's `split_rule`).

Each split is named to FileExampleGen by a glob pattern relative to the data folder: a labels
file, the class folders (`*`, `train/*`), the named files (`*`, `train/*`) or the TFRecord files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

# The class index feature of every example FileExampleGen writes.
LABEL_KEY = "label"

LABELS_FILES = "labels file"
CLASS_FOLDERS = "class folders"
TFRECORD_FILES = "TFRecord files"
NAMED_FILES = "named files"

LABELS_SUFFIX = ".txt"
TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrecord.gz", ".tfrecords.gz")
# The split pattern when the pipeline splits one input itself (ExampleGen's name for it).
SINGLE_SPLIT = "single_split"
# Separates a named file's class from the rest of its name.
NAME_SEPARATOR = "_"
_TEST_WORDS = ("test", "eval")


class LayoutError(ValueError):
    """A data folder in none of the layouts: the message names what was found and what was expected."""


@dataclasses.dataclass(frozen=True)
class Layout:
    kind: str
    split_patterns: dict[str, str]
    """{"train": pattern, "eval": pattern} for data given split, else {SINGLE_SPLIT: pattern}."""


def detect(data_dir: Path) -> Layout:
    """The layout of `data_dir`; LayoutError, naming what was found and what was expected, if none fits."""
    entries = [entry for entry in sorted(data_dir.iterdir()) if not entry.name.startswith(".")]
    labels_files = [entry.name for entry in entries if entry.is_file() and entry.name.endswith(LABELS_SUFFIX)]
    tfrecords = [entry.name for entry in entries if entry.is_file() and entry.name.endswith(TFRECORD_SUFFIXES)]
    folders = [entry.name for entry in entries if entry.is_dir()]
    if labels_files:
        if len(labels_files) == 1:
            return Layout(LABELS_FILES, {SINGLE_SPLIT: labels_files[0]})
        pair = _train_and_test(labels_files)
        if pair is None:
            raise LayoutError(
                f"data folder {data_dir} holds {len(labels_files)} labels files ({', '.join(labels_files)}); "
                "expected one, or one whose name contains 'train' and one whose name contains 'test' or 'eval'."
            )
        return Layout(LABELS_FILES, {"train": pair[0], "eval": pair[1]})
    if tfrecords:
        words = _split_words(tfrecords)
        if words:
            return Layout(TFRECORD_FILES, {split: f"*{word}*.tfrecord*" for split, word in words.items()})
        return Layout(TFRECORD_FILES, {SINGLE_SPLIT: "*.tfrecord*"})
    if folders:
        pair = _train_and_test(folders)
        if pair and all(any(child.is_dir() for child in (data_dir / name).iterdir()) for name in pair):
            return Layout(CLASS_FOLDERS, {"train": f"{pair[0]}/*", "eval": f"{pair[1]}/*"})
        if pair and all(_has_named_files(data_dir / name) for name in pair):
            return Layout(NAMED_FILES, {"train": f"{pair[0]}/*", "eval": f"{pair[1]}/*"})
        return Layout(CLASS_FOLDERS, {SINGLE_SPLIT: "*"})
    if _has_named_files(data_dir):
        return Layout(NAMED_FILES, {SINGLE_SPLIT: "*"})
    raise LayoutError(
        f"data folder {data_dir} holds no labels file (*.txt), TFRecord files or class sub-folders, "
        f"nor files named `<class>{NAME_SEPARATOR}...`; expected one of the layouts in docs/pipelines.md."
    )


def _has_named_files(folder: Path) -> bool:
    """Files directly in `folder`, no sub-folder, and some file name with a class separator. A link
    that leads nowhere counts as a file: FileExampleGen lists it as unreadable."""
    entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")]
    return (
        bool(entries)
        and not any(entry.is_dir() for entry in entries)
        and any(NAME_SEPARATOR in entry.name for entry in entries)
    )


def _train_and_test(names: list[str]) -> tuple[str, str] | None:
    """The one name containing 'train' and the one containing 'test' or 'eval', if each is unique."""
    train = [name for name in names if "train" in name.lower()]
    test = [name for name in names if any(word in name.lower() for word in _TEST_WORDS)]
    if len(train) == 1 and len(test) == 1 and train != test:
        return train[0], test[0]
    return None


def _split_words(file_names: list[str]) -> dict[str, str]:
    """For sharded TFRecords: {"train": "train", "eval": "test"} when every file is one or the other."""
    lowered = [name.lower() for name in file_names]
    test_word = next((word for word in _TEST_WORDS if any(word in name for name in lowered)), None)
    if test_word and all(("train" in name) != (test_word in name) for name in lowered):
        return {"train": "train", "eval": test_word}
    return {}


def fingerprint(data_dir: Path) -> str:
    """A digest of every file under `data_dir` (path, size, modification time).

    TFX fingerprints only the entries a split pattern matches, one level deep: a labels file,
    not the images it names; class folders, not the files in them. A replaced or fixed image
    would leave FileExampleGen cached on the old one. This digest, given to FileExampleGen as
    a parameter, changes whenever any file in the folder does.
    """
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(data_dir)):
        for name in sorted(files):
            path = Path(folder, name)
            try:
                stat = path.stat()
            except OSError:
                # A link that leads nowhere or round in a circle: FileExampleGen lists it as
                # unreadable; here the link itself counts, so mending it changes the digest.
                stat = path.lstat()
            digest.update(f"{path.relative_to(data_dir)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def class_names_found(data_dir: Path, layout: Layout) -> tuple[str, ...] | None:
    """The class folders' names, sorted as Keras' image_dataset_from_directory sorts them; None for the
    other layouts, whose labels are inside files or start file names (where a stray file is one bad
    input, listed and left out, not a class)."""
    if layout.kind != CLASS_FOLDERS:
        return None
    return tuple(
        sorted(
            {
                entry.name
                for pattern in layout.split_patterns.values()
                for entry in (data_dir / pattern).parent.iterdir()
                if entry.is_dir() and not entry.name.startswith(".")
            }
        )
    )


def name_field_values(data_dir: Path, layout: Layout, position: int) -> tuple[str, ...]:
    """The values of the name field at `position` (1: the field after the class) that file names carry,
    sorted: named files', and in class folders those of files named `<folder name>_<field>_...`, as
    FileExampleGen reads them; empty for the layouts whose names carry no fields."""
    values = set()
    for pattern in layout.split_patterns.values():
        for entry in (data_dir / pattern).parent.iterdir():
            if entry.name.startswith("."):
                continue
            if layout.kind == NAMED_FILES:
                values.update(_field(entry.name, position))
            elif layout.kind == CLASS_FOLDERS and entry.is_dir():
                prefix = entry.name + NAME_SEPARATOR
                for file in entry.iterdir():
                    if file.name.startswith(prefix):
                        # The class name may hold the separator itself (`t_shirt_ana_3.png`).
                        values.update(_field(NAME_SEPARATOR + file.name[len(prefix) :], position))
    return tuple(sorted(values))


def _field(name: str, position: int) -> list[str]:
    """The field at `position` of the file name `name`'s stem, split at NAME_SEPARATOR; none if it has fewer."""
    fields = Path(name).stem.split(NAME_SEPARATOR)
    return [fields[position]] if len(fields) > position else []
