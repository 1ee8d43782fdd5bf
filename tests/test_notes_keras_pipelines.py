"""The notes' own Keras code through the real CLI: iris with the notes' `IrisModel` class trained by the
tf.GradientTape loop, and cifar10 with the notes' `Baseline` class, each blessed, pushed and served; and
every pipeline's run (these and the shared ones of conftest.py) leaving the notes' inspection files in its
ModelRun and the HDF5 and checkpoint formats beside its SavedModel, which predict what the SavedModel does."""

import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from conftest import FAST_IMAGE_RECORDS, REPO_ROOT, PipelineRun, run_tfpipe, write_records_sample

# Imported for the classes they register with Keras, which the HDF5 files name.
from components import model_inspection
from components.models.images import notes_models  # noqa: F401
from components.models.iris import features as iris_features
from components.models.iris import notes_model  # noqa: F401
from components.models.spoken_digits import audionet  # noqa: F401
from components.tf_example import serialized
from components.training_record import (
    ARCHITECTURE_DOT_FILE,
    CHECKPOINT_PREFIX,
    HDF5_FILE,
    SUMMARY_TEXT_FILE,
    WEIGHTS_FILE,
)
from serving.client import PredictionClient
from serving.model_server import ModelServer, ServerOptions

# Few steps, as conftest's FAST_IRIS, with the notes' class (no hidden layers) and the notes' loop.
NOTES_IRIS = [
    "--set",
    "train_steps=100",
    "--set",
    "model.name=IrisModel",
    "--set",
    "model.training_loop=gradient_tape",
]
# Real rows of data/iris/iris.csv, in centimetres.
IRIS_ROWS = {
    "setosa": dict(sepal_length=5.0, sepal_width=3.4, petal_length=1.5, petal_width=0.2),
    "versicolor": dict(sepal_length=5.7, sepal_width=2.8, petal_length=4.1, petal_width=1.3),
    "virginica": dict(sepal_length=6.7, sepal_width=3.0, petal_length=5.2, petal_width=2.3),
}


@pytest.fixture(scope="module")
def notes_iris_run(tmp_path_factory) -> PipelineRun:
    workdir = tmp_path_factory.mktemp("notes-iris") / "workdir"
    process = run_tfpipe("run", "iris", "--workdir", str(workdir), *NOTES_IRIS)
    assert process.returncode == 0, process.stdout + process.stderr
    return PipelineRun(workdir, "iris", process)


