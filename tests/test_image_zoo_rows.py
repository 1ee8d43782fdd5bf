"""The zoo's sequence readings of an image (each row one time step) and the shipped MNIST TFRecords."""

from components import tf_setup

tf_setup.configure()

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from components.models.images import zoo  # noqa: E402

pytestmark = pytest.mark.unit

ROWS_MODELS = ["rnn_rows", "lstm_rows", "bilstm_rows"]
SHAPES = [(8, 8, 1), (28, 28, 1)]
MNIST = Path(__file__).resolve().parent.parent / "data" / "mnist"


def test_the_rows_models_are_in_the_zoo():
    assert set(ROWS_MODELS) <= set(zoo.MODELS)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: "x".join(map(str, shape)))
@pytest.mark.parametrize("name", ROWS_MODELS)
def test_each_rows_model_classifies_images_of_each_size(name, shape):
    model = zoo.build(name, shape, 10)
    assert model.name == name
    images = np.random.default_rng(0).random((3, *shape), dtype=np.float32)
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (3, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_a_row_is_one_time_step_of_width_times_channels_values():
    model = zoo.build("lstm_rows", (28, 28, 3), 5)
    assert model.get_layer("rows").output_shape == (None, 28, 84)
    probabilities = model.predict(np.random.default_rng(1).random((2, 28, 28, 3), dtype=np.float32), verbose=0)
    assert probabilities.shape == (2, 5)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def _read(split: str) -> list[tf.train.Example]:
    files = sorted(str(path) for path in MNIST.glob(f"*{split}*.tfrecord.gz"))
    assert files, f"no {split} TFRecord files in {MNIST}"
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(record.numpy()) for record in dataset]


@pytest.mark.parametrize("split, count", [("train", 5000), ("test", 1000)])
def test_the_shipped_mnist_split_holds_28x28_grayscale_digits_of_every_class(split, count):
    examples = _read(split)
    assert len(examples) == count
    labels = set()
    for example in examples:
        feature = example.features.feature
        assert set(feature) == {"image", "label", "height", "width", "channels"}
        assert [feature[key].int64_list.value[0] for key in ("height", "width", "channels")] == [28, 28, 1]
        png = feature["image"].bytes_list.value[0]
        assert png.startswith(b"\x89PNG")
        assert tf.io.decode_png(png).shape == (28, 28, 1)
        label = feature["label"].int64_list.value[0]
        assert 0 <= label <= 9
        labels.add(label)
    assert labels == set(range(10))


def test_the_shipped_mnist_splits_do_not_share_an_image():
    train = {example.features.feature["image"].bytes_list.value[0] for example in _read("train")}
    test = {example.features.feature["image"].bytes_list.value[0] for example in _read("test")}
    assert not train & test
