"""Training shared by every pipeline's run_fn: set up and read the transformed data, warm start,
train by epochs (Keras' `fit`, or the notes' `tf.GradientTape` loop) and keep a record of it.

The record lands in the Trainer's ModelRun artifact (`fn_args.model_run_dir`), where the
MlflowTracker component picks it up, whatever orchestrator ran the Trainer
(components/training_record.py names its files).
"""

import functools
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
from tensorflow.io import gfile
from tensorflow_transform import TFTransformOutput
from tfx_bsl.public import tfxio

from components import model_inspection, tf_setup, training_record
from components.models import tuning
from components.training_progress import PROGRESS_LOGGER, TrainingProgress
from components.training_record import CURVES_FILE, HISTORY_FILE, SUMMARY_FILE

_ConfigT = TypeVar("_ConfigT", bound="_TrainerConfig")


class _ModelSettings(Protocol):
    @property
    def seed(self) -> int: ...

    @property
    def batch_size(self) -> int: ...


class _TrainerConfig(Protocol):
    """What prepare_training reads of a pipeline's config (a PipelineConfig)."""

    @classmethod
    def from_custom_config(cls: type[_ConfigT], custom_config: dict) -> _ConfigT: ...

    @property
    def model(self) -> _ModelSettings: ...

    @property
    def cache_in_memory(self) -> bool: ...


def prepare_training(
    fn_args, config_type: type[_ConfigT], label_key: str
) -> tuple[_ConfigT, TFTransformOutput, tf.data.Dataset, tf.data.Dataset]:
    """What a classifier's run_fn starts from: TensorFlow set up (components/tf_setup.py), the
    pipeline's config rebuilt from the Trainer's custom_config (with the values a model search chose),
    every random seed set from `config.model.seed`, the Transform output, and the train and eval batches of
    `transformed_dataset` as (features, label) pairs.

    Args:
      fn_args: the Trainer's FnArgs.
      config_type: the pipeline's config class (or its family's base), which the Trainer's config is rebuilt as.
      label_key: the transformed feature that is the label.

    Returns:
      (config, transform_output, train, evaluation).
    """
    tf_setup.configure()
    config = tuning.with_hyperparameters(config_type.from_custom_config(fn_args.custom_config), fn_args)
    keras.utils.set_random_seed(config.model.seed)
    transform_output = TFTransformOutput(fn_args.transform_output)
    train, evaluation = (
        transformed_dataset(
            files,
            fn_args.data_accessor,
            transform_output,
            config.model.batch_size,
            label_key,
            seed=config.model.seed,
            in_memory=config.cache_in_memory,
        )
        for files in (fn_args.train_files, fn_args.eval_files)
    )
    return config, transform_output, train, evaluation


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
) -> tf.data.Dataset:
    """Batches of a transformed split, shuffled anew each pass, repeated without end (fit counts steps).

    Args:
      label_key: the label, split off as (features, label) pairs; or None with `to_inputs`.
      to_inputs: turns a batch of transformed features into what the model fits on, (inputs, target).
      in_memory: keep the decoded examples in memory after the first pass, so later epochs skip
        reading and parsing the TFRecords (the notes' scripts keep their arrays in memory); off for
        splits larger than memory.
    """
    # Read once in large batches: parsing is per batch, and the shuffle below is over examples.
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=1024, label_key=label_key, num_epochs=1, shuffle=False),
        transform_output.transformed_metadata.schema,
    )
    if to_inputs is not None:
        dataset = dataset.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.unbatch()
    if in_memory:
        dataset = dataset.cache()
    return (
        dataset.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )


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
    model: keras.Model, train, evaluation, fn_args, epochs: int, callbacks=(), training_loop: str = FIT
) -> keras.callbacks.History:
    """Trains `model` for `epochs` epochs sharing the Trainer's `train_steps`, scoring the
    evaluation data (`eval_steps` batches) after each, and writes the record above and the notes'
    inspection files (components/model_inspection.py). `callbacks` (Keras callbacks, such as early
    stopping) run during training; ProgressReport tells the console how far it is.

    `training_loop`: FIT, Keras' `model.fit`, or GRADIENT_TAPE, the notes' loop written out
    (`train_with_gradient_tape`); both take the optimizer, loss and metrics `model` was compiled with
    and give the same record.

    TensorBoard's event files (scalars per epoch, the model's graph) go where the TFX templates put them,
    `<model_run>/logs`: `tensorboard --logdir <pipeline_root>/Trainer/model_run`."""
    epochs = max(1, min(epochs, fn_args.train_steps))
    tensorboard = keras.callbacks.TensorBoard(
        log_dir=os.path.join(fn_args.model_run_dir, training_record.TENSORBOARD_DIR), write_graph=True
    )
    train_with = model.fit if training_loop == FIT else functools.partial(train_with_gradient_tape, model)
    clock = EpochClock()
    history = train_with(
        train,
        epochs=epochs,
        steps_per_epoch=fn_args.train_steps // epochs,
        validation_data=evaluation,
        validation_steps=fn_args.eval_steps,
        callbacks=[*callbacks, tensorboard, ProgressReport(), clock],
        verbose=2,
    )
    gfile.makedirs(fn_args.model_run_dir)
    training_record.write_history(history.history, os.path.join(fn_args.model_run_dir, HISTORY_FILE), clock.ends)
    training_record.plot_history(history.history, os.path.join(fn_args.model_run_dir, CURVES_FILE))
    with gfile.GFile(os.path.join(fn_args.model_run_dir, SUMMARY_FILE), "w") as f:
        json.dump(model_summary(model), f, indent=2)
    model_inspection.write_inspection(model, fn_args.model_run_dir)
    return history


def train_with_gradient_tape(
    model: keras.Model,
    train: tf.data.Dataset,
    *,
    epochs: int,
    steps_per_epoch: int,
    validation_data: tf.data.Dataset,
    validation_steps: int,
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
    evaluation_batches = iter(validation_data)
    for epoch in range(epochs):
        reset()
        callback_list.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            train_step(*next(train_batches))
            callback_list.on_train_batch_end(step, results())
        logs = results()
        reset()
        for _ in range(validation_steps):
            evaluation_step(*next(evaluation_batches))
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
