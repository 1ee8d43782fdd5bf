"""TFX Tuner module code shared by every pipeline: a model module adds `tuner_fn = tuning.tuner_fn_for(run_fn)`.

Each trial trains the pipeline's own model through its own run_fn, on the transformed train split,
for `tuning.steps_per_trial` steps, with one combination of the config's search space
(pipelines/tuning.py), and is scored by the last epoch's `tuning_objective` on the eval split (with
early stopping, the best epoch's on its validation slice of the training split): the same code path
the Trainer then takes with the best combination, so what the search measured is what gets trained.
KerasTuner (1.3.5, which accepts tf_keras models) chooses the combinations.

The trials are kept in a folder named after the inputs and the config (custom_config's
TRIALS_DIR_KEY, under the pipeline root), not in the Tuner's temporary folder: a search that was
killed finds its finished trials there on the next run and goes on from them. A trial that fails
(a model that does not fit the input, say) is recorded as failed and the search goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import attr
import keras_tuner as kt
from tensorflow.io import gfile
from tfx.components.tuner.component import TunerFnResult

from components import faults, training_record
from components.leaderboard import last_line, search_values
from components.training_progress import PROGRESS_LOGGER, TrialProgress
from pipelines.config import PipelineConfig
from pipelines.tuning import TRIALS_DIR_KEY, candidates

# Beside each trial's files: its seconds, which KerasTuner does not keep.
_TRIAL_RECORD = "tfpipe_trial.json"
_progress_logger = logging.getLogger(PROGRESS_LOGGER)


def tuner_fn_for(run_fn: Callable[[Any], None], config_type: type[PipelineConfig]) -> Callable[[Any], TunerFnResult]:
    """The TFX tuner_fn of a model module whose Trainer function is `run_fn`, for configs of `config_type`."""

    def tuner_fn(fn_args) -> TunerFnResult:
        config = config_type.from_custom_config(fn_args.custom_config)
        search = TrialSearch(
            run_fn,
            fn_args,
            config,
            oracle=_oracle(config),
            directory=fn_args.custom_config[TRIALS_DIR_KEY],
            project_name=_search_name(fn_args),
        )
        return TunerFnResult(tuner=search, fit_kwargs={})

    return tuner_fn


def _search_name(fn_args) -> str:
    """Same inputs and config, same name: a re-run after a kill goes on with the trials already done."""
    key = {
        "train": sorted(fn_args.train_files),
        "eval": sorted(fn_args.eval_files),
        "transform": fn_args.transform_output,
        "config": fn_args.custom_config["config"],
    }
    return "search-" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def hyperparameters(space: dict[str, tuple]) -> kt.HyperParameters:
    """The search space as KerasTuner's: a Choice per config key, named by the key."""
    declared = kt.HyperParameters()
    for key, values in space.items():
        declared.Choice(key, list(values))
    return declared


def _oracle(config) -> kt.Oracle:
    settings = config.tuning
    objective = kt.Objective(config.tuning_objective, "max" if config.tuning_higher_is_better else "min")
    common: dict[str, Any] = {
        "objective": objective,
        "hyperparameters": hyperparameters(candidates(config.search_space)),
        "tune_new_entries": False,
        "allow_new_entries": False,
        "seed": settings.seed,
    }
    if settings.algorithm == "bayesian":
        return kt.oracles.BayesianOptimizationOracle(max_trials=settings.trials, **common)
    if settings.algorithm == "hyperband":
        # Hyperband gives each trial `tuner/epochs` of config.epochs; TrialSearch scales the steps to it.
        oracle = kt.oracles.HyperbandOracle(max_epochs=config.epochs, factor=3, hyperband_iterations=1, **common)
        oracle.max_trials = settings.trials
        return oracle
    return kt.oracles.RandomSearchOracle(max_trials=settings.trials, **common)


