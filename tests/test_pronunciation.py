"""Pronunciation's module code without a pipeline run: the dictionary's lines, the edit distances
behind the error rates, the naive baselines, the decoding loops (stopping at the end and at the
maximum length), the sentences refusing bad words and the config's checks."""

import importlib.util

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT

from components.models.pronunciation import encoder_decoder, error_rates, features, ingest, naive_baselines
from components.models.pronunciation.model import EMPTY_WORD, refusals
from pipelines.config import ConfigError, apply_overrides
from pipelines.pronunciation.config import PronunciationConfig, PronunciationModelConfig

OPTIONS = {"max_letters": 20.0, "max_phonemes": 24.0}


def test_the_dictionary_groups_alternates_with_their_word_and_leaves_out_what_is_not_a_word():
    spec = importlib.util.spec_from_file_location("make_pronunciation", REPO_ROOT / "data" / "make_pronunciation.py")
    make_pronunciation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_pronunciation)
    lines = [
        ";;; a comment line",
        "read R EH1 D",
        "a.m. EY2 EH1 M",
        "read(2) R IY1 D",
        "d'artagnan D AH0 R T AE1 NG Y AH0 N # foreign french",
        "ad-hoc AE1 D HH AA1 K",
    ]
    assert make_pronunciation.pronunciations(lines[1:]) == {
        "read": ["R EH1 D", "R IY1 D"],
        "d'artagnan": ["D AH0 R T AE1 NG Y AH0 N"],
    }


def test_a_line_is_one_example_holding_every_pronunciation_of_its_word():
    (example,) = ingest.read("read\tR EH1 D\tR IY1 D\n", OPTIONS)
    assert example == {
        "word": b"read",
        "pronunciations": [b"R EH1 D", b"R IY1 D"],
        "letter_count": 4,
        "phoneme_count": 3,
    }


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("k8s\tK EY1 EY1 T S", "'k8s' is not a word of the letters a-z and apostrophes"),
        ("Read\tR EH1 D", "'Read' is not a word of the letters a-z and apostrophes"),
        ("a" * 21 + "\tAH0", "has 21 letters, more than max_letters=20"),
        ("read", "'read' has no pronunciation"),
        ("read\t" + " ".join(["AH0"] * 25), "a pronunciation of 25 phonemes, more than max_phonemes=24"),
    ],
)
def test_a_line_the_model_cannot_learn_is_refused_with_the_reason(line, reason):
    with pytest.raises(ValueError, match=reason):
        ingest.read(line, OPTIONS)


def test_every_shipped_line_is_one_readable_word():
    lines = (REPO_ROOT / "data" / "pronunciation" / "cmudict.tsv").read_text().splitlines()
    words = [line.split("\t")[0] for line in lines]
    assert len(words) == len(set(words)) > 120_000  # alternates share their word's line
    assert sum(len(line.split("\t")) > 2 for line in lines) > 8_000


def test_phoneme_errors_are_edit_distances_to_the_nearest_pronunciation():
    pronounced = tf.ragged.constant([["K", "AE", "T"], [], ["D", "AO", "G"], ["R", "EH", "D"], ["S"]])
    pronunciations = tf.ragged.constant(
        [
            [["K", "AE", "T"]],  # exact: 0
            [["AH"], ["EY"]],  # nothing said: one deletion from the shorter
            [["D", "AA", "G"], ["D", "AO", "G", "Z"]],  # one substitution, or one insertion: 1
            [["R", "IY", "D"], ["R", "EH", "D"]],  # the second alternate: 0
            [["S", "T", "AA", "P"]],  # three phonemes missing
        ]
    )
    errors = error_rates.phoneme_errors(pronounced, pronunciations)
    np.testing.assert_array_equal(errors.numpy(), [0, 1, 1, 0, 3])


