"""Trainer module for letters: the notes' letter predictors by name, as a TFX run_fn.

The model sees a prefix as character ids (Transform's `char_ids`, padded with 0 at the end) and
returns a softmax over the classes: one per entry of the character vocabulary (END_OF_WORD
included) and one for characters the train split never had. Id 0 is masked (Embedding's
mask_zero, or Masking after the one-hot layer), so padding never changes a prediction.

The exported SavedModel holds the Transform graph (the vocabulary) and the bigram baseline, so
its signatures take raw strings:
  serving_default      serialized tf.Examples with `prefix` -> probabilities, class_id, letter (the
                       class's character, END_OF_WORD or UNKNOWN), probability (the letter's), and
                       unseen_characters (how many of the letters read were never seen in training)
  prefixes             the same from a string tensor `prefix`
  transform_features   serialized tf.Examples with `prefix` and `next` -> the label (the next
                       character's class): where TFMA finds the label (evaluation_preprocessing)
  evaluation           the same examples -> the model's probabilities, the bigram baseline's
                       (the next-letter counts after the prefix's last letter in the train split,
                       add-one smoothed) and excess_correct_vs_bigram (1 where only the model is
                       right, -1 where only the baseline is, else 0), for TFMA
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow.io import gfile
from tensorflow_transform import TFTransformOutput
from tfx.components.trainer.fn_args_utils import FnArgs

from components.models import training, tuning
from components.models.letters import features
from pipelines.letters.config import LettersConfig, LettersModelConfig

# The `letter` of the class for characters the train split never had.
UNKNOWN = "<unknown>"
BIGRAM = "bigram"


class OneHot(keras.layers.Layer):
    """Character ids 1..depth -> one-hot vectors of `depth`; the padding id 0 -> all zeros (which
    a Masking layer after it masks)."""

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, ids):
        return tf.one_hot(ids - 1, self.depth)

    def get_config(self) -> dict:
        return {**super().get_config(), "depth": self.depth}


def _char_ids() -> keras.Input:
    return keras.Input(shape=(None,), dtype="int64", name=features.CHAR_IDS_KEY)


def _classifier(ids, encoded, layer, units: tuple, classes: int) -> keras.Model:
    """Recurrent layers of `units` (each but the last returning sequences), then Dense softmax."""
    x = encoded
    for index, size in enumerate(units):
        x = layer(size, return_sequences=index < len(units) - 1)(x)
    return keras.Model(ids, keras.layers.Dense(classes, activation="softmax")(x))


def _embedded(input_ids: int, embedding_dim: int):
    ids = _char_ids()
    return ids, keras.layers.Embedding(input_ids, embedding_dim, mask_zero=True)(ids)


def build_one_hot_rnn(input_ids: int, classes: int, units: tuple, embedding_dim: int) -> keras.Model:
    """The notes' first letter predictor: one-hot letters into SimpleRNN (embedding_dim unused)."""
    ids = _char_ids()
    one_hot = keras.layers.Masking(mask_value=0.0)(OneHot(input_ids - 1)(ids))
    return _classifier(ids, one_hot, keras.layers.SimpleRNN, units, classes)


def build_embedding_rnn(input_ids: int, classes: int, units: tuple, embedding_dim: int) -> keras.Model:
    """The notes' second: an Embedding layer instead of one-hot vectors, then SimpleRNN."""
    ids, embedded = _embedded(input_ids, embedding_dim)
    return _classifier(ids, embedded, keras.layers.SimpleRNN, units, classes)


def build_lstm(input_ids: int, classes: int, units: tuple, embedding_dim: int) -> keras.Model:
    ids, embedded = _embedded(input_ids, embedding_dim)
    return _classifier(ids, embedded, keras.layers.LSTM, units, classes)


def build_gru(input_ids: int, classes: int, units: tuple, embedding_dim: int) -> keras.Model:
    ids, embedded = _embedded(input_ids, embedding_dim)
    return _classifier(ids, embedded, keras.layers.GRU, units, classes)


