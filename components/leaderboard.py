"""A model search's leaderboard: every trial with its values, score and seconds, failed ones included.

The Tuner's executor (components/tuner.py) writes it as LEADERBOARD_FILE into its TunerResults
artifact; the run's record (pipelines/outcome.py), the console, `tfpipe runs` and MlflowTracker read
it. No TensorFlow here.
"""

from __future__ import annotations

import builtins
import dataclasses
from typing import Any

LEADERBOARD_FILE = "leaderboard.json"


@dataclasses.dataclass
class TrialResult:
    """One trial of a model search (the Tuner's leaderboard, components/tuner.py writes it)."""

    trial: int
    """Counted from 1, in the order the trials ran."""
    values: dict[str, Any]
    """The candidate values it trained with, by config key."""
    status: str
    """COMPLETED or FAILED."""
    score: float | None = None
    """Its objective (`tuning_objective`) on the eval split after its steps."""
    seconds: float | None = None
    error: str | None = None
    """The last line of a failed trial's error."""


@dataclasses.dataclass
class Search:
    """A model search: what it optimised, and every trial (best first)."""

    objective: str
    """A Keras history metric on the eval split, e.g. val_sparse_categorical_accuracy."""
    higher_is_better: bool
    leaderboard: builtins.list[TrialResult]

    @property
    def best(self) -> TrialResult | None:
        return next((trial for trial in self.leaderboard if trial.status == "COMPLETED"), None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Search:
        """The search in `data`, as to_json and the Tuner's leaderboard file (components/tuner.py) hold it."""
        trials = [TrialResult(**trial) for trial in data["leaderboard"]]
        return cls(objective=data["objective"], higher_is_better=data["higher_is_better"], leaderboard=trials)


def search_values(values: dict[str, Any]) -> dict[str, Any]:
    """A trial's values by config key, without KerasTuner's own bookkeeping (hyperband's `tuner/...`)."""
    return {key: value for key, value in values.items() if not key.startswith("tuner/")}


def last_line(message: str | None) -> str:
    """The last line of an error's traceback: what went wrong, in one line."""
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"
