"""Trainer module for the table pipeline: an MLP over whatever columns Transform made, as a TFX run_fn.

The model's inputs are read from the Transform output's feature spec: a float column is a scaled number,
an int64 column a text column's vocabulary ids (embedded or one-hot, `model.categorical`). A
classification ends in a softmax over `class_names`, a regression in one unit (the standardized label).

The exported SavedModel holds the Transform graph and the naive baseline, so its signatures take raw
columns:
  serving_default      serialized tf.Examples of the feature columns -> a classification's
                       probabilities, class_id, class (its name) and probability; a regression's
                       prediction, in the label's units
  predict_row          the same from one tensor per column, named as the column ([batch], the column's
                       type): JSON clients, MLflow
  transform_features   serialized tf.Examples with the label -> LABEL_KEY, the label as TFMA scores it
                       (class index, or the value): evaluation_preprocessing
  evaluation           the same examples -> the model's output, the baseline's (`majority`: the train
                       split's most frequent class, as probabilities; `mean`: the train split's mean
                       label) and excess_<measure>_vs_<baseline> per example, for TFMA
"""

import tensorflow as tf
import tf_keras as keras
from tensorflow_transform import TFTransformOutput
from tfx.components.trainer.fn_args_utils import FnArgs

from components.models import training, tuning
from components.models.table import features
from components.models.table.preprocessing import dense
from pipelines.table.config import TableConfig, TableModelConfig


def feature_columns(transform_output: TFTransformOutput) -> tuple[list[str], dict[str, int]]:
    """The transformed feature columns: the numeric ones, and the text ones with their number of ids
    (vocabulary and out-of-vocabulary), each in name order."""
    spec = transform_output.transformed_feature_spec()
    columns = sorted(key for key in spec if key not in features.ADDED_KEYS)
    numeric = [key for key in columns if spec[key].dtype == tf.float32]
    categorical = {
        key: transform_output.vocabulary_size_by_name(features.vocabulary_name(key)) + features.NUM_OOV_BUCKETS
        for key in columns
        if spec[key].dtype == tf.int64
    }
    return numeric, categorical


def build_model(
    model: TableModelConfig, numeric: list[str], categorical: dict[str, int], outputs: int, regression: bool
) -> keras.Model:
    """The MLP (pipelines/table/config.py describes each setting): `outputs` softmax classes, or one
    linear unit for a regression."""
    regularizer = keras.regularizers.l2(model.l2)
    inputs = {key: keras.Input(shape=(1,), name=key) for key in numeric}
    parts = [inputs[key] for key in numeric]
    for key, ids in categorical.items():
        inputs[key] = keras.Input(shape=(1,), name=key, dtype=tf.int64)
        if model.categorical == "embedding":
            parts.append(keras.layers.Flatten()(keras.layers.Embedding(ids, model.embedding_dim)(inputs[key])))
        else:
            parts.append(keras.layers.CategoryEncoding(num_tokens=ids, output_mode="one_hot")(inputs[key]))
    x = parts[0] if len(parts) == 1 else keras.layers.concatenate(parts)
    for units in model.hidden_units:
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=regularizer)(x)
        if model.dropout:
            x = keras.layers.Dropout(model.dropout)(x)
    if regression:
        output = keras.layers.Dense(1, kernel_regularizer=regularizer)(x)
        loss, metrics = keras.losses.MeanSquaredError(), [keras.metrics.MeanAbsoluteError()]
    else:
        output = keras.layers.Dense(outputs, activation="softmax", kernel_regularizer=regularizer)(x)
        loss, metrics = keras.losses.SparseCategoricalCrossentropy(), [keras.metrics.SparseCategoricalAccuracy()]
    built = keras.Model(inputs=inputs, outputs=output)
    built.compile(optimizer=keras.optimizers.Adam(model.learning_rate), loss=loss, metrics=metrics)
    return built


