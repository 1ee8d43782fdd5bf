"""The notes' sequence to sequence pieces, as tf_keras layers: an encoder over the letters, a decoder
that writes phonemes one at a time, trained with teacher forcing, and attention between them; and the
two ways the SavedModel decodes, greedy and beam search, as TensorFlow loops of at most a maximum
number of steps.

Ids (components/models/pronunciation/features.py): 0 is padding, 1 the start and 2 the end of a
pronunciation, vocabulary entries from 3 on. The letters' padding is masked: the encoder skips it
and attention gives it no weight. The decoder's is left out of the loss (`masked_loss`).
"""

import tensorflow as tf
import tf_keras as keras

from components.models.pronunciation import features
from pipelines.pronunciation.config import PronunciationModelConfig

# Scores of what must never be chosen: padding letters under attention, all but padding after the end.
_NEVER = -1e9


class Attention(keras.layers.Layer):
    """Scores every encoder output (one per letter) against each decoder state and returns their
    weighted sum, the context vector, with the weights (a softmax over the letters; padding gets none).

    dot_product: score = state . W output (Luong's "general" score);
    additive: score = v . tanh(W1 state + W2 output) (Bahdanau's)."""

    def __init__(self, kind: str, units: int, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        self.units = units
        self.keys = keras.layers.Dense(units, use_bias=False, name="keys")
        if kind == "additive":
            self.queries = keras.layers.Dense(units, use_bias=False, name="queries")
            self.score = keras.layers.Dense(1, use_bias=False, name="score")

    def call(self, states, outputs, letter_mask):
        """states [batch, steps, units], outputs [batch, letters, width], letter_mask [batch, letters]
        -> (context [batch, steps, width], weights [batch, steps, letters])."""
        keys = self.keys(outputs)
        if self.kind == "additive":
            hidden = tf.tanh(self.queries(states)[:, :, None, :] + keys[:, None, :, :])
            scores = tf.squeeze(self.score(hidden), axis=-1)
        else:
            scores = tf.matmul(states, keys, transpose_b=True)
        scores += (1.0 - tf.cast(letter_mask, scores.dtype))[:, None, :] * _NEVER
        weights = tf.nn.softmax(scores, axis=-1)
        return tf.matmul(weights, outputs), weights

    def get_config(self) -> dict:
        return {**super().get_config(), "kind": self.kind, "units": self.units}


class EncoderDecoder:
    """The layers, and the two passes through them: `encode` once per word, `decode` for any number of
    steps from a decoder state (all of them at once under teacher forcing, one at a time when decoding)."""

    def __init__(self, config: PronunciationModelConfig, letter_ids: int, phoneme_ids: int):
        """`letter_ids`, `phoneme_ids`: how many ids each side has, padding, start and end included."""
        recurrent = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[config.encoder]
        layer = recurrent(config.encoder_units, return_sequences=True, return_state=True)
        self.letter_embedding = keras.layers.Embedding(
            letter_ids, config.embedding_dim, mask_zero=True, name="letter_embedding"
        )
        self.encoder = keras.layers.Bidirectional(layer, name="encoder") if config.bidirectional else layer
        self.is_lstm = config.encoder == "lstm"
        # The encoder's last states -> the decoder's first: the notes' context vector.
        self.bridge = keras.layers.Dense(config.decoder_units, activation="tanh", name="bridge")
        self.phoneme_embedding = keras.layers.Embedding(phoneme_ids, config.embedding_dim, name="phoneme_embedding")
        self.decoder = keras.layers.GRU(config.decoder_units, return_sequences=True, return_state=True, name="decoder")
        self.attention = Attention(config.attention, config.decoder_units, name="attention")
        self.attentional = keras.layers.Dense(config.decoder_units, activation="tanh", name="attentional_state")
        self.classify = keras.layers.Dense(phoneme_ids, name="phoneme_logits")

    def encode(self, letter_ids):
        """[batch, letters] ids -> (outputs [batch, letters, width], the letters' mask, the decoder's first state)."""
        letter_mask = tf.not_equal(letter_ids, features.PADDING_ID)
        outputs, *states = self.encoder(self.letter_embedding(letter_ids))
        # An LSTM's states come as (h, c) per direction; the bridge reads the h's.
        last = states[0::2] if self.is_lstm else states
        return outputs, letter_mask, self.bridge(tf.concat(last, axis=-1))

    def decode(self, phoneme_ids, outputs, letter_mask, state):
        """[batch, steps] previous phoneme ids from `state` -> (logits [batch, steps, phoneme ids], the
        state after the last step, attention weights [batch, steps, letters])."""
        states, state = self.decoder(self.phoneme_embedding(phoneme_ids), initial_state=state)
        context, weights = self.attention(states, outputs, letter_mask)
        return self.classify(self.attentional(tf.concat([context, states], axis=-1))), state, weights

    def training_model(self) -> keras.Model:
        """Teacher forcing: the letters and the true previous phonemes in, every step's logits out."""
        letter_ids = keras.Input(shape=(None,), dtype="int64", name=features.LETTER_IDS_KEY)
        decoder_input_ids = keras.Input(shape=(None,), dtype="int64", name=features.DECODER_INPUT_IDS_KEY)
        outputs, letter_mask, state = self.encode(letter_ids)
        logits, _, _ = self.decode(decoder_input_ids, outputs, letter_mask, state)
        inputs = {features.LETTER_IDS_KEY: letter_ids, features.DECODER_INPUT_IDS_KEY: decoder_input_ids}
        return keras.Model(inputs, logits)


def masked_loss(target_ids, logits):
    """Cross-entropy of the true next phonemes, averaged over the steps that hold one (not padding)."""
    mask = tf.cast(tf.not_equal(target_ids, features.PADDING_ID), logits.dtype)
    losses = keras.losses.sparse_categorical_crossentropy(target_ids, logits, from_logits=True)
    return tf.reduce_sum(losses * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def phoneme_accuracy(target_ids, logits):
    """The share of steps (not padding) whose most probable next phoneme is the true one."""
    mask = tf.not_equal(target_ids, features.PADDING_ID)
    right = tf.equal(tf.argmax(logits, axis=-1), tf.cast(target_ids, tf.int64))
    return tf.reduce_sum(tf.cast(right & mask, tf.float32)) / tf.maximum(tf.reduce_sum(tf.cast(mask, tf.float32)), 1.0)


def build_model(
    config: PronunciationModelConfig, letter_ids: int, phoneme_ids: int, train_steps: int
) -> tuple[EncoderDecoder, keras.Model]:
    """The layers and the training model, compiled with `masked_loss` and `phoneme_accuracy`; Adam's
    step size falls from `config.learning_rate` to nothing over `train_steps` (a cosine), gradients
    clipped to norm 1 (recurrent layers' gradients can blow up)."""
    layers = EncoderDecoder(config, letter_ids, phoneme_ids)
    model = layers.training_model()
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=train_steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0),
        loss=masked_loss,
        metrics=[phoneme_accuracy],
    )
    return layers, model


