"""Training shared by every pipeline's run_fn: set up and read the transformed data, warm start,
train by epochs (Keras' `fit`, or the notes' `tf.GradientTape` loop), stop early on a validation slice
of the training split, and keep a record of it.

The record lands in the Trainer's ModelRun artifact (`fn_args.model_run_dir`), where the
MlflowTracker component picks it up, whatever orchestrator ran the Trainer
(components/training_record.py names its files).
"""

import collections
import functools
import itertools
import json
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import numpy as np
import tensorflow as tf
import tf_keras as keras
from absl import logging as absl_logging
from tensorflow.io import gfile
from tensorflow_transform import TFTransformOutput
from tfx_bsl.public import tfxio

from components import model_inspection, tf_setup, training_record
from components.models import tuning
from components.training_progress import PROGRESS_LOGGER, TrainingProgress
from components.training_record import CURVES_FILE, HISTORY_FILE, SUMMARY_FILE
from pipelines.config import EarlyStoppingConfig

_ConfigT = TypeVar("_ConfigT", bound="_TrainerConfig")


class _ModelSettings(Protocol):
    @property
    def seed(self) -> int: ...

    @property
    def batch_size(self) -> int: ...


class _DataConfig(Protocol):
    """What fit_datasets reads of a pipeline's config (a PipelineConfig)."""

    @property
    def model(self) -> _ModelSettings: ...

    @property
    def cache_in_memory(self) -> bool: ...

    @property
    def early_stopping(self) -> EarlyStoppingConfig: ...

    @property
    def validation_slice_by_time(self) -> tuple[str, str] | tuple[()]: ...


class _TrainerConfig(_DataConfig, Protocol):
    """What prepare_training reads of a pipeline's config (a PipelineConfig)."""

    @classmethod
    def from_custom_config(cls: type[_ConfigT], custom_config: dict) -> _ConfigT: ...


def prepare_training(
    fn_args, config_type: type[_ConfigT], label_key: str
) -> tuple[_ConfigT, TFTransformOutput, tf.data.Dataset, tf.data.Dataset]:
    """What a classifier's run_fn starts from: TensorFlow set up (components/tf_setup.py), the
    pipeline's config rebuilt from the Trainer's custom_config (with the values a model search chose),
    every random seed set from `config.model.seed`, the Transform output, and the batches fit trains
    on and validates on (fit_datasets) as (features, label) pairs.

    Args:
      fn_args: the Trainer's FnArgs.
      config_type: the pipeline's config class (or its family's base), which the Trainer's config is rebuilt as.
      label_key: the transformed feature that is the label.

    Returns:
      (config, transform_output, train, validation).
    """
    tf_setup.configure()
    config = tuning.with_hyperparameters(config_type.from_custom_config(fn_args.custom_config), fn_args)
    keras.utils.set_random_seed(config.model.seed)
    transform_output = TFTransformOutput(fn_args.transform_output)
    train, validation = fit_datasets(fn_args, config, transform_output, label_key)
    return config, transform_output, train, validation


