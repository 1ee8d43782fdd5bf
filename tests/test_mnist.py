"""The mnist pipeline: real MNIST digits read from the shipped TFRecord files, end to end, and
the TFRecord layout on real records with corrupt ones among them."""

import io

import numpy as np
import tensorflow as tf
from conftest import FAST_MNIST, REPO_ROOT, PipelineRun, last_outcome, run_tfpipe
from PIL import Image
from test_digits_ingestion import ingest

from components.example_gen import layouts
from components.models.images import features

MNIST = REPO_ROOT / "data" / "mnist"


def _records(name: str, count: int) -> list[tf.train.Example]:
    records = tf.data.TFRecordDataset(str(MNIST / name), compression_type="GZIP").take(count)
    return [tf.train.Example.FromString(record.numpy()) for record in records]


def _png_and_label(example: tf.train.Example) -> tuple[bytes, int]:
    feature = example.features.feature
    return feature[features.IMAGE_KEY].bytes_list.value[0], feature[features.LABEL_KEY].int64_list.value[0]


def test_the_shipped_data_is_the_tfrecord_layout_with_given_splits():
    layout = layouts.detect(MNIST)
    assert layout.kind == layouts.TFRECORD_FILES
    assert layout.split_patterns == {"train": "*train*.tfrecord*", "eval": "*test*.tfrecord*"}


def test_real_records_are_read_and_corrupt_ones_listed(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    train, test = _records("mnist_train.tfrecord.gz", 40), _records("mnist_test.tfrecord.gz", 10)
    cut_short = tf.train.Example()
    cut_short.CopyFrom(train[0])
    png = cut_short.features.feature[features.IMAGE_KEY].bytes_list.value
    png[0] = png[0][: len(png[0]) // 2]
    with tf.io.TFRecordWriter(str(data_dir / "mnist_train.tfrecord.gz"), options="GZIP") as writer:
        for example in train[1:]:
            writer.write(example.SerializeToString())
        writer.write(cut_short.SerializeToString())
        writer.write(b"not a tf.Example at all")
    with tf.io.TFRecordWriter(str(data_dir / "mnist_test.tfrecord.gz"), options="GZIP") as writer:
        for example in test:
            writer.write(example.SerializeToString())

    ingested = ingest(data_dir, tmp_path / "out", pipeline="mnist")

    assert ingested.labels("train") == sorted(_png_and_label(example)[1] for example in train[1:])
    assert ingested.labels("eval") == sorted(_png_and_label(example)[1] for example in test)
    assert len(ingested.rejected) == 2
    assert all(line.startswith("a record of mnist_train.tfrecord.gz: ") for line in ingested.rejected)
    assert any("is not a tf.Example" in line for line in ingested.rejected)
    assert any("is not an image Transform can decode to 1 channel(s)" in line for line in ingested.rejected)
    sizes = {
        (
            e.features.feature[features.HEIGHT_KEY].int64_list.value[0],
            e.features.feature[features.WIDTH_KEY].int64_list.value[0],
        )
        for split in ingested.splits.values()
        for e in split
    }
    assert sizes == {(28, 28)}


def test_the_run_reads_both_tfrecord_splits_and_pushes_an_accurate_model(mnist_run: PipelineRun):
    assert "ImageExampleGen" in mnist_run.outcome.components
    overall = mnist_run.outcome.results.metrics["overall"]
    assert overall["example_count"] == 1000  # the whole test file is the eval split
    assert overall["sparse_categorical_accuracy"] >= 0.9
    assert mnist_run.outcome.results.blessed is True
    assert mnist_run.outcome.results.pushed_model


def test_predict_names_the_digit_of_pngs_of_any_size_and_colour(mnist_run: PipelineRun, tmp_path):
    paths, labels = [], []
    for index, example in enumerate(_records("mnist_test.tfrecord.gz", 20)):
        png, label = _png_and_label(example)
        image = Image.open(io.BytesIO(png))
        if index % 2:  # larger and RGB: predict must bring it to the model's 28x28 grayscale
            image = image.resize((56, 56)).convert("RGB")
        path = tmp_path / f"{index}.png"
        image.save(path)
        paths.append(str(path))
        labels.append(label)
    result = run_tfpipe("predict", "mnist", *paths, "--workdir", str(mnist_run.workdir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == paths
    predicted = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert np.mean(np.array(predicted) == np.array(labels)) >= 0.85


def test_a_second_run_is_scored_against_the_first_and_keeps_its_confusion_matrix(mnist_run: PipelineRun):
    # Runs last in this file: it adds a run to the shared workdir.
    from mlflow.tracking import MlflowClient

    process = run_tfpipe("run", "mnist", "--workdir", str(mnist_run.workdir), *FAST_MNIST, "--set", "train_steps=650")
    assert process.returncode == 0, process.stdout + process.stderr
    outcome = last_outcome(mnist_run.workdir, "mnist")
    assert "sparse_categorical_accuracy_diff" in outcome.results.metrics["overall"]  # the baseline was scored
    client = MlflowClient(f"sqlite:///{mnist_run.workdir / 'mlflow' / 'mlflow.db'}")
    paths = {artifact.path for artifact in client.list_artifacts(outcome.results.mlflow_run_id, "evaluation")}
    assert "evaluation/confusion_matrix.png" in paths
