"""Stock module code: the recurrent zoo and the scaling, without a pipeline run."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from components.models.stock import model, preprocessing
from pipelines.config import ConfigError, apply_overrides
from pipelines.stock.config import StockConfig, StockModelConfig


@pytest.mark.parametrize("architecture", sorted(model.MODEL_BUILDERS))
def test_each_architecture_builds_and_forecasts_one_value_per_window(architecture):
    built = model.build_model(StockModelConfig(architecture=architecture, units=(4, 6)), window_days=12, channels=2)
    windows = np.random.default_rng(0).random((3, 12, 2), dtype=np.float32)
    assert built(windows).shape == (3, 1)
    assert built.loss == "mean_squared_error"


def test_unknown_architecture_is_one_sentence():
    with pytest.raises(ValueError, match="model.architecture 'transformer': expected one of simple_rnn, lstm"):
        model.build_model(StockModelConfig(architecture="transformer"), window_days=12, channels=2)


def test_no_persistence_to_beat_and_no_rmse_bound_is_refused_as_a_first_run_would_push_nothing():
    without_baseline = ["must_beat_persistence=false"]
    with pytest.raises(ConfigError, match=r"^blessing_threshold=0\.0 with no baseline to beat: .*would push none"):
        apply_overrides(StockConfig(), without_baseline).check_values()
    apply_overrides(StockConfig(), [*without_baseline, "blessing_threshold=5"]).check_values()
    StockConfig().check_values()


def _transform(scaling, train_opens, eval_opens, tmp_path):
    """Analyzes `train_opens` windows with TFT and transforms `eval_opens` windows with the result."""
    config = {"window_days": 3, "feature_columns": ["open"], "target_column": "open", "scaling": scaling}
    spec = {"open": tf.io.VarLenFeature(tf.float32), "close": tf.io.VarLenFeature(tf.float32)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    rows = lambda windows: [{"open": w, "close": w} for w in windows]  # noqa: E731
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=False):
        transform_fn = (rows(train_opens), metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing.preprocessing_fn(inputs, config)
        )
        (transformed, _) = ((rows(eval_opens), metadata), transform_fn) | tft_beam.TransformDataset()
    return transformed


def test_min_max_scaling_uses_the_train_split_only(tmp_path):
    train = [[10.0, 12.0, 14.0], [12.0, 14.0, 20.0]]
    evaluation = [[20.0, 25.0, 30.0]]  # above anything in training
    (row,) = _transform("min_max", train, evaluation, tmp_path)
    # (x - 10) / (20 - 10): the evaluation prices themselves play no part.
    np.testing.assert_allclose(row["open_scaled"], [1.0, 1.5, 2.0])
    assert row["target_offset"] == pytest.approx(10.0) and row["target_scale"] == pytest.approx(10.0)


def test_window_relative_scaling_is_the_move_from_the_last_close(tmp_path):
    (row,) = _transform("window_relative", [[10.0, 12.0, 14.0]], [[50.0, 55.0, 40.0]], tmp_path)
    np.testing.assert_allclose(row["open_scaled"], [0.25, 0.375, 0.0])
    assert row["target_offset"] == pytest.approx(40.0) and row["target_scale"] == pytest.approx(40.0)


def test_warm_start_loads_the_weights_of_an_exported_price_model(tmp_path):
    from components.models import training

    gru = StockModelConfig(architecture="gru", units=(3, 4))
    trained = model.build_model(gru, window_days=6, channels=1)
    wrapper = tf.Module()
    wrapper.model = trained  # the SavedModel's root is a tf.Module holding the Keras model, as run_fn exports
    tf.saved_model.save(wrapper, str(tmp_path / "exported"))
    fresh = model.build_model(gru, window_days=6, channels=1)
    training.warm_start(fresh, str(tmp_path / "exported"), saved_as="model")
    for loaded, original in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(loaded, original)
    other = model.build_model(StockModelConfig(architecture="gru", units=(5, 4)), window_days=6, channels=1)
    with pytest.raises(ValueError, match="Cannot warm start"):
        training.warm_start(other, str(tmp_path / "exported"), saved_as="model")
