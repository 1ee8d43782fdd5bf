"""Trainer module for image classification: a zoo model behind optional augmentation, as a TFX run_fn.

The exported SavedModel has two signatures, both returning `probabilities` (one per class),
`class_id` and `class_name`, and (`autoencoder.enabled`, set up in the same run after the classifier:
components/models/images/familiarity.py) `unlike_training_data` with the scores it reads, each beside
its threshold: `reconstruction_error` and `reconstruction_threshold` (the autoencoder),
`feature_distance` and `feature_distance_threshold` (the classifier's penultimate features):
  serving_default  serialized tf.Examples with the encoded image in `image` (what TFMA, the
                   embedded server and `tfpipe predict` send)
  encoded_images   the encoded images themselves, a string tensor `image`
Both run the Transform graph first, so an image of any size or channel count is decoded,
converted and resized as the training images were.

Training may compute in bfloat16 (`model.precision`, components/precision.py); the exported model
computes in float32 whatever the training did: the trained weights (float32 under either policy) are
copied into the same model built under the float32 policy, which is what is saved. Its answers then
do not depend on the serving machine's bfloat16 units, and TFMA scores what is served.
"""

from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tf_keras as keras
from absl import logging
from tensorflow_transform import TFTransformOutput
from tfx.components.trainer.fn_args_utils import FnArgs

from components import precision, training_record
from components.models import training, tuning
from components.models.images import familiarity, features, zoo
from pipelines.images import AugmentationConfig, ImageConfig, ImageModelConfig
from pipelines.tuning import TRIALS_DIR_KEY


def augmentation_layers(augmentation: AugmentationConfig, seed: int) -> list[keras.layers.Layer]:
    """The notes' ImageDataGenerator changes as Keras preprocessing layers, which change images
    only when called with training=True: fit() does, serving and evaluation do not. `seed` seeds
    the random changes."""
    # Pixels moved in from outside the image repeat the nearest edge, as ImageDataGenerator's default.
    chosen = []
    if augmentation.rotation_degrees:
        chosen.append(keras.layers.RandomRotation(augmentation.rotation_degrees / 360, fill_mode="nearest", seed=seed))
    if augmentation.shift_fraction:
        shift = augmentation.shift_fraction
        chosen.append(keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed))
    if augmentation.zoom_fraction:
        chosen.append(keras.layers.RandomZoom(augmentation.zoom_fraction, fill_mode="nearest", seed=seed))
    horizontal, vertical = augmentation.flip_horizontal, augmentation.flip_vertical
    if horizontal or vertical:
        mode = "horizontal_and_vertical" if horizontal and vertical else "horizontal" if horizontal else "vertical"
        chosen.append(keras.layers.RandomFlip(mode, seed=seed))
    return chosen


def build_classifier(
    model: ImageModelConfig,
    augmentation: AugmentationConfig,
    input_shape: tuple[int, int, int],
    class_count: int,
    train_steps: int = 1,
) -> keras.Model:
    """The zoo model `model.name` behind the augmentation layers, compiled with Adam, in Keras' current
    dtype policy.

    Args:
      input_shape: pixels as height, width, channels.
      train_steps: the steps the learning rate schedule spans (`model.learning_rate_schedule=cosine`).
    """
    classifier = zoo.build(model.name, input_shape, class_count)
    inputs = keras.Input(input_shape, name=features.PIXELS_KEY)
    x = inputs
    for layer in augmentation_layers(augmentation, model.seed):
        x = layer(x)
    built = keras.Model(inputs, classifier(x), name=f"{model.name}_classifier")
    learning_rate = model.learning_rate
    if model.learning_rate_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(model.learning_rate, decay_steps=train_steps)
    built.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return built


