"""The autoencoder trained beside every image classifier (components/models/images/autoencoder.py): the
threshold from the training split, the flag on images unlike the training images and on familiar ones,
`tfpipe predict`'s words, the fields served over gRPC and REST equal to `tfpipe predict`'s, and what
MLflow records. The model is the one the session's mnist run pushed (mnist_run: 640 steps, the
autoencoder as many); the foreign images are shipped Fashion-MNIST test images."""

import base64
import json
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT, PipelineRun, run_tfpipe
from tensorflow_transform import TFTransformOutput

from components.models import training
from components.models.images import autoencoder, features, prediction_inputs
from components.models.images.model import _serving_signatures, build_classifier
from pipelines.config import ConfigError, apply_overrides
from pipelines.images import AugmentationConfig, ImageModelConfig
from pipelines.registry import config_for
from serving.client import PredictionClient
from serving.model_server import ModelServer, ServerOptions
from serving.predict import latest_version, load

DATA = REPO_ROOT / "data"
FIELDS = (features.ERROR_OUTPUT, features.THRESHOLD_OUTPUT, features.FLAG_OUTPUT)


def _pngs(record_file: Path, count: int | None = None, every: int = 1) -> list[bytes]:
    """The PNG bytes of every `every`-th record of a shipped TFRecord file, the first `count` of them (all
    with None). The Fashion-MNIST file is in label order: every 50th spans its ten classes."""
    dataset = tf.data.TFRecordDataset(str(record_file), compression_type="GZIP").shard(every, 0)
    if count is not None:
        dataset = dataset.take(count)
    return [
        tf.train.Example.FromString(record.numpy()).features.feature[features.IMAGE_KEY].bytes_list.value[0]
        for record in dataset
    ]


def _files(pngs: list[bytes], folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, png in enumerate(pngs):
        path = folder / f"{index:03d}.png"
        path.write_bytes(png)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3), (30, 30, 3), (17, 40, 1)])
def test_the_autoencoder_gives_back_an_image_of_the_input_size_from_a_small_code(shape):
    model = autoencoder.build(shape, code_size=7)
    images = tf.random.uniform((2, *shape))
    reconstruction = model(images)
    assert reconstruction.shape == (2, *shape)
    assert model.get_layer("code").units == 7
    assert float(tf.reduce_min(reconstruction)) >= 0.0 and float(tf.reduce_max(reconstruction)) <= 1.0
    errors = autoencoder.reconstruction_error(model, images)
    assert errors.shape == (2,)
    # The mean squared pixel difference, image by image.
    np.testing.assert_allclose(errors, np.mean((reconstruction.numpy() - images.numpy()) ** 2, axis=(1, 2, 3)), 1e-5)


def test_predict_says_in_words_whether_an_image_is_like_the_training_images():
    outputs = {
        "class_id": np.array([3, 1]),
        "class_name": np.array([b"3", b"1"], dtype=object),
        "probabilities": np.eye(10)[[3, 1]] * 0.9,
        features.ERROR_OUTPUT: np.array([0.31, 0.012], np.float32),
        features.THRESHOLD_OUTPUT: np.array([0.05, 0.05], np.float32),
        features.FLAG_OUTPUT: np.array([True, False]),
    }
    assert prediction_inputs.describe(outputs, 0) == (
        "3 (probability 0.900); unlike the training images: reconstruction error 0.31, threshold 0.05"
    )
    assert prediction_inputs.describe(outputs, 1) == (
        "1 (probability 0.900); like the training images: reconstruction error 0.012, threshold 0.05"
    )
    without = {name: value for name, value in outputs.items() if name not in FIELDS}
    assert prediction_inputs.describe(without, 0) == "3 (probability 0.900)"


@pytest.mark.parametrize(
    "override, words",
    [
        ("autoencoder.threshold_percentile=100", "below 100"),
        ("autoencoder.threshold_percentile=0", "above 0"),
        ("autoencoder.code_size=0", "1 or more"),
        ("autoencoder.train_steps=-5", "0 or more"),
    ],
)
def test_autoencoder_settings_out_of_range_are_one_sentence(override, words):
    with pytest.raises(ConfigError, match=f"--set {override.split('=')[0]}=.*{words}"):
        apply_overrides(config_for("mnist"), [override])


@pytest.fixture(scope="module")
def mnist_model(mnist_run: PipelineRun) -> Path:
    return latest_version(mnist_run.workdir / "serving" / "mnist")


