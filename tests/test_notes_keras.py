"""The notes' own Keras code in the Trainer, without a pipeline run: the subclassed IrisModel and Baseline
built on the pipelines' inputs, the tf.GradientTape loop giving fit's record and callbacks, the inspection
files (weights.txt, model_summary.txt, the architecture diagram) and the HDF5 and checkpoint formats
loading back to the SavedModel's predictions."""

import re
import shutil
import time
import types

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from components import model_inspection, training_record
from components.models import training
from components.models.images import notes_models
from components.models.images.model import build_classifier as build_image_classifier
from components.models.iris import features as iris_features
from components.models.iris.model import build_classifier as build_iris_classifier
from components.models.iris.notes_model import IrisModel
from pipelines.config import ConfigError, apply_overrides
from pipelines.images import AugmentationConfig, ImageModelConfig
from pipelines.iris.config import IrisConfig, IrisModelConfig


def _iris_data(rows: int = 120, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Separable measurements: species i has its four features near i / 2."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, rows)
    measurements = {
        key: (labels / 2 + rng.normal(0, 0.1, rows)).astype("float32")[:, None] for key in iris_features.FEATURE_KEYS
    }
    return measurements, labels


def _iris_dataset(batch_size: int = 16) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(_iris_data()).shuffle(120, seed=0).batch(batch_size).repeat()


def _fn_args(tmp_path, train_steps: int = 60, eval_steps: int = 3) -> types.SimpleNamespace:
    """The FnArgs fields fit_and_record and export_formats read."""
    return types.SimpleNamespace(
        train_steps=train_steps,
        eval_steps=eval_steps,
        model_run_dir=str(tmp_path / "model_run"),
        serving_model_dir=str(tmp_path / "model" / "Format-Serving"),
    )


def test_iris_model_is_the_notes_class_built_on_the_four_measurements():
    model = build_iris_classifier(IrisModelConfig(name="IrisModel", l2=0.01))
    (notes,) = [layer for layer in model.layers if isinstance(layer, IrisModel)]
    # The notes' single Dense(3) softmax layer: 4 x 3 weights and 3 biases, with its L2 penalty.
    assert notes.count_params() == model.count_params() == 15
    assert notes.d1.activation is keras.activations.softmax
    assert float(notes.d1.kernel_regularizer.l2) == pytest.approx(0.01)
    assert len(model.losses) == 1
    probabilities = model(_iris_data(5)[0]).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)


def test_the_iris_config_names_the_notes_class_and_the_loops():
    apply_overrides(IrisConfig(), ["model.name=IrisModel", "model.training_loop=gradient_tape"]).check_values()
    for setting, named in (
        ("model.name=irismodel", "model.name=irismodel"),
        ("model.training_loop=tape", "model.training_loop=tape"),
    ):
        with pytest.raises(ConfigError, match=re.escape(named)):
            apply_overrides(IrisConfig(), [setting]).check_values()
    with pytest.raises(ConfigError, match="no hidden layers"):
        apply_overrides(IrisConfig(), ["model.name=IrisModel", "model.hidden_units=8"]).check_values()


def test_baseline_is_the_notes_class_with_the_notes_layers():
    model = build_image_classifier(ImageModelConfig(name="Baseline"), AugmentationConfig(), (32, 32, 3), class_count=10)
    (notes,) = [layer for layer in model.layers if isinstance(layer, notes_models.Baseline)]
    assert [type(layer).__name__ for layer in notes.layers] == [
        "Conv2D",
        "BatchNormalization",
        "Activation",
        "MaxPooling2D",
        "Dropout",
        "Flatten",
        "Dense",
        "Dropout",
        "Dense",
    ]
    assert (notes.c1.filters, notes.c1.kernel_size, notes.c1.padding) == (6, (5, 5), "same")
    assert (notes.p1.pool_size, notes.p1.strides, notes.p1.padding) == ((2, 2), (2, 2), "same")
    assert notes.f1.units == 128 and notes.f2.units == 10
    # The same layers as the functional `baseline` of the zoo, so the same parameter count.
    functional = build_image_classifier(
        ImageModelConfig(name="baseline"), AugmentationConfig(), (32, 32, 3), class_count=10
    )
    assert model.count_params() == functional.count_params()


