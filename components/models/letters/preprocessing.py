"""Transform module for letters: a prefix's characters as ids, the next character as a class, and
the counts the bigram baseline needs. Analyzers see the train split only.

- The character vocabulary (`characters`): every character of the train split's prefixes and
  next letters, END_OF_WORD included, by frequency (tft.vocabulary). A character the train split
  never had gets the one out-of-vocabulary id (NUM_OOV_BUCKETS) instead, at evaluation and serving.
- `char_ids`: the prefix's last `max_context` characters as vocabulary ids + 1, padded at the end
  with PADDING_ID (0) to `max_context`: the models mask id 0, so padding changes no prediction.
  A longer prefix (at serving) is cut to its last `max_context` characters.
- `label` (only where the example has `next`): the next character's vocabulary id, which is also
  its class: the model's softmax has one class per vocabulary entry and one for unseen characters.
- The bigram counts (`bigrams`, with frequencies): each (last letter of the prefix, next letter)
  pair of the train split as one token, the two joined; the Trainer reads the file and stores
  the most frequent next letter after each letter in the SavedModel (the naive baseline).

The graph travels in the SavedModel (the Trainer's tft_layer), so serving takes raw strings.
"""

import tensorflow as tf
import tensorflow_transform as tft

from components.models.letters import features
from pipelines.letters.config import LettersTransformConfig


def characters(prefixes: tf.Tensor, max_context: int) -> tf.RaggedTensor:
    """[batch] UTF-8 strings -> their last `max_context` characters, [batch, (characters)]."""
    return tf.strings.unicode_split(prefixes, "UTF-8")[:, -max_context:]


def preprocessing_fn(inputs: dict, custom_config: dict) -> dict:
    """`custom_config`: LettersTransformConfig's."""
    max_context = LettersTransformConfig.from_custom_config(custom_config).max_context
    prefixes = _strings(inputs[features.PREFIX_KEY])
    chars = characters(prefixes, max_context)
    following = _strings(inputs[features.NEXT_KEY])
    vocabulary = tft.vocabulary(
        tf.concat([chars.flat_values, following], axis=0), vocab_filename=features.CHARACTERS_VOCABULARY
    )
    ids = tft.apply_vocabulary(chars.flat_values, vocabulary, num_oov_buckets=features.NUM_OOV_BUCKETS)
    outputs = {
        features.CHAR_IDS_KEY: chars.with_flat_values(ids + 1).to_tensor(
            default_value=features.PADDING_ID, shape=[None, max_context]
        ),
        features.LABEL_KEY: tft.apply_vocabulary(following, vocabulary, num_oov_buckets=features.NUM_OOV_BUCKETS),
    }
    last = tf.strings.reduce_join(chars[:, -1:], axis=1)
    tft.vocabulary(tf.strings.join([last, following]), vocab_filename=features.BIGRAMS_VOCABULARY, store_frequency=True)
    return outputs


def _strings(values) -> tf.Tensor:
    """A [batch, 1] (or sparse) string feature as [batch]."""
    if isinstance(values, tf.SparseTensor):
        values = tf.sparse.to_dense(values, default_value="")
    return tf.reshape(values, [-1])
