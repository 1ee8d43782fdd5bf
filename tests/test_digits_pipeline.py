"""The digits pipeline end to end through the real CLI, on the shipped images plus a corrupt one
and a labels line naming a missing one: what was rejected, the evaluation, the pushed model's
signatures on other image sizes and formats, warm start, and `tfpipe predict`."""

import io

import numpy as np
import pytest
import tensorflow as tf
from conftest import CORRUPT_IMAGE, MISSING_IMAGE, REPO_ROOT, DigitsRun, run_tfpipe
from mlflow.tracking import MlflowClient
from PIL import Image
from sklearn.datasets import load_digits
from tensorflow_transform import TFTransformOutput
from test_digits_models import STRONG_AUGMENTATION

from components.models import training
from components.models.images import features
from components.models.images.model import _serving_signatures, build_classifier
from pipelines.config import apply_overrides
from pipelines.factory import create_pipeline
from pipelines.images import AugmentationConfig, ImageConfig, ImageModelConfig
from pipelines.registry import config_for

COMPONENTS = [
    "ImageExampleGen",
    "ImportSchemaGen",
    "StatisticsGen",
    "ExampleValidator",
    "accepted_statistics_resolver",
    "DataValidationGate",
    "Transform",
    "Trainer",
    "baseline_model_resolver",
    "Evaluator",
    "InfraValidator",
    "Pusher",
    "MlflowTracker",
]
SHIPPED_IMAGES = 1797
DIGITS = load_digits()
# Images of the eval split would be fairer, but any real digit serves to compare sizes and formats.
SAMPLES = range(10)


def _encoded(index: int, image_format: str, size: int) -> bytes:
    pixels = np.rint(DIGITS.images[index] * 255 / 16).astype(np.uint8)
    image = Image.fromarray(pixels).resize((size, size), Image.BILINEAR)
    if image_format == "JPEG":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, image_format, **({"quality": 95} if image_format == "JPEG" else {}))
    return buffer.getvalue()


def _examples(images: list[bytes]) -> tf.Tensor:
    return tf.constant(
        [
            tf.train.Example(
                features=tf.train.Features(
                    feature={features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}
                )
            ).SerializeToString()
            for image in images
        ]
    )


@pytest.fixture(scope="module")
def pushed_model(digits_run: DigitsRun):
    return tf.saved_model.load(digits_run.outcome.results.pushed_model)


def test_console_shows_each_component_and_the_rejected_inputs(digits_run: DigitsRun):
    console = digits_run.process.stdout
    for name in COMPONENTS:
        [line] = [line for line in console.splitlines() if line.split()[:1] == [name]]
        assert line.split()[1] == "done", line
    assert "Run succeeded" in console and "Blessed: yes" in console
    rejected = digits_run.outcome.results.rejected_inputs
    assert rejected.count == 2
    assert (
        f"Rejected 2 input(s) that could not be read; nothing was trained on them (list: {rejected.list}):" in console
    )
    assert f"  - {CORRUPT_IMAGE}: is not an image Transform can decode" in console
    assert f"  - images.txt line {SHIPPED_IMAGES + 2}: names {MISSING_IMAGE}, which does not exist" in console


def test_only_the_readable_images_became_examples(digits_run: DigitsRun):
    split_files = list(
        (digits_run.workdir / "digits" / "pipeline_root" / "ImageExampleGen").glob("examples/*/Split-*/*")
    )
    records = [
        tf.train.Example.FromString(record.numpy())
        for record in tf.data.TFRecordDataset([str(path) for path in split_files], compression_type="GZIP")
    ]
    assert len(records) == SHIPPED_IMAGES
    corrupt = (digits_run.data_dir / CORRUPT_IMAGE).read_bytes()
    assert all(record.features.feature[features.IMAGE_KEY].bytes_list.value[0] != corrupt for record in records)


def test_accuracy_overall_and_per_digit(digits_run: DigitsRun):
    metrics = digits_run.outcome.results.metrics
    assert set(metrics) == {"overall", *(f"label={digit}" for digit in range(10))}
    assert metrics["overall"]["sparse_categorical_accuracy"] >= 0.95
    assert sum(metrics[f"label={digit}"]["example_count"] for digit in range(10)) == metrics["overall"]["example_count"]


def test_mlflow_holds_the_confusion_matrix_and_the_rejected_list(digits_run: DigitsRun):
    client = MlflowClient(f"sqlite:///{digits_run.workdir / 'mlflow' / 'mlflow.db'}")
    run_id = digits_run.outcome.results.mlflow_run_id
    assert "evaluation/confusion_matrix.png" in [item.path for item in client.list_artifacts(run_id, "evaluation")]
    assert "data/rejected_inputs.txt" in [item.path for item in client.list_artifacts(run_id, "data")]
    assert client.get_run(run_id).data.metrics["data.rejected_inputs"] == 2


