"""Letters module code without a pipeline run: a word's examples, the vocabulary from the train split
only, masking, the bigram baseline, the notes' 1- and 4-letter configs through Transform, the model
and its SavedModel, and what `tfpipe predict letters` sends and prints."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_transform.beam as tft_beam
from tensorflow_transform import TFTransformOutput
from tensorflow_transform.tf_metadata import dataset_metadata

from components.models.letters import features, ingest, model, prediction_inputs, preprocessing
from pipelines.config import ConfigError, apply_overrides
from pipelines.letters.config import MODEL_NAMES, LettersConfig, LettersModelConfig
from tfpipe.console import metrics_table

END = features.END_OF_WORD


def _pairs(word, min_context, max_context):
    return [
        (example["prefix"].decode(), example["next"].decode(), example["context_length"])
        for example in ingest.prefix_examples(word, min_context, max_context)
    ]


def test_a_word_gives_one_example_per_prefix_up_to_max_context():
    assert _pairs("hello", 1, 3) == [("h", "e", 1), ("he", "l", 2), ("hel", "l", 3), ("ell", "o", 3), ("llo", END, 3)]
    # The notes' configs: one letter in (1pre1), four letters in (4pre1).
    assert _pairs("hello", 1, 1) == [("h", "e", 1), ("e", "l", 1), ("l", "l", 1), ("l", "o", 1), ("o", END, 1)]
    assert _pairs("hello", 4, 4) == [("hell", "o", 4), ("ello", END, 4)]
    assert _pairs("cat", 4, 4) == []
    assert {example["word"] for example in ingest.prefix_examples("hello", 1, 10)} == {b"hello"}


@pytest.mark.parametrize("line, character", [("ice cream", "' '"), ("don't", '"\'"'), ("r2d2", "'2'")])
def test_a_line_that_is_not_one_word_of_letters_is_refused_saying_why(line, character):
    with pytest.raises(ValueError, match=f"holds {character}, which is not a letter"):
        ingest.read(line, {"min_context": 1.0, "max_context": 10.0})
    assert len(ingest.read("  Éclair\n", {"min_context": 1.0, "max_context": 10.0})) == 6


def _rows(words, min_context, max_context):
    return [
        {key: np.array([value]) for key, value in example.items()}
        for word in words
        for example in ingest.prefix_examples(word, min_context, max_context)
    ]


def _analyze(train_words, tmp_path, min_context=1, max_context=10):
    """Transform's analysis on `train_words` alone, written out as the Transform component writes it."""
    schema = tfdv.load_schema_text(str(LettersConfig().schema_path))
    metadata = dataset_metadata.DatasetMetadata(schema)
    config = {"max_context": max_context}
    with tft_beam.Context(temp_dir=str(tmp_path / "tmp"), force_tf_compat_v1=False):
        transform_fn = (_rows(train_words, min_context, max_context), metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing.preprocessing_fn(inputs, config)
        )
        _ = transform_fn | tft_beam.WriteTransformFn(str(tmp_path / "transform"))
    return TFTransformOutput(str(tmp_path / "transform"))


def test_the_vocabulary_comes_from_the_train_split_only(tmp_path):
    output = _analyze(["hello", "help"], tmp_path, max_context=3)
    vocabulary = [token.decode() for token in output.vocabulary_by_name(features.CHARACTERS_VOCABULARY)]
    assert sorted(vocabulary) == sorted(["h", "e", "l", "o", "p", END])
    unseen = len(vocabulary) + 1  # ids are vocabulary positions + 1; 0 is padding
    # Eval words: x, z and d never occurred in training and share the one unknown id.
    transformed = output.transform_raw_features(
        {"prefix": tf.constant([["hex"], ["ze"], ["hel"]]), "next": tf.constant([["d"], ["d"], [END]])}
    )
    ids = transformed[features.CHAR_IDS_KEY].numpy()
    position = {token: index + 1 for index, token in enumerate(vocabulary)}
    np.testing.assert_array_equal(ids[0], [position["h"], position["e"], unseen])
    np.testing.assert_array_equal(ids[1], [unseen, position["e"], features.PADDING_ID])
    np.testing.assert_array_equal(ids[2], [position["h"], position["e"], position["l"]])
    # The label is the next character's class: its vocabulary position, or the unseen class.
    np.testing.assert_array_equal(
        transformed[features.LABEL_KEY].numpy(), [len(vocabulary)] * 2 + [vocabulary.index(END)]
    )
    # The bigram counts are the train split's: h->e twice (hello, help), l->l and l->p once.
    counts = model.read_bigram_counts(output.vocabulary_file_by_name(features.BIGRAMS_VOCABULARY))
    assert counts[("h", "e")] == 2 and counts[("l", "p")] == 1 and ("e", "x") not in counts


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_padding_never_changes_a_prediction(name):
    built = model.build_model(LettersModelConfig(name=name, units=(6, 5), embedding_dim=4, seed=0), vocabulary_size=7)
    prefix = [3, 1, 5]
    padded = [np.array([prefix + [0] * padding]) for padding in (0, 1, 4, 17)]
    outputs = [built(ids).numpy() for ids in padded]
    for other in outputs[1:]:
        np.testing.assert_allclose(other, outputs[0], rtol=1e-5, atol=1e-6)
    # Beside a longer prefix in one batch, as batches come: the same again.
    batch = built(np.array([prefix + [0] * 5, [2, 4, 6, 1, 3, 2, 7, 8]])).numpy()
    np.testing.assert_allclose(batch[0], outputs[0][0], rtol=1e-5, atol=1e-6)
    assert outputs[0].shape == (1, 7 + features.NUM_OOV_BUCKETS)