def build_bidirectional_lstm(input_ids: int, classes: int, units: tuple, embedding_dim: int) -> keras.Model:
    """LSTM layers reading the prefix both ways."""
    ids, embedded = _embedded(input_ids, embedding_dim)
    return _classifier(
        ids,
        embedded,
        lambda size, return_sequences: keras.layers.Bidirectional(
            keras.layers.LSTM(size, return_sequences=return_sequences)
        ),
        units,
        classes,
    )


MODEL_BUILDERS = {
    "one_hot_rnn": build_one_hot_rnn,
    "embedding_rnn": build_embedding_rnn,
    "lstm": build_lstm,
    "gru": build_gru,
    "bidirectional_lstm": build_bidirectional_lstm,
}


def build_model(model: LettersModelConfig, vocabulary_size: int) -> keras.Model:
    """The configured model over a vocabulary of `vocabulary_size` characters, compiled with
    cross-entropy, accuracy and top-5 accuracy.

    Ids: 0 padding, 1..vocabulary_size the vocabulary, then NUM_OOV_BUCKETS for unseen characters;
    classes: the vocabulary, then the unseen characters."""
    if model.name not in MODEL_BUILDERS:
        raise ValueError(f"model.name {model.name!r}: expected one of {', '.join(MODEL_BUILDERS)}.")
    classes = vocabulary_size + features.NUM_OOV_BUCKETS
    built = MODEL_BUILDERS[model.name](classes + 1, classes, model.units, model.embedding_dim)
    built.compile(
        optimizer=keras.optimizers.Adam(model.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(), keras.metrics.SparseTopKCategoricalAccuracy(k=5)],
    )
    return built


def bigram_table(bigram_counts: dict[tuple[str, str], int], vocabulary: list[str]) -> np.ndarray:
    """[input ids, classes] next-class probabilities after each input id's character: its bigram
    counts plus one, normalized; for padding, unseen characters and characters never followed in
    the train split, the counts of next letters over all letters. The row's most probable class is
    the most frequent next letter (ties: the more frequent character)."""
    index = {token: position for position, token in enumerate(vocabulary)}
    classes = len(vocabulary) + features.NUM_OOV_BUCKETS
    counts = np.zeros((classes + 1, classes), dtype=np.float64)
    for (last, following), count in bigram_counts.items():
        if last in index and following in index:
            counts[index[last] + 1, index[following]] += count
    overall = counts.sum(axis=0)
    empty = counts.sum(axis=1) == 0
    counts[empty] = overall
    counts += 1.0
    return (counts / counts.sum(axis=1, keepdims=True)).astype(np.float32)


def read_bigram_counts(path: str) -> dict[tuple[str, str], int]:
    """The bigrams vocabulary file (`<count> <last letter><next letter>` lines) as counts."""
    counts = {}
    with gfile.GFile(path, "rb") as f:
        for line in f.read().decode("utf-8").splitlines():
            count, _, token = line.partition(" ")
            if len(token) >= 2:
                counts[(token[0], token[1:])] = int(count)
    return counts