def fit_datasets(
    fn_args,
    config: _DataConfig,
    transform_output: TFTransformOutput,
    label_key: str | None = None,
    *,
    to_inputs: Callable | None = None,
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """(train, validation): what fit trains on and scores after each epoch. With early stopping
    (`config.early_stopping.enabled`), the training split less its validation slice (ValidationSlice),
    and that slice once through in file order; the eval split, which blesses the model, is not read.
    Without, the training split and the eval split (of which fit scores `eval_steps` batches).
    `label_key` and `to_inputs` as transformed_dataset takes them."""
    options = {
        "data_accessor": fn_args.data_accessor,
        "transform_output": transform_output,
        "batch_size": config.model.batch_size,
        "label_key": label_key,
        "to_inputs": to_inputs,
        "in_memory": config.cache_in_memory,
    }
    if not config.early_stopping.enabled:
        train, evaluation = (
            transformed_dataset(files, seed=config.model.seed, **options)
            for files in (fn_args.train_files, fn_args.eval_files)
        )
        return train, evaluation
    held_out = validation_slice(
        _read(fn_args.train_files, fn_args.data_accessor, transform_output, label_key),
        config.early_stopping.validation_fraction,
        config.validation_slice_by_time,
    )
    train = transformed_dataset(fn_args.train_files, seed=config.model.seed, held_out=held_out, **options)
    return train, validation_dataset(fn_args.train_files, held_out, **options)


def transformed_dataset(
    file_pattern,
    data_accessor,
    transform_output,
    batch_size: int,
    label_key: str | None = None,
    *,
    to_inputs: Callable | None = None,
    seed: int = 0,
    in_memory: bool = True,
    held_out: "ValidationSlice | None" = None,
) -> tf.data.Dataset:
    """Batches of a transformed split, shuffled anew each pass, repeated without end (fit counts steps).

    Args:
      label_key: the label, split off as (features, label) pairs; or None with `to_inputs`.
      to_inputs: turns a batch of transformed features into what the model fits on, (inputs, target).
      in_memory: keep the decoded examples in memory after the first pass, so later epochs skip
        reading and parsing the TFRecords (the notes' scripts keep their arrays in memory); off for
        splits larger than memory.
      held_out: a validation slice of this split left out of it (early stopping validates on it).
    """
    examples = _examples(
        file_pattern,
        data_accessor,
        transform_output,
        label_key,
        to_inputs,
        in_memory,
        None if held_out is None else held_out.rest,
    )
    return (
        examples.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )


def validation_dataset(
    file_pattern,
    held_out: "ValidationSlice",
    data_accessor,
    transform_output,
    batch_size: int,
    label_key: str | None = None,
    *,
    to_inputs: Callable | None = None,
    in_memory: bool = True,
) -> tf.data.Dataset:
    """The examples of `held_out`, batched, once through in file order: the same figures every epoch."""
    examples = _examples(file_pattern, data_accessor, transform_output, label_key, to_inputs, in_memory, held_out.only)
    return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# Examples per batch a split is read and parsed in: parsing is per batch, the shuffle over examples.
_READ_BATCH = 1024


def _read(file_pattern, data_accessor, transform_output, label_key: str | None) -> tf.data.Dataset:
    """A transformed split once through, in file order, in batches of _READ_BATCH."""
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=_READ_BATCH, label_key=label_key, num_epochs=1, shuffle=False),
        transform_output.transformed_metadata.schema,
    )


def _examples(
    file_pattern,
    data_accessor,
    transform_output,
    label_key: str | None,
    to_inputs: Callable | None,
    in_memory: bool,
    select: Callable[[tf.data.Dataset], tf.data.Dataset] | None,
) -> tf.data.Dataset:
    """A split's examples one by one, those `select` keeps of its batches, as the model takes them."""
    dataset = _read(file_pattern, data_accessor, transform_output, label_key)
    if select is not None:
        dataset = select(dataset)
    if to_inputs is not None:
        dataset = dataset.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.unbatch()
    return dataset.cache() if in_memory else dataset


class ValidationSlice:
    """Which examples of a training split early stopping validates on, and the split without them.

    `in_slice(position, features)`: whether the example at `position` of the split (counted from 0 in
    file order) with these transformed features is in the slice; validation_slice makes it."""

    def __init__(self, in_slice: Callable[[tf.Tensor, dict], tf.Tensor]):
        self._in_slice = in_slice

    def only(self, batches: tf.data.Dataset) -> tf.data.Dataset:
        """The slice's examples of the split's `batches` (as _read gives them), batched again."""
        return self._select(batches, True)

    def rest(self, batches: tf.data.Dataset) -> tf.data.Dataset:
        """The other examples."""
        return self._select(batches, False)

    def _select(self, batches: tf.data.Dataset, in_slice: bool) -> tf.data.Dataset:
        def keep(position, example):
            features = example[0] if isinstance(example, tuple) else example
            return tf.equal(self._in_slice(position, features), in_slice)

        return (
            batches.unbatch()
            .enumerate()
            .filter(keep)
            .map(lambda position, example: example, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(_READ_BATCH)
        )


def validation_slice(
    batches: tf.data.Dataset, fraction: float, by_time: tuple[str, str] | tuple[()] = ()
) -> ValidationSlice:
    """The validation slice of a training split read as `batches` (in file order, as _read gives them):
    `fraction` of its examples, at least one.

    by_time: (series feature, time feature): each series' latest examples by the time feature, the
    part of the training period just before the eval period (stock's windows). Empty: every k-th
    example in file order (k = 1 / fraction, spread evenly however the files are ordered), the same
    examples on every run over the same split."""
    if not by_time:
        return ValidationSlice(functools.partial(_spread_evenly, fraction=fraction))
    series_key, time_key = by_time
    latest = latest_of_each_series(batches, series_key, time_key, fraction)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(sorted(latest), tf.string), tf.ones([len(latest)], tf.int64)),
        default_value=0,
    )

    def in_slice(position, features):
        del position
        return table.lookup(_series_time(features[series_key], features[time_key])) == 1

    return ValidationSlice(in_slice)