def test_unknown_model_name_and_contexts_are_one_sentence():
    with pytest.raises(ValueError, match="model.name 'transformer': expected one of one_hot_rnn, embedding_rnn"):
        model.build_model(LettersModelConfig(name="transformer"), vocabulary_size=5)
    with pytest.raises(ConfigError, match="model.name=transformer: expected one of one_hot_rnn"):
        apply_overrides(LettersConfig(), ["model.name=transformer"]).check()
    with pytest.raises(ConfigError, match="expected min_context <= max_context"):
        apply_overrides(LettersConfig(), ["min_context=4", "max_context=2"]).check()
    with pytest.raises(ConfigError, match="min_context"):
        apply_overrides(LettersConfig(), ["min_context=0"]).check()
    assert sorted(model.MODEL_BUILDERS) == sorted(MODEL_NAMES)


def test_the_bigram_baseline_predicts_the_most_frequent_next_letter():
    vocabulary = ["e", "l", "h", END]
    counts = {("h", "e"): 5, ("e", "l"): 3, ("e", END): 4, ("l", "l"): 2, ("l", "e"): 1}
    table = model.bigram_table(counts, vocabulary)
    assert table.shape == (len(vocabulary) + 2, len(vocabulary) + 1)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-6)
    most_likely = {token: vocabulary[int(np.argmax(table[index + 1]))] for index, token in enumerate(vocabulary)}
    assert most_likely["h"] == "e" and most_likely["e"] == END and most_likely["l"] == "l"
    # Padding, an unseen character and a character never followed: the next letter over all (e: 6).
    for row in (0, len(vocabulary) + 1, vocabulary.index(END) + 1):
        assert vocabulary[int(np.argmax(table[row]))] == "e"


@pytest.mark.parametrize("context", [1, 4])
def test_the_notes_fixed_contexts_train_and_serve_raw_strings(context, tmp_path):
    """The notes' `1pre1` and `4pre1`: --set min_context=N --set max_context=N, through the module code
    (the pipeline run itself is tests/test_letters_pipeline.py's, with the default contexts)."""
    words = LettersConfig().resolved_data_dir().joinpath("words.txt").read_text().split()[::80]
    output = _analyze(words, tmp_path, context, context)
    vocabulary = [token.decode() for token in output.vocabulary_by_name(features.CHARACTERS_VOCABULARY)]
    rows = _rows(words, context, context)
    transformed = output.transform_raw_features(
        {key: tf.constant([row[key] for row in rows]) for key in (features.PREFIX_KEY, features.NEXT_KEY)}
    )
    assert transformed[features.CHAR_IDS_KEY].shape == (len(rows), context)
    config = LettersModelConfig(name="embedding_rnn", units=(16,), learning_rate=0.02)
    built = model.build_model(config, len(vocabulary))
    built.fit(transformed[features.CHAR_IDS_KEY], transformed[features.LABEL_KEY], batch_size=256, epochs=1, verbose=0)
    exported = model._LettersModel(built, output, vocabulary, LettersConfig().win_output(model.BIGRAM))
    tf.saved_model.save(exported, str(tmp_path / "model"), signatures=exported.signatures())
    served = tf.saved_model.load(str(tmp_path / "model")).signatures["prefixes"]
    outputs = served(prefix=tf.constant(["hel", "q", "Q€", "tensorflo"]))
    assert outputs["probabilities"].shape == (4, len(vocabulary) + 1)
    assert all(letter.decode() in vocabulary for letter in outputs["letter"].numpy())
    # Only the last `context` letters are read: "Q€" has one unseen letter in view with one letter, two with four.
    assert outputs["unseen_characters"].numpy().tolist() == [0, 0, 1 if context == 1 else 2, 0]


