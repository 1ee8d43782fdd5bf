"""The scores of inputs unlike the training images (components/models/images/familiarity.py): the
autoencoder trained beside every image classifier and the classifier's own feature distance. The
thresholds and the class statistics from the training split, the flag on images unlike the training
images and on familiar ones, `tfpipe predict`'s words, the fields served over gRPC and REST equal to
`tfpipe predict`'s, and what MLflow records. The model is the one the session's mnist run pushed
(mnist_run: 640 steps, the autoencoder as many, the default rule `either`); the foreign images are
shipped Fashion-MNIST test images."""

import base64
import json
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from conftest import REPO_ROOT, PipelineRun, run_tfpipe
from tensorflow_transform import TFTransformOutput

from components.models import training
from components.models.images import autoencoder, familiarity, feature_distance, features, prediction_inputs
from components.models.images.model import _serving_signatures, build_classifier
from pipelines.config import ConfigError, apply_overrides
from pipelines.images import AugmentationConfig, ImageModelConfig
from pipelines.registry import config_for
from serving.client import PredictionClient
from serving.model_server import ModelServer, ServerOptions
from serving.predict import latest_version, load

DATA = REPO_ROOT / "data"
FIELDS = (
    features.ERROR_OUTPUT,
    features.THRESHOLD_OUTPUT,
    features.DISTANCE_OUTPUT,
    features.DISTANCE_THRESHOLD_OUTPUT,
    features.FLAG_OUTPUT,
)


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
    both = {
        **outputs,
        features.DISTANCE_OUTPUT: np.array([412.4, 57.0], np.float32),
        features.DISTANCE_THRESHOLD_OUTPUT: np.array([130.2, 130.2], np.float32),
    }
    assert prediction_inputs.describe(both, 0) == (
        "3 (probability 0.900); unlike the training images: reconstruction error 0.31, threshold 0.05; "
        "feature distance 412, threshold 130"
    )


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


@pytest.mark.parametrize(
    "overrides, words",
    [
        (
            ["autoencoder.score=pixels"],
            "--set autoencoder.score=pixels: expected one of reconstruction, feature_distance",
        ),
        # The notes' subclassed Baseline has no layer whose input is its penultimate features.
        (
            ["model.name=Baseline", "autoencoder.score=feature_distance"],
            "--set autoencoder.score=feature_distance: model.name=Baseline .*autoencoder.score=reconstruction or "
            "either",
        ),
    ],
)
def test_a_score_the_model_cannot_serve_is_one_sentence(overrides, words):
    with pytest.raises(ConfigError, match=words):
        apply_overrides(config_for("mnist"), overrides).check_values()
    apply_overrides(config_for("mnist"), ["model.name=Baseline", "autoencoder.score=reconstruction"]).check_values()
    # The default `either` reads the scores the model can serve: the reconstruction error alone for Baseline.
    apply_overrides(config_for("mnist"), ["model.name=Baseline"]).check_values()


def test_either_reads_the_feature_distance_only_where_the_classifier_has_a_penultimate_layer():
    zoo_classifier = build_classifier(ImageModelConfig(name="lenet5"), AugmentationConfig(), (28, 28, 1), 10, 10)
    notes_classifier = build_classifier(ImageModelConfig(name="Baseline"), AugmentationConfig(), (28, 28, 1), 10, 10)
    assert feature_distance.has_penultimate(zoo_classifier)
    assert not feature_distance.has_penultimate(notes_classifier)


def test_with_either_score_both_thresholds_rise_until_together_they_flag_the_percentile():
    rng = np.random.default_rng(0)
    # Independent scores: at their own 99th percentiles the two together flag nearly 2 in 100.
    errors, distances = rng.gamma(2.0, size=1000), rng.gamma(2.0, size=1000)
    alone, level = familiarity.thresholds_from({"error": errors}, 99)
    assert level == 99 and alone == {"error": np.percentile(errors, 99)}
    both, level = familiarity.thresholds_from({"error": errors, "distance": distances}, 99)
    assert 99 < level < 100
    assert both == {"error": np.percentile(errors, level), "distance": np.percentile(distances, level)}

    def share_flagged(at: float) -> float:
        return float(np.mean((errors > np.percentile(errors, at)) | (distances > np.percentile(distances, at))))

    assert share_flagged(level) <= 0.01
    # The lowest such level: any lower flags more than 1 in 100.
    assert share_flagged(level - 1e-6) > 0.01