def _transformed_train_pixels(run: PipelineRun) -> np.ndarray:
    """The run's transformed train split as the Trainer read it (Transform's output, in stored order)."""
    (split,) = (run.workdir / "mnist" / "pipeline_root" / "Transform" / "transformed_examples").glob("*/Split-train")
    records = tf.data.TFRecordDataset(sorted(str(path) for path in split.glob("*.gz")), compression_type="GZIP")
    spec = {features.PIXELS_KEY: tf.io.FixedLenFeature([28, 28, 1], tf.float32)}
    return np.concatenate(
        [tf.io.parse_example(batch, spec)[features.PIXELS_KEY].numpy() for batch in records.batch(1000)]
    )


def test_the_threshold_is_set_from_training_images_held_out_of_the_fit(mnist_run: PipelineRun, mnist_model):
    """The served threshold is the 99th percentile of the pushed autoencoder's errors on the training images
    it did not fit (every fifth of the train split), recomputed here, and not the fitted images' percentile."""
    loaded = tf.saved_model.load(str(mnist_model))
    pixels = _transformed_train_pixels(mnist_run)
    assert len(pixels) == 5000
    errors = np.concatenate(
        [autoencoder.reconstruction_error(loaded.autoencoder, pixels[i : i + 500]).numpy() for i in range(0, 5000, 500)]
    )
    held_out = np.arange(len(errors)) % autoencoder.HELD_OUT_EVERY == 0
    served = loaded.signatures["encoded_images"](image=tf.constant(_pngs(DATA / "mnist" / "mnist_test.tfrecord.gz", 2)))
    threshold = float(served[features.THRESHOLD_OUTPUT][0])
    np.testing.assert_allclose(threshold, np.percentile(errors[held_out], 99), rtol=1e-4)
    assert abs(np.percentile(errors[~held_out], 99) - threshold) > 1e-3 * threshold
    np.testing.assert_array_equal(
        served[features.FLAG_OUTPUT].numpy(), served[features.ERROR_OUTPUT].numpy() > threshold
    )


def test_garments_are_flagged_and_unseen_digits_are_not(mnist_model, tmp_path):
    """Through tfpipe predict's path (image files made into requests by prediction_inputs)."""
    config = config_for("mnist")
    predict = load(mnist_model)
    garments = _files(_pngs(DATA / "fashion_mnist" / "fashion_mnist_test.tfrecord.gz", every=50), tmp_path / "garments")
    digits = _files(_pngs(DATA / "mnist" / "mnist_test.tfrecord.gz", every=10), tmp_path / "digits")
    assert len(garments) == len(digits) == 100
    flagged_garments = predict(prediction_inputs.to_examples(garments, config))[features.FLAG_OUTPUT]
    flagged_digits = predict(prediction_inputs.to_examples(digits, config))[features.FLAG_OUTPUT]
    # The session's autoencoder is trained briefly (640 steps); a default one flags more garments
    # (benchmarks/RESULTS.md#unfamiliar_inputs).
    assert flagged_garments.mean() >= 0.75
    assert flagged_digits.mean() <= 0.05


def test_tfpipe_predict_and_the_served_fields_agree(mnist_run: PipelineRun, mnist_model, tmp_path):
    """A garment and a digit: `tfpipe predict` in this workdir, `tfpipe predict --server`, and the server's
    gRPC and REST answers (the encoded_images signature the docs' curl line calls) carry the same fields."""
    garment = _files(_pngs(DATA / "fashion_mnist" / "fashion_mnist_test.tfrecord.gz", 1), tmp_path / "garment")[0]
    digit = _files(_pngs(DATA / "mnist" / "mnist_test.tfrecord.gz", 1), tmp_path / "digit")[0]
    inputs = [garment, digit]
    config = config_for("mnist")
    examples = prediction_inputs.to_examples(inputs, config)
    local = load(mnist_model)(examples)
    assert local[features.FLAG_OUTPUT].tolist() == [True, False]

    printed = run_tfpipe("predict", "mnist", *inputs, "--workdir", str(mnist_run.workdir))
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert lines == [f"{name}: {prediction_inputs.describe(local, index)}" for index, name in enumerate(inputs)]
    assert "; unlike the training images: reconstruction error" in lines[0]
    assert "; like the training images: reconstruction error" in lines[1]

    serving_dir = tmp_path / "serving"
    shutil.copytree(mnist_model, serving_dir / "mnist" / mnist_model.name)
    with ModelServer(serving_dir, ServerOptions(grpc_port=0, rest_port=0)) as server:
        with PredictionClient(f"127.0.0.1:{server.grpc_port}") as client:
            over_grpc = client.predict_examples("mnist", examples)
        body = json.dumps(
            {
                "signature_name": config.json_signature,
                # The bytes tfpipe predict sends: mnist's makes a mostly light image white on black first.
                "instances": [
                    {"b64": base64.b64encode(prediction_inputs.encoded_for_model(name, config)).decode()}
                    for name in inputs
                ],
            }
        ).encode()
        with urllib.request.urlopen(f"http://127.0.0.1:{server.rest_port}/v1/models/mnist:predict", body) as response:
            over_rest = json.load(response)["predictions"]
        from_server = run_tfpipe(
            "predict", "mnist", *inputs, "--server", f"127.0.0.1:{server.grpc_port}", "--workdir", str(tmp_path / "w")
        )
    assert from_server.returncode == 0, from_server.stderr
    assert from_server.stdout.splitlines() == lines
    for name in FIELDS:
        np.testing.assert_allclose(np.asarray(over_grpc[name], dtype=local[name].dtype), local[name], rtol=1e-5)
        np.testing.assert_allclose(
            np.array([row[name] for row in over_rest], dtype=local[name].dtype), local[name], rtol=1e-5
        )
    assert [row[features.FLAG_OUTPUT] for row in over_rest] == [True, False]


