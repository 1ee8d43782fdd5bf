"""The cifar10 and fashion_mnist pipelines: their configs, schemas and shipped data agree; a small run
of each is blessed and pushed; the pushed cifar10 model (trained in bfloat16 where the CPU has it)
serves float32 answers equal to an in-process float32 evaluation; `tfpipe predict` names large photos
and reads an MNIST digit written on paper."""

import io

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT, PipelineRun, run_tfpipe
from google.protobuf import text_format
from PIL import Image
from tensorflow_metadata.proto.v0 import schema_pb2
from test_image_photos import CIFAR10_TEST, MNIST_TEST, digit_on_paper, shipped_images

from components import precision
from components.example_gen import layouts
from components.models import training
from components.models.images import features
from components.models.images.model import build_classifier
from components.models.images.preprocessing import to_pixels
from components.tf_example import serialized
from components.training_record import SUMMARY_FILE, read_metrics
from pipelines.config import apply_settings
from pipelines.config_files import settings_from_file
from pipelines.registry import config_for
from serving.client import PredictionClient
from serving.model_server import ModelServer, ServerOptions
from serving.predict import latest_version

PIPELINES = ("cifar10", "fashion_mnist")
SHAPES = {"cifar10": (32, 32, 3), "fashion_mnist": (28, 28, 1)}


def _schema(pipeline: str) -> schema_pb2.Schema:
    return text_format.Parse(config_for(pipeline).schema_path.read_text(), schema_pb2.Schema())


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_config_schema_and_data_agree(pipeline):
    config = config_for(pipeline)
    config.check()
    assert (config.image_height, config.image_width, config.channels) == SHAPES[pipeline]
    label = next(feature for feature in _schema(pipeline).feature if feature.name == features.LABEL_KEY)
    assert (label.int_domain.min, label.int_domain.max) == (0, len(config.class_names) - 1)
    layout = layouts.detect(config.resolved_data_dir())
    assert layout.kind == layouts.TFRECORD_FILES
    assert layout.split_patterns == {"train": "*train*.tfrecord*", "eval": "*test*.tfrecord*"}


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_the_shipped_records_are_images_of_the_configured_shape_and_classes(pipeline):
    config = config_for(pipeline)
    height, width, channels = SHAPES[pipeline]
    for path in sorted(config.resolved_data_dir().glob("*.tfrecord.gz")):
        labels = set()
        for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP").shard(50, 0):
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            image = tf.io.decode_image(feature[features.IMAGE_KEY].bytes_list.value[0])
            assert tuple(image.shape) == (height, width, channels)
            labels.add(feature[features.LABEL_KEY].int64_list.value[0])
        assert labels == set(range(len(config.class_names))), path.name


def test_only_cifar10_augments_and_with_photo_changes():
    assert config_for("cifar10").augmentation.flip_horizontal
    assert config_for("cifar10").augmentation.shift_fraction > 0
    assert not any(vars(config_for("fashion_mnist").augmentation).values())


@pytest.mark.e2e
@pytest.mark.parametrize("pipeline", PIPELINES)
def test_a_small_run_is_blessed_and_pushed(pipeline, request):
    run: PipelineRun = request.getfixturevalue(f"{pipeline}_run")
    assert "ImageExampleGen" in run.outcome.components
    assert run.outcome.results.blessed is True
    assert run.outcome.results.pushed_model
    # 120 steps leave BatchNormalization's moving averages far from the data's: no accuracy is
    # expected of this run (the default run's is in benchmarks/RESULTS.md).
    assert 0 <= run.outcome.results.metrics["overall"]["sparse_categorical_accuracy"] <= 1
    # The default, model.precision=auto: float32 where the CPU has no bfloat16 units, untimed; where it
    # has them, whichever policy the Trainer timed the shorter step under, both steps in the record.
    (summary_file,) = (run.workdir / pipeline).rglob(SUMMARY_FILE)
    steps = read_metrics(str(summary_file.parent))
    timed = {name: steps.get(f"precision.{name}_ms_per_step") for name in ("float32", "mixed_bfloat16")}
    if precision.cpu_bf16_flags():
        policy = min(timed, key=lambda name: timed[name])
    else:
        assert timed == {"float32": None, "mixed_bfloat16": None}
        policy = "float32"
    assert f'"dtype_policy": "{policy}"' in summary_file.read_text()