def _pad_steps(ids, max_steps: int):
    """[batch, steps <= max_steps] -> [batch, max_steps], padded with PADDING_ID."""
    return tf.pad(ids, [[0, 0], [0, max_steps - tf.shape(ids)[1]]], constant_values=features.PADDING_ID)


def greedy_decode(layers: EncoderDecoder, letter_ids, max_steps: int):
    """The most probable phoneme at each step, fed back as the next step's input, until every word's
    decoder has written END_ID or `max_steps` phonemes: (ids [batch, max_steps] with END_ID after the
    last phoneme where it ended and PADDING_ID after that, attention weights [batch, max_steps, letters])."""
    outputs, letter_mask, state = layers.encode(letter_ids)
    batch = tf.shape(letter_ids)[0]
    previous = tf.fill([batch], tf.constant(features.START_ID, tf.int64))
    finished = tf.zeros([batch], tf.bool)
    ids = tf.TensorArray(tf.int64, size=0, dynamic_size=True)
    attention = tf.TensorArray(tf.float32, size=0, dynamic_size=True)

    def step(t, previous, state, finished, ids, attention):
        logits, state, weights = layers.decode(previous[:, None], outputs, letter_mask, state)
        chosen = tf.where(finished, tf.constant(features.PADDING_ID, tf.int64), tf.argmax(logits[:, 0], axis=-1))
        ids = ids.write(t, chosen)
        attention = attention.write(t, tf.cast(weights[:, 0], tf.float32))
        return t + 1, chosen, state, finished | tf.equal(chosen, features.END_ID), ids, attention

    _, _, _, _, ids, attention = tf.while_loop(
        lambda t, previous, state, finished, ids, attention: (t < max_steps) & ~tf.reduce_all(finished),
        step,
        (tf.constant(0), previous, state, finished, ids, attention),
    )
    steps = tf.transpose(ids.stack())
    weights = tf.transpose(attention.stack(), [1, 0, 2])
    padding = max_steps - tf.shape(steps)[1]
    return _pad_steps(steps, max_steps), tf.pad(weights, [[0, 0], [0, padding], [0, 0]])