def _serving_signatures(
    model: keras.Model,
    transform_output: TFTransformOutput,
    class_names: list[str],
    judge: familiarity.Familiarity | None = None,
) -> dict:
    """`judge`: the scores of unlike inputs, whose outputs join the classifier's; None without."""
    # Keep the Transform layer (and the scores' models) on the model so they are tracked and saved with it.
    model.tft_layer = transform_output.transform_features_layer()
    if judge:
        judge.track_on(model)
    names = tf.constant(class_names)

    def classify(encoded_images):
        # The label and the stored sizes are not needed to prepare an image; TFT fills them in.
        pixels = model.tft_layer({features.IMAGE_KEY: tf.reshape(encoded_images, [-1, 1])})[features.PIXELS_KEY]
        probabilities = model(pixels)
        class_id = tf.argmax(probabilities, axis=1)
        outputs = {"probabilities": probabilities, "class_id": class_id, "class_name": tf.gather(names, class_id)}
        if judge:
            outputs.update(judge.serving_outputs(pixels))
        return outputs

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_examples(serialized_examples):
        parsed = tf.io.parse_example(serialized_examples, {features.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)})
        return classify(parsed[features.IMAGE_KEY])

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name=features.IMAGE_KEY)])
    def serve_encoded_images(image):
        return classify(image)

    return {"serving_default": serve_examples, ImageConfig.json_signature: serve_encoded_images}


def training_policy(model: ImageModelConfig) -> str:
    """The Keras dtype policy `model` trains in as its settings and the CPU decide, before any measurement
    (components/precision.py)."""
    return precision.policy_name(model.precision, recurrent=model.name in zoo.RECURRENT)


def measured_policy(
    model: ImageModelConfig, build: Callable[[], keras.Model], input_shape: tuple[int, int, int], model_run_dir: str
) -> str:
    """training_policy, and under `auto` where that is bfloat16, the faster of it and float32 for this model
    by a few timed training steps on a batch of `model.batch_size` blank images (precision.faster_policy),
    recorded in the run's metrics as `precision.<policy>_ms_per_step`. The Keras state the timed models drew
    on (layer names, random seeds) is reset after them, so the model trained starts as it would have
    without them."""
    policy = training_policy(model)
    if model.precision != precision.AUTO or policy == precision.FLOAT32_POLICY:
        return policy
    blank = np.zeros((model.batch_size, *input_shape), np.float32)
    policy, measured = precision.faster_policy(precision.step_seconds(build, blank, np.zeros(model.batch_size)))
    keras.backend.clear_session()
    keras.utils.set_random_seed(model.seed)
    training_record.write_metrics(
        {f"precision.{name}_ms_per_step": seconds * 1000 for name, seconds in measured.items()}, model_run_dir
    )
    return policy


def float32_copy(trained: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
    """The model `build` makes under the float32 policy, holding `trained`'s weights (float32 under any policy)."""
    with precision.keras_policy(precision.FLOAT32_POLICY):
        copy = build()
    copy.set_weights(trained.get_weights())
    return copy


def run_fn(fn_args: FnArgs) -> None:
    """Trains on the transformed train split and exports the float32 SavedModel with both signatures."""
    config, transform_output, train, validation = training.prepare_training(fn_args, ImageConfig, features.LABEL_KEY)
    input_shape = (config.image_height, config.image_width, config.channels)

    def build() -> keras.Model:
        return build_classifier(
            config.model, config.augmentation, input_shape, len(config.class_names), fn_args.train_steps
        )

    policy = measured_policy(config.model, build, input_shape, fn_args.model_run_dir)
    logging.info(
        "Training %s under Keras' %s policy (model.precision=%s)", config.model.name, policy, config.model.precision
    )
    with precision.keras_policy(policy):
        model = build()
    if fn_args.base_model:
        training.warm_start(model, fn_args.base_model)
    training.fit_and_record(model, train, validation, fn_args, config.epochs, early_stopping=config.early_stopping)
    exported = model if policy == precision.FLOAT32_POLICY else float32_copy(model, build)
    # A model search's trials are scored by the classifier alone: no scores of unlike inputs for them.
    judge = None
    if config.autoencoder.enabled and TRIALS_DIR_KEY not in fn_args.custom_config:
        # The feature distance reads the exported float32 classifier: what serves is what was measured.
        judge = familiarity.train(
            config.autoencoder,
            exported,
            fn_args,
            transform_output,
            input_shape,
            len(config.class_names),
            config.model.batch_size,
            config.model.seed,
            config.cache_in_memory,
        )
    training.export_formats(exported, fn_args)
    exported.save(
        fn_args.serving_model_dir,
        save_format="tf",
        signatures=_serving_signatures(exported, transform_output, list(config.class_names), judge),
    )


# The Tuner trains this same run_fn once per trial of a model search (components/models/tuning.py).
tuner_fn = tuning.tuner_fn_for(run_fn, ImageConfig)