def test_the_served_cifar10_model_answers_in_float32_as_the_model_in_process(cifar10_run: PipelineRun):
    config = config_for("cifar10")
    version = latest_version(cifar10_run.workdir / "serving" / config.model_name)
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    assert signature.structured_outputs["probabilities"].dtype == tf.float32
    encoded = [feature for image, _ in shipped_images(CIFAR10_TEST, 16) for feature in [_encode(image)]]
    # In process, in float32: the zoo model built under the float32 policy with the pushed weights,
    # on the pixels of the same Transform function.
    with precision.keras_policy("float32"):
        model = build_classifier(config.model, config.augmentation, SHAPES["cifar10"], len(config.class_names))
    training.warm_start(model, str(version))
    in_process = model(to_pixels(tf.constant(encoded), 32, 32, 3), training=False).numpy()
    served_examples = [serialized({features.IMAGE_KEY: image}) for image in encoded]
    with ModelServer(cifar10_run.workdir / "serving", ServerOptions(grpc_port=0, rest_port=0)) as server:
        client = PredictionClient(f"127.0.0.1:{server.grpc_port}")
        with client:
            served = client.predict_examples(config.model_name, served_examples)
    assert served["probabilities"].dtype == np.float32
    # Tolerance: 1e-5 absolute on each probability (float32 arithmetic in another order).
    np.testing.assert_allclose(served["probabilities"], in_process, atol=1e-5)


def _encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def test_predict_names_the_class_of_large_photos_of_any_mode(cifar10_run: PipelineRun, tmp_path):
    photo, _ = shipped_images(CIFAR10_TEST, 1)[0]
    paths = []
    for mode, suffix in (("RGB", "jpg"), ("RGBA", "png"), ("L", "jpg"), ("CMYK", "jpg")):
        path = tmp_path / f"photo-{mode}.{suffix}"
        photo.resize((4000, 3000), Image.Resampling.BICUBIC).convert(mode).save(path)
        paths.append(str(path))
    result = run_tfpipe("predict", "cifar10", *paths, "--workdir", str(cifar10_run.workdir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == paths
    assert all(line.split(": ")[1].split(" (probability")[0] in config_for("cifar10").class_names for line in lines)


def test_predict_refuses_a_file_that_is_no_image_in_one_sentence(cifar10_run: PipelineRun, tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_text("not a photo")
    result = run_tfpipe("predict", "cifar10", str(path), "--workdir", str(cifar10_run.workdir))
    assert result.returncode == 2
    assert "photo.jpg cannot be decoded as an image; expected a PNG or JPEG file." in result.stderr
    assert "Traceback" not in result.stderr


def test_predict_reads_mnist_digits_written_on_paper(mnist_run: PipelineRun, tmp_path):
    paths, labels = [], []
    for index, (digit, label) in enumerate(shipped_images(MNIST_TEST, 20)):
        path = tmp_path / f"paper-{index}.jpg"
        digit_on_paper(digit, index).save(path, quality=90)
        paths.append(str(path))
        labels.append(label)
    result = run_tfpipe("predict", "mnist", *paths, "--workdir", str(mnist_run.workdir))
    assert result.returncode == 0, result.stderr
    predicted = [int(line.split(": ")[1].split()[0]) for line in result.stdout.splitlines()]
    assert np.mean(np.array(predicted) == np.array(labels)) >= 0.8


def test_the_notes_settings_are_a_named_config_file():
    notes = REPO_ROOT / "pipelines" / "cifar10" / "notes.yaml"
    config = apply_settings(config_for("cifar10"), settings_from_file(notes))
    config.check()
    assert (config.model.name, config.model.learning_rate, config.model.batch_size) == ("baseline", 0.001, 32)
    assert config.train_steps // config.epochs == -(-50_000 // 32)  # 5 passes over the training photos
    assert config.model.precision == "float32"
    assert not any(vars(config.augmentation).values())