@pytest.fixture(scope="module")
def notes_cifar10_run(tmp_path_factory) -> PipelineRun:
    """cifar10 with the notes' Baseline class on the sample and steps of conftest's cifar10_run."""
    root = tmp_path_factory.mktemp("notes-cifar10")
    write_records_sample(REPO_ROOT / "data" / "cifar10", root / "data", 25)
    workdir = root / "workdir"
    process = run_tfpipe(
        "run",
        "cifar10",
        "--workdir",
        str(workdir),
        "--set",
        f"data_dir={root / 'data'}",
        *FAST_IMAGE_RECORDS,
        "--set",
        "model.name=Baseline",
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return PipelineRun(workdir, "cifar10", process)


@pytest.mark.e2e
def test_iris_with_the_notes_class_and_loop_is_blessed_pushed_and_served(notes_iris_run: PipelineRun, tmp_path):
    results = notes_iris_run.outcome.results
    assert results.blessed is True and results.pushed_model
    # The Trainer's console line carries its epochs, as a fit's does.
    (trainer,) = [line for line in notes_iris_run.process.stdout.splitlines() if line.split()[:1] == ["Trainer"]]
    assert "epoch" in notes_iris_run.process.stdout, notes_iris_run.process.stdout
    assert trainer
    # The model under the Trainer is the notes' class.
    (summary,) = (notes_iris_run.workdir / "iris").rglob(SUMMARY_TEXT_FILE)
    assert "(IrisModel)" in summary.read_text()
    examples = [serialized(row) for row in IRIS_ROWS.values()]
    with (
        ModelServer(notes_iris_run.workdir / "serving", ServerOptions(grpc_port=0, rest_port=0)) as server,
        PredictionClient(f"127.0.0.1:{server.grpc_port}") as client,
    ):
        served = client.predict_examples("iris", examples)
    assert [name.decode() for name in served["species"]] == list(IRIS_ROWS)
    result = run_tfpipe("predict", "iris", "5.0,3.4,1.5,0.2", "--workdir", str(notes_iris_run.workdir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("5.0,3.4,1.5,0.2: setosa (probability ")


@pytest.mark.e2e
def test_the_iris_formats_answer_as_the_served_model_on_raw_measurements(notes_iris_run: PipelineRun):
    saved = tf.saved_model.load(notes_iris_run.outcome.results.pushed_model)
    examples = tf.constant([serialized(row) for row in IRIS_ROWS.values()])
    served = saved.signatures["serving_default"](examples=examples)["probabilities"].numpy()
    raw = {key: tf.constant([[row[key]] for row in IRIS_ROWS.values()]) for key in iris_features.FEATURE_KEYS}
    transformed = saved.tft_layer(raw)
    model_dir = _trainer_dirs(notes_iris_run, "model")
    hdf5 = keras.models.load_model(model_dir / HDF5_FILE)
    inputs = {key: transformed[key] for key in iris_features.FEATURE_KEYS}
    np.testing.assert_allclose(hdf5.predict(inputs, verbose=0), served, atol=1e-6)


@pytest.mark.e2e
def test_cifar10_with_the_notes_baseline_class_is_blessed_and_pushed(notes_cifar10_run: PipelineRun):
    results = notes_cifar10_run.outcome.results
    assert results.blessed is True and results.pushed_model
    (summary,) = (notes_cifar10_run.workdir / "cifar10").rglob(SUMMARY_TEXT_FILE)
    assert "(Baseline)" in summary.read_text()
    assert 0 <= results.metrics["overall"]["sparse_categorical_accuracy"] <= 1


def _trainer_dirs(run: PipelineRun, output: str) -> Path:
    """The Trainer's `model` or `model_run` artifact folder of the fixture's run: by its Trainer
    execution, since other tests add runs (and named pipelines) to the shared workdirs."""
    execution = run.outcome.components["Trainer"].execution_id
    folder = run.workdir / run.outcome.pipeline / "pipeline_root" / "Trainer" / output / str(execution)
    assert folder.is_dir(), folder
    return folder


def _without_names(parameters: str) -> str:
    return re.sub(r"^\S+:\d+$", "", parameters, flags=re.MULTILINE)


def _random_inputs(model: keras.Model, batch: int = 4):
    """Inputs of `model`'s shapes and types: floats in [0, 1), integer ids 1 or 2; unknown lengths 5."""
    rng = np.random.default_rng(0)
    values = []
    for tensor in model.inputs:
        shape = [batch, *(5 if size is None else size for size in tensor.shape[1:])]
        if tensor.dtype.is_integer:
            values.append(rng.integers(1, 3, shape).astype(tensor.dtype.as_numpy_dtype))
        else:
            values.append(rng.random(shape).astype(tensor.dtype.as_numpy_dtype))
    # A list for a model of several inputs, in its inputs' order, as Keras traced its call.
    return values if len(values) > 1 else values[0]


@pytest.mark.e2e
@pytest.mark.parametrize(
    "run_fixture",
    [
        "notes_iris_run",
        "notes_cifar10_run",
        "iris_run",
        "stock_run",
        "digits_run",
        "mnist_run",
        "letters_run",
        "spoken_digits_run",
        "cifar10_run",
        "fashion_mnist_run",
    ],
)
def test_every_run_leaves_the_inspection_files_and_formats_that_predict_as_its_saved_model(run_fixture, request):
    run: PipelineRun = request.getfixturevalue(run_fixture)
    model_run, model_dir = _trainer_dirs(run, "model_run"), _trainer_dirs(run, "model")
    weights = (model_run / WEIGHTS_FILE).read_text()
    assert (model_run / SUMMARY_TEXT_FILE).read_text().startswith("Model: ")
    assert (model_run / ARCHITECTURE_DOT_FILE).read_text().startswith("digraph")
    hdf5 = keras.models.load_model(model_dir / HDF5_FILE)
    # Every trainable variable's shape and values, as the model loaded back holds them (names differ: Keras
    # numbers them per process).
    assert _without_names(weights) == _without_names(model_inspection.parameters_text(hdf5))
    inputs = _random_inputs(hdf5)
    # The Keras model of the SavedModel: its root (iris, images, spoken digits), or the `model` of the
    # tf.Module that wraps it with its signatures (stock, letters).
    saved = tf.saved_model.load(str(model_dir / "Format-Serving"))
    saved_model = getattr(saved, "model", saved)
    expected = saved_model(inputs, training=False).numpy()
    np.testing.assert_allclose(hdf5.predict(inputs, verbose=0), expected, atol=1e-5)
    # Weights-only: the checkpoint into the same model built afresh (new initial weights).
    fresh = keras.models.clone_model(hdf5)
    fresh.load_weights(str(model_dir / CHECKPOINT_PREFIX)).assert_existing_objects_matched().expect_partial()
    np.testing.assert_allclose(fresh.predict(inputs, verbose=0), expected, atol=1e-5)