def test_an_empty_input_is_refused_in_one_sentence():
    examples = prediction_inputs.to_examples(["hel", "Tensorflo"], LettersConfig())
    assert tf.train.Example.FromString(examples[1]).features.feature["prefix"].bytes_list.value == [b"Tensorflo"]
    with pytest.raises(ValueError, match="^An empty input has no letter to predict from; .* e.g. hel.$"):
        prediction_inputs.to_examples(["hel", ""], LettersConfig())


def _fake_model(continuations: dict[str, str]):
    """predict() of a model that continues each prefix as `continuations` says, END after that."""

    def predict(examples):
        prefixes = [
            tf.train.Example.FromString(e).features.feature["prefix"].bytes_list.value[0].decode() for e in examples
        ]
        letters = [continuations.get(prefix, END) for prefix in prefixes]
        return {
            "letter": np.array([letter.encode() for letter in letters], dtype=object),
            "probability": np.full(len(prefixes), 0.5),
            "unseen_characters": np.array([prefix.count("€") for prefix in prefixes]),
        }

    return predict


def test_complete_continues_letter_by_letter_to_the_end_of_the_word():
    predict = _fake_model({"hel": "l", "hell": "o", "€": "x"})
    lines = prediction_inputs.complete(["hel", "cat", "€"], LettersConfig(), predict)
    assert lines == [
        "hello (+l 0.50, +o 0.50, end 0.50)",
        "cat (end 0.50)",
        "€x (+x 0.50, end 0.50); 1 of the letters read never occurred in training and count as unknown",
    ]
    endless = _fake_model({"a" * n: "a" for n in range(1, 100)})
    (line,) = prediction_inputs.complete(["a"], LettersConfig(), endless)
    assert line.startswith("a" * (1 + prediction_inputs.MAX_ADDED_LETTERS) + " (")
    assert line.endswith(f"no end of word after {prediction_inputs.MAX_ADDED_LETTERS} letters)")
    described = prediction_inputs.describe(
        {k: v for k, v in predict(prediction_inputs.to_examples(["hell"], None)).items()}, 0
    )
    assert described == "o (probability 0.500)"


def test_the_summary_puts_the_model_and_its_baselines_side_by_side():
    table = metrics_table(
        {
            "overall": {
                "bigram/sparse_categorical_accuracy": 0.25,
                "bigram/example_count": 10,
                "probabilities/example_count": 10,
                "probabilities/sparse_categorical_accuracy": 0.37,
            }
        }
    )
    names = [line.split()[0] for line in table[1:]]
    assert (
        names.index("probabilities/sparse_categorical_accuracy")
        == names.index("bigram/sparse_categorical_accuracy") + 1
    )


def test_blessing_requires_beating_the_bigram_by_accuracy():
    from pipelines.factory import eval_config
    from pipelines.registry import config_for

    config = eval_config(LettersConfig())
    (spec,) = config.model_specs
    assert list(spec.preprocessing_function_names) == ["transform_features"]
    assert dict(spec.label_keys) == {
        output: features.LABEL_KEY for output in ("probabilities", "bigram", "excess_correct_vs_bigram")
    }
    (win,) = [m for m in config.metrics_specs if list(m.output_names) == ["excess_correct_vs_bigram"]]
    threshold = win.metrics[0].per_slice_thresholds[0].threshold.value_threshold
    assert threshold.HasField("lower_bound") and threshold.lower_bound.value == 0.0
    assert not threshold.HasField("upper_bound")
    assert not [
        m
        for m in eval_config(apply_overrides(LettersConfig(), ["must_beat_bigram=false"])).metrics_specs
        if "excess_correct_vs_bigram" in m.output_names
    ]
    # Stock's required win is still measured by squared error, at most 0.
    stock = eval_config(config_for("stock"))
    (stock_win,) = [m for m in stock.metrics_specs if list(m.output_names) == ["excess_squared_error_vs_persistence"]]
    assert stock_win.metrics[0].per_slice_thresholds[0].threshold.value_threshold.HasField("upper_bound")
