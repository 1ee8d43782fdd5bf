"""The iris model builder: the notes' softmax classifier with L2 and optional hidden layers."""

import numpy as np
import pytest
import tf_keras as keras

from components.models.iris import features
from components.models.iris.model import build_classifier
from pipelines.iris.config import IrisModelConfig


def _batch(size=5):
    rng = np.random.default_rng(0)
    return {key: rng.random((size, 1), dtype=np.float32) for key in features.FEATURE_KEYS}


def _dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_no_hidden_units_is_the_notes_single_softmax_layer():
    model = build_classifier(IrisModelConfig(hidden_units=()))
    (dense,) = _dense_layers(model)
    assert dense.units == len(features.SPECIES_NAMES)
    assert dense.activation is keras.activations.softmax


@pytest.mark.parametrize("hidden_units", [(), (16,), (32, 8)])
def test_outputs_one_probability_per_species(hidden_units):
    model = build_classifier(IrisModelConfig(hidden_units=hidden_units))
    probabilities = model.predict(_batch(), verbose=0)
    assert probabilities.shape == (5, len(features.SPECIES_NAMES))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [layer.units for layer in _dense_layers(model)] == [*hidden_units, 3]


def test_every_kernel_carries_the_l2_penalty():
    model = build_classifier(IrisModelConfig(hidden_units=(8,), l2=0.25))
    for layer in _dense_layers(model):
        assert layer.kernel_regularizer.get_config()["l2"] == pytest.approx(0.25)
    # The penalty is part of the training loss: one term per kernel.
    assert len(model.losses) == 2


def test_learns_a_separable_problem():
    # Species decided by petal length alone: the model must get it right.
    rng = np.random.default_rng(1)
    inputs = {key: rng.random((300, 1), dtype=np.float32) for key in features.FEATURE_KEYS}
    labels = np.digitize(inputs["petal_length"][:, 0], [1 / 3, 2 / 3])
    model = build_classifier(IrisModelConfig(hidden_units=(16,), learning_rate=0.05))
    model.fit(inputs, labels, epochs=60, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(inputs, labels, verbose=0)
    assert accuracy > 0.9