def test_mlflow_records_the_share_flagged_the_histogram_and_the_worst_images(mnist_run: PipelineRun):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{mnist_run.workdir / 'mlflow' / 'mlflow.db'}")
    run = client.get_run(mnist_run.outcome.results.mlflow_run_id)
    share = run.data.metrics["autoencoder.eval_share_flagged"]
    # Unseen digits, a threshold at the training split's 99th percentile: a few in 100 at most.
    assert 0.0 <= share <= 0.05
    assert run.data.metrics["autoencoder.threshold"] > 0
    paths = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "training")}
    assert {
        f"training/{autoencoder.HISTOGRAM_FILE}",
        f"training/{autoencoder.WORST_FILE}",
        f"training/{autoencoder.RECORD_FILE}",
    } <= paths
    record = json.loads(
        Path(client.download_artifacts(run.info.run_id, f"training/{autoencoder.RECORD_FILE}")).read_text()
    )
    # Every fifth of the 5,000 training digits is held out of the fit and sets the threshold.
    assert record["eval_images"] == 1000 and record["threshold_images"] == 1000
    assert record["eval_share_flagged"] == pytest.approx(share)


def test_without_the_autoencoder_the_signatures_serve_the_classifier_alone(mnist_run: PipelineRun, tmp_path):
    """`autoencoder.enabled=false`: the run_fn passes no autoencoder; with one, its fields join the answer."""
    (transform_graph,) = (mnist_run.workdir / "mnist" / "pipeline_root" / "Transform" / "transform_graph").iterdir()
    transform_output = TFTransformOutput(str(transform_graph))
    digits = tf.constant(_pngs(DATA / "mnist" / "mnist_test.tfrecord.gz", 4))
    answers = {}
    for name, familiarity in (("alone", None), ("with", (autoencoder.build((28, 28, 1), 4), 0.05))):
        classifier = build_classifier(ImageModelConfig(name="lenet5"), AugmentationConfig(), (28, 28, 1), 10)
        signatures = _serving_signatures(classifier, transform_output, list("0123456789"), familiarity)
        classifier.save(tmp_path / name, save_format="tf", signatures=signatures)
        answers[name] = tf.saved_model.load(str(tmp_path / name)).signatures["encoded_images"](image=digits)
    assert set(answers["alone"]) == {"probabilities", "class_id", "class_name"}
    assert set(answers["with"]) == {"probabilities", "class_id", "class_name", *FIELDS}
    errors = answers["with"][features.ERROR_OUTPUT].numpy()
    np.testing.assert_array_equal(answers["with"][features.FLAG_OUTPUT].numpy(), errors > 0.05)
    np.testing.assert_allclose(answers["with"][features.THRESHOLD_OUTPUT].numpy(), [0.05] * 4)


def test_a_warm_start_reads_the_classifier_beside_the_autoencoder(mnist_model):
    classifier = build_classifier(ImageModelConfig(name="lenet5"), AugmentationConfig(), (28, 28, 1), 10)
    training.warm_start(classifier, str(mnist_model))
    pngs = _pngs(DATA / "mnist" / "mnist_test.tfrecord.gz", 8)
    pixels = np.stack([np.asarray(tf.io.decode_png(png), np.float32) / 255 for png in pngs])
    served = tf.saved_model.load(str(mnist_model)).signatures["encoded_images"](image=tf.constant(pngs))
    np.testing.assert_allclose(classifier(pixels).numpy(), served["probabilities"].numpy(), atol=1e-4)
