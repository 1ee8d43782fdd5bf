"""Config overrides (`--set`), without TensorFlow."""

import json
from pathlib import Path

import pytest

from pipelines.config import ConfigError, apply_overrides
from pipelines.registry import PIPELINES, UnknownPipelineError, config_for


def test_overrides_are_parsed_by_field_type():
    config = apply_overrides(
        config_for("iris"),
        ["train_steps=7", "blessing_threshold=0.5", "model.hidden_units=16,8", "model.learning_rate=0.01"],
    )
    assert config.train_steps == 7
    assert config.blessing_threshold == 0.5
    assert config.model.hidden_units == (16, 8)
    assert config.model.learning_rate == 0.01


def test_overrides_leave_the_default_config_untouched():
    apply_overrides(config_for("iris"), ["model.l2=0.5"])
    assert config_for("iris").model.l2 != 0.5


def test_empty_value_gives_an_empty_tuple():
    assert apply_overrides(config_for("iris"), ["model.hidden_units="]).model.hidden_units == ()


@pytest.mark.parametrize(
    "assignment, expected",
    [
        ("train_step=3", "unknown field 'train_step'"),
        ("train_steps=many", "expected a value of type int"),
        ("model.hidden_units=a,b", "expected a value of type int"),
        ("train_steps", "expected key=value"),
        ("train_steps.x=1", "has no sub-fields"),
    ],
)
def test_bad_overrides_are_named(assignment, expected):
    with pytest.raises(ConfigError, match=expected):
        apply_overrides(config_for("iris"), [assignment])


def test_unknown_pipeline_lists_the_known_ones():
    with pytest.raises(UnknownPipelineError) as error:
        config_for("irises")
    assert "known pipelines: cifar10, digits, fashion_mnist, iris" in str(error.value)


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_the_trainer_gets_back_the_typed_config_it_was_given(pipeline):
    config = apply_overrides(config_for(pipeline), ["train_steps=7", "model.seed=3"])
    # What TFX hands run_fn: custom_config after a JSON round trip.
    rebuilt = type(config).from_custom_config(json.loads(json.dumps(config.to_custom_config())))
    assert rebuilt == config
    assert type(rebuilt) is type(config)


def test_settings_only_the_evaluator_reads_leave_the_trainer_cached():
    config = config_for("stock")
    evaluation = apply_overrides(config, ["blessing_threshold=2.5", "max_regression=0.1", "regression_relative=true"])
    assert evaluation.to_custom_config() == config.to_custom_config()
    assert apply_overrides(config, ["train_steps=7"]).to_custom_config() != config.to_custom_config()


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_transform_gets_back_the_typed_sub_config_it_was_given(pipeline):
    transform = config_for(pipeline).transform_config()
    custom_config = json.loads(json.dumps(transform.to_custom_config()))
    assert type(transform).from_custom_config(custom_config) == transform


def test_a_custom_config_with_an_unknown_key_names_it():
    config = config_for("iris")
    custom_config = config.to_custom_config()
    custom_config["config"]["model"]["hiden_units"] = [4]
    with pytest.raises(ConfigError, match="IrisModelConfig has no field\\(s\\) hiden_units"):
        type(config).from_custom_config(custom_config)


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_every_module_reference_is_the_import_name_of_a_module_here(pipeline):
    config = config_for(pipeline)
    optional = [getattr(config, name) for name in ("example_reader", "windowing_module") if hasattr(config, name)]
    for module in (config.preprocessing_module, config.model_module, config.request_module, *optional):
        assert module.startswith("components.models.") and "/" not in module
        assert Path(config.module_file(module)).is_file(), module
