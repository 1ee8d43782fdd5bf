"""FileExampleGen with the image reader on each accepted layout, run by its real executor on small folders of real
digit images: what becomes an example, and what is rejected and listed instead."""

import io

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_example_gen
from PIL import Image
from sklearn.datasets import load_digits
from tfx.types import artifact_utils, standard_artifacts

from components.example_gen import layouts, rejected_inputs
from components.example_gen.beam_executor import NoInputError
from components.models.images import features
from pipelines.config import apply_overrides
from pipelines.registry import config_for

DIGITS = load_digits()


def _encoded(index: int, image_format: str = "PNG", size: int = 8) -> bytes:
    pixels = np.rint(DIGITS.images[index] * 255 / 16).astype(np.uint8)
    image = Image.fromarray(pixels).resize((size, size))
    if image_format == "JPEG":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


def _write_labels_pair(folder, name: str, indexes) -> None:
    """The notes' layout: `<name>.txt` beside the image folder `<name>/`."""
    (folder / name).mkdir(parents=True)
    for index in indexes:
        (folder / name / f"{index}.png").write_bytes(_encoded(index))
    (folder / f"{name}.txt").write_text("".join(f"{index}.png {DIGITS.target[index]}\n" for index in indexes))


def _write_class_folders(folder, indexes, image_format="PNG") -> None:
    for index in indexes:
        class_folder = folder / str(DIGITS.target[index])
        class_folder.mkdir(parents=True, exist_ok=True)
        (class_folder / f"{index}.{image_format.lower()}").write_bytes(_encoded(index, image_format))


def _example(index: int) -> tf.train.Example:
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[_encoded(index)])),
                features.LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[DIGITS.target[index]])),
            }
        )
    )


class Ingested:
    def __init__(self, artifact: standard_artifacts.Examples):
        self.artifact = artifact
        self.splits = {}
        for split in artifact_utils.decode_split_names(artifact.split_names):
            files = tf.io.gfile.glob(f"{artifact_utils.get_split_uri([artifact], split)}/*")
            records = tf.data.TFRecordDataset(files, compression_type="GZIP")
            self.splits[split] = [tf.train.Example.FromString(record.numpy()) for record in records]
        self.rejected = rejected_inputs.read(artifact.uri)

    def labels(self, split=None) -> list[int]:
        splits = [split] if split else list(self.splits)
        return sorted(
            e.features.feature[features.LABEL_KEY].int64_list.value[0] for s in splits for e in self.splits[s]
        )


def ingest(data_dir, output_dir, *overrides, pipeline: str = "digits") -> Ingested:
    """Runs the pipeline's ExampleGen executor on `data_dir`, as the pipeline would."""
    config = apply_overrides(config_for(pipeline), [f"data_dir={data_dir}", *overrides])
    return Ingested(run_example_gen(config, output_dir))


def test_labels_file_beside_its_image_folder_split_by_hash(tmp_path):
    data_dir = tmp_path / "data"
    _write_labels_pair(data_dir, "images", range(30))
    (data_dir / "images" / "3.png").write_bytes(_encoded(3)[:40])  # cut short
    with open(data_dir / "images.txt", "a") as labels:
        labels.write("gone.png 4\nno-label-here.png\n12.png eleven\n")
    ingested = ingest(data_dir, tmp_path / "out")

    assert set(ingested.splits) == {"train", "eval"}
    assert ingested.labels() == sorted(DIGITS.target[i] for i in range(30) if i != 3)
    assert ingested.artifact.get_int_custom_property(rejected_inputs.PROPERTY) == 4
    assert ingested.rejected[:3] == [
        "images.txt line 31: names images/gone.png, which does not exist",
        "images.txt line 32: expected '<file name> <label>', got 'no-label-here.png'",
        "images.txt line 33: label 'eleven' is not one of the class names (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)",
    ]
    assert ingested.rejected[3].startswith(
        "images/3.png: is not an image Transform can decode to 1 channel(s) (Invalid PNG"
    )
    example = ingested.splits["train"][0].features.feature
    assert (example[features.HEIGHT_KEY].int64_list.value, example[features.CHANNELS_KEY].int64_list.value) == (
        [8],
        [1],
    )


