"""The stock pipeline: the last `window_days` trading days of prices -> the price `horizon_days` ahead."""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar, Literal

from components.models.stock.features import DAILY_COLUMNS, PRICE_COLUMNS, TARGET_DATE_KEY, TICKER_COLUMN
from pipelines.config import AT_LEAST_0, ConfigError, PipelineConfig, TransformConfig
from pipelines.tuning import SearchSpace, varies

# components/models/stock/model.py MODEL_BUILDERS, by name (checked before anything runs).
ARCHITECTURES = ("simple_rnn", "lstm", "gru", "bidirectional_lstm")
# How each window is scaled for the model (components/models/stock/preprocessing.py).
SCALING_MODES = ("window_relative", "min_max")


@dataclasses.dataclass
class StockModelConfig:
    """The notes' recurrent regressor: two recurrent layers with Dropout, then Dense(1)."""

    architecture: str = "lstm"
    """simple_rnn, lstm, gru or bidirectional_lstm (components/models/stock/model.py MODEL_BUILDERS)."""
    units: tuple[int, ...] = (80, 100)
    """Units of each recurrent layer, first to last."""
    dropout: float = 0.2
    """Dropout rate after each recurrent layer."""
    optimizer: str = "adam"
    """A Keras optimizer name: adam, rmsprop, sgd."""
    learning_rate: float = 0.001
    """The optimizer's step size."""
    batch_size: int = 64
    """Windows per training step."""
    seed: int = 0
    """Seeds weight initialization and shuffling."""


@dataclasses.dataclass(frozen=True)
class StockTransformConfig(TransformConfig):
    """What stock's preprocessing_fn reads (components/models/stock/preprocessing.py); see StockConfig."""

    window_days: int
    target_column: str
    feature_columns: tuple[str, ...]
    scaling: str


@dataclasses.dataclass
class StockSearchSpace(SearchSpace):
    """What `--set tuning.trials=N` searches: candidates of each key, comma-separated with --set. The
    window (window_days) is not among them: it shapes the ExampleGen's windows, and a search trains
    every trial on the same ones."""

    architecture: tuple[str, ...] = varies("model.architecture", ("simple_rnn", "lstm", "gru"))
    """Recurrent cells: the notes' SimpleRNN, LSTM and GRU."""
    units: tuple[str, ...] = varies("model.units", ("80 100", "50 50"))
    """Units of the recurrent layers, each candidate's sizes separated by spaces."""
    learning_rate: tuple[float, ...] = varies("model.learning_rate", (0.001, 0.003))
    """The optimizer's step sizes."""


