"""TFX's Tuner with a leaderboard: every trial, failed ones included, with its values, score and seconds.

TFX's own executor writes the best hyperparameters (which the Trainer takes) and `tuner_results.json`,
the completed trials only; this one also writes LEADERBOARD_FILE beside it, which the run's summary,
`tfpipe runs` and MlflowTracker read, and says in one sentence when no trial succeeded.
"""

from __future__ import annotations

import json
import os

from tensorflow.io import gfile
from tfx.components import Tuner as TfxTuner
from tfx.components.tuner import executor as tuner_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils

from components.leaderboard import LEADERBOARD_FILE, Search, last_line, search_values


class NoTrialSucceededError(RuntimeError):
    """Every trial of a search failed: nothing to train."""


class LeaderboardExecutor(tuner_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        search = tuner_executor.search(input_dict, exec_properties, self._get_tmp_dir())
        trials = [search.oracle.trials[trial_id] for trial_id in sorted(search.oracle.trials)]
        entries = [
            {
                "trial": number,
                "values": search_values(trial.hyperparameters.values),
                "status": "COMPLETED" if trial.status == "COMPLETED" else "FAILED",
                "score": trial.score,
                "seconds": search.trial_seconds(trial.trial_id),
                "error": last_line(trial.message) if trial.status != "COMPLETED" else None,
            }
            for number, trial in enumerate(trials, start=1)
        ]
        completed = [entry for entry in entries if entry["status"] == "COMPLETED"]
        if not completed:
            first = entries[0]["error"] if entries else "no trial ran"
            raise NoTrialSucceededError(
                f"Every one of the {len(entries)} trial(s) of the model search failed; the first: {first}. "
                "Check the search space (--set search_space.KEY=...) against the model code."
            )
        tuner_executor.write_best_hyperparameters(search, output_dict)
        higher_is_better = search.oracle.objective.direction == "max"
        completed.sort(key=lambda entry: entry["score"], reverse=higher_is_better)
        leaderboard = {
            "objective": search.oracle.objective.name,
            "higher_is_better": higher_is_better,
            "leaderboard": completed + [entry for entry in entries if entry["status"] != "COMPLETED"],
        }
        results_dir = artifact_utils.get_single_uri(output_dict["tuner_results"])
        with gfile.GFile(os.path.join(results_dir, LEADERBOARD_FILE), "w") as f:
            json.dump(leaderboard, f, indent=2)


def read_search(tuner_results_uri: str) -> Search:
    """The leaderboard LeaderboardExecutor wrote into the Tuner's TunerResults artifact."""
    with gfile.GFile(os.path.join(tuner_results_uri, LEADERBOARD_FILE)) as f:
        return Search.from_json(json.load(f))


class Tuner(TfxTuner):
    """TFX's Tuner component, its executor writing the leaderboard too."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(LeaderboardExecutor)
