"""The letters pipeline end to end on a sample of the shipped words (the shared `letters_run`): lines
that are not words listed and left out, the split by word, the model against the bigram baseline,
the SavedModel on raw strings, and `tfpipe predict letters` with and without --complete."""

import glob
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import BAD_WORD_LINES, run_tfpipe

from components.models.letters import features


def _examples(workdir: Path, split: str) -> list[dict]:
    (uri,) = glob.glob(str(workdir / "letters" / "pipeline_root" / "WordExampleGen" / "examples" / "*"))
    files = glob.glob(os.path.join(uri, f"Split-{split}", "*"))
    rows = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        rows.append(
            {
                key: feature[key].bytes_list.value[0].decode()
                for key in (features.WORD_KEY, features.PREFIX_KEY, features.NEXT_KEY)
            }
        )
    return rows


def test_lines_that_are_not_words_are_listed_and_left_out(letters_run):
    rejected = letters_run.outcome.results.rejected_inputs
    assert rejected.count == len(BAD_WORD_LINES)
    assert "words.txt line 2001: 'ice cream' holds ' ', which is not a letter" in rejected.first[0]
    assert "Rejected 2 input(s)" in letters_run.process.stdout


def test_every_prefix_of_a_word_is_in_one_split_and_no_word_in_both(letters_run):
    train, evaluation = _examples(letters_run.workdir, "train"), _examples(letters_run.workdir, "eval")
    train_words, eval_words = Counter(e["word"] for e in train), Counter(e["word"] for e in evaluation)
    assert not set(train_words) & set(eval_words)
    assert set(train_words) | set(eval_words) == set(letters_run.words)  # NOTES (not *.txt) was not read
    assert 0.15 < len(eval_words) / len(letters_run.words) < 0.25  # 4:1 by hash of the word
    for counts in (train_words, eval_words):
        assert all(count == len(word) for word, count in counts.items())  # one example per letter position
    assert {e["next"] for e in evaluation if e["prefix"] == e["word"]} == {features.END_OF_WORD}


def test_the_model_beats_the_bigram_baseline_and_both_are_in_the_summary(letters_run):
    metrics = letters_run.outcome.results.metrics
    overall = metrics["overall"]
    for output in ("probabilities", "bigram"):
        for metric in (
            "sparse_categorical_accuracy",
            "sparse_top_k_categorical_accuracy",
            "sparse_categorical_crossentropy",
        ):
            assert f"{output}/{metric}" in overall
    model, bigram = overall["probabilities/sparse_categorical_accuracy"], overall["bigram/sparse_categorical_accuracy"]
    assert model > bigram > 0.1
    assert overall["excess_correct_vs_bigram/mean_prediction"] == pytest.approx(model - bigram, abs=1e-6)
    # Sliced by context length: 1 to max_context (10) letters.
    assert [name for name in metrics if name != "overall"] == [f"context_length={n}" for n in range(1, 11)]
    # The two accuracies on adjacent lines of the console's table.
    lines = letters_run.process.stdout.splitlines()
    (row,) = [i for i, line in enumerate(lines) if line.split()[:1] == ["bigram/sparse_categorical_accuracy"]]
    assert lines[row + 1].split()[0] == "probabilities/sparse_categorical_accuracy"
    assert letters_run.outcome.results.blessed is True
    assert Path(letters_run.outcome.results.pushed_model).parent == letters_run.workdir / "serving" / "letters"


@pytest.fixture(scope="module")
def serving_model(letters_run):
    return tf.saved_model.load(letters_run.outcome.results.pushed_model)


def test_the_saved_model_serves_raw_strings_with_unseen_characters(serving_model):
    prefixes = ["hel", "tensorflo", "Hél", "ÉÉÉÉ" + "understand", "understand"]
    served = serving_model.signatures["prefixes"](prefix=tf.constant(prefixes))
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={"prefix": tf.train.Feature(bytes_list=tf.train.BytesList(value=[p.encode()]))}
            )
        ).SerializeToString()
        for p in prefixes
    ]
    from_examples = serving_model.signatures["serving_default"](examples=tf.constant(examples))
    np.testing.assert_allclose(served["probabilities"].numpy(), from_examples["probabilities"].numpy(), rtol=1e-5)
    np.testing.assert_allclose(served["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-5)
    # H and é never occurred in the lowercase a-z words: read as the unknown character, still answered.
    assert served["unseen_characters"].numpy().tolist() == [0, 0, 2, 0, 0]
    # Only the last max_context (10) letters are read: the unseen ones before them count for nothing.
    np.testing.assert_allclose(served["probabilities"].numpy()[3], served["probabilities"].numpy()[4], rtol=1e-5)
    np.testing.assert_allclose(served["probability"].numpy(), served["probabilities"].numpy().max(axis=1), rtol=1e-6)


def test_the_evaluation_signature_scores_model_and_bigram_on_the_same_examples(letters_run, serving_model):
    rows = _examples(letters_run.workdir, "eval")[:64]
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={
                    key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[row[key].encode()]))
                    for key in (features.PREFIX_KEY, features.NEXT_KEY)
                }
            )
        ).SerializeToString()
        for row in rows
    ]
    evaluated = serving_model.signatures["evaluation"](examples=tf.constant(examples))
    label = serving_model.signatures["transform_features"](examples=tf.constant(examples))[features.LABEL_KEY].numpy()
    model_right = evaluated["probabilities"].numpy().argmax(axis=1) == label
    bigram_right = evaluated["bigram"].numpy().argmax(axis=1) == label
    np.testing.assert_array_equal(
        evaluated["excess_correct_vs_bigram"].numpy(), model_right.astype(float) - bigram_right
    )
    # The bigram baseline looks at the last letter only.
    same_last = [i for i, row in enumerate(rows) if row["prefix"][-1] == rows[0]["prefix"][-1]]
    for i in same_last:
        np.testing.assert_array_equal(evaluated["bigram"].numpy()[i], evaluated["bigram"].numpy()[0])


def test_predict_prints_the_next_letter_and_completes_words(letters_run):
    workdir = str(letters_run.workdir)
    process = run_tfpipe("predict", "letters", "hel", "tensorflo", "Hé", "--workdir", workdir)
    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["hel", "tensorflo", "Hé"]
    assert lines[0].startswith("hel: ") and "(probability 0." in lines[0]
    assert lines[2].endswith("; 2 of the letters read never occurred in training and count as unknown")
    completed = run_tfpipe("predict", "letters", "hel", "q", "--complete", "--workdir", workdir)
    assert completed.returncode == 0, completed.stderr
    for line, prefix in zip(completed.stdout.splitlines(), ("hel", "q")):
        word, _, steps = line.partition(": ")[2].partition(" (")
        assert word.startswith(prefix)
        assert steps.endswith(")") and ("end 0." in steps or "no end of word" in steps)
    empty = run_tfpipe("predict", "letters", "hel", "", "--workdir", workdir)
    assert empty.returncode == 2
    assert empty.stderr.strip() == (
        "tfpipe: An empty input has no letter to predict from; give the first letters of a word, e.g. hel."
    )