def latest_of_each_series(batches: tf.data.Dataset, series_key: str, time_key: str, fraction: float) -> set[bytes]:
    """Keys (_series_time) of each series' latest `fraction` of examples by `time_key`, at least one each."""
    times: dict[bytes, list] = collections.defaultdict(list)
    for batch in batches:
        features = batch[0] if isinstance(batch, tuple) else batch
        for series, when in zip(
            np.reshape(features[series_key].numpy(), [-1]), np.reshape(features[time_key].numpy(), [-1])
        ):
            times[_as_bytes(series)].append(when)
    latest = set()
    for series, series_times in times.items():
        newest_first = sorted(series_times, reverse=True)
        count = math.ceil(len(newest_first) * fraction)
        latest |= {series + _KEY_SEPARATOR + _as_bytes(when) for when in newest_first[:count]}
    return latest


_KEY_SEPARATOR = b"\x1f"


def _as_bytes(value) -> bytes:
    """A string feature's value as it is, a whole number's as its digits (as tf.strings.as_string writes it)."""
    return value if isinstance(value, bytes) else str(value).encode()


def _series_time(series: tf.Tensor, when: tf.Tensor) -> tf.Tensor:
    """One example's key, as latest_of_each_series makes it."""
    return tf.strings.join([_text(series), _text(when)], separator=_KEY_SEPARATOR.decode())


def _text(value: tf.Tensor) -> tf.Tensor:
    value = tf.reshape(value, [-1])[0]
    return value if value.dtype == tf.string else tf.strings.as_string(value)


def _spread_evenly(position: tf.Tensor, features: dict, fraction: float) -> tf.Tensor:
    del features
    # The example at `position` is the ceil(fraction * (position + 1))-th of the slice: the first
    # example, then one every 1 / fraction.
    at = tf.cast(position, tf.float64)
    return tf.math.ceil((at + 1) * fraction) > tf.math.ceil(at * fraction)


# Examples the shuffle draws from: a whole small split, a wide window of a large one.
_SHUFFLE_BUFFER = 50_000


def warm_start(model: keras.Model, base_model_dir: str, saved_as: str | None = None) -> None:
    """Loads the weights of a model this pipeline exported before (the Trainer's `base_model`, the
    latest blessed one) into `model`, which must have the same layers: the notes' checkpoint resume.
    The optimizer starts afresh; the Transform layer and signatures saved beside the weights are skipped.
    `saved_as` names the attribute holding the Keras model when the SavedModel's root is a wrapping
    tf.Module rather than the model itself."""
    checkpoint = os.path.join(base_model_dir, "variables", "variables")
    try:
        if saved_as:
            tf.train.Checkpoint(**{saved_as: model}).read(checkpoint).expect_partial().assert_existing_objects_matched()
        else:
            model.load_weights(checkpoint).expect_partial()
    except (ValueError, AssertionError) as error:
        raise ValueError(
            f"Cannot warm start from {base_model_dir}: its weights do not fit this model ({error}). "
            "Was the blessed model built with other settings? Run with --set warm_start=false."
        ) from error


# How a model is trained (the `model.training_loop` setting of the configs that offer it).
FIT = "fit"
GRADIENT_TAPE = "gradient_tape"
TRAINING_LOOPS = (FIT, GRADIENT_TAPE)