def test_the_feature_distance_is_the_squared_mahalanobis_distance_to_the_nearest_class_mean():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 200)
    values = (rng.normal(size=(600, 3)) * [1.0, 2.0, 0.5] + 5 * np.eye(3)[labels]).astype(np.float32)
    inputs = keras.Input((3,))
    identity = keras.Model(inputs, keras.layers.Identity()(inputs))
    examples = tf.data.Dataset.from_tensor_slices({features.PIXELS_KEY: values, features.LABEL_KEY: labels}).batch(64)
    gaussians = feature_distance.fit(identity, examples, class_count=3)
    means = np.stack([values[labels == label].mean(axis=0) for label in range(3)])
    np.testing.assert_allclose(gaussians.class_means.numpy(), means, rtol=1e-5)
    centred = values - means[labels]
    covariance = centred.T @ centred / len(values)
    covariance += feature_distance.RIDGE * np.trace(covariance) / 3 * np.eye(3)
    shown = rng.normal(size=(5, 3)).astype(np.float32) * 4
    differences = shown[:, None, :] - means[None]
    expected = np.einsum("bcd,de,bce->bc", differences, np.linalg.inv(covariance), differences).min(axis=1)
    np.testing.assert_allclose(gaussians.distance(tf.constant(shown)).numpy(), expected, rtol=1e-4)


@pytest.fixture(scope="module")
def mnist_model(mnist_run: PipelineRun) -> Path:
    return latest_version(mnist_run.workdir / "serving" / "mnist")


def _transformed_train(run: PipelineRun) -> tuple[np.ndarray, np.ndarray]:
    """The run's transformed train split as the Trainer read it (Transform's output, in stored order):
    pixels and labels."""
    (split,) = (run.workdir / "mnist" / "pipeline_root" / "Transform" / "transformed_examples").glob("*/Split-train")
    records = tf.data.TFRecordDataset(sorted(str(path) for path in split.glob("*.gz")), compression_type="GZIP")
    spec = {
        features.PIXELS_KEY: tf.io.FixedLenFeature([28, 28, 1], tf.float32),
        features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    }
    batches = [tf.io.parse_example(batch, spec) for batch in records.batch(1000)]
    return tuple(np.concatenate([batch[key].numpy() for batch in batches]) for key in spec)  # type: ignore[return-value]


def _trainer_record(run: PipelineRun) -> dict:
    (record,) = (run.workdir / "mnist" / "pipeline_root" / "Trainer" / "model_run").glob(f"*/{familiarity.RECORD_FILE}")
    return json.loads(record.read_text())


def test_the_thresholds_and_class_statistics_come_from_the_training_split(mnist_run: PipelineRun, mnist_model):
    """Recomputed here from the transformed train split and the pushed model: the class means are those of
    the penultimate features of the training images the autoencoder fitted (never the held-out fifth, never
    the eval split), and both served thresholds are the same percentile of the held-out images' scores,
    the level recorded with the model, at which the two together flag 1 in 100 of them."""
    loaded = tf.saved_model.load(str(mnist_model))
    pixels, labels = _transformed_train(mnist_run)
    assert len(pixels) == 5000
    held_out = np.arange(len(pixels)) % autoencoder.HELD_OUT_EVERY == 0

    def over(score) -> np.ndarray:
        return np.concatenate([score(pixels[i : i + 500]).numpy() for i in range(0, len(pixels), 500)])

    errors = over(lambda batch: autoencoder.reconstruction_error(loaded.autoencoder, batch))
    values = over(loaded.penultimate_features)
    means = np.stack([values[~held_out & (labels == label)].mean(axis=0) for label in range(10)])
    np.testing.assert_allclose(loaded.class_gaussians.class_means.numpy(), means, rtol=1e-4, atol=1e-5)
    assert not np.allclose(means, np.stack([values[labels == label].mean(axis=0) for label in range(10)]), atol=1e-4)
    whitened = values @ loaded.class_gaussians.whitening.numpy()
    whitened_means = means @ loaded.class_gaussians.whitening.numpy()
    distances = ((whitened[:, None, :] - whitened_means[None]) ** 2).sum(axis=-1).min(axis=1)

    served = loaded.signatures["encoded_images"](image=tf.constant(_pngs(DATA / "mnist" / "mnist_test.tfrecord.gz", 2)))
    record = _trainer_record(mnist_run)
    level = record["score_percentile"]
    assert record["score"] == "either" and 99 < level < 100
    threshold = float(served[features.THRESHOLD_OUTPUT][0])
    distance_threshold = float(served[features.DISTANCE_THRESHOLD_OUTPUT][0])
    np.testing.assert_allclose(threshold, np.percentile(errors[held_out], level), rtol=1e-4)
    np.testing.assert_allclose(distance_threshold, np.percentile(distances[held_out], level), rtol=1e-3)
    assert record["reconstruction_error_threshold"] == pytest.approx(threshold, rel=1e-6)
    assert record["feature_distance_threshold"] == pytest.approx(distance_threshold, rel=1e-6)
    # Not the percentile of the images the autoencoder fitted.
    assert abs(np.percentile(errors[~held_out], level) - threshold) > 1e-3 * threshold
    assert np.mean((errors[held_out] > threshold) | (distances[held_out] > distance_threshold)) <= 0.011
    flags = served[features.FLAG_OUTPUT].numpy()
    np.testing.assert_array_equal(
        flags,
        (served[features.ERROR_OUTPUT].numpy() > threshold)
        | (served[features.DISTANCE_OUTPUT].numpy() > distance_threshold),
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


def test_mlflow_records_the_share_flagged_the_histograms_and_the_worst_images(mnist_run: PipelineRun):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{mnist_run.workdir / 'mlflow' / 'mlflow.db'}")
    run = client.get_run(mnist_run.outcome.results.mlflow_run_id)
    share = run.data.metrics["autoencoder.eval_share_flagged"]
    # Unseen digits, thresholds that flag 1 in 100 held-out training digits: a few in 100 at most.
    assert 0.0 <= share <= 0.05
    assert run.data.metrics["autoencoder.threshold"] > 0
    assert run.data.metrics["autoencoder.feature_distance_threshold"] > 0
    paths = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "training")}
    assert {
        f"training/{autoencoder.HISTOGRAM_FILE}",
        f"training/{familiarity.DISTANCE_HISTOGRAM_FILE}",
        f"training/{autoencoder.WORST_FILE}",
        f"training/{familiarity.RECORD_FILE}",
    } <= paths
    record = json.loads(
        Path(client.download_artifacts(run.info.run_id, f"training/{familiarity.RECORD_FILE}")).read_text()
    )
    # Every fifth of the 5,000 training digits is held out of the fits and sets the thresholds.
    assert record["eval_images"] == 1000 and record["threshold_images"] == 1000
    assert record["eval_share_flagged"] == pytest.approx(share)
    assert record["train_seconds"] == pytest.approx(
        record["autoencoder_seconds"] + record["feature_distance_seconds"], abs=0.11
    )


