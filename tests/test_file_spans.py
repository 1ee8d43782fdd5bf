"""Spans in the file-reading pipelines (issue 31): tiny span folders of images (class folders, TFRecords), of
recordings and of word lists read by each pipeline's own ExampleGen executor, in process: the latest span and
the `span_window - 1` before it (0: every span), the latest recorded as the Examples' `span`; a data folder
without spans read as before; a span folder the run reads with bad contents refused in one sentence by the
CLI's check, before TensorFlow loads."""

import io
import wave
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_example_gen
from PIL import Image
from tfx.types import artifact_utils

from components.example_gen import rejected_inputs
from components.models.images import features as image_features
from components.models.letters import features as letters_features
from components.models.spoken_digits import features as audio_features
from pipelines.config import ConfigError, apply_overrides
from pipelines.registry import PIPELINES, config_for
from tfpipe.commands.options import checked

SPANS = (1, 2, 3)
# A word list's words, each span's with its own ending (apples, appless, applesss): enough for both splits
# (4:1 by word).
FRUIT = ("apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel", "kiwi", "lemon", "lime", "mango")
FRUIT += ("melon", "nectarine", "olive", "peach", "pear", "plum", "quince", "raisin")


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _wav(seed: int) -> bytes:
    samples = np.random.default_rng(seed).integers(-3000, 3000, 2000, dtype=np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(8000)
        recording.writeframes(samples.tobytes())
    return buffer.getvalue()


def _image_example(content: bytes, label: int) -> bytes:
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                image_features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[content])),
                image_features.LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
        )
    ).SerializeToString()


# Each writer fills a folder as a data folder without spans holds it, with inputs of its own (`number`: the
# span's), and returns the keys that tell them apart in the examples (the value of `Kind.key`).
def _class_folders(folder: Path, number: int) -> set[bytes]:
    keys = set()
    for index in range(12):
        content = _png(100 * number + index)
        (folder / str(index % 3)).mkdir(parents=True, exist_ok=True)
        (folder / str(index % 3) / f"{index}.png").write_bytes(content)
        keys.add(content)
    return keys