class TrialSearch(kt.engine.base_tuner.BaseTuner):
    """KerasTuner's search loop over the pipeline's own run_fn, within the config's wall-clock budget."""

    def __init__(self, run_fn: Callable[[Any], None], fn_args, config, **kwargs):
        super().__init__(**kwargs)
        self._run_fn, self._fn_args, self._config = run_fn, fn_args, config
        self._search_started = time.monotonic()
        self._trial_started = 0.0

    def on_search_begin(self):
        super().on_search_begin()
        self._search_started = time.monotonic()

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._trial_started = time.monotonic()
        self._report(trial)

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        # Inside the trial, where a model that fails to build or train fails it.
        faults.point(f"trial:{self._number(trial)}")
        trial_dir = self.get_trial_dir(trial.trial_id)
        model_run_dir = os.path.join(trial_dir, "model_run")
        serving_model_dir = os.path.join(trial_dir, "model")
        self._run_fn(
            attr.evolve(
                self._fn_args,
                train_steps=self._steps(trial),
                serving_model_dir=serving_model_dir,
                model_run_dir=model_run_dir,
                hyperparameters=trial.hyperparameters.get_config(),
                base_model=None,
                # The Trainer's executor fills this deprecated name of transform_graph_path too; run_fns read it.
                transform_output=self._fn_args.transform_graph_path,
            )
        )
        # The trial's SavedModel was only made to run the same code as the Trainer: its score is kept, not it.
        shutil.rmtree(serving_model_dir, ignore_errors=True)
        epochs = training_record.read_history(os.path.join(model_run_dir, training_record.HISTORY_FILE))
        record = training_record.read_metrics(model_run_dir)
        # Early stopping that kept the best epoch's weights left that epoch's model: score it, not the last.
        scored = (
            epochs[int(record["early_stopping.best_epoch"])]
            if record.get("early_stopping.restored_best_weights")
            else epochs[-1]
        )
        objective = self._config.tuning_objective
        if objective not in scored:
            raise ValueError(f"the model's history has no {objective}; it has {', '.join(scored)}")
        return {objective: scored[objective]}

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        seconds = round(time.monotonic() - self._trial_started, 1)
        with gfile.GFile(os.path.join(self.get_trial_dir(trial.trial_id), _TRIAL_RECORD), "w") as f:
            json.dump({"seconds": seconds}, f)
        ended = self.oracle.get_trial(trial.trial_id)
        self._report(ended, score=ended.score, failed=last_line(ended.message) if ended.status == "FAILED" else None)
        if time.monotonic() - self._search_started > self._config.tuning.max_minutes * 60:
            # No trial starts once the budget is spent: the oracle stops at the trials it has.
            self.oracle.max_trials = len(self.oracle.trials)

    def _steps(self, trial) -> int:
        """tuning.steps_per_trial; under hyperband, the share of it the trial's `tuner/epochs` asks for."""
        steps = self._config.tuning.steps_per_trial
        epochs = trial.hyperparameters.values.get("tuner/epochs")
        if epochs:
            steps = max(self._config.epochs, steps * epochs // self._config.epochs)
        return steps

    def _number(self, trial) -> int:
        return sorted(self.oracle.trials).index(trial.trial_id) + 1

    def _report(self, trial, score: float | None = None, failed: str | None = None) -> None:
        best = self.oracle.get_best_trials(1)
        progress = TrialProgress(
            trial=self._number(trial),
            trials=self.oracle.max_trials,
            values=search_values(trial.hyperparameters.values),
            score=score,
            best=best[0].score if best else None,
            failed=failed,
        )
        _progress_logger.info("Search: %s", progress, extra={"progress": progress})

    def trial_seconds(self, trial_id: str) -> float | None:
        """How long the trial took, from its record; None if it has none (killed while running)."""
        path = os.path.join(self.get_trial_dir(trial_id), _TRIAL_RECORD)
        if not gfile.exists(path):
            return None
        with gfile.GFile(path) as f:
            return json.load(f)["seconds"]


def with_hyperparameters(config, fn_args):
    """`config` with the values the Tuner chose (the Trainer's `hyperparameters`: its best trial's, or a
    trial's own), applied as --set values are; `config` itself when there are none."""
    if not fn_args.hyperparameters:
        return config
    return config.with_trial(search_values(kt.HyperParameters.from_config(fn_args.hyperparameters).values))
