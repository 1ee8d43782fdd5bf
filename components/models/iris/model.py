"""Trainer module for iris: the notes' softmax classifier with L2, as a TFX run_fn.

The exported SavedModel's `serving_default` signature takes serialized
tf.Examples holding the raw measurements (centimetres), applies the Transform
graph, and returns the class probabilities, the class index and the species name.
`predict_measurements` takes the four measurements themselves, one float tensor each,
for clients that send JSON ({"instances": [{"sepal_length": 5.1, ...}]}), and returns the same.
`score_examples` is `serving_default` without the species name, for TFX's BulkInferrer (IrisConfig's
bulk_inference_signature).
"""

import tensorflow as tf
import tf_keras as keras
from tensorflow_transform import TFTransformOutput
from tfx.components.trainer.fn_args_utils import FnArgs

from components.models import training, tuning
from components.models.iris import features
from components.models.iris.notes_model import IrisModel
from pipelines.iris.config import IrisConfig, IrisModelConfig

# The notes' optimizer comparison, by the names pipelines/iris/config.py OPTIMIZERS allows.
OPTIMIZERS = {
    "sgd": lambda rate: keras.optimizers.SGD(rate),
    "momentum": lambda rate: keras.optimizers.SGD(rate, momentum=0.9),
    "adagrad": lambda rate: keras.optimizers.Adagrad(rate),
    "rmsprop": lambda rate: keras.optimizers.RMSprop(rate),
    "adam": lambda rate: keras.optimizers.Adam(rate),
}


def build_classifier(model: IrisModelConfig) -> keras.Model:
    """The notes' model over the transformed measurements, by `model.name`: `mlp`, (optional ReLU hidden
    layers) -> Dense softmax, L2 on every kernel, or the notes' `IrisModel` class called on the four
    measurements as one row (pipelines/iris/config.py describes each setting)."""
    hidden_units, l2, learning_rate = model.hidden_units, model.l2, model.learning_rate
    inputs = [keras.Input(shape=(1,), name=key) for key in features.FEATURE_KEYS]
    x = keras.layers.concatenate(inputs)
    if model.name == "IrisModel":
        outputs = IrisModel(l2)(x)
    else:
        for units in hidden_units:
            x = keras.layers.Dense(units, activation="relu", kernel_regularizer=keras.regularizers.l2(l2))(x)
        outputs = keras.layers.Dense(
            len(features.SPECIES_NAMES), activation="softmax", kernel_regularizer=keras.regularizers.l2(l2)
        )(x)
    built = keras.Model(inputs=inputs, outputs=outputs)
    built.compile(
        optimizer=OPTIMIZERS[model.optimizer](learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return built


def _serving_signature(model: keras.Model, transform_output: TFTransformOutput):
    # Keep the Transform layer on the model so it is tracked and saved with it.
    model.tft_layer = transform_output.transform_features_layer()
    raw_spec = transform_output.raw_feature_spec()
    raw_spec.pop(features.LABEL_KEY)
    species_names = tf.constant(features.SPECIES_NAMES)

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve(serialized_examples):
        raw = tf.io.parse_example(serialized_examples, raw_spec)
        probabilities = model(model.tft_layer(raw))
        class_id = tf.argmax(probabilities, axis=1)
        return {
            "probabilities": probabilities,
            "class_id": class_id,
            "species": tf.gather(species_names, class_id),
        }

    return serve


def _scores_signature(serve):
    # tfx_bsl 1.16's RunInference, which the BulkInferrer runs, cannot log an output of one string per
    # example (its PredictionLog writer takes each example's value for a numpy array): numbers only.
    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def score(serialized_examples):
        outputs = serve(serialized_examples)
        return {"probabilities": outputs["probabilities"], "class_id": outputs["class_id"]}

    return score


def _measurements_signature(model: keras.Model, transform_output: TFTransformOutput):
    """The measurements as named float tensors `[batch]` (what `serving_default` parses from its
    tf.Examples), through the same Transform layer (set by `_serving_signature`) and model."""
    raw_spec = transform_output.raw_feature_spec()
    species_names = tf.constant(features.SPECIES_NAMES)

    @tf.function(input_signature=[{key: tf.TensorSpec([None], tf.float32, name=key) for key in features.FEATURE_KEYS}])
    def serve_measurements(measurements):
        raw = {key: tf.reshape(measurements[key], [-1, *raw_spec[key].shape]) for key in features.FEATURE_KEYS}
        probabilities = model(model.tft_layer(raw))
        class_id = tf.argmax(probabilities, axis=1)
        return {
            "probabilities": probabilities,
            "class_id": class_id,
            "species": tf.gather(species_names, class_id),
        }

    return serve_measurements


def run_fn(fn_args: FnArgs) -> None:
    """Trains on the transformed train split and exports the serving SavedModel."""
    config, transform_output, train, validation = training.prepare_training(fn_args, IrisConfig, features.LABEL_KEY)
    model = build_classifier(config.model)
    if fn_args.base_model:
        training.warm_start(model, fn_args.base_model)
    training.fit_and_record(
        model,
        train,
        validation,
        fn_args,
        config.epochs,
        training_loop=config.model.training_loop,
        early_stopping=config.early_stopping,
    )
    training.export_formats(model, fn_args)
    serve = _serving_signature(model, transform_output)
    model.save(
        fn_args.serving_model_dir,
        save_format="tf",
        signatures={
            "serving_default": serve,
            IrisConfig.json_signature: _measurements_signature(model, transform_output),
            IrisConfig.bulk_inference_signature: _scores_signature(serve),
        },
    )


# The Tuner trains this same run_fn once per trial of a model search (components/models/tuning.py).
tuner_fn = tuning.tuner_fn_for(run_fn, IrisConfig)
