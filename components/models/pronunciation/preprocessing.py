"""Transform module for pronunciation: a word's letters as ids, its first pronunciation as the
decoder's input and target (teacher forcing). Analyzers see the train split only.

- The letter vocabulary (`letters`) and the phoneme vocabulary (`phonemes`, the first pronunciations'
  phonemes, stress digits removed unless `stress`), by frequency (tft.vocabulary). Entry i has id
  i + FIRST_ID; ids 0-2 are padding, the start and the end of a pronunciation. A letter or phoneme the
  train split never had gets the one out-of-vocabulary id after the vocabulary.
- `letter_ids`: the (lowercased) word's letters as ids, padded with PADDING_ID to `max_letters`.
- `decoder_input_ids`: START_ID, then the phoneme ids; `target_ids`: the phoneme ids, then END_ID;
  both padded to `max_phonemes` + 1. The decoder reads the true previous phoneme at each step
  (teacher forcing) and learns the next.

The graph travels in the SavedModel, which reads the vocabularies from it (model.py), so serving
takes raw words.
"""

import tensorflow as tf
import tensorflow_transform as tft

from components.models.pronunciation import features
from pipelines.pronunciation.config import PronunciationTransformConfig


def letters(words: tf.Tensor, max_letters: int) -> tf.RaggedTensor:
    """[batch] words -> their lowercased letters, at most `max_letters` of each, [batch, (letters)]."""
    return tf.strings.unicode_split(tf.strings.lower(words), "UTF-8")[:, :max_letters]


def phonemes(pronunciations: tf.Tensor, stress: bool) -> tf.RaggedTensor:
    """[batch] pronunciations (`K AE1 T`) -> their phonemes, [batch, (phonemes)], stress digits
    removed unless `stress`."""
    if not stress:
        pronunciations = tf.strings.regex_replace(pronunciations, "[0-9]", "")
    return tf.strings.split(pronunciations)


def preprocessing_fn(inputs: dict, custom_config: dict) -> dict:
    """`custom_config`: PronunciationTransformConfig's."""
    config = PronunciationTransformConfig.from_custom_config(custom_config)
    spelled = letters(_first(inputs[features.WORD_KEY]), config.max_letters)
    spoken = phonemes(_first(inputs[features.PRONUNCIATIONS_KEY]), config.stress)[:, : config.max_phonemes]
    letter_vocabulary = tft.vocabulary(spelled.flat_values, vocab_filename=features.LETTERS_VOCABULARY)
    phoneme_vocabulary = tft.vocabulary(spoken.flat_values, vocab_filename=features.PHONEMES_VOCABULARY)
    letter_ids = tft.apply_vocabulary(spelled.flat_values, letter_vocabulary, num_oov_buckets=features.NUM_OOV_BUCKETS)
    phoneme_ids = spoken.with_flat_values(
        tft.apply_vocabulary(spoken.flat_values, phoneme_vocabulary, num_oov_buckets=features.NUM_OOV_BUCKETS)
        + features.FIRST_ID
    )
    batch = tf.shape(spoken.row_lengths())[0]
    start = tf.fill([batch, 1], tf.constant(features.START_ID, tf.int64))
    end = tf.fill([batch, 1], tf.constant(features.END_ID, tf.int64))
    steps = config.max_phonemes + 1
    return {
        features.LETTER_IDS_KEY: spelled.with_flat_values(letter_ids + features.FIRST_ID).to_tensor(
            default_value=features.PADDING_ID, shape=[None, config.max_letters]
        ),
        features.DECODER_INPUT_IDS_KEY: tf.concat([tf.RaggedTensor.from_tensor(start), phoneme_ids], axis=1).to_tensor(
            default_value=features.PADDING_ID, shape=[None, steps]
        ),
        features.TARGET_IDS_KEY: tf.concat([phoneme_ids, tf.RaggedTensor.from_tensor(end)], axis=1).to_tensor(
            default_value=features.PADDING_ID, shape=[None, steps]
        ),
    }


def _first(values) -> tf.Tensor:
    """A string feature's first value per example, [batch] (a list feature arrives sparse)."""
    if isinstance(values, tf.SparseTensor):
        values = tf.sparse.to_dense(values, default_value="")
    return tf.reshape(values[:, :1], [-1]) if values.shape.rank == 2 else tf.reshape(values, [-1])