def test_train_and_test_labels_files_are_the_splits(tmp_path):
    data_dir = tmp_path / "data"
    _write_labels_pair(data_dir, "mnist_train_png", range(0, 12))
    _write_labels_pair(data_dir, "mnist_test_png", range(12, 18))
    ingested = ingest(data_dir, tmp_path / "out")
    assert ingested.labels("train") == sorted(DIGITS.target[:12])
    assert ingested.labels("eval") == sorted(DIGITS.target[12:18])
    assert ingested.rejected == []


def test_class_folders_with_jpegs_a_corrupt_file_and_an_unknown_class(tmp_path):
    data_dir = tmp_path / "data"
    _write_class_folders(data_dir, range(20), "JPEG")
    (data_dir / "7" / "broken.jpg").write_bytes(b"not an image at all")
    (data_dir / "seven").mkdir()
    (data_dir / "seven" / "20.png").write_bytes(_encoded(20))
    (data_dir / "1" / ".DS_Store").write_bytes(b"\0")  # hidden files are not images
    ingested = ingest(data_dir, tmp_path / "out")

    assert ingested.labels() == sorted(DIGITS.target[:20])
    assert ingested.rejected == [
        "7/broken.jpg: is not an image Transform can decode to 1 channel(s) "
        "(Unknown image file format. One of JPEG, PNG, GIF, BMP required.)",
        "seven/20.png: its folder 'seven' is not one of the class names (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)",
    ]
    # JPEGs were saved as RGB: the stored channels are the file's, Transform converts them.
    channels = {
        e.features.feature[features.CHANNELS_KEY].int64_list.value[0] for s in ingested.splits.values() for e in s
    }
    assert channels == {3}


def test_train_and_test_folders_of_class_folders_are_the_splits(tmp_path):
    data_dir = tmp_path / "data"
    _write_class_folders(data_dir / "train", range(0, 10))
    _write_class_folders(data_dir / "test", range(10, 15))
    ingested = ingest(data_dir, tmp_path / "out")
    assert ingested.labels("train") == sorted(DIGITS.target[:10])
    assert ingested.labels("eval") == sorted(DIGITS.target[10:15])


def test_tfrecords_of_examples_with_a_corrupt_image_and_a_bad_label(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    corrupt = _example(5)
    corrupt.features.feature[features.IMAGE_KEY].bytes_list.value[0] = b"\x89PNG garbage"
    bad_label = _example(6)
    bad_label.features.feature[features.LABEL_KEY].int64_list.value[0] = 10
    with tf.io.TFRecordWriter(str(data_dir / "digits.tfrecord.gz"), options="GZIP") as writer:
        for example in [_example(i) for i in range(5)] + [corrupt, bad_label]:
            writer.write(example.SerializeToString())
    ingested = ingest(data_dir, tmp_path / "out")

    assert ingested.labels() == sorted(DIGITS.target[:5])
    assert len(ingested.rejected) == 2
    assert ingested.rejected[0].startswith("a record of digits.tfrecord.gz: is not an image Transform can decode")
    assert ingested.rejected[1] == "a record of digits.tfrecord.gz: label 10 is not a class index from 0 to 9"


def test_a_folder_with_no_readable_image_fails_with_one_sentence(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "images").mkdir(parents=True)
    (data_dir / "images.txt").write_text("a.png 1\nb.png 2\n")
    with pytest.raises(
        NoInputError,
        match=r"No readable input in .*data for the \w+ split; 2 input\(s\) rejected, "
        r"the first: images.txt line 1: names images/a.png, which does not exist.",
    ):
        ingest(data_dir, tmp_path / "out")


@pytest.mark.parametrize(
    "entries, expected",
    [
        ({"README.md": "hello"}, "holds no labels file (*.txt), TFRecord files or class sub-folders"),
        ({"a.txt": "", "b.txt": ""}, "holds 2 labels files (a.txt, b.txt); expected one, or one whose name contains"),
    ],
)
def test_unrecognised_layouts_are_named(tmp_path, entries, expected):
    for name, text in entries.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(layouts.LayoutError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        layouts.detect(tmp_path)


def test_fingerprint_follows_every_file_under_the_folder(tmp_path):
    _write_class_folders(tmp_path, range(3))
    before = layouts.fingerprint(tmp_path)
    assert layouts.fingerprint(tmp_path) == before
    image = next((tmp_path / str(DIGITS.target[0])).iterdir())
    image.write_bytes(_encoded(0) + b"\0")  # an image fixed in place: TFX's own fingerprint would not see it
    assert layouts.fingerprint(tmp_path) != before
