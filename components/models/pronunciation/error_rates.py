"""Word and phoneme error rates, the pipeline's TFMA metrics, from edit distances.

A word's phoneme errors are the edit distance (insertions, deletions, substitutions of phonemes)
from the pronunciation given to the nearest of the word's dictionary pronunciations
(`phoneme_errors`, computed in the SavedModel's evaluation signature for the model and for each
naive baseline). TFMA then sees one number per word and output, with the word's phoneme count
(its first pronunciation's) as the label:

  WordErrorRate      the share of words with any phoneme error: not pronounced exactly as any of
                     the dictionary's pronunciations
  PhonemeErrorRate   the words' phoneme errors over their phonemes, summed over the words

TFMA imports this module by name (the config's metrics_module) to build the two metrics.
"""

import tensorflow as tf
import tf_keras as keras


def phoneme_errors(pronounced: tf.RaggedTensor, pronunciations: tf.RaggedTensor) -> tf.Tensor:
    """[batch, (phonemes)] pronunciations given and [batch, (alternates), (phonemes)] the dictionary's
    -> [batch] float32: each word's edit distance to the nearest of its alternates."""
    alternates = pronunciations.values
    given = tf.gather(pronounced, pronunciations.value_rowids())
    distances = tf.edit_distance(_sparse(given), _sparse(alternates), normalize=False)
    nearest = tf.math.unsorted_segment_min(distances, pronunciations.value_rowids(), pronunciations.nrows())
    return tf.cast(nearest, tf.float32)


def _sparse(phonemes: tf.RaggedTensor) -> tf.SparseTensor:
    """A [rows, (phonemes)] ragged tensor as edit_distance takes it: at least one column, so that
    tf.edit_distance sees the same rank on both sides when every row is empty."""
    sparse = phonemes.to_sparse()
    return tf.SparseTensor(sparse.indices, sparse.values, tf.maximum(sparse.dense_shape, [0, 1]))


class WordErrorRate(keras.metrics.Mean):
    """The share of words with at least one phoneme error (predictions: phoneme errors per word)."""

    def __init__(self, name: str = "word_error_rate", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        del y_true
        return super().update_state(tf.cast(tf.reshape(y_pred, [-1]) > 0, self.dtype), sample_weight)


class PhonemeErrorRate(keras.metrics.Metric):
    """Phoneme errors over the reference phonemes, summed over the words (labels: each word's phoneme
    count; predictions: its phoneme errors)."""

    def __init__(self, name: str = "phoneme_error_rate", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.errors = self.add_weight(name="errors", initializer="zeros")
        self.phonemes = self.add_weight(name="phonemes", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        errors = tf.reshape(tf.cast(y_pred, self.dtype), [-1])
        phonemes = tf.reshape(tf.cast(y_true, self.dtype), [-1])
        if sample_weight is not None:
            weight = tf.reshape(tf.cast(sample_weight, self.dtype), [-1])
            errors, phonemes = errors * weight, phonemes * weight
        self.errors.assign_add(tf.reduce_sum(errors))
        self.phonemes.assign_add(tf.reduce_sum(phonemes))

    def result(self):
        return tf.math.divide_no_nan(self.errors, self.phonemes)

    def reset_state(self):
        self.errors.assign(0.0)
        self.phonemes.assign(0.0)
