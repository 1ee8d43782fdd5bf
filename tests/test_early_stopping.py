"""Early stopping (components/models/training.py): the validation slice is held out of the training
split only (each series' latest examples where the pipeline orders it by time, stock's; every k-th
example otherwise), training stops once the monitored validation metric stops improving and ends with
the best epoch's weights, the record says so, and its settings are checked before anything runs."""

import json
import types

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from components import training_record
from components.models import training
from pipelines.config import ConfigError, EarlyStoppingConfig, apply_overrides
from pipelines.iris.config import IrisConfig
from pipelines.stock.config import StockConfig

TICKER, DATE = StockConfig.validation_slice_by_time


def _batches(features: dict[str, np.ndarray], label: np.ndarray | None = None, size: int = 7) -> tf.data.Dataset:
    """A split as a TFX data accessor reads it: batches in file order, (features, label) with a label."""
    elements = features if label is None else (features, label)
    return tf.data.Dataset.from_tensor_slices(elements).batch(size)


def _ids(dataset: tf.data.Dataset) -> list[int]:
    return [
        int(i) for batch in dataset for i in np.reshape((batch[0] if isinstance(batch, tuple) else batch)["id"], -1)
    ]


def _stock_like_split(days_by_ticker: dict[str, int], first_id: int = 0) -> dict[str, np.ndarray]:
    """One window per ticker and target day, rows shuffled (file order says nothing of time)."""
    rows = [
        (ticker, f"2020-{1 + day // 28:02d}-{1 + day % 28:02d}")
        for ticker, days in days_by_ticker.items()
        for day in range(days)
    ]
    order = np.random.default_rng(0).permutation(len(rows))
    return {
        TICKER: np.array([rows[i][0] for i in order]),
        DATE: np.array([rows[i][1] for i in order]),
        "id": np.arange(first_id, first_id + len(rows)),
    }


def test_spread_slice_is_every_kth_example_and_the_rest_is_the_others():
    split = _batches({"id": np.arange(100)}, label=np.zeros(100))
    held_out = training.validation_slice(split, 0.1)
    validation, rest = _ids(held_out.only(split)), _ids(held_out.rest(split))
    assert validation == list(range(0, 100, 10))
    assert sorted(validation + rest) == list(range(100)) and not set(validation) & set(rest)
    # The same examples each time it is read: a deterministic slice, not a random sample.
    assert _ids(held_out.only(split)) == validation


def test_slice_has_an_example_however_small_the_split():
    split = _batches({"id": np.arange(3)})
    assert _ids(training.validation_slice(split, 0.1).only(split)) == [0]


def test_time_ordered_slice_is_each_tickers_latest_training_windows():
    features = _stock_like_split({"MSFT": 100, "AAPL": 40})
    split = _batches(features, size=16)
    held_out = training.validation_slice(split, 0.1, (TICKER, DATE))
    chosen = set(_ids(held_out.only(split)))
    for ticker, days in (("MSFT", 100), ("AAPL", 40)):
        dates = features[DATE][features[TICKER] == ticker]
        ids = features["id"][features[TICKER] == ticker]
        latest = set(ids[np.argsort(dates)][-int(np.ceil(days * 0.1)) :].tolist())
        assert chosen & set(ids.tolist()) == latest, ticker
    assert set(_ids(held_out.rest(split))) == set(features["id"].tolist()) - chosen


class _SplitFiles:
    """A data accessor over in-memory splits, by file pattern: what the Trainer's fn_args.data_accessor does."""

    def __init__(self, splits: dict[str, dict[str, np.ndarray]], label_key: str):
        self.splits, self.label_key = splits, label_key
        self.read: list[str] = []

    def tf_dataset_factory(self, file_pattern, options, schema):
        del schema
        self.read.append(file_pattern)
        features = dict(self.splits[file_pattern])
        if options.label_key is None:
            return _batches(features, size=options.batch_size)
        label = features.pop(options.label_key)
        return _batches(features, label, size=options.batch_size)


def _stock_fn_args(train: dict, evaluation: dict) -> types.SimpleNamespace:
    label = {"train": np.zeros(len(train["id"]), np.float32), "eval": np.ones(len(evaluation["id"]), np.float32)}
    splits = {"train": {**train, "target": label["train"]}, "eval": {**evaluation, "target": label["eval"]}}
    return types.SimpleNamespace(
        train_files="train", eval_files="eval", data_accessor=_SplitFiles(splits, "target"), eval_steps=2
    )