def _tfrecords(folder: Path, number: int) -> set[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    keys = set()
    for part in ("train", "test"):
        contents = [_png(100 * number + index + (50 if part == "test" else 0)) for index in range(4)]
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        with tf.io.TFRecordWriter(str(folder / f"mnist_{part}.tfrecord.gz"), options) as writer:
            for index, content in enumerate(contents):
                writer.write(_image_example(content, index % 10))
        keys.update(contents)
    return keys


def _recordings(folder: Path, number: int) -> set[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    keys = set()
    for index, speaker in enumerate(("theo", "jackson", "george", "nicolas")):
        take = f"{number}{index}"
        (folder / f"{index}_{speaker}_{take}.wav").write_bytes(_wav(10 * number + index))
        keys.add(take.encode())
    return keys


def _word_list(folder: Path, number: int) -> set[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    words = [f"{word}{'s' * number}" for word in FRUIT]
    (folder / "words.txt").write_text("".join(f"{word}\n" for word in words))
    return {word.encode() for word in words}


class Kind(NamedTuple):
    pipeline: str
    write: Callable[[Path, int], set[bytes]]
    key: str
    """The bytes feature of an example that says which input it came from."""


KINDS = {
    "class folders": Kind("digits", _class_folders, image_features.IMAGE_KEY),
    "TFRecords": Kind("mnist", _tfrecords, image_features.IMAGE_KEY),
    "recordings": Kind("spoken_digits", _recordings, audio_features.TAKE_KEY),
    "word list": Kind("letters", _word_list, letters_features.WORD_KEY),
}


def _read(kind: Kind, data_dir: Path, output_dir: Path, *overrides: str):
    """The pipeline's ExampleGen executor run on `data_dir` (checked first, as `tfpipe run` does): its
    Examples artifact and the `kind.key` values of the examples it wrote, over every split."""
    config = apply_overrides(config_for(kind.pipeline), [f"data_dir={data_dir}", *overrides])
    examples = run_example_gen(config, output_dir)
    keys = set()
    for split in artifact_utils.decode_split_names(examples.split_names):
        files = tf.io.gfile.glob(f"{artifact_utils.get_split_uri([examples], split)}/*")
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            keys.update(tf.train.Example.FromString(record.numpy()).features.feature[kind.key].bytes_list.value)
    return examples, keys


@pytest.mark.parametrize("span_window, read", [(1, (3,)), (2, (2, 3)), (0, (1, 2, 3))])
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_run_reads_the_window_of_span_folders_and_records_the_latest_span(kind, span_window, read, tmp_path):
    data_dir = tmp_path / "data"
    written = {number: KINDS[kind].write(data_dir / f"span-{number:04d}", number) for number in SPANS}
    examples, keys = _read(KINDS[kind], data_dir, tmp_path / "out", f"span_window={span_window}")
    assert keys == set().union(*(written[number] for number in read))
    assert examples.span == 3


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_data_folder_without_spans_is_read_whole_and_records_no_span(kind, tmp_path):
    written = KINDS[kind].write(tmp_path / "data", 1)
    examples, keys = _read(KINDS[kind], tmp_path / "data", tmp_path / "out")
    assert keys == written
    assert examples.span == 0


def test_a_rejected_input_is_named_with_its_span_folder(tmp_path):
    data_dir = tmp_path / "data"
    for number in SPANS:
        _class_folders(data_dir / f"span-{number:04d}", number)
    (data_dir / "span-0002" / "1" / "cut.png").write_bytes(_png(7)[:30])
    (data_dir / "span-0001" / "1" / "cut.png").write_bytes(_png(7)[:30])  # outside the window: not read
    examples, _ = _read(KINDS["class folders"], data_dir, tmp_path / "out", "span_window=2")
    [rejected] = rejected_inputs.read(examples.uri)
    assert rejected.startswith("span-0002/1/cut.png: is not an image")


def _cli_check(pipeline: str, data_dir: Path, *settings: tuple[str, str]):
    """The CLI's check of `tfpipe run <pipeline> --set data_dir=... --set ...`, which runs before TensorFlow loads."""
    return checked(PIPELINES[pipeline], [("data_dir", str(data_dir)), *settings])[0]


def _one_sentence(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message.endswith(".") and message.count(". ") == 0, message
    return message


@pytest.mark.parametrize(
    "kind, spoiled, expected",
    [
        ("class folders", "notes.md", "holds no labels file (*.txt), TFRecord files or class sub-folders"),
        ("recordings", "0_jackson_1.wav", "has no recordings of theo"),
        ("word list", "words.tsv", "has no file matching *.txt"),
    ],
)
def test_a_span_folder_read_with_bad_contents_is_refused_in_one_sentence_before_anything_loads(
    kind, spoiled, expected, tmp_path
):
    data_dir = tmp_path / "data"
    for number in (1, 2):
        KINDS[kind].write(data_dir / f"span-{number:04d}", number)
    (data_dir / "span-0003").mkdir()
    (data_dir / "span-0003" / spoiled).write_bytes(_wav(3) if spoiled.endswith(".wav") else b"apple\n")
    with pytest.raises(ConfigError) as error:
        _cli_check(KINDS[kind].pipeline, data_dir, ("span_window", "2"))
    message = _one_sentence(error)
    assert f"data folder {data_dir / 'span-0003'} " in message and expected in message
    # A span outside the window is not read, so not checked: the run reads spans 2 and 3 only.
    (data_dir / "span-0003" / spoiled).unlink()
    KINDS[kind].write(data_dir / "span-0003", 3)
    (data_dir / "span-0001" / "stray").mkdir()
    _cli_check(KINDS[kind].pipeline, data_dir, ("span_window", "2"))


def test_class_names_are_read_from_the_class_folders_of_the_spans_read(tmp_path):
    data_dir = tmp_path / "data"
    for number, classes in ((1, ("cat", "dog", "fox")), (2, ("cat", "dog"))):
        for name in classes:
            (data_dir / f"span-{number:04d}" / name).mkdir(parents=True)
            (data_dir / f"span-{number:04d}" / name / "a.png").write_bytes(_png(number))
    assert _cli_check("digits", data_dir).class_names == ("cat", "dog")
    assert _cli_check("digits", data_dir, ("span_window", "0")).class_names == ("cat", "dog", "fox")


def _labels_file(folder: Path, number: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0_theo_1.wav").write_bytes(_wav(number))
    (folder / "labels.txt").write_text("0_theo_1.wav 0\n")


@pytest.mark.parametrize(
    "first, second, described",
    [
        (
            "class folders",
            _tfrecords,
            "span-0001 holds class folders (*) and span-0002 holds TFRecord files "
            "(*train*.tfrecord*, *test*.tfrecord*)",
        ),
        ("recordings", _labels_file, "span-0001 holds named files (*) and span-0002 holds labels file (labels.txt)"),
    ],
)
def test_span_folders_of_different_layouts_are_refused_in_one_sentence_before_anything_loads(
    first, second, described, tmp_path
):
    data_dir = tmp_path / "data"
    KINDS[first].write(data_dir / "span-0001", 1)
    second(data_dir / "span-0002", 2)
    with pytest.raises(ConfigError) as error:
        _cli_check(KINDS[first].pipeline, data_dir, ("span_window", "2"), ("class_names", ",".join("0123456789")))
    assert _one_sentence(error) == (
        f"data folder {data_dir}: span folder {described}; expected every span a run reads in one layout."
    )
