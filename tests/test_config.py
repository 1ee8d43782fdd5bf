"""Config overrides (`--set`), without TensorFlow."""

import json

import pytest

from pipelines.config import ConfigError, apply_overrides
from pipelines.registry import PIPELINES, UnknownPipelineError, config_for, config_from_custom_config


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
    rebuilt = config_from_custom_config(json.loads(json.dumps(config.trainer_custom_config())))
    assert rebuilt == config
    assert type(rebuilt) is type(config)


def test_a_custom_config_with_an_unknown_key_names_it():
    custom_config = config_for("iris").trainer_custom_config()
    custom_config["config"]["model"]["hiden_units"] = [4]
    with pytest.raises(ConfigError, match="IrisModelConfig has no field\\(s\\) hiden_units"):
        config_from_custom_config(custom_config)