def beam_decode(layers: EncoderDecoder, letter_ids, max_steps: int, beam_width: int):
    """Beam search: the `beam_width` most probable pronunciations so far are kept at each step, each
    extended by every phoneme, until all have ended (END_ID) or `max_steps`; the most probable one
    (by total log-probability) is returned, [batch, max_steps] ids as greedy_decode's."""
    outputs, letter_mask, state = layers.encode(letter_ids)
    batch = tf.shape(letter_ids)[0]

    def tiled(tensor):
        return tf.repeat(tensor, beam_width, axis=0)

    outputs, letter_mask, state = tiled(outputs), tiled(letter_mask), tiled(state)
    previous = tf.fill([batch * beam_width], tf.constant(features.START_ID, tf.int64))
    finished = tf.zeros([batch * beam_width], tf.bool)
    # Only the first beam is alive at the start: the others would repeat it.
    scores = tf.tile(tf.concat([[0.0], tf.fill([beam_width - 1], _NEVER)], axis=0)[None, :], [batch, 1])
    sequences = tf.zeros([batch, beam_width, 0], tf.int64)
    offsets = tf.range(batch)[:, None] * beam_width

    def step(t, previous, state, finished, scores, sequences):
        logits, state, _ = layers.decode(previous[:, None], outputs, letter_mask, state)
        log_probabilities = tf.nn.log_softmax(tf.cast(logits[:, 0], tf.float32), axis=-1)
        vocabulary = tf.shape(log_probabilities)[1]
        # An ended candidate continues with padding only, at no cost.
        only_padding = tf.where(tf.range(vocabulary) == features.PADDING_ID, 0.0, _NEVER)[None, :]
        log_probabilities = tf.where(finished[:, None], only_padding, log_probabilities)
        totals = tf.reshape(scores, [-1, 1]) + log_probabilities
        scores, best = tf.math.top_k(tf.reshape(totals, [batch, beam_width * vocabulary]), k=beam_width)
        parent, chosen = best // vocabulary, tf.cast(best % vocabulary, tf.int64)
        rows = tf.reshape(offsets + parent, [-1])
        sequences = tf.concat([tf.gather(sequences, parent, batch_dims=1), chosen[:, :, None]], axis=2)
        chosen = tf.reshape(chosen, [-1])
        finished = tf.gather(finished, rows) | tf.equal(chosen, features.END_ID)
        return t + 1, chosen, tf.gather(state, rows), finished, scores, sequences

    _, _, _, _, scores, sequences = tf.while_loop(
        lambda t, previous, state, finished, scores, sequences: (t < max_steps) & ~tf.reduce_all(finished),
        step,
        (tf.constant(0), previous, state, finished, scores, sequences),
        shape_invariants=(
            tf.TensorShape([]),
            previous.shape,
            tf.TensorShape([None, None]),
            finished.shape,
            tf.TensorShape([None, beam_width]),
            tf.TensorShape([None, beam_width, None]),
        ),
    )
    best = tf.gather(sequences, tf.argmax(scores, axis=1, output_type=tf.int32), batch_dims=1)
    return _pad_steps(best, max_steps)


def until_end(ids):
    """[batch, steps] decoded ids -> a [batch, steps] mask of the phonemes: the steps before the first
    END_ID (or PADDING_ID), which ends a word."""
    ended = tf.equal(ids, features.END_ID) | tf.equal(ids, features.PADDING_ID)
    return tf.equal(tf.cumsum(tf.cast(ended, tf.int32), axis=1), 0)
