"""The pronunciation pipeline end to end on a sample of the shipped dictionary (the shared
`pronunciation_run`): bad lines listed and left out, the split by word, the error rates in TFMA
against the naive baselines, the attention maps in MLflow, and the pushed model answering
`tfpipe predict`, gRPC and REST alike, bad words with one sentence."""

import glob
import json
import os
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import BAD_DICTIONARY_LINES, WordsRun, run_tfpipe
from mlflow.tracking import MlflowClient

from components.models.pronunciation import features
from serving.client import PredictionClient, predict_request
from serving.model_server import ModelServer, ServerOptions
from serving.predict import latest_version

WORDS = ["kubeflow", "TensorFlow", "o'brien", "k8s", "", "naïve", "a" * 21]


def _examples(workdir: Path, split: str) -> list[tf.train.Example]:
    (uri,) = glob.glob(str(workdir / "pronunciation" / "pipeline_root" / "DictionaryExampleGen" / "examples" / "*"))
    files = glob.glob(os.path.join(uri, f"Split-{split}", "*"))
    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _feature(example: tf.train.Example, key: str) -> list:
    feature = example.features.feature[key]
    return [v.decode() for v in feature.bytes_list.value] or list(feature.int64_list.value)


def test_bad_lines_are_listed_and_left_out(pronunciation_run: WordsRun):
    rejected = pronunciation_run.outcome.results.rejected_inputs
    assert rejected.count == len(BAD_DICTIONARY_LINES)
    assert "'k8s' is not a word of the letters a-z and apostrophes" in rejected.first[0]
    assert "has 28 letters, more than max_letters=20" in rejected.first[1]


def test_no_eval_word_nor_any_of_its_pronunciations_is_trained_on(pronunciation_run: WordsRun):
    train, evaluation = _examples(pronunciation_run.workdir, "train"), _examples(pronunciation_run.workdir, "eval")
    train_words = {_feature(e, features.WORD_KEY)[0] for e in train}
    eval_words = {_feature(e, features.WORD_KEY)[0] for e in evaluation}
    assert not train_words & eval_words
    assert train_words | eval_words == set(pronunciation_run.words)
    assert 0.05 < len(eval_words) / len(pronunciation_run.words) < 0.15  # 9:1 by hash of the word
    # A word's alternates travel in its one example: the dictionary's line, all of it.
    lines = dict(
        line.split("\t", 1) for line in (Path(pronunciation_run.data_dir) / "cmudict.tsv").read_text().splitlines()
    )
    for example in evaluation:
        word = _feature(example, features.WORD_KEY)[0]
        assert _feature(example, features.PRONUNCIATIONS_KEY) == lines[word].split("\t")


def test_the_error_rates_beat_both_baselines_overall_and_by_word_length(pronunciation_run: WordsRun):
    metrics = pronunciation_run.outcome.results.metrics
    overall = metrics["overall"]
    for output in ("phoneme_errors", "nearest_spelling", "letter_to_phoneme"):
        assert 0 <= overall[f"{output}/word_error_rate"] <= 1
        assert overall[f"{output}/phoneme_error_rate"] >= 0
    model = overall["phoneme_errors/phoneme_error_rate"]
    for baseline in ("nearest_spelling", "letter_to_phoneme"):
        assert model < overall[f"{baseline}/phoneme_error_rate"]
        assert overall[f"excess_phoneme_errors_vs_{baseline}/mean_prediction"] < 0
    assert overall["phoneme_errors/word_error_rate"] <= overall["letter_to_phoneme/word_error_rate"]
    lengths = [int(name.split("=")[1]) for name in metrics if name != "overall"]
    assert [name for name in metrics if name != "overall"] == [f"letter_count={n}" for n in lengths]
    assert lengths == sorted(lengths) and min(lengths) <= 4 and max(lengths) >= 12
    assert pronunciation_run.outcome.results.blessed is True


def test_mlflow_holds_the_attention_maps(pronunciation_run: WordsRun):
    client = MlflowClient(f"sqlite:///{pronunciation_run.workdir / 'mlflow' / 'mlflow.db'}")
    training = [
        item.path for item in client.list_artifacts(pronunciation_run.outcome.results.mlflow_run_id, "training")
    ]
    maps = [path for path in training if os.path.basename(path).startswith("attention_")]
    assert len(maps) == 2 and all(path.endswith(".png") for path in maps)


