"""bfloat16 mixed precision: detected from the CPU's flags at run time, chosen per model family and by a
timed step of the model under `auto`, forced either way by `model.precision`; the model's probabilities
are float32 under it, and the exported copy computes in float32."""

import json

import numpy as np
import pytest
import tf_keras as keras

from components import precision
from components.models.images import zoo
from components.models.images.model import build_classifier, float32_copy, measured_policy, training_policy
from pipelines.config import ConfigError, apply_overrides
from pipelines.images import AugmentationConfig, ImageModelConfig
from pipelines.registry import config_for

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu vme sse sse2 avx2 avx512f {extra}
bogomips\t: 4800.00

processor\t: 1
flags\t\t: fpu vme sse sse2 avx2 avx512f {extra}
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("avx512_bf16", ("avx512_bf16",)),
        ("amx_bf16 amx_tile", ("amx_bf16",)),
        ("avx512_bf16 amx_bf16", ("avx512_bf16", "amx_bf16")),
        ("avx512_vnni", ()),
    ],
)
def test_bf16_units_are_read_from_the_cpu_flags(tmp_path, extra, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra))
    assert precision.cpu_bf16_flags(cpuinfo) == expected


def test_no_cpuinfo_means_no_bf16(tmp_path):
    assert precision.cpu_bf16_flags(tmp_path / "absent") == ()


@pytest.mark.parametrize(
    ("requested", "recurrent", "flags", "expected"),
    [
        ("auto", False, ("avx512_bf16",), "mixed_bfloat16"),
        ("auto", False, ("amx_bf16",), "mixed_bfloat16"),
        ("auto", False, (), "float32"),  # a CPU without the units: float32, the same run
        ("auto", True, ("amx_bf16",), "float32"),  # recurrent models are slower under it
        ("bfloat16", True, (), "mixed_bfloat16"),
        ("float32", False, ("amx_bf16",), "float32"),
    ],
)
def test_the_policy_follows_the_cpu_the_model_and_the_config(requested, recurrent, flags, expected):
    assert precision.policy_name(requested, recurrent, flags) == expected


def test_the_rows_readers_are_the_recurrent_models():
    assert {"rnn_rows", "lstm_rows", "bilstm_rows"} == zoo.RECURRENT
    assert training_policy(ImageModelConfig(name="lstm_rows")) == "float32"
    assert training_policy(ImageModelConfig(name="vgg6", precision="bfloat16")) == "mixed_bfloat16"


def test_a_precision_key_out_of_its_choices_is_one_sentence():
    with pytest.raises(ConfigError, match=r"model.precision=half: expected one of auto, bfloat16, float32"):
        apply_overrides(config_for("cifar10"), ["model.precision=half"]).check()


def test_the_policy_is_restored_after_building():
    with precision.keras_policy("mixed_bfloat16"):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize("name", sorted(set(zoo.MODELS) - zoo.RECURRENT))
def test_under_bfloat16_the_probabilities_are_float32(name):
    with precision.keras_policy("mixed_bfloat16"):
        model = zoo.build(name, (32, 32, 3), 10)
    assert model.layers[-1].compute_dtype == "float32"
    assert model.layers[1].compute_dtype == "bfloat16"
    probabilities = model(np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32), training=False)
    assert probabilities.dtype == "float32"


def test_resnet18_has_the_notes_l2_on_its_softmax_only():
    model = zoo.build("resnet18", (32, 32, 3), 10)
    assert model.layers[-1].kernel_regularizer.get_config()["l2"] == pytest.approx(0.01)
    assert len(model.losses) == 1
    assert not any(getattr(layer, "use_bias", False) for layer in model.layers if "conv" in layer.name)


