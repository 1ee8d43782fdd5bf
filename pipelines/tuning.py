"""Model search, as a config sees it: the budget (`tuning.*`) and the search space (`search_space.*`).

With `tuning.trials` above 0 the DAG runs TFX's Tuner before the Trainer (pipelines/factory.py):
each trial trains the pipeline's own model, through its own run_fn, with one combination of the
search space's candidate values for `tuning.steps_per_trial` steps and scores it on the eval
split; the Trainer then trains the best combination on the full `train_steps`.

PipelineConfig.check_search and .with_trial (pipelines/config.py) apply and check the values.
A search space is a dataclass of candidate tuples, one field per config key it varies, the key in
the field's metadata (`varies`): `learning_rate: tuple[float, ...] = varies("model.learning_rate",
(0.01, 0.1))`. A trial's values are applied to the config as `--set key=value` would be, so every
value is checked as a `--set` value is, and a value the model code does not know is refused in one
sentence before anything runs. A tuple-valued key (layer sizes) takes its candidates with the sizes
separated by spaces: `16 8`. No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

ALGORITHMS = ("random", "bayesian", "hyperband")
# The Tuner's custom_config key for the folder where a search keeps its trials across runs
# (pipelines/factory.py sets it under the pipeline root; components/models/tuning.py reads it).
TRIALS_DIR_KEY = "trials_dir"


@dataclasses.dataclass
class TuningConfig:
    """The search's budget; `trials` 0 (the default) runs no search."""

    trials: int = 0
    """Combinations of the search space to try (with hyperband: the most it may try); 0: no search."""
    steps_per_trial: int = 200
    """Training steps each trial's model gets before it is scored on the eval split."""
    max_minutes: float = 30.0
    """Wall-clock budget of the search: no trial starts after it is spent (the trial under way finishes)."""
    algorithm: str = "random"
    """How the next combination is chosen: random, bayesian (Gaussian process) or hyperband (many
    short trials, the best trained longer)."""
    seed: int = 0
    """Seeds the choice of combinations, so an unchanged search tries the same ones."""


def varies(key: str, candidates: tuple) -> Any:
    """A search space field: the candidate values of the config key `key` (dotted, as for --set)."""
    return dataclasses.field(default=candidates, metadata={"varies": key})


@dataclasses.dataclass
class SearchSpace:
    """A pipeline with nothing to search. Each pipeline's config declares its own (a subclass)."""


def candidates(space: SearchSpace) -> dict[str, tuple]:
    """The config key each field varies -> its candidate values, as the fields declare them."""
    return {field.metadata["varies"]: getattr(space, field.name) for field in dataclasses.fields(space)}


def assignment(key: str, value: Any) -> str:
    """A trial's value as a `--set` assignment: a layer-size candidate `16 8` becomes `key=16,8`."""
    return f"{key}={','.join(str(value).split())}" if isinstance(value, str) and " " in value else f"{key}={value}"