def fit_and_record(
    model: keras.Model,
    train,
    validation,
    fn_args,
    epochs: int,
    callbacks=(),
    training_loop: str = FIT,
    early_stopping: EarlyStoppingConfig | None = None,
) -> keras.callbacks.History:
    """Trains `model` for `epochs` epochs sharing the Trainer's `train_steps`, scoring `validation`
    after each (fit_datasets gives both), and writes the record above and the notes' inspection files
    (components/model_inspection.py). `callbacks` (Keras callbacks) run during training;
    ProgressReport tells the console how far it is.

    With `early_stopping` enabled, `validation` is early stopping's validation slice, scored whole
    each epoch, and training stops once `early_stopping.monitor` has not improved for
    `early_stopping.patience` epochs (EarlyStopping), with the best epoch's weights when it says so;
    the record's metrics say where it stopped and why (EarlyStopping.record). Without, `validation` is
    the eval split, of which `eval_steps` batches are scored.

    `training_loop`: FIT, Keras' `model.fit`, or GRADIENT_TAPE, the notes' loop written out
    (`train_with_gradient_tape`); both take the optimizer, loss and metrics `model` was compiled with
    and give the same record.

    TensorBoard's event files (scalars per epoch, the model's graph) go where the TFX templates put them,
    `<model_run>/logs`: `tensorboard --logdir <pipeline_root>/Trainer/model_run`."""
    epochs = max(1, min(epochs, fn_args.train_steps))
    tensorboard = keras.callbacks.TensorBoard(
        log_dir=os.path.join(fn_args.model_run_dir, training_record.TENSORBOARD_DIR), write_graph=True
    )
    stopping = EarlyStopping(early_stopping) if early_stopping is not None and early_stopping.enabled else None
    train_with = model.fit if training_loop == FIT else functools.partial(train_with_gradient_tape, model)
    clock = EpochClock()
    history = train_with(
        train,
        epochs=epochs,
        steps_per_epoch=fn_args.train_steps // epochs,
        validation_data=validation,
        # The validation slice is scored whole (it is read once, not repeated); the eval split in part.
        validation_steps=None if stopping else fn_args.eval_steps,
        callbacks=[*callbacks, *([stopping] if stopping else []), tensorboard, ProgressReport(), clock],
        verbose=2,
    )
    gfile.makedirs(fn_args.model_run_dir)
    training_record.write_history(history.history, os.path.join(fn_args.model_run_dir, HISTORY_FILE), clock.ends)
    training_record.plot_history(
        history.history,
        os.path.join(fn_args.model_run_dir, CURVES_FILE),
        "validation slice" if stopping else "evaluation",
    )
    if stopping:
        record = stopping.record(len(history.epoch))
        training_record.write_metrics(record, fn_args.model_run_dir)
        absl_logging.info("Early stopping, %d of %d epochs: %s", len(history.epoch), epochs, record)
    with gfile.GFile(os.path.join(fn_args.model_run_dir, SUMMARY_FILE), "w") as f:
        json.dump(model_summary(model), f, indent=2)
    model_inspection.write_inspection(model, fn_args.model_run_dir)
    return history


class EarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping with a pipeline's `early_stopping` settings (Keras restores the best
    epoch's weights at the end of training whether or not it stopped early). A monitored metric the
    logs lack is an error at the first epoch's end, where Keras would only warn and never stop."""

    def __init__(self, settings: EarlyStoppingConfig):
        super().__init__(
            monitor=settings.monitor, patience=settings.patience, restore_best_weights=settings.restore_best_weights
        )

    def get_monitor_value(self, logs):
        if self.monitor not in (logs or {}):
            offered = ", ".join(sorted(name for name in logs or {} if name.startswith("val_")))
            raise ValueError(
                f"--set early_stopping.monitor={self.monitor}: the model's validation logs hold {offered}; "
                "expected one of them."
            )
        return super().get_monitor_value(logs)

    def record(self, epochs_trained: int) -> dict[str, float]:
        """Where training stopped and why, as the record's metrics (MLflow's): the epochs trained,
        whether that was early, the best epoch (history.csv's `epoch`, counted from 0) and its value."""
        return {
            "early_stopping.epochs_trained": epochs_trained,
            "early_stopping.stopped_early": int(self.stopped_epoch > 0),
            "early_stopping.best_epoch": self.best_epoch,
            f"early_stopping.best_{self.monitor}": float(self.best),
            "early_stopping.restored_best_weights": int(self.restore_best_weights),
        }


