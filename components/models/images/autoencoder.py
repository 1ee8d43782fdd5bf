"""The course notes' convolutional autoencoder, trained beside every image classifier to say when an input
is unlike the training images.

The notes' functional-API chapter: a Conv2D encoder squeezes an image into a small code, a
Conv2DTranspose decoder draws the image back from it. Trained on the training images alone, it draws
back images like them well and others badly, so its reconstruction error (the mean squared difference
of the pixels, in [0, 1] units) measures how unlike the training images an input is. It fits the train
split but every fifth image; those held out set its threshold (components/models/images/familiarity.py,
which also weighs the classifier's own feature distance and writes the record).

Beside the Trainer's record it draws the eval split's worst-reconstructed images above their
reconstructions (`worst_reconstructed.png`).
"""

import math

import numpy as np
import tensorflow as tf
import tf_keras as keras
from absl import logging
from tensorflow.io import gfile
from tfx_bsl.public import tfxio

from components import training_record
from components.models import training
from components.models.images import features
from pipelines.images import AutoencoderConfig

HISTOGRAM_FILE = "reconstruction_errors.png"
WORST_FILE = "worst_reconstructed.png"

# Every HELD_OUT_EVERY-th image of the train split is left out of the autoencoder's fit (and of the
# feature distance's statistics) and sets the thresholds: the autoencoder learns the images it fits by
# heart, so their errors are smaller than those of new images like them, and a threshold from them flags
# far more new images than the percentile says (docs/pipelines.md, the autoencoder).
HELD_OUT_EVERY = 5
# Images the fit's shuffle draws from, as the classifier's (components/models/training.py).
_SHUFFLE_BUFFER = 50_000
# Each of the encoder's two convolutions halves the height and width.
_DOWNSCALE = 4
WORST_SHOWN = 16
READ_BATCH = 512


def build(input_shape: tuple[int, int, int], code_size: int) -> keras.Model:
    """The notes' convolutional autoencoder for images of `input_shape` (height, width, channels; pixels in
    [0, 1]), compiled with Adam on the mean squared error: Conv2D 32 and 64 (stride 2) to a Dense code of
    `code_size` numbers, then Dense and Conv2DTranspose 64 and 32 (stride 2) back to the image."""
    height, width, channels = input_shape
    coarse_height, coarse_width = math.ceil(height / _DOWNSCALE), math.ceil(width / _DOWNSCALE)
    inputs = keras.Input(input_shape, name=features.PIXELS_KEY)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    code = keras.layers.Dense(code_size, name="code")(keras.layers.Flatten()(x))
    x = keras.layers.Dense(coarse_height * coarse_width * 64, activation="relu")(code)
    x = keras.layers.Reshape((coarse_height, coarse_width, 64))(x)
    x = keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid")(x)
    # A size that does not divide by 4 comes back a little larger: cut the extra rows and columns.
    reconstruction = keras.layers.Cropping2D(
        ((0, coarse_height * _DOWNSCALE - height), (0, coarse_width * _DOWNSCALE - width))
    )(x)
    autoencoder = keras.Model(inputs, reconstruction, name="autoencoder")
    autoencoder.compile(optimizer=keras.optimizers.Adam(0.001), loss="mse")
    return autoencoder


# Plain TensorFlow ops, called inside the serving signatures: not for autograph to convert. Converted, the
# call from serve_examples failed in a default fashion_mnist run ("tf__reconstruction_error() takes 2
# positional arguments but 3 were given", at export, after both models had trained).
@tf.autograph.experimental.do_not_convert
def reconstruction_error(autoencoder: keras.Model, pixels: tf.Tensor) -> tf.Tensor:
    """The mean squared difference between each image of `pixels` [batch, height, width, channels] and its
    reconstruction: [batch]."""
    return tf.reduce_mean(tf.math.squared_difference(autoencoder(pixels), pixels), axis=[1, 2, 3])


def split_examples(file_pattern, data_accessor, transform_output) -> tf.data.Dataset:
    """One pass over a transformed split, in its stored order: batches of dicts of pixels and label."""
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=READ_BATCH, num_epochs=1, shuffle=False),
        transform_output.transformed_metadata.schema,
    )


def split_pixels(file_pattern, data_accessor, transform_output) -> tf.data.Dataset:
    """One pass over a transformed split, in its stored order: batches of pixels."""
    return split_examples(file_pattern, data_accessor, transform_output).map(lambda batch: batch[features.PIXELS_KEY])