@dataclasses.dataclass
class StockConfig(PipelineConfig):
    name: ClassVar[str] = "stock"
    description: ClassVar[str] = "Next-day opening price from 60 trading days of prices (LSTM/GRU/RNN)."
    preprocessing_module: ClassVar[str] = "components.models.stock.preprocessing"
    model_module: ClassVar[str] = "components.models.stock.model"
    request_module: ClassVar[str] = "components.models.stock.prediction_inputs"
    prediction_kind: ClassVar[Literal["label", "forecast", "sequence"]] = "forecast"
    # TimeSeriesExampleGen's windowing module (components/example_gen/time_series_example_gen.py).
    windowing_module: ClassVar[str] = "components.models.stock.windowing"
    label_key: ClassVar[str] = "target"
    json_signature: ClassVar[str] = "predict_prices"
    prediction_key: ClassVar[str] = "forecast"
    evaluation_signature: ClassVar[str] = "evaluation"
    baseline_outputs: ClassVar[tuple[str, ...]] = ("persistence", "last_close")
    metrics: ClassVar[tuple[str, ...]] = ("MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError")
    slice_features: ClassVar[tuple[str, ...]] = ("ticker", "year")
    blessing_metric: ClassVar[str] = "RootMeanSquaredError"
    blessing_higher_is_better: ClassVar[bool] = False
    # Early stopping validates on each ticker's latest training windows, the days just before the eval
    # period: a forecaster is judged on the future, and a random sample would interleave its days with
    # the windows trained on.
    validation_slice_by_time: ClassVar[tuple[str, str] | tuple[()]] = (TICKER_COLUMN, TARGET_DATE_KEY)

    data_dir: str = "data/stock"
    window_days: int = 60
    """Trading days of prices the model sees for one forecast."""
    horizon_days: int = 1
    """How many trading days after the window's last day the forecast is for."""
    eval_days: int = 300
    """Each series' last trading days, held out: windows whose target falls in them are the eval split."""
    target_column: str = "open"
    """The daily column forecast (open, high, low, close)."""
    feature_columns: tuple[str, ...] = ("open", "high", "low", "close")
    """Daily columns the model sees in each window (any of open, high, low, close, volume)."""
    scaling: str = "window_relative"
    """window_relative: each window's prices divided by its last close, so the model predicts the
    move from there and still works on prices it never saw; min_max: the notes' MinMax scaling to
    [0, 1] with the train split's min and max (breaks when prices leave the training range)."""
    span_window: int = dataclasses.field(default=24, metadata={"range": AT_LEAST_0})
    """Where data_dir holds span folders (a month each from data/make_stock_spans.py), how many of the latest
    a run reads, the latest included (0: every span): 24 months hold eval_days and the windows before them."""
    schedule: str = "0 22 * * 1-5"
    """When the Airflow DAG runs, cron in UTC: weekdays at 22:00, after the US markets close (a market holiday
    brings no new data, and its run's components are cached)."""
    must_beat_persistence: bool = True
    """Bless only a model whose RMSE is no worse than repeating the window's last target value."""
    train_steps: int = 1200
    epochs: int = 10
    eval_steps: int = 5
    blessing_threshold: float = 0.0
    """Largest RMSE (in price units) a model may have and still be pushed; 0 (the default) sets no
    such bound: beating persistence (must_beat_persistence) is the bound, and it holds in any
    currency or price level, where a fixed number of dollars would not."""
    max_regression: float = 0.05
    """How much higher the RMSE may be than the latest blessed model's: a fraction of that RMSE
    (regression_relative, the default), or price units with regression_relative=false."""
    regression_relative: bool = True
    model: StockModelConfig = dataclasses.field(default_factory=StockModelConfig)
    search_space: StockSearchSpace = dataclasses.field(default_factory=StockSearchSpace)

    def example_gen(self):
        """Windows of each series, split by time (components/example_gen/time_series_example_gen.py)."""
        from components.example_gen.time_series_example_gen import TimeSeriesExampleGen, input_fingerprint

        folders = [str(folder) for folder in self.input_dirs()]
        return TimeSeriesExampleGen(
            input_base=str(self.resolved_data_dir()),
            input_folders=json.dumps(folders),
            span=self.latest_span() or 0,
            input_fingerprint=input_fingerprint(folders),
            windowing_module=self.windowing_module,
            window_days=self.window_days,
            horizon_days=self.horizon_days,
            eval_days=self.eval_days,
            target_column=self.target_column,
        )

    def transform_config(self) -> StockTransformConfig:
        return StockTransformConfig(
            window_days=self.window_days,
            target_column=self.target_column,
            feature_columns=self.feature_columns,
            scaling=self.scaling,
        )

    def required_wins(self) -> tuple[str, ...]:
        return ("persistence",) if self.must_beat_persistence else ()

    def check_values(self) -> None:
        super().check_values()
        _require(self.scaling in SCALING_MODES, "scaling", self.scaling, " or ".join(SCALING_MODES))
        _require(
            self.model.architecture in ARCHITECTURES,
            "model.architecture",
            self.model.architecture,
            "one of " + ", ".join(ARCHITECTURES),
        )
        _require(
            self.target_column in PRICE_COLUMNS,
            "target_column",
            self.target_column,
            "one of " + ", ".join(PRICE_COLUMNS),
        )
        _require(
            bool(self.feature_columns) and set(self.feature_columns) <= set(DAILY_COLUMNS),
            "feature_columns",
            ",".join(self.feature_columns),
            "some of " + ", ".join(DAILY_COLUMNS),
        )
        for name in ("window_days", "horizon_days", "eval_days"):
            _require(getattr(self, name) >= 1, name, getattr(self, name), "a whole number of days, 1 or more")


def _require(condition: bool, key: str, value, expected: str) -> None:
    if not condition:
        raise ConfigError(f"{key}={value}: expected {expected}.")
