"""Trainer module for stock: the notes' recurrent zoo, as a TFX run_fn.

The model sees one window as [window_days, feature columns] of scaled values and predicts
the scaled target. The exported SavedModel undoes the scaling, so its signatures speak
prices:
  serving_default  serialized tf.Examples holding each column's last `window_days` raw
                   values -> {"forecast": the price horizon_days ahead}
  predict_prices   the same windows as float tensors, one [batch, window_days] input per
                   column -> {"forecast"}
  evaluation       serialized tf.Examples with their target -> the forecast, the naive
                   forecasts (persistence: the target column's last value; last_close), and
                   each one's squared error minus the model's, for TFMA
"""

import csv
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow.io import gfile
from tensorflow_transform import TFTransformOutput
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx_bsl.public import tfxio

from components import tf_setup, training_record
from components.models import training, tuning
from components.models.stock import features
from components.models.stock.preprocessing import dense_window, required_columns
from pipelines.stock.config import StockConfig, StockModelConfig

FORECAST_CHART = "forecast_vs_real.png"
FORECAST_TABLE = "forecast_vs_real.csv"
# Tickers the chart draws (the first by name): more lines than this are unreadable, and the table has all.
CHART_TICKERS = 5


def _recurrent_model(layer, window_days: int, channels: int, units: tuple, dropout: float) -> keras.Model:
    """Recurrent layers of `units` (each but the last returning sequences), Dropout after each, Dense(1)."""
    inputs = keras.Input(shape=(window_days, channels), name="window")
    x = inputs
    for index, size in enumerate(units):
        x = layer(size, return_sequences=index < len(units) - 1)(x)
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def build_simple_rnn(window_days: int, channels: int, units: tuple, dropout: float) -> keras.Model:
    """The notes' SimpleRNN(80) -> SimpleRNN(100) model; window_days of `channels` scaled values in."""
    return _recurrent_model(keras.layers.SimpleRNN, window_days, channels, units, dropout)


def build_lstm(window_days: int, channels: int, units: tuple, dropout: float) -> keras.Model:
    """The notes' LSTM(80) -> LSTM(100) model."""
    return _recurrent_model(keras.layers.LSTM, window_days, channels, units, dropout)


def build_gru(window_days: int, channels: int, units: tuple, dropout: float) -> keras.Model:
    """The notes' GRU(80) -> GRU(100) model."""
    return _recurrent_model(keras.layers.GRU, window_days, channels, units, dropout)


def build_bidirectional_lstm(window_days: int, channels: int, units: tuple, dropout: float) -> keras.Model:
    """LSTM layers reading each window both ways."""
    return _recurrent_model(
        lambda size, return_sequences: keras.layers.Bidirectional(
            keras.layers.LSTM(size, return_sequences=return_sequences)
        ),
        window_days,
        channels,
        units,
        dropout,
    )


MODEL_BUILDERS = {
    "simple_rnn": build_simple_rnn,
    "lstm": build_lstm,
    "gru": build_gru,
    "bidirectional_lstm": build_bidirectional_lstm,
}


def build_model(model: StockModelConfig, window_days: int, channels: int) -> keras.Model:
    """The configured architecture, compiled with MSE loss (the notes') and MAE reported."""
    if model.architecture not in MODEL_BUILDERS:
        raise ValueError(f"model.architecture {model.architecture!r}: expected one of {', '.join(MODEL_BUILDERS)}.")
    built = MODEL_BUILDERS[model.architecture](window_days, channels, model.units, model.dropout)
    optimizer = keras.optimizers.get({"class_name": model.optimizer, "config": {"learning_rate": model.learning_rate}})
    built.compile(optimizer=optimizer, loss="mean_squared_error", metrics=[keras.metrics.MeanAbsoluteError()])
    return built


def model_input(transformed: dict, feature_columns) -> tf.Tensor:
    """[batch, window_days, columns]: the scaled windows side by side, in configured order."""
    return tf.stack([transformed[features.scaled_key(column)] for column in feature_columns], axis=-1)


class _PriceModel(tf.Module):
    """The trained model between the Transform graph and the inverse scaling: prices in, prices out."""

    def __init__(self, model: keras.Model, transform_output: TFTransformOutput, config: StockConfig):
        super().__init__()
        self.model = model
        self.tft_layer = transform_output.transform_features_layer()
        self.window_days = config.window_days
        self.feature_columns = list(config.feature_columns)
        self.target_column = config.target_column
        self.input_columns = required_columns(config.transform_config())
        self.raw_spec = {column: tf.io.VarLenFeature(tf.float32) for column in self.input_columns}

    def forecast(self, raw_windows: dict) -> tf.Tensor:
        transformed = self.tft_layer(raw_windows)
        scaled = tf.reshape(self.model(model_input(transformed, self.feature_columns)), [-1])
        return transformed[features.TARGET_OFFSET_KEY] + transformed[features.TARGET_SCALE_KEY] * scaled

    def signatures(self) -> dict:
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve_examples(serialized):
            return {"forecast": self.forecast(tf.io.parse_example(serialized, self.raw_spec))}

        @tf.function(
            input_signature=[
                {
                    column: tf.TensorSpec([None, self.window_days], tf.float32, name=column)
                    for column in self.input_columns
                }
            ]
        )
        def serve_prices(windows):
            # The Transform graph parses windows as variable-length lists: give it that form.
            return {
                "forecast": self.forecast({c: tf.RaggedTensor.from_tensor(w).to_sparse() for c, w in windows.items()})
            }

        evaluation_spec = {
            **self.raw_spec,
            self.target_column: tf.io.VarLenFeature(tf.float32),
            features.LAST_CLOSE_COLUMN: tf.io.VarLenFeature(tf.float32),
            features.TARGET_KEY: tf.io.FixedLenFeature([1], tf.float32),
        }

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def evaluate(serialized):
            raw = tf.io.parse_example(serialized, evaluation_spec)
            target = tf.reshape(raw.pop(features.TARGET_KEY), [-1])
            forecast = self.forecast({column: raw[column] for column in self.input_columns})
            naive = {
                "persistence": dense_window(raw[self.target_column], self.window_days)[:, -1],
                "last_close": dense_window(raw[features.LAST_CLOSE_COLUMN], self.window_days)[:, -1],
            }
            outputs = {"forecast": forecast, **naive}
            for name, baseline in naive.items():
                outputs[f"excess_squared_error_vs_{name}"] = tf.square(forecast - target) - tf.square(baseline - target)
            return outputs

        return {
            "serving_default": serve_examples.get_concrete_function(),
            StockConfig.json_signature: serve_prices.get_concrete_function(),
            "evaluation": evaluate.get_concrete_function(),
        }