def test_the_signatures_serve_the_scores_the_rule_reads(mnist_run: PipelineRun, tmp_path):
    """`autoencoder.enabled=false`: the run_fn passes no scores; with the autoencoder alone
    (`autoencoder.score=reconstruction`) its fields join the answer, with both all of them."""
    (transform_graph,) = (mnist_run.workdir / "mnist" / "pipeline_root" / "Transform" / "transform_graph").iterdir()
    transform_output = TFTransformOutput(str(transform_graph))
    digits = tf.constant(_pngs(DATA / "mnist" / "mnist_test.tfrecord.gz", 4))
    answers = {}
    for name in ("alone", "reconstruction", "either"):
        classifier = build_classifier(ImageModelConfig(name="lenet5"), AugmentationConfig(), (28, 28, 1), 10)
        judge = None
        if name == "reconstruction":
            judge = familiarity.Familiarity({features.ERROR_OUTPUT: 0.05}, autoencoder.build((28, 28, 1), 4))
        elif name == "either":
            penultimate = feature_distance.penultimate(classifier)
            gaussians = feature_distance.ClassGaussians(np.zeros((10, 84)), np.eye(84))
            judge = familiarity.Familiarity(
                {features.ERROR_OUTPUT: 0.05, features.DISTANCE_OUTPUT: 30.0},
                autoencoder.build((28, 28, 1), 4),
                penultimate,
                gaussians,
            )
        signatures = _serving_signatures(classifier, transform_output, list("0123456789"), judge)
        classifier.save(tmp_path / name, save_format="tf", signatures=signatures)
        answers[name] = tf.saved_model.load(str(tmp_path / name)).signatures["encoded_images"](image=digits)
    assert set(answers["alone"]) == {"probabilities", "class_id", "class_name"}
    assert set(answers["reconstruction"]) == {
        "probabilities",
        "class_id",
        "class_name",
        features.ERROR_OUTPUT,
        features.THRESHOLD_OUTPUT,
        features.FLAG_OUTPUT,
    }
    errors = answers["reconstruction"][features.ERROR_OUTPUT].numpy()
    np.testing.assert_array_equal(answers["reconstruction"][features.FLAG_OUTPUT].numpy(), errors > 0.05)
    np.testing.assert_allclose(answers["reconstruction"][features.THRESHOLD_OUTPUT].numpy(), [0.05] * 4)
    both = {name: value.numpy() for name, value in answers["either"].items()}
    assert set(both) == {"probabilities", "class_id", "class_name", *FIELDS}
    np.testing.assert_array_equal(
        both[features.FLAG_OUTPUT], (both[features.ERROR_OUTPUT] > 0.05) | (both[features.DISTANCE_OUTPUT] > 30.0)
    )
    np.testing.assert_allclose(both[features.DISTANCE_THRESHOLD_OUTPUT], [30.0] * 4)


def test_a_warm_start_reads_the_classifier_beside_the_autoencoder(mnist_model):
    classifier = build_classifier(ImageModelConfig(name="lenet5"), AugmentationConfig(), (28, 28, 1), 10)
    training.warm_start(classifier, str(mnist_model))
    pngs = _pngs(DATA / "mnist" / "mnist_test.tfrecord.gz", 8)
    pixels = np.stack([np.asarray(tf.io.decode_png(png), np.float32) / 255 for png in pngs])
    served = tf.saved_model.load(str(mnist_model)).signatures["encoded_images"](image=tf.constant(pngs))
    np.testing.assert_allclose(classifier(pixels).numpy(), served["probabilities"].numpy(), atol=1e-4)