class _TableModel(tf.Module):
    """The trained MLP between the Transform graph and the label's classes or units: raw columns in."""

    def __init__(self, model: keras.Model, transform_output: TFTransformOutput, config: TableConfig):
        super().__init__()
        self.model = model
        self.tft_layer = transform_output.transform_features_layer()
        self.raw_spec = transform_output.raw_feature_spec()
        self.label = config.label
        self.regression = config.is_regression
        self.class_names = tf.constant(config.class_names or ("",))
        self.classes = len(config.class_names)
        self.input_keys = sorted(model.input_names)
        self.win_output = config.win_output(config.baseline_outputs[0])
        self.prediction_key = config.prediction_key

    def _transform(self, raw: dict) -> dict:
        return self.tft_layer(raw)

    def _predict(self, transformed: dict) -> dict:
        output = self.model({key: transformed[key] for key in self.input_keys})
        if self.regression:
            prediction = output[:, 0] * transformed[features.STD_KEY] + transformed[features.MEAN_KEY]
            return {"prediction": prediction}
        class_id = tf.argmax(output, axis=1)
        return {
            "probabilities": output,
            "class_id": class_id,
            "class": tf.gather(self.class_names, class_id),
            "probability": tf.reduce_max(output, axis=1),
        }

    def _features_spec(self) -> dict:
        return {key: spec for key, spec in self.raw_spec.items() if key != self.label}

    def _evaluation_label(self, raw: dict, transformed: dict) -> tf.Tensor:
        if self.regression:
            return tf.reshape(tf.cast(dense(raw[self.label]), tf.float32), [-1])
        return transformed[features.LABEL_KEY]

    def signatures(self) -> dict:
        examples = tf.TensorSpec([None], tf.string, name="examples")
        features_spec = self._features_spec()

        @tf.function(input_signature=[examples])
        def serve_examples(serialized):
            return self._predict(self._transform(tf.io.parse_example(serialized, features_spec)))

        @tf.function(input_signature=[{key: _column_spec(key, spec) for key, spec in features_spec.items()}])
        def serve_row(columns):
            raw = {key: _as_feature(columns[key], features_spec[key]) for key in features_spec}
            return self._predict(self._transform(raw))

        @tf.function(input_signature=[examples])
        def transform_features(serialized):
            raw = tf.io.parse_example(serialized, self.raw_spec)
            return {features.LABEL_KEY: self._evaluation_label(raw, self._transform(raw))}

        @tf.function(input_signature=[examples])
        def evaluate(serialized):
            raw = tf.io.parse_example(serialized, self.raw_spec)
            transformed = self._transform(raw)
            label = self._evaluation_label(raw, transformed)
            predicted = self._predict(transformed)
            if self.regression:
                prediction, mean = predicted["prediction"], transformed[features.MEAN_KEY]
                excess = tf.square(prediction - label) - tf.square(mean - label)
                return {"prediction": prediction, features.MEAN: mean, self.win_output: excess}
            majority = transformed[features.MAJORITY_KEY]
            correct = tf.cast(tf.equal(predicted["class_id"], label), tf.float32)
            majority_correct = tf.cast(tf.equal(majority, label), tf.float32)
            return {
                "probabilities": predicted["probabilities"],
                features.MAJORITY: tf.one_hot(majority, self.classes),
                self.win_output: correct - majority_correct,
            }

        return {
            "serving_default": serve_examples.get_concrete_function(),
            TableConfig.json_signature: serve_row.get_concrete_function(),
            "transform_features": transform_features.get_concrete_function(),
            "evaluation": evaluate.get_concrete_function(),
        }


def _column_spec(key: str, spec) -> tf.TensorSpec:
    return tf.TensorSpec([None], spec.dtype, name=key)


def _as_feature(values: tf.Tensor, spec) -> tf.Tensor | tf.SparseTensor:
    """One column's [batch] values as parse_example gives the feature: [batch, 1], or sparse for a
    column that may be missing."""
    column = tf.reshape(values, [-1, 1])
    return column if isinstance(spec, tf.io.FixedLenFeature) else tf.sparse.from_dense(column)


def run_fn(fn_args: FnArgs) -> None:
    """Trains on the transformed train split and exports the table SavedModel."""
    config, transform_output, train, validation = training.prepare_training(fn_args, TableConfig, features.LABEL_KEY)
    numeric, categorical = feature_columns(transform_output)
    inputs = [*numeric, *categorical]

    def model_inputs(batch, label):
        return {key: batch[key] for key in inputs}, label

    model = build_model(config.model, numeric, categorical, len(config.class_names), config.is_regression)
    if fn_args.base_model:
        training.warm_start(model, fn_args.base_model, saved_as="model")
    training.fit_and_record(
        model,
        train.map(model_inputs),
        validation.map(model_inputs),
        fn_args,
        config.epochs,
        early_stopping=config.early_stopping,
    )
    training.export_formats(model, fn_args)
    table_model = _TableModel(model, transform_output, config)
    tf.saved_model.save(table_model, fn_args.serving_model_dir, signatures=table_model.signatures())


# The Tuner trains this same run_fn once per trial of a model search (components/models/tuning.py).
tuner_fn = tuning.tuner_fn_for(run_fn, TableConfig)