class _LettersModel(tf.Module):
    """The trained model between the Transform graph and the class names: raw prefixes in, letters out."""

    def __init__(self, model: keras.Model, transform_output: TFTransformOutput, vocabulary: list[str], win_output):
        super().__init__()
        self.model = model
        self.tft_layer = transform_output.transform_features_layer()
        self.letters = tf.constant([*vocabulary, UNKNOWN])
        self.bigram = tf.constant(
            bigram_table(
                read_bigram_counts(transform_output.vocabulary_file_by_name(features.BIGRAMS_VOCABULARY)), vocabulary
            )
        )
        self.unseen_id = len(vocabulary) + 1
        self.win_output = win_output

    def _transform(self, raw: dict) -> dict:
        return self.tft_layer({key: tf.reshape(value, [-1, 1]) for key, value in raw.items()})

    def predict(self, prefixes: tf.Tensor) -> dict:
        char_ids = self._transform({features.PREFIX_KEY: prefixes})[features.CHAR_IDS_KEY]
        probabilities = self.model(char_ids)
        class_id = tf.argmax(probabilities, axis=1)
        return {
            "probabilities": probabilities,
            "class_id": class_id,
            "letter": tf.gather(self.letters, class_id),
            "probability": tf.reduce_max(probabilities, axis=1),
            "unseen_characters": tf.reduce_sum(tf.cast(tf.equal(char_ids, self.unseen_id), tf.int32), axis=1),
        }

    def bigram_probabilities(self, char_ids: tf.Tensor) -> tf.Tensor:
        """The baseline's next-class probabilities after each prefix's last character."""
        length = tf.reduce_sum(tf.cast(tf.not_equal(char_ids, features.PADDING_ID), tf.int64), axis=1)
        last = tf.gather(char_ids, tf.maximum(length - 1, 0), batch_dims=1)
        return tf.gather(self.bigram, last)

    def signatures(self) -> dict:
        examples = tf.TensorSpec([None], tf.string, name="examples")
        prefix_spec = {features.PREFIX_KEY: tf.io.FixedLenFeature([], tf.string)}
        labelled_spec = {**prefix_spec, features.NEXT_KEY: tf.io.FixedLenFeature([], tf.string)}

        @tf.function(input_signature=[examples])
        def serve_examples(serialized):
            return self.predict(tf.io.parse_example(serialized, prefix_spec)[features.PREFIX_KEY])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.PREFIX_KEY)])
        def serve_prefixes(prefix):
            return self.predict(prefix)

        @tf.function(input_signature=[examples])
        def transform_features(serialized):
            transformed = self._transform(tf.io.parse_example(serialized, labelled_spec))
            return {features.LABEL_KEY: transformed[features.LABEL_KEY]}

        @tf.function(input_signature=[examples])
        def evaluate(serialized):
            transformed = self._transform(tf.io.parse_example(serialized, labelled_spec))
            char_ids, label = transformed[features.CHAR_IDS_KEY], transformed[features.LABEL_KEY]
            probabilities = self.model(char_ids)
            bigram = self.bigram_probabilities(char_ids)

            def correct(predicted):
                return tf.cast(tf.equal(tf.argmax(predicted, axis=1), label), tf.float32)

            return {
                "probabilities": probabilities,
                BIGRAM: bigram,
                self.win_output: correct(probabilities) - correct(bigram),
            }

        return {
            "serving_default": serve_examples.get_concrete_function(),
            LettersConfig.json_signature: serve_prefixes.get_concrete_function(),
            "transform_features": transform_features.get_concrete_function(),
            "evaluation": evaluate.get_concrete_function(),
        }


def run_fn(fn_args: FnArgs) -> None:
    """Trains on the transformed train split and exports the letters SavedModel."""
    config, transform_output, train, validation = training.prepare_training(fn_args, LettersConfig, features.LABEL_KEY)
    vocabulary = [token.decode() for token in transform_output.vocabulary_by_name(features.CHARACTERS_VOCABULARY)]
    model = build_model(config.model, len(vocabulary))
    if fn_args.base_model:
        training.warm_start(model, fn_args.base_model, saved_as="model")
    training.fit_and_record(model, train, validation, fn_args, config.epochs, early_stopping=config.early_stopping)
    training.export_formats(model, fn_args)
    letters_model = _LettersModel(model, transform_output, vocabulary, config.win_output(BIGRAM))
    tf.saved_model.save(letters_model, fn_args.serving_model_dir, signatures=letters_model.signatures())


# The Tuner trains this same run_fn once per trial of a model search (components/models/tuning.py).
tuner_fn = tuning.tuner_fn_for(run_fn, LettersConfig)