def test_with_early_stopping_fit_never_sees_the_eval_split():
    train, evaluation = _stock_like_split({"MSFT": 60}), _stock_like_split({"MSFT": 20}, first_id=1000)
    fn_args = _stock_fn_args(train, evaluation)
    config = apply_overrides(StockConfig(), ["early_stopping.enabled=true", "model.batch_size=8"])
    transform_output = types.SimpleNamespace(transformed_metadata=types.SimpleNamespace(schema=None))
    fitted, validation = training.fit_datasets(fn_args, config, transform_output, "target")
    validation_ids = _ids(validation)
    # The slice: the six latest of the 60 training days; the eval split's ids (1000 on) are nowhere.
    assert sorted(validation_ids) == sorted(train["id"][np.argsort(train[DATE])][-6:].tolist())
    trained_ids = {i for batch in fitted.take(20) for i in batch[0]["id"].numpy().tolist()}
    assert trained_ids == set(train["id"].tolist()) - set(validation_ids)
    assert "eval" not in fn_args.data_accessor.read
    # Without early stopping, fit validates on the eval split as before.
    config = apply_overrides(StockConfig(), ["early_stopping.enabled=false", "model.batch_size=8"])
    _, evaluation_batches = training.fit_datasets(fn_args, config, transform_output, "target")
    assert set(i for batch in evaluation_batches.take(3) for i in batch[0]["id"].numpy().tolist()) <= set(
        evaluation["id"].tolist()
    )


def _fn_args(tmp_path, train_steps: int, epochs: int) -> types.SimpleNamespace:
    return types.SimpleNamespace(train_steps=train_steps, eval_steps=1, model_run_dir=str(tmp_path / "model_run"))


def _line_fit(tmp_path, training_loop: str, settings: EarlyStoppingConfig):
    """y = x learnt from w = 0 by small SGD steps, validated on y = 0.5 x: the validation loss falls
    until w passes 0.5, then rises. Returns the history, the weight after each epoch and the final weight."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(0.02), loss="mean_squared_error")
    x = np.linspace(-1, 1, 64, dtype=np.float32)[:, None]
    train = tf.data.Dataset.from_tensor_slices((x, x)).batch(16).repeat()
    validation = tf.data.Dataset.from_tensor_slices((x, 0.5 * x)).batch(16)
    weights: list[float] = []
    after_each_epoch = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights.append(float(model.weights[0].numpy().item()))
    )
    history = training.fit_and_record(
        model,
        train,
        validation,
        _fn_args(tmp_path, 200, 40),
        40,
        [after_each_epoch],
        training_loop,
        early_stopping=settings,
    )
    return history, weights, float(model.weights[0].numpy().item())


@pytest.mark.parametrize("training_loop", training.TRAINING_LOOPS)
def test_training_stops_when_the_validation_loss_stops_improving_and_keeps_the_best_weights(tmp_path, training_loop):
    history, weights, final = _line_fit(tmp_path, training_loop, EarlyStoppingConfig(enabled=True, patience=2))
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    # It stopped `patience` epochs after the best one, long before the 40 epochs.
    assert len(losses) == best + 3 < 40
    assert losses[best + 1] > losses[best] and losses[best + 2] > losses[best]
    # The model ends with the best epoch's weight, not the last one's.
    assert final == pytest.approx(weights[best]) and final != pytest.approx(weights[-1])
    assert abs(final - 0.5) < abs(weights[-1] - 0.5)
    record = training_record.read_metrics(str(tmp_path / "model_run"))
    assert record == {
        "early_stopping.epochs_trained": best + 3,
        "early_stopping.stopped_early": 1,
        "early_stopping.best_epoch": best,
        "early_stopping.best_val_loss": pytest.approx(losses[best]),
        "early_stopping.restored_best_weights": 1,
    }
    rows = training_record.read_history(str(tmp_path / "model_run" / training_record.HISTORY_FILE))
    assert [row["val_loss"] for row in rows] == pytest.approx(losses)


def test_without_restoring_the_last_weights_stay(tmp_path):
    settings = EarlyStoppingConfig(enabled=True, patience=2, restore_best_weights=False)
    _, weights, final = _line_fit(tmp_path, training.FIT, settings)
    assert final == pytest.approx(weights[-1])
    assert (
        json.loads((tmp_path / "model_run" / training_record.METRICS_FILE).read_text())[
            "early_stopping.restored_best_weights"
        ]
        == 0
    )


def test_a_monitored_metric_the_model_lacks_is_one_sentence(tmp_path):
    settings = EarlyStoppingConfig(enabled=True, monitor="val_accuracy")
    with pytest.raises(ValueError, match=r"^--set early_stopping.monitor=val_accuracy: .* hold val_loss; expected"):
        _line_fit(tmp_path, training.FIT, settings)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("early_stopping.validation_fraction=0.7", "expected a number above 0 and 0.5 or less"),
        ("early_stopping.validation_fraction=0", "expected a number above 0 and 0.5 or less"),
        ("early_stopping.patience=0", "expected a whole number 1 or more"),
    ],
)
def test_out_of_range_settings_are_refused_in_one_sentence(setting, expected):
    with pytest.raises(ConfigError, match=f"^--set {setting}: {expected}.$"):
        apply_overrides(IrisConfig(), [setting])


def test_a_monitor_that_is_no_validation_metric_is_refused():
    config = apply_overrides(IrisConfig(), ["early_stopping.monitor=loss"])
    with pytest.raises(ConfigError, match="^--set early_stopping.monitor=loss: expected a validation metric"):
        config.check_values()
