"""The image classifier zoo and augmentation: every model builds for small grayscale and larger
RGB images and runs a forward pass; augmentation changes images in training only."""

import numpy as np
import pytest
import tensorflow as tf

from components.models.images import zoo
from components.models.images.model import augmentation_layers, build_classifier
from pipelines.images import IMAGE_MODELS, NOTES_CNNS, AugmentationConfig, ImageModelConfig

SHAPES = [(8, 8, 1), (32, 32, 3)]
STRONG_AUGMENTATION = AugmentationConfig(
    rotation_degrees=90, shift_fraction=0.3, zoom_fraction=0.3, flip_horizontal=True
)


def test_the_zoo_holds_the_notes_models():
    # The configs check model names against IMAGE_MODELS before anything runs: it must be the zoo's list.
    assert list(zoo.MODELS) == list(IMAGE_MODELS)
    assert set(NOTES_CNNS) <= set(zoo.MODELS)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: "x".join(map(str, shape)))
@pytest.mark.parametrize("name", list(zoo.MODELS))
def test_each_model_classifies_images_of_each_size(name, shape):
    model = zoo.build(name, shape, 10)
    images = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    probabilities = model(images, training=False).numpy()
    assert probabilities.shape == (2, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_an_unknown_model_names_the_zoo():
    with pytest.raises(ValueError, match="model 'lenet' is not in the zoo; choose one of mlp, baseline, lenet5"):
        zoo.build("lenet", (8, 8, 1), 10)


def test_augmentation_changes_images_in_training_only():
    images = tf.constant(np.random.default_rng(1).random((4, 16, 16, 1), dtype=np.float32))
    layers = augmentation_layers(STRONG_AUGMENTATION, seed=3)
    assert len(layers) == 4
    served, trained = images, images
    for layer in layers:
        served, trained = layer(served, training=False), layer(trained, training=True)
    assert np.array_equal(served.numpy(), images.numpy())
    assert not np.allclose(trained.numpy(), images.numpy())


def test_no_augmentation_adds_no_layers():
    assert augmentation_layers(AugmentationConfig(), seed=0) == []
    model = build_classifier(ImageModelConfig(name="mlp"), AugmentationConfig(), (8, 8, 1), 10)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Functional"]
