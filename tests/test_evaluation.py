"""How evaluation slices are named in the summary, the console and MLflow: a slice of the label by
its class name (`species=setosa`), every other slice by its value; and the metrics TFMA is given."""

import numpy as np
import pytest

from components.evaluation import OVERALL, slice_name
from pipelines.registry import config_for


def _names(pipeline: str, slice_keys) -> list[str]:
    config = config_for(pipeline)
    return [slice_name(key, config.label_key, config.label_class_names()) for key in slice_keys]


def test_iris_slices_of_the_label_are_named_by_species():
    keys = [(), *((("species", index),) for index in range(3))]
    assert _names("iris", keys) == [OVERALL, "species=setosa", "species=versicolor", "species=virginica"]


def test_digit_classes_are_named_by_class_names_which_are_the_digits():
    for pipeline in ("digits", "mnist", "spoken_digits"):
        assert _names(pipeline, [(("label", digit),) for digit in range(10)]) == [f"label={d}" for d in range(10)]
    assert _names("spoken_digits", [(("speaker", "george"),)]) == ["speaker=george"]


def test_other_features_and_values_without_a_class_keep_their_value():
    assert _names("stock", [(("ticker", "MSFT"), ("year", 2017))]) == ["ticker=MSFT & year=2017"]
    assert _names("letters", [(("context_length", 3),)]) == ["context_length=3"]
    assert slice_name((("species", 3),), "species", ("setosa", "versicolor", "virginica")) == "species=3"
    assert slice_name((("label", 1), ("speaker", "jackson")), "label", ("cat", "dog")) == "label=dog & speaker=jackson"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("MeanSquaredError", lambda error: np.mean(error**2)), ("MeanAbsoluteError", lambda error: np.mean(abs(error)))],
)
def test_regression_errors_go_to_tfma_as_batched_keras_metrics_under_tfmas_names(name, expected):
    """pipelines/factory.py hands TFMA Keras's batched form of the errors TFMA would compute one example
    at a time: the same value under the name TFMA's own class gives it (the summary's and MLflow's keys)."""
    import tensorflow_model_analysis as tfma
    import tf_keras
    from tensorflow_model_analysis.metrics import metric_specs

    from pipelines.factory import metric_config

    metric = metric_specs.metric_instance(metric_config(name))
    assert isinstance(metric, tf_keras.metrics.Metric)
    assert metric.name == getattr(tfma.metrics, name)().name
    labels, forecasts = np.array([101.0, 99.5, 102.25, 98.0]), np.array([100.0, 100.0, 103.0, 97.5])
    metric.update_state(labels, forecasts)
    assert float(metric.result()) == pytest.approx(expected(forecasts - labels), rel=1e-6)