def test_signatures_classify_png_and_jpeg_of_other_sizes(pushed_model):
    serve = pushed_model.signatures["serving_default"]
    labels = DIGITS.target[list(SAMPLES)]
    for image_format, size in (("PNG", 8), ("PNG", 32), ("JPEG", 28)):
        outputs = serve(examples=_examples([_encoded(i, image_format, size) for i in SAMPLES]))
        assert outputs["probabilities"].shape == (len(SAMPLES), 10)
        # Enlarged, re-sampled and (JPEG) compressed, then resized back: still mostly the right digits.
        assert np.mean(outputs["class_id"].numpy() == labels) >= 0.8, (image_format, size)
        assert [name.decode() for name in outputs["class_name"].numpy()] == [
            str(i) for i in outputs["class_id"].numpy()
        ]
    raw = pushed_model.signatures[ImageConfig.json_signature](
        image=tf.constant([_encoded(i, "PNG", 32) for i in SAMPLES])
    )
    by_example = serve(examples=_examples([_encoded(i, "PNG", 32) for i in SAMPLES]))
    np.testing.assert_allclose(raw["probabilities"].numpy(), by_example["probabilities"].numpy(), atol=1e-6)


def test_augmentation_is_inactive_in_a_saved_models_signatures(digits_run: DigitsRun, tmp_path):
    [transform_graph] = (digits_run.workdir / "digits" / "pipeline_root" / "Transform" / "transform_graph").iterdir()
    model = build_classifier(ImageModelConfig(name="baseline", seed=1), STRONG_AUGMENTATION, (8, 8, 1), 10)
    signatures = _serving_signatures(model, TFTransformOutput(str(transform_graph)), [str(i) for i in range(10)])
    model.save(tmp_path / "model", save_format="tf", signatures=signatures)
    served = tf.saved_model.load(str(tmp_path / "model")).signatures[ImageConfig.json_signature]
    # Random changes would give each copy of the same image its own probabilities.
    probabilities = served(image=tf.constant([_encoded(3, "PNG", 8)] * 8))["probabilities"].numpy()
    np.testing.assert_allclose(probabilities, np.repeat(probabilities[:1], 8, axis=0), atol=1e-6)


def test_warm_start_loads_the_blessed_models_weights(digits_run: DigitsRun, pushed_model):
    pushed = digits_run.outcome.results.pushed_model
    model = build_classifier(ImageModelConfig(name="baseline"), AugmentationConfig(), (8, 8, 1), 10)
    training.warm_start(model, pushed)
    pixels = np.stack([np.rint(DIGITS.images[i] * 255 / 16)[..., None] / 255 for i in SAMPLES]).astype(np.float32)
    served = pushed_model.signatures["serving_default"](examples=_examples([_encoded(i, "PNG", 8) for i in SAMPLES]))
    np.testing.assert_allclose(model(pixels, training=False).numpy(), served["probabilities"].numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="Cannot warm start from .*: its weights do not fit this model"):
        training.warm_start(
            build_classifier(ImageModelConfig(name="lenet5"), AugmentationConfig(), (8, 8, 1), 10), pushed
        )


@pytest.mark.parametrize("warm_start", [False, True])
def test_warm_start_gives_the_trainer_the_latest_blessed_model(tmp_path, warm_start):
    config = apply_overrides(config_for("digits"), [f"warm_start={str(warm_start).lower()}"])
    pipeline = create_pipeline(config, str(tmp_path / "root"), str(tmp_path / "serving"), "sqlite:///unused.db")
    [trainer] = [node for node in pipeline.components if node.id == "Trainer"]
    base_model = trainer.inputs.get("base_model")
    if warm_start:
        assert base_model.producer_component_id == "warm_start_model_resolver"
    else:
        assert base_model is None


def test_predict_prints_the_class_of_real_pngs(digits_run: DigitsRun):
    images = [str(REPO_ROOT / "data" / "digits" / "images" / name) for name in ("0000.png", "0001.png", "0002.png")]
    result = run_tfpipe("predict", "digits", *images, "--workdir", str(digits_run.workdir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == images
    assert [line.split(": ")[1].split()[0] for line in lines] == ["0", "1", "2"]
    assert all("(probability 0." in line or "(probability 1.000)" in line for line in lines)


def test_predict_on_a_file_that_is_no_image_is_one_sentence(digits_run: DigitsRun):
    not_an_image = str(digits_run.data_dir / "images.txt")
    result = run_tfpipe("predict", "digits", not_an_image, "--workdir", str(digits_run.workdir))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"tfpipe: {not_an_image} cannot be decoded as an image; expected a PNG or JPEG file."
    )


def test_predict_without_a_pushed_model_is_one_sentence(tmp_path):
    result = run_tfpipe("predict", "digits", "seven.png", "--workdir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tfpipe: No digits model has been pushed to {tmp_path / 'serving' / 'digits'} yet; "
        f"run `tfpipe run digits --workdir {tmp_path}` first."  # the hint keeps the workdir that was used
    )