def errors_over(autoencoder: keras.Model, batches: tf.data.Dataset) -> np.ndarray:
    """The reconstruction error of every image of `batches` (of pixels), in order."""
    error = tf.function(lambda pixels: reconstruction_error(autoencoder, pixels))
    return np.concatenate([error(pixels).numpy() for pixels in batches])


def held_out_examples(fn_args, transform_output, held_out: bool) -> tf.data.Dataset:
    """The transformed train split's examples (dicts of pixels and label), one by one in stored order:
    every HELD_OUT_EVERY-th (from the first) with `held_out`, the others without."""
    numbered = split_examples(fn_args.train_files, fn_args.data_accessor, transform_output).unbatch().enumerate()
    return numbered.filter(lambda index, _: tf.equal(index % HELD_OUT_EVERY == 0, held_out)).map(
        lambda _, example: example
    )


def held_out_images(fn_args, transform_output, held_out: bool) -> tf.data.Dataset:
    """The pixels of held_out_examples."""
    return held_out_examples(fn_args, transform_output, held_out).map(lambda example: example[features.PIXELS_KEY])


def train(
    settings: AutoencoderConfig, fn_args, transform_output, input_shape, batch_size: int, seed: int, in_memory: bool
) -> keras.Model:
    """Fits the autoencoder on the transformed train split but its held-out images (`settings.train_steps`
    batches, or the Trainer's train_steps)."""
    steps = settings.train_steps or fn_args.train_steps
    keras.utils.set_random_seed(seed)
    autoencoder = build(input_shape, settings.code_size)
    fitted = held_out_images(fn_args, transform_output, held_out=False)
    if in_memory:
        fitted = fitted.cache()
    batches = (
        fitted.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
        .map(lambda pixels: (pixels, pixels))
        .prefetch(tf.data.AUTOTUNE)
    )
    logging.info("Training the autoencoder (code of %d numbers) for %d steps", settings.code_size, steps)
    autoencoder.fit(batches, epochs=1, steps_per_epoch=steps, callbacks=[training.ProgressReport()], verbose=2)
    return autoencoder


def plot_worst_reconstructed(autoencoder: keras.Model, evaluation: tf.data.Dataset, eval_errors, threshold, path):
    """The WORST_SHOWN worst-reconstructed images of `evaluation` (batches of pixels), each above its
    reconstruction, titled with its error."""
    worst = np.argsort(eval_errors)[::-1][:WORST_SHOWN]
    originals = _images_at(evaluation, worst)
    plot_worst(originals, autoencoder(originals).numpy(), eval_errors[worst], threshold, path)


def _images_at(batches: tf.data.Dataset, indexes: np.ndarray) -> np.ndarray:
    """The images at `indexes` of a split read by split_pixels, in the order of `indexes`."""
    wanted = {int(index): rank for rank, index in enumerate(indexes)}
    found: list = [None] * len(indexes)
    offset = 0
    for pixels in batches:
        for index in range(offset, offset + len(pixels)):
            if index in wanted:
                found[wanted[index]] = pixels[index - offset].numpy()
        offset += len(pixels)
    return np.stack(found)


def plot_worst(
    originals: np.ndarray, reconstructions: np.ndarray, errors: np.ndarray, threshold: float, path: str
) -> None:
    """The worst-reconstructed eval images, each above its reconstruction, titled with its error."""
    plt = training_record.pyplot()
    columns = len(originals)
    figure, axes = plt.subplots(2, columns, figsize=(1.2 * columns, 3.0), squeeze=False)
    for column in range(columns):
        for row, image in enumerate((originals[column], reconstructions[column])):
            axis = axes[row][column]
            shown = np.clip(image, 0, 1)
            axis.imshow(shown[..., 0] if shown.shape[-1] == 1 else shown, cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[0][column].set_title(f"{errors[column]:.3g}", fontsize=8)
    axes[0][0].set_ylabel("image", fontsize=8)
    axes[1][0].set_ylabel("rebuilt", fontsize=8)
    figure.suptitle(
        f"The eval split's worst-reconstructed images (error above each; threshold {threshold:.3g})", fontsize=9
    )
    figure.tight_layout()
    with gfile.GFile(path, "wb") as f:
        figure.savefig(f, format="png", dpi=100)
    plt.close(figure)
