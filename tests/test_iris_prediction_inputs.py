"""`tfpipe predict iris` inputs: measurements by name or in order, and bad inputs named in one sentence."""

import numpy as np
import pytest
import tensorflow as tf

from components.models.iris import prediction_inputs
from pipelines.iris.config import IrisConfig


def test_named_and_ordered_measurements_give_the_same_example():
    named, ordered = prediction_inputs.to_examples(
        ["sepal_length=5.1,sepal_width=3.5,petal_length=1.4,petal_width=0.2", "5.1, 3.5, 1.4, 0.2"], IrisConfig()
    )
    # Compared as protos: a map's serialized order is not fixed.
    assert tf.train.Example.FromString(named) == tf.train.Example.FromString(ordered)
    feature = tf.train.Example.FromString(named).features.feature
    assert feature["petal_length"].float_list.value == pytest.approx([1.4])


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "5.1,3.5,1.4",
            "'5.1,3.5,1.4': expected sepal_length=<cm>,sepal_width=<cm>,petal_length=<cm>,petal_width=<cm>",
        ),
        (
            "sepal_length=5.1,sepal_width=3.5,petal_length=1.4,petal=0.2",
            "names sepal_length, sepal_width, petal_length, petal;",
        ),
        ("5.1,3.5,1.4,wide", "holds a value that is not a number;"),
        ("5.1,sepal_width=3.5,1.4,0.2", "expected sepal_length=<cm>"),
    ],
)
def test_bad_inputs_are_named_with_what_was_expected(text, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(")):
        prediction_inputs.to_examples([text], IrisConfig())


def test_describe_names_the_species_and_its_probability():
    outputs = {
        "class_id": np.array([2]),
        "species": np.array([b"virginica"]),
        "probabilities": np.array([[0.1, 0.2, 0.7]]),
    }
    assert prediction_inputs.describe(outputs, 0) == "virginica (probability 0.700)"