def train_with_gradient_tape(
    model: keras.Model,
    train: tf.data.Dataset,
    *,
    epochs: int,
    steps_per_epoch: int,
    validation_data: tf.data.Dataset,
    validation_steps: int | None,
    callbacks=(),
    verbose: int = 0,
) -> keras.callbacks.History:
    """The notes' training loop, written out: for each batch the forward pass under a `tf.GradientTape`, the
    loss, its gradients with respect to the trainable variables, one optimizer step; after each epoch the
    loss and metrics on `validation_steps` batches of `validation_data`. Takes `model.fit`'s arguments
    (`verbose` is unused: the callbacks report) and calls the callbacks as `fit` does, so the record,
    TensorBoard, the console's progress and early stopping work the same.

    The loss, optimizer and metrics are those `model` was compiled with (the loss with the layers'
    regularization penalties added, as `fit` adds them); the logs carry `fit`'s names (`loss`,
    `val_loss`, each metric's name)."""
    del verbose
    history = keras.callbacks.History()
    # add_history: the History above is the one returned.
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history], add_history=False, model=model, epochs=epochs, steps=steps_per_epoch, verbose=0
    )

    @tf.function
    def train_step(features, labels):
        with tf.GradientTape() as tape:
            predictions = model(features, training=True)
            loss = model.compiled_loss(labels, predictions, regularization_losses=model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        model.compiled_metrics.update_state(labels, predictions)

    @tf.function
    def evaluation_step(features, labels):
        predictions = model(features, training=False)
        model.compiled_loss(labels, predictions, regularization_losses=model.losses)
        model.compiled_metrics.update_state(labels, predictions)

    def results() -> dict[str, tf.Tensor]:
        return {metric.name: metric.result() for metric in model.metrics}

    def reset() -> None:
        for metric in model.metrics:
            metric.reset_state()

    model.stop_training = False
    callback_list.on_train_begin()
    train_batches = iter(train)
    # A repeated split is scored `validation_steps` batches at a time; a finite one (the validation
    # slice, validation_steps None) whole each epoch.
    evaluation_batches = iter(validation_data) if validation_steps is not None else None
    for epoch in range(epochs):
        reset()
        callback_list.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            train_step(*next(train_batches))
            callback_list.on_train_batch_end(step, results())
        logs = results()
        reset()
        batches = (
            validation_data if evaluation_batches is None else itertools.islice(evaluation_batches, validation_steps)
        )
        for features, labels in batches:
            evaluation_step(features, labels)
        logs |= {f"val_{name}": value for name, value in results().items()}
        callback_list.on_epoch_end(epoch, {name: float(value) for name, value in logs.items()})
        if model.stop_training:
            break
    callback_list.on_train_end()
    return history


def export_formats(model: keras.Model, fn_args) -> None:
    """`model` as HDF5 and as a weights-only checkpoint beside the SavedModel in the Trainer's Model artifact
    (components/model_inspection.py); before the serving signatures attach the Transform layer to it."""
    model_inspection.save_formats(model, os.path.dirname(fn_args.serving_model_dir.rstrip("/")))


_progress_logger = logging.getLogger(PROGRESS_LOGGER)


class EpochClock(keras.callbacks.Callback):
    """When each epoch ended (Unix time, seconds): the times MLflow shows the epochs' metrics at."""

    def __init__(self):
        super().__init__()
        self._supports_tf_logs = True  # it reads no logs: never make Keras convert them for it
        self.ends: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.time())


class ProgressReport(keras.callbacks.Callback):
    """Logs where the fit stands, a TrainingProgress on the progress logger (components/training_progress.py): the
    epoch, the step within it and the latest loss at most once every `interval_s` seconds, and an epoch's
    end with its validation metrics at most as often (the last one always). The console shows it while
    the Trainer runs."""

    def __init__(self, interval_s: float = 0.5, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        # Keras turns every batch's logs into Python numbers, a wait for the step to finish, unless
        # every callback takes tensors; this one turns only the batches it reports.
        self._supports_tf_logs = True
        self.interval_s = interval_s
        self._clock = clock
        self._reported_at = -math.inf
        self._epoch_reported_at = -math.inf
        self._epoch = 1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self._clock() - self._reported_at >= self.interval_s:
            self._report(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        # Not held back by the steps' reports, which would leave nearly every epoch's end out; the last
        # one whatever the interval, as the console shows it while the model is saved.
        if self._clock() - self._epoch_reported_at >= self.interval_s or epoch + 1 == self.params["epochs"]:
            self._epoch_reported_at = self._clock()
            self._report(None, logs)

    def _report(self, step: int | None, logs) -> None:
        self._reported_at = self._clock()
        progress = TrainingProgress(
            epoch=self._epoch,
            epochs=self.params["epochs"],
            step=step,
            steps=self.params.get("steps"),
            metrics={name: float(value) for name, value in (logs or {}).items()},
        )
        _progress_logger.info("Training: %s", progress, extra={"progress": progress})


def model_summary(model: keras.Model) -> dict:
    """Layers in order, each weight with its shape and value statistics."""
    layers = []
    for layer in model.layers:
        weights = [
            {
                "name": weight.name,
                "shape": list(weight.shape),
                "mean": float(np.mean(value)),
                "std": float(np.std(value)),
                "min": float(np.min(value)),
                "max": float(np.max(value)),
            }
            for weight, value in zip(layer.weights, layer.get_weights())
        ]
        layers.append({"name": layer.name, "type": type(layer).__name__, "weights": weights})
    return {"total_parameters": int(model.count_params()), "dtype_policy": model.dtype_policy.name, "layers": layers}