def test_the_exported_copy_computes_in_float32_with_the_trained_weights():
    settings = ImageModelConfig(name="vgg6")
    augmentation = AugmentationConfig(flip_horizontal=True, shift_fraction=0.1)

    def build():
        return build_classifier(settings, augmentation, (32, 32, 3), 10)

    with precision.keras_policy("mixed_bfloat16"):
        trained = build()
    copy = float32_copy(trained, build)
    assert {layer.compute_dtype for layer in copy.layers} == {"float32"}
    for mine, theirs in zip(copy.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    images = np.random.default_rng(1).random((8, 32, 32, 3), dtype=np.float32)
    in_bf16, in_f32 = trained(images, training=False).numpy(), copy(images, training=False).numpy()
    # The same model: bfloat16's 8-bit mantissa moves the probabilities a little, no more.
    np.testing.assert_allclose(in_bf16, in_f32, atol=0.05)


@pytest.mark.parametrize(
    ("float32_step", "bfloat16_step", "expected"),
    [(0.02, 0.01, "mixed_bfloat16"), (0.01, 0.02, "float32"), (0.01, 0.01, "float32")],
)
def test_auto_takes_the_policy_with_the_shorter_step(float32_step, bfloat16_step, expected):
    steps = {"float32": float32_step, "mixed_bfloat16": bfloat16_step}
    chosen, measured = precision.faster_policy(steps.__getitem__)
    assert chosen == expected
    assert measured == steps


def test_a_slow_first_round_is_not_charged_to_the_policy_timed_first():
    # The process's first timed steps are slow whatever the policy: float32, timed first, is slow once.
    rounds = iter([0.030, 0.020, 0.012, 0.021])
    order = []

    def seconds_per_step(policy):
        order.append(policy)
        return next(rounds)

    chosen, measured = precision.faster_policy(seconds_per_step)
    assert order == ["float32", "mixed_bfloat16"] * precision.PROBE_ROUNDS
    assert measured == {"float32": 0.012, "mixed_bfloat16": 0.020}
    assert chosen == "float32"


def test_a_step_is_timed_on_a_model_built_under_the_policy_measured():
    built = []

    def build():
        model = build_classifier(ImageModelConfig(name="baseline"), AugmentationConfig(), (8, 8, 1), 3)
        built.append(model)
        return model

    measure = precision.step_seconds(build, np.zeros((4, 8, 8, 1), np.float32), np.zeros(4))
    seconds = {policy: measure(policy) for policy in ("float32", "mixed_bfloat16")}
    assert all(0 < value < 10 for value in seconds.values())
    assert [model.layers[-1].layers[1].compute_dtype for model in built] == ["float32", "bfloat16"]
    # Trained: the timed steps ran on the model (its optimizer counted them).
    assert int(built[0].optimizer.iterations) == 1 + precision.PROBE_STEPS


def _weights_and_names(build):
    model = build()
    return [weight.name for weight in model.weights], model.get_weights()


@pytest.mark.parametrize(
    ("requested", "flags", "probed"),
    [
        ("auto", ("amx_bf16",), True),
        ("auto", (), False),
        ("float32", ("amx_bf16",), False),
        ("bfloat16", ("amx_bf16",), False),
    ],
)
def test_auto_times_the_model_only_where_the_cpu_leaves_a_choice(monkeypatch, tmp_path, requested, flags, probed):
    settings = ImageModelConfig(name="baseline", precision=requested, batch_size=4, seed=3)

    def build():
        return build_classifier(settings, AugmentationConfig(), (8, 8, 1), 3)

    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: flags)
    keras.backend.clear_session()  # as a Trainer's process starts: no model built yet
    keras.utils.set_random_seed(settings.seed)
    names, weights = _weights_and_names(build)
    keras.backend.clear_session()
    keras.utils.set_random_seed(settings.seed)
    policy = measured_policy(settings, build, (8, 8, 1), str(tmp_path))
    metrics = tmp_path / "metrics.json"
    assert metrics.exists() == probed
    if probed:
        recorded = json.loads(metrics.read_text())
        assert set(recorded) == {"precision.float32_ms_per_step", "precision.mixed_bfloat16_ms_per_step"}
        assert policy == min(("float32", "mixed_bfloat16"), key=lambda name: recorded[f"precision.{name}_ms_per_step"])
    else:
        assert policy == training_policy(settings)
    # The model then trained starts as it would have without the timed ones: same names, same weights.
    names_after, weights_after = _weights_and_names(build)
    assert names_after == names
    for mine, theirs in zip(weights_after, weights):
        np.testing.assert_array_equal(mine, theirs)