def test_word_and_phoneme_error_rates_by_hand():
    phoneme_counts, errors = [3, 1, 3, 3, 4], [0, 1, 1, 0, 3]
    word_error_rate, phoneme_error_rate = error_rates.WordErrorRate(), error_rates.PhonemeErrorRate()
    for metric in (word_error_rate, phoneme_error_rate):
        metric.update_state(phoneme_counts[:2], errors[:2])
        metric.update_state(phoneme_counts[2:], errors[2:])
    assert word_error_rate.result().numpy() == pytest.approx(3 / 5)
    assert phoneme_error_rate.result().numpy() == pytest.approx(5 / 14)  # summed errors over summed phonemes
    assert (word_error_rate.name, phoneme_error_rate.name) == ("word_error_rate", "phoneme_error_rate")


def test_edit_distances_by_hand():
    candidates = ["kitten", "sitting", "", "flaw"]
    codes = np.zeros((len(candidates), 7), np.int32)
    for row, word in enumerate(candidates):
        codes[row, : len(word)] = [ord(c) for c in word]
    lengths = np.array([len(word) for word in candidates])
    assert naive_baselines.edit_distances("sitting", codes, lengths).tolist() == [3, 0, 7, 7]
    assert naive_baselines.edit_distances("lawn", codes, lengths).tolist() == [5, 6, 4, 2]


def test_the_naive_baselines():
    words = ["cat", "cats", "dog", "bat", "tab"]
    pronunciations = ["K AE T", "K AE T S", "D AO G", "B AE T", "T AE B"]
    nearest = naive_baselines.NearestSpelling(words, pronunciations)
    assert nearest.nearest("cots") == "cats" and nearest.pronounce("cots") == "K AE T S"
    assert nearest.nearest("catz") == "cat"  # as near as cats: the first in sorted order
    assert nearest.pronounce("dogs") == "D AO G"
    assert nearest.pronounce("xyz") in pronunciations  # no x-word: any of the right lengths
    phonemes = naive_baselines.letter_phonemes(words, pronunciations)
    assert phonemes == {"a": "AE", "b": "B", "c": "K", "d": "D", "g": "G", "o": "AO", "s": "S", "t": "T"}
    assert naive_baselines.spell_out("taco", phonemes) == "T AE K AO"
    assert naive_baselines.spell_out("fax", phonemes) == "AE"  # f and x never counted: silent


PHONEME_IDS = 8


@pytest.fixture(scope="module")
def small_model() -> encoder_decoder.EncoderDecoder:
    layers = encoder_decoder.EncoderDecoder(
        PronunciationModelConfig(encoder_units=4, decoder_units=4, embedding_dim=3), 10, PHONEME_IDS
    )
    layers.training_model()  # builds the layers
    return layers


def _always(layers: encoder_decoder.EncoderDecoder, phoneme_id: int) -> encoder_decoder.EncoderDecoder:
    """`layers` made to write the phoneme id `phoneme_id` at every step, whatever they read."""
    kernel, _ = layers.classify.get_weights()
    layers.classify.set_weights([np.zeros_like(kernel), np.eye(PHONEME_IDS)[phoneme_id] * 10.0])
    return layers


LETTER_IDS = tf.constant([[3, 4, 5, 0], [6, 0, 0, 0]], tf.int64)


def test_decoding_stops_at_the_end_token(small_model):
    layers = _always(small_model, features.END_ID)
    ids, weights = encoder_decoder.greedy_decode(layers, LETTER_IDS, max_steps=6)
    assert ids.numpy().tolist() == [[features.END_ID, 0, 0, 0, 0, 0]] * 2
    # Attention weighs the letters only, never padding.
    np.testing.assert_allclose(weights.numpy()[0, 0].sum(), 1.0, rtol=1e-5)
    assert weights.numpy()[1, 0, 1:].max() == 0.0
    beam = encoder_decoder.beam_decode(layers, LETTER_IDS, max_steps=6, beam_width=3)
    assert beam.numpy().tolist() == [[features.END_ID, 0, 0, 0, 0, 0]] * 2
    assert encoder_decoder.until_end(ids).numpy().sum() == 0