def test_the_gradient_tape_loop_learns_and_gives_fits_record(tmp_path, caplog):
    fitted, taped = (build_iris_classifier(IrisModelConfig(name="IrisModel")) for _ in range(2))
    records = {}
    for loop, model in ((training.FIT, fitted), (training.GRADIENT_TAPE, taped)):
        fn_args = _fn_args(tmp_path / loop)
        with caplog.at_level("INFO", logger="tfpipe.progress"):
            caplog.clear()
            history = training.fit_and_record(
                model, _iris_dataset(), _iris_dataset(), fn_args, epochs=3, training_loop=loop
            )
        records[loop] = (history.history, [r.progress for r in caplog.records if r.name == "tfpipe.progress"])
        run_dir = tmp_path / loop / "model_run"
        rows = training_record.read_history(str(run_dir / training_record.HISTORY_FILE))
        assert [row["epoch"] for row in rows] == [0, 1, 2]
        ends = [row[training_record.EPOCH_END] for row in rows]
        assert ends == sorted(ends) and time.time() - 600 < ends[0] <= ends[-1] <= time.time()
        assert list((run_dir / training_record.TENSORBOARD_DIR).rglob("events.out.tfevents.*"))
    fit_history, fit_progress = records[training.FIT]
    tape_history, tape_progress = records[training.GRADIENT_TAPE]
    assert (
        sorted(tape_history)
        == sorted(fit_history)
        == [
            "loss",
            "sparse_categorical_accuracy",
            "val_loss",
            "val_sparse_categorical_accuracy",
        ]
    )
    # It learns: the loss falls and the separable species are told apart.
    assert tape_history["loss"][-1] < tape_history["loss"][0]
    assert tape_history["val_sparse_categorical_accuracy"][-1] > 0.9
    # The console hears of it as of fit: every epoch's end (the last with its validation metrics).
    ends = [progress for progress in tape_progress if progress.epoch_done]
    assert [progress.epoch for progress in ends][-1] == 3
    assert "val_loss" in ends[-1].metrics and ends[-1].epochs == 3
    assert any(progress.step for progress in tape_progress)


def test_the_gradient_tape_loop_stops_early_as_fit_does(tmp_path):
    model = build_iris_classifier(IrisModelConfig(name="IrisModel"))
    # No epoch improves the evaluation loss by 10: with patience 1 the second epoch is the last.
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=10)
    history = training.fit_and_record(
        model, _iris_dataset(), _iris_dataset(), _fn_args(tmp_path), 6, [stop], training.GRADIENT_TAPE
    )
    assert len(history.history["loss"]) == 2


def test_weights_txt_holds_every_trainable_variable_as_the_notes_write_it(tmp_path):
    model = build_iris_classifier(IrisModelConfig(name="IrisModel"))
    model_inspection.write_inspection(model, str(tmp_path))
    text = (tmp_path / training_record.WEIGHTS_FILE).read_text()
    kernel, bias = model.trainable_variables
    # name, shape and values, each on its own line(s), in the notes' order.
    expected = "".join(f"{v.name}\n{v.shape}\n{v.numpy()}\n" for v in (kernel, bias))
    assert text == expected
    values = [float(x) for x in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", text.split(bias.name)[0])]
    np.testing.assert_allclose(values, kernel.numpy().ravel(), rtol=1e-6)
    summary = (tmp_path / training_record.SUMMARY_TEXT_FILE).read_text()
    assert re.search(r"iris_model(_\d+)? \(IrisModel\)", summary) and "Total params: 15" in summary
    dot = (tmp_path / training_record.ARCHITECTURE_DOT_FILE).read_text()
    assert dot.startswith("digraph") and "IrisModel" in dot and "sepal_length" in dot


def test_weights_txt_summarizes_the_values_of_large_models():
    model = keras.Sequential([keras.Input((1000,)), keras.layers.Dense(1001)])
    text = model_inspection.parameters_text(model)
    assert text.startswith("# 1,002,001 parameters: values summarized above 1,000,000")
    assert "..." in text and len(text) < 10_000


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed here")
def test_the_architecture_diagram_is_drawn_where_graphviz_is_installed(tmp_path):
    model_inspection.write_inspection(build_iris_classifier(IrisModelConfig()), str(tmp_path))
    assert (tmp_path / training_record.ARCHITECTURE_PNG_FILE).read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "name, build, inputs",
    [
        ("mlp", lambda: build_iris_classifier(IrisModelConfig(hidden_units=(8,))), lambda: _iris_data(7, 1)[0]),
        ("IrisModel", lambda: build_iris_classifier(IrisModelConfig(name="IrisModel")), lambda: _iris_data(7, 1)[0]),
        (
            "Baseline",
            lambda: build_image_classifier(ImageModelConfig(name="Baseline"), AugmentationConfig(), (32, 32, 3), 10),
            lambda: np.random.default_rng(1).random((7, 32, 32, 3), dtype="float32"),
        ),
    ],
)
def test_the_hdf5_and_checkpoint_formats_predict_what_the_saved_model_predicts(tmp_path, name, build, inputs):
    model = build()
    batch = inputs()
    # Weights moved off their initial values, BatchNormalization's moving statistics included.
    for layer in model.layers:
        layer.set_weights([weight + 0.01 for weight in layer.get_weights()])
    fn_args = _fn_args(tmp_path)
    training.export_formats(model, fn_args)
    model.save(fn_args.serving_model_dir, save_format="tf")
    saved_model = keras.models.load_model(fn_args.serving_model_dir)
    expected = saved_model.predict(batch, verbose=0)
    hdf5 = keras.models.load_model(tmp_path / "model" / training_record.HDF5_FILE)
    np.testing.assert_allclose(hdf5.predict(batch, verbose=0), expected, rtol=1e-6)
    from_checkpoint = build()
    from_checkpoint.load_weights(str(tmp_path / "model" / training_record.CHECKPOINT_PREFIX)).assert_consumed()
    np.testing.assert_allclose(from_checkpoint.predict(batch, verbose=0), expected, rtol=1e-6)
    assert not np.allclose(build().predict(batch, verbose=0), expected), name