@pytest.fixture(scope="module")
def served(pronunciation_run: WordsRun):
    with ModelServer(pronunciation_run.workdir / "serving", ServerOptions(grpc_port=0, rest_port=0)) as server:
        yield server


def test_predict_grpc_and_rest_give_the_same_phonemes_and_refusals(pronunciation_run: WordsRun, served):
    workdir = str(pronunciation_run.workdir)
    local = run_tfpipe("predict", "pronunciation", *WORDS, "--workdir", workdir)
    assert local.returncode == 0, local.stderr
    lines = local.stdout.splitlines()
    assert [line.partition(": ")[0] for line in lines] == WORDS
    answers = [line.partition(": ")[2] for line in lines]
    phonemes = answers[:3]
    assert all(answer and set(answer.split()) <= _phoneme_set(pronunciation_run) for answer in phonemes)
    assert answers[3] == "'k8s' holds '8', which is not a letter a-z or an apostrophe; give a word in English letters."
    assert answers[4] == "An empty word has no letters to pronounce; give a word such as kubeflow."
    assert answers[5].startswith("'naïve' holds 'ï'")
    assert answers[6].endswith("has 21 letters, more than the 20 the model reads; give a shorter word.")
    assert answers[1] == predict_one(served, "tensorflow")["phonemes"]  # any case

    # A first call decodes in a graph the server has not run yet: slow on a busy machine.
    server = ("--server", f"127.0.0.1:{served.grpc_port}", "--timeout", "120")
    remote = run_tfpipe("predict", "pronunciation", *WORDS, *server)
    assert remote.returncode == 0 and remote.stdout == local.stdout, remote.stderr

    words = [word.encode() for word in WORDS]
    with PredictionClient(f"127.0.0.1:{served.grpc_port}") as client:
        by_grpc = client.predict(predict_request("pronunciation", words, "word", "words"))
    assert [p.decode() or r.decode() for p, r in zip(by_grpc["phonemes"], by_grpc["refused"])] == answers
    body = json.dumps({"signature_name": "words", "instances": [{"word": word} for word in WORDS]}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{served.rest_port}/v1/models/pronunciation:predict", body) as r:
        by_rest = json.load(r)["predictions"]
    assert [row["phonemes"] or row["refused"] for row in by_rest] == answers


def predict_one(served, word: str) -> dict:
    body = json.dumps({"signature_name": "words", "instances": [{"word": word}]}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{served.rest_port}/v1/models/pronunciation:predict", body) as r:
        return json.load(r)["predictions"][0]


def _phoneme_set(run: WordsRun) -> set[str]:
    (vocabulary,) = glob.glob(
        str(
            run.workdir
            / "pronunciation"
            / "pipeline_root"
            / "Transform"
            / "transform_graph"
            / "*"
            / "transform_fn"
            / "assets"
            / features.PHONEMES_VOCABULARY
        )
    )
    return set(Path(vocabulary).read_text().split())


def test_the_evaluation_signature_scores_the_model_and_baselines_on_the_same_words(pronunciation_run):
    version = latest_version(pronunciation_run.workdir / "serving" / "pronunciation")
    model = tf.saved_model.load(str(version))
    evaluation = model.signatures["evaluation"]
    examples = [e.SerializeToString() for e in _examples(pronunciation_run.workdir, "eval")[:32]]
    outputs = {name: value.numpy() for name, value in evaluation(examples=tf.constant(examples)).items()}
    for baseline in ("nearest_spelling", "letter_to_phoneme"):
        np.testing.assert_allclose(
            outputs[f"excess_phoneme_errors_vs_{baseline}"], outputs["phoneme_errors"] - outputs[baseline]
        )
    served = model.signatures["serving_default"](examples=tf.constant([_serving_example(e) for e in examples]))
    assert not any(served["refused"].numpy())
    assert (outputs["phoneme_errors"] == 0).sum() > 0 and (outputs["phoneme_errors"] >= 0).all()


def _serving_example(serialized: bytes) -> bytes:
    example = tf.train.Example.FromString(serialized)
    word = example.features.feature[features.WORD_KEY]
    served = tf.train.Example()
    served.features.feature[features.WORD_KEY].CopyFrom(word)
    return served.SerializeToString()