def test_decoding_stops_at_the_maximum_length(small_model):
    layers = _always(small_model, 5)
    ids, _ = encoder_decoder.greedy_decode(layers, LETTER_IDS, max_steps=4)
    assert ids.numpy().tolist() == [[5, 5, 5, 5]] * 2
    beam = encoder_decoder.beam_decode(layers, LETTER_IDS, max_steps=4, beam_width=2)
    assert beam.numpy().tolist() == [[5, 5, 5, 5]] * 2
    assert encoder_decoder.until_end(ids).numpy().all()


def test_beam_search_finds_what_greedy_misses():
    """Two steps over phonemes 3, 4 and END: greedy takes 3 first (0.6) but then has only poor
    continuations; beam search keeps 4 (0.4), whose END is certain, and wins overall."""
    probabilities = {
        features.START_ID: {3: 0.6, 4: 0.4},
        3: {features.END_ID: 0.3, 3: 0.35, 4: 0.35},
        4: {features.END_ID: 1.0},
    }

    class TableDecoder:
        def encode(self, letter_ids):
            batch = tf.shape(letter_ids)[0]
            return tf.zeros([batch, 1, 1]), tf.ones([batch, 1], tf.bool), tf.zeros([batch, 1])

        def decode(self, previous, outputs, letter_mask, state):
            table = np.full((6, 6), 1e-9)
            for before, following in probabilities.items():
                for phoneme, probability in following.items():
                    table[before, phoneme] = probability
            logits = tf.math.log(tf.gather(tf.constant(table, tf.float32), previous))
            return logits, state, tf.zeros([tf.shape(previous)[0], 1, 1])

    letter_ids = tf.constant([[3]], tf.int64)
    greedy, _ = encoder_decoder.greedy_decode(TableDecoder(), letter_ids, max_steps=3)
    assert greedy.numpy().tolist()[0][:2] in ([3, 3], [3, 4])
    beam = encoder_decoder.beam_decode(TableDecoder(), letter_ids, max_steps=3, beam_width=2)
    assert beam.numpy().tolist() == [[4, features.END_ID, 0]]


def test_bad_words_are_refused_with_one_sentence():
    words = ["kubeflow", "KubeFlow", "o'brien", "k8s", "", "naïve", "a" * 21, "\xff"]
    sentences = [sentence.decode() for sentence in refusals(tf.constant(words), max_letters=20).numpy()]
    assert sentences[:3] == ["", "", ""]
    assert sentences[3] == (
        "'k8s' holds '8', which is not a letter a-z or an apostrophe; give a word in English letters."
    )
    assert sentences[4] == EMPTY_WORD
    assert sentences[5].startswith("'naïve' holds 'ï', which is not a letter")
    assert sentences[6] == f"'{'a' * 21}' has 21 letters, more than the 20 the model reads; give a shorter word."
    assert "which is not a letter a-z" in sentences[7]  # bytes that are no UTF-8


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("decoding=sample", "--set decoding=sample: expected one of greedy, beam."),
        ("model.attention=cosine", "--set model.attention=cosine: expected one of dot_product, additive."),
        ("model.encoder=rnn", "--set model.encoder=rnn: expected one of lstm, gru."),
        ("blessing_threshold=2", "--set blessing_threshold=2.0: the word error rate is a share between 0 and 1"),
    ],
)
def test_the_config_refuses_what_the_model_code_does_not_know(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        apply_overrides(PronunciationConfig(), [override]).check_values()


def test_blessing_needs_both_baselines_beaten_unless_told_otherwise():
    assert PronunciationConfig().required_wins() == ("nearest_spelling", "letter_to_phoneme")
    assert apply_overrides(PronunciationConfig(), ["must_beat_baselines=false"]).required_wins() == ()