def run_fn(fn_args: FnArgs) -> None:
    """Trains on the transformed train split (stopping early on its latest windows, where on), charts the
    eval split, exports the price SavedModel."""
    tf_setup.configure()
    config = tuning.with_hyperparameters(StockConfig.from_custom_config(fn_args.custom_config), fn_args)
    keras.utils.set_random_seed(config.model.seed)
    transform_output = TFTransformOutput(fn_args.transform_output)
    columns = config.feature_columns
    train, validation = training.fit_datasets(
        fn_args,
        config,
        transform_output,
        to_inputs=lambda batch: (model_input(batch, columns), batch[features.TARGET_SCALED_KEY]),
    )
    model = build_model(config.model, config.window_days, len(config.feature_columns))
    if fn_args.base_model:
        training.warm_start(model, fn_args.base_model, saved_as="model")
    training.fit_and_record(model, train, validation, fn_args, config.epochs, early_stopping=config.early_stopping)
    training.export_formats(model, fn_args)
    price_model = _PriceModel(model, transform_output, config)
    _chart_eval_split(price_model, fn_args, transform_output, config)
    tf.saved_model.save(price_model, fn_args.serving_model_dir, signatures=price_model.signatures())


def _chart_eval_split(
    price_model: _PriceModel, fn_args: FnArgs, transform_output: TFTransformOutput, config: StockConfig
) -> None:
    """The notes' predicted-vs-real chart over the eval split, in prices, and its table."""
    dataset = fn_args.data_accessor.tf_dataset_factory(
        fn_args.eval_files,
        tfxio.TensorFlowDatasetOptions(batch_size=1024, shuffle=False, num_epochs=1),
        transform_output.transformed_metadata.schema,
    )
    rows = []
    for batch in dataset:
        scaled = tf.reshape(price_model.model(model_input(batch, config.feature_columns)), [-1])
        offset, scale = batch[features.TARGET_OFFSET_KEY], batch[features.TARGET_SCALE_KEY]
        forecast = (offset + scale * scaled).numpy()
        real = (offset + scale * batch[features.TARGET_SCALED_KEY]).numpy()
        for row in zip(
            np.char.decode(batch[features.TICKER_COLUMN].numpy().astype(bytes)).tolist(),
            np.char.decode(batch[features.TARGET_DATE_KEY].numpy().astype(bytes)).tolist(),
            real.tolist(),
            forecast.tolist(),
        ):
            rows.append(row)
    rows.sort()
    gfile.makedirs(fn_args.model_run_dir)
    with gfile.GFile(os.path.join(fn_args.model_run_dir, FORECAST_TABLE), "w") as f:
        writer = csv.writer(f)
        writer.writerow(["ticker", "date", "real", "forecast"])
        writer.writerows(rows)
    plt = training_record.pyplot()
    figure, axis = plt.subplots(figsize=(10, 4))
    tickers = sorted({row[0] for row in rows})
    for ticker in tickers[:CHART_TICKERS]:
        days = [row for row in rows if row[0] == ticker]
        axis.plot([row[2] for row in days], label=f"{ticker} real {config.target_column}")
        axis.plot([row[3] for row in days], label=f"{ticker} forecast")
    axis.set_xlabel(f"trading day of the evaluation period ({rows[0][1]} to {rows[-1][1]})" if rows else "trading day")
    axis.set_ylabel("price")
    shown = f" ({CHART_TICKERS} of {len(tickers)} tickers, all in the table)" if len(tickers) > CHART_TICKERS else ""
    axis.set_title(
        f"{config.model.architecture}: forecast vs real {config.target_column}, {config.horizon_days} day(s) ahead"
        + shown
    )
    axis.legend()
    figure.tight_layout()
    with gfile.GFile(os.path.join(fn_args.model_run_dir, FORECAST_CHART), "wb") as f:
        figure.savefig(f, format="png", dpi=100)
    plt.close(figure)


# The Tuner trains this same run_fn once per trial of a model search (components/models/tuning.py).
tuner_fn = tuning.tuner_fn_for(run_fn, StockConfig)
