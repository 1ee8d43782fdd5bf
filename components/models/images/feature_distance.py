"""The classifier's own feature distance: how far an input's penultimate features lie from every class's
training images (Lee et al. 2018, "A simple unified framework for detecting out-of-distribution samples").

One pass over the training images the autoencoder also fits (components/models/images/autoencoder.py:
the train split but every fifth image) after the classifier is trained, no training of its own: the
features the classifier's last Dense layer reads are taken for each image, their mean per class and
one covariance shared by the classes (their scatter around their own class's mean) are computed, and an
input's feature distance is its squared Mahalanobis distance to the nearest class mean. Where the
autoencoder's pixel error is small for anything mostly black, a digit shown to a garment classifier
lands far from every garment's features.

The statistics are exported as constants of the serving graph (components/models/images/model.py): the
class means and the covariance's inverse, whitened once so that serving is a matrix product and the
squared distances to the means.
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.models.images import features

# The zoo's last layer (components/models/images/zoo.py): its input is the penultimate features.
PROBABILITIES_LAYER = "probabilities"
# Added to the covariance's diagonal, as a share of the features' mean variance: a feature constant over
# the training images (a ReLU never on, a border pixel) would otherwise make the covariance singular, and
# a foreign image that moves it infinitely far.
RIDGE = 1e-3


def has_penultimate(classifier: keras.Model) -> bool:
    """Whether `classifier` has the zoo's functional `probabilities` layer, whose input `penultimate` reads."""
    try:
        classifier.layers[-1].get_layer(PROBABILITIES_LAYER)
    except (ValueError, AttributeError):
        return False
    return True


def penultimate(classifier: keras.Model) -> keras.Model:
    """The features the classifier's last Dense layer reads, from pixels; ValueError for a classifier
    without the zoo's `probabilities` layer (the notes' subclassed Baseline)."""
    # build_classifier wraps the zoo model behind the augmentation layers, which do nothing outside fit().
    zoo_model = classifier.layers[-1]
    try:
        last = zoo_model.get_layer(PROBABILITIES_LAYER)
        return keras.Model(zoo_model.inputs, last.input, name="penultimate_features")
    except (ValueError, AttributeError) as error:
        raise ValueError(
            f"the classifier {zoo_model.name} has no functional '{PROBABILITIES_LAYER}' layer whose input is "
            "its penultimate features; use --set autoencoder.score=reconstruction"
        ) from error


class ClassGaussians(tf.Module):
    """Class-conditional Gaussians with a shared covariance over the penultimate features, saved with the
    model: `class_means` [classes, features] and `whitening` [features, features], a matrix W with
    W Wᵀ the covariance's inverse, so that the squared Mahalanobis distance of f to a mean m is
    |(f - m) W|²."""

    def __init__(self, class_means: np.ndarray, whitening: np.ndarray):
        super().__init__(name="class_gaussians")
        self.class_means = tf.Variable(class_means.astype(np.float32), trainable=False, name="class_means")
        self.whitening = tf.Variable(whitening.astype(np.float32), trainable=False, name="whitening")

    @tf.autograph.experimental.do_not_convert
    def distance(self, penultimate_features: tf.Tensor) -> tf.Tensor:
        """Each row's squared Mahalanobis distance to the nearest class mean: [batch]."""
        whitened = tf.matmul(tf.cast(penultimate_features, tf.float32), self.whitening)
        whitened_means = tf.matmul(self.class_means, self.whitening)
        squared = tf.reduce_sum(tf.math.squared_difference(whitened[:, None, :], whitened_means[None]), axis=-1)
        return tf.reduce_min(squared, axis=1)


def fit(penultimate_features: keras.Model, examples: tf.data.Dataset, class_count: int) -> ClassGaussians:
    """The class means and shared covariance of the features of `examples` (batches of dicts with pixels
    and label), accumulated batch by batch in float64."""
    extract = tf.function(penultimate_features)
    counts = np.zeros(class_count)
    sums: np.ndarray | None = None
    outer = None
    for batch in examples:
        values = extract(batch[features.PIXELS_KEY]).numpy().astype(np.float64)
        labels = batch[features.LABEL_KEY].numpy().reshape(-1)
        if sums is None:
            sums = np.zeros((class_count, values.shape[1]))
            outer = np.zeros((values.shape[1], values.shape[1]))
        np.add.at(sums, labels, values)
        counts += np.bincount(labels, minlength=class_count)
        outer += values.T @ values
    if sums is None or outer is None or counts.min() == 0:
        raise ValueError("every class needs training images for the feature distance")
    means = sums / counts[:, None]
    # The scatter around each image's own class mean: sum f fᵀ less each class's n m mᵀ.
    covariance = (outer - (means * counts[:, None]).T @ means) / counts.sum()
    covariance += RIDGE * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    precision = np.linalg.inv(covariance)
    whitening = np.linalg.cholesky((precision + precision.T) / 2)
    return ClassGaussians(means, whitening)


def distances_over(penultimate_features: keras.Model, gaussians: ClassGaussians, batches) -> np.ndarray:
    """The feature distance of every image of `batches` (of pixels), in order."""
    distance = tf.function(lambda pixels: gaussians.distance(penultimate_features(pixels)))
    return np.concatenate([distance(pixels).numpy() for pixels in batches])
