"""What `tfpipe predict` sends for a photo: the file's bytes where the model's decoder reads them as
they are, an upright PNG otherwise, and for MNIST a dark-on-light photo of a digit on paper made to
look like MNIST's white-on-black digits first (invert and threshold, as the notes' app does)."""

import io

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT
from PIL import Image, ImageFilter

from components.models.images import features
from components.models.images.prediction_inputs import encoded_for_model, ink_on_paper_to_digit, to_examples
from components.models.images.preprocessing import to_pixels
from pipelines.registry import config_for

MNIST_TEST = REPO_ROOT / "data" / "mnist" / "mnist_test.tfrecord.gz"
CIFAR10_TEST = REPO_ROOT / "data" / "cifar10" / "cifar10_test.tfrecord.gz"


def shipped_images(path, count: int) -> list[tuple[Image.Image, int]]:
    """The first `count` images of a shipped TFRecord file, with their labels."""
    images = []
    for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP").take(count):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        image = Image.open(io.BytesIO(feature[features.IMAGE_KEY].bytes_list.value[0]))
        images.append((image, feature[features.LABEL_KEY].int64_list.value[0]))
    return images


def digit_on_paper(digit: Image.Image, seed: int) -> Image.Image:
    """A 1200x900 RGB photo of MNIST's `digit` written in dark ink on light paper: enlarged to 360 px,
    inverted, blurred, on paper lit unevenly with sensor noise, away from the middle."""
    rng = np.random.default_rng(seed)
    ink = np.asarray(digit.resize((360, 360), Image.Resampling.BILINEAR), np.float32) / 255
    height, width = 900, 1200
    lighting = np.linspace(235, 200, width)[None, :] * np.ones((height, 1))
    paper = lighting + rng.normal(0, 4, (height, width))
    top, left = 200 + int(rng.integers(0, 200)), 300 + int(rng.integers(0, 400))
    paper[top : top + 360, left : left + 360] -= ink * 170
    gray = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    tint = np.stack([np.asarray(gray, np.float32) * factor for factor in (1.0, 0.97, 0.9)], axis=-1)
    return Image.fromarray(np.clip(tint, 0, 255).astype(np.uint8))


def test_a_dark_on_light_digit_photo_becomes_an_mnist_like_digit():
    for seed, (digit, _) in enumerate(shipped_images(MNIST_TEST, 10)):
        prepared = np.asarray(ink_on_paper_to_digit(np.asarray(digit_on_paper(digit, seed).convert("L"))))
        assert prepared.shape == (28, 28)
        assert prepared[:4].max() == 0 and prepared[-4:].max() == 0  # MNIST's empty margin
        # The same strokes as the MNIST original, once both are cut to their ink's box.
        original = np.asarray(digit) > 100
        rows, columns = np.nonzero(original)
        box = original[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
        rows, columns = np.nonzero(prepared)
        mine = prepared[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
        size = (20, 20)
        a = np.asarray(Image.fromarray(box.astype(np.uint8) * 255).resize(size)) > 127
        b = np.asarray(Image.fromarray(mine).resize(size)) > 127
        assert (a & b).sum() / (a | b).sum() > 0.5


def test_mnist_sends_a_light_on_dark_image_as_it_is(tmp_path):
    digit, _ = shipped_images(MNIST_TEST, 1)[0]
    path = tmp_path / "digit.png"
    digit.save(path)
    assert encoded_for_model(str(path), config_for("mnist")) == path.read_bytes()


def test_a_dark_on_light_photo_is_inverted_for_mnist_only(tmp_path):
    digit, _ = shipped_images(MNIST_TEST, 1)[0]
    path = tmp_path / "photo.jpg"
    digit_on_paper(digit, 0).save(path, quality=90)
    for_mnist = Image.open(io.BytesIO(encoded_for_model(str(path), config_for("mnist"))))
    assert for_mnist.size == (28, 28) and np.median(np.asarray(for_mnist)) == 0
    assert encoded_for_model(str(path), config_for("fashion_mnist")) == path.read_bytes()


@pytest.mark.parametrize(
    ("mode", "file_format", "sent_as_is"),
    [
        ("RGB", "JPEG", True),
        ("RGBA", "PNG", True),
        ("L", "JPEG", True),
        ("CMYK", "JPEG", False),
        ("RGB", "WEBP", False),
    ],
)
def test_a_large_photo_of_any_mode_reaches_the_model_as_32x32_rgb(tmp_path, mode, file_format, sent_as_is):
    photo, _ = shipped_images(CIFAR10_TEST, 1)[0]
    large = photo.resize((3000, 2000), Image.Resampling.BICUBIC).convert(mode)
    path = tmp_path / f"photo.{file_format.lower()}"
    large.save(path, format=file_format)
    encoded = encoded_for_model(str(path), config_for("cifar10"))
    assert (encoded == path.read_bytes()) is sent_as_is
    pixels = to_pixels(tf.constant([encoded]), 32, 32, 3).numpy()
    assert pixels.shape == (1, 32, 32, 3)
    if mode in ("RGB", "RGBA", "CMYK"):  # colour kept: close to the original 32x32 photo
        original = np.asarray(photo, np.float32) / 255
        assert np.abs(pixels[0] - original).mean() < 0.1


def test_a_phone_photo_turned_by_its_exif_is_sent_upright(tmp_path):
    photo, _ = shipped_images(CIFAR10_TEST, 1)[0]
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to view
    path = tmp_path / "turned.jpg"
    photo.resize((640, 480)).save(path, exif=exif)
    sent = Image.open(io.BytesIO(encoded_for_model(str(path), config_for("cifar10"))))
    assert sent.size == (480, 640)


def test_a_file_that_is_no_image_is_one_sentence(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(ValueError, match=r"notes.txt cannot be decoded as an image; expected a PNG or JPEG file\."):
        to_examples([str(path)], config_for("cifar10"))
    with pytest.raises(ValueError, match=r"is not a file"):
        to_examples([str(tmp_path / "absent.jpg")], config_for("cifar10"))
