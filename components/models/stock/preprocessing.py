"""Transform module for stock: each window's columns scaled for the model, and how to undo it.

Two scaling modes (StockTransformConfig.scaling, pipelines/stock/config.py):
  min_max          the notes' MinMaxScaler: each column's windows scaled to [0, 1] with the
                   min and max of the train split (TFX's Transform analyzes the train split
                   only, as the notes fit the scaler on training days). Prices outside the
                   training range come out outside [0, 1], and the model has never seen them.
  window_relative  each window divided by its own last close (volume by its window mean),
                   minus 1: the model sees and predicts moves relative to the last close,
                   which mean the same at $5 and at $80.
Either way the target is scaled like the target column and each example carries
`target_offset` and `target_scale`, so price = offset + scale * scaled prediction.
"""

import tensorflow as tf
import tensorflow_transform as tft

from components.models.stock import features
from pipelines.stock.config import StockTransformConfig


def required_columns(transform: StockTransformConfig) -> list[str]:
    """The daily columns a window must carry for the model's inputs and its scaling."""
    reference = transform.target_column if transform.scaling == "min_max" else features.LAST_CLOSE_COLUMN
    columns = list(transform.feature_columns)
    return columns if reference in columns else [*columns, reference]


def dense_window(values, window_days: int) -> tf.Tensor:
    """A column's windows as a [batch, window_days] tensor (they are parsed as variable-length lists)."""
    if isinstance(values, tf.SparseTensor):
        values = tf.sparse.to_dense(values)
    return tf.reshape(tf.cast(values, tf.float32), [-1, window_days])


def preprocessing_fn(inputs: dict, custom_config: dict) -> dict:
    """`custom_config`: StockTransformConfig's."""
    transform = StockTransformConfig.from_custom_config(custom_config)
    windows = {column: dense_window(inputs[column], transform.window_days) for column in required_columns(transform)}
    if transform.scaling == "min_max":
        scaled, offset, scale = _min_max(windows, transform.target_column)
    else:
        scaled, offset, scale = _window_relative(windows)
    outputs = {features.scaled_key(column): scaled[column] for column in transform.feature_columns}
    outputs[features.TARGET_OFFSET_KEY] = offset
    outputs[features.TARGET_SCALE_KEY] = scale
    if features.TARGET_KEY in inputs:  # absent at serving
        target = tf.reshape(_dense(inputs[features.TARGET_KEY]), [-1])
        outputs[features.TARGET_SCALED_KEY] = tf.math.divide_no_nan(target - offset, scale)
        # Passed through for the Trainer's predicted-vs-real chart.
        outputs[features.TARGET_DATE_KEY] = tf.reshape(_dense(inputs[features.TARGET_DATE_KEY]), [-1])
        outputs[features.TICKER_COLUMN] = tf.reshape(_dense(inputs[features.TICKER_COLUMN]), [-1])
    return outputs


def _min_max(windows: dict, target_column: str):
    lows = {column: tft.min(window) for column, window in windows.items()}
    highs = {column: tft.max(window) for column, window in windows.items()}
    scaled = {
        column: tf.math.divide_no_nan(window - lows[column], highs[column] - lows[column])
        for column, window in windows.items()
    }
    batch = tf.shape(windows[target_column])[:1]
    offset = tf.fill(batch, lows[target_column])
    scale = tf.fill(batch, highs[target_column] - lows[target_column])
    return scaled, offset, scale


def _window_relative(windows: dict):
    last_close = windows[features.LAST_CLOSE_COLUMN][:, -1]
    scaled = {}
    for column, window in windows.items():
        reference = tf.reduce_mean(window, axis=1) if column == features.VOLUME_COLUMN else last_close
        scaled[column] = tf.math.divide_no_nan(window, reference[:, tf.newaxis]) - 1.0
    return scaled, last_close, last_close


def _dense(values):
    return tf.sparse.to_dense(values) if isinstance(values, tf.SparseTensor) else values
