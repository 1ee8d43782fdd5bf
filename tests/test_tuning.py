"""Model search: TFX's Tuner over a pipeline's declared search space, its leaderboard in the run's
record, the console and MLflow, the Trainer training the winner, a failed trial, a killed search
resumed, and the search compiled for Kubeflow."""

import dataclasses
import json

import mlflow
import pytest
from conftest import FAST_IRIS, last_outcome, run_tfpipe

from components.leaderboard import Search, TrialResult
from components.training_progress import TrialProgress
from pipelines import tuning
from pipelines.config import ConfigError, apply_overrides, describe_fields
from pipelines.outcome import RunOutcome, RunResults
from pipelines.registry import PIPELINES, config_for
from pipelines.tuning import SearchSpace, varies
from tfpipe.run_view import search_lines

# Three trials of few steps: the search's machinery, not its quality, is under test.
SEARCH = [*FAST_IRIS, "--set", "tuning.trials=3", "--set", "tuning.steps_per_trial=20"]


@pytest.fixture(scope="module")
def iris_search(tmp_path_factory):
    """A three-trial search whose second trial fails (an error injected where it starts)."""
    workdir = tmp_path_factory.mktemp("iris-search")
    process = run_tfpipe("run", "iris", "--workdir", str(workdir), *SEARCH, fault="trial:2:RAISE")
    assert process.returncode == 0, process.stdout + process.stderr
    return workdir, process


# --- The search space and its checks ---


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_every_pipelines_search_space_applies_to_its_config_and_passes_its_checks(pipeline):
    config = apply_overrides(config_for(pipeline), ["tuning.trials=2"])
    space = tuning.candidates(config.search_space)
    assert space, f"{pipeline} declares no search space"
    config.check_search()
    for key, values in space.items():
        for value in values:
            shown = dict(describe_fields(config.with_trial({key: value})))
            assert f"{key}={shown[key]}" == tuning.assignment(key, value)


def test_a_layer_size_candidate_becomes_a_tuple_and_other_values_are_set_as_given():
    config = config_for("iris").with_trial({"model.hidden_units": "16 8", "model.optimizer": "rmsprop"})
    assert config.model.hidden_units == (16, 8) and config.model.optimizer == "rmsprop"
    assert config_for("iris").model.hidden_units == ()  # the default config is left as it was


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (
            "search_space.optimizer=adam,nadam",
            "--set search_space.optimizer=nadam: refused, --set model.optimizer=nadam: expected one of sgd, "
            "momentum, adagrad, rmsprop, adam.",
        ),
        ("search_space.hidden_units=16,0", "--set search_space.hidden_units=0: refused, --set model.hidden_units=0:"),
        ("tuning.algorithm=grid", "--set tuning.algorithm=grid: expected one of random, bayesian, hyperband."),
        ("tuning.steps_per_trial=5", "--set tuning.steps_per_trial=5: expected at least one step for each"),
        ("search_space.l2=", "--set search_space.l2: expected at least one candidate for model.l2."),
    ],
)
def test_a_candidate_or_budget_the_model_code_cannot_use_is_one_sentence_before_anything_runs(assignment, message):
    config = apply_overrides(config_for("iris"), ["tuning.trials=2", assignment])
    with pytest.raises(ConfigError) as raised:
        config.check()
    assert str(raised.value).startswith(message)


def test_an_unknown_zoo_model_is_refused_with_exit_status_2_before_tensorflow_loads(tmp_path):
    result = run_tfpipe(
        "run",
        "digits",
        "--workdir",
        str(tmp_path),
        "--set",
        "tuning.trials=2",
        "--set",
        "search_space.model=lenet5,lenet9",
    )
    assert result.returncode == 2
    assert result.stderr.startswith("tfpipe: --set search_space.model=lenet9: refused, --set model.name=lenet9:")
    assert not (tmp_path / "digits").exists()


@dataclasses.dataclass
class _ContextSpace(SearchSpace):
    context: tuple[int, ...] = varies("max_context", (3, 5))


def test_a_transform_setting_is_refused_in_a_search_space():
    config = apply_overrides(config_for("letters"), ["tuning.trials=2"])
    config.search_space = _ContextSpace()
    with pytest.raises(ConfigError, match=r"search_space.context: max_context is a Transform setting"):
        config.check_search()


def test_no_search_is_the_default():
    assert all(config_for(name).tuning.trials == 0 for name in PIPELINES)


# --- What a person sees of a search ---


def _search() -> Search:
    return Search(
        objective="val_sparse_categorical_accuracy",
        higher_is_better=True,
        leaderboard=[
            TrialResult(3, {"model.optimizer": "adam"}, "COMPLETED", score=0.95, seconds=4.2),
            TrialResult(1, {"model.optimizer": "sgd"}, "COMPLETED", score=0.7, seconds=3.0),
            TrialResult(2, {"model.optimizer": "adagrad"}, "FAILED", error="InjectedFault: boom"),
        ],
    )


def test_the_leaderboard_has_a_row_per_trial_best_first_and_the_failed_one_with_its_error():
    lines = search_lines(_search())
    assert lines[0].endswith("the Trainer trained trial 3's values:")
    assert lines[1].split() == ["trial", "model.optimizer", "val_sparse_categorical_accuracy", "seconds"]
    assert lines[2].split() == ["3", "adam", "0.95", "4"]
    assert lines[4].split()[:3] == ["2", "adagrad", "failed:"]


def test_the_search_survives_the_run_record(tmp_path):
    RunOutcome("iris", "succeeded", results=RunResults(search=_search())).write(tmp_path)
    read = RunOutcome.read(tmp_path).results.search
    assert read == _search() and read.best.trial == 3


def test_a_trial_in_progress_names_its_number_values_and_the_best_score_so_far():
    progress = TrialProgress(trial=2, trials=6, values={"model.learning_rate": 0.05}, score=0.9, best=0.93)
    assert str(progress) == "trial 2/6 · model.learning_rate=0.05 · best 0.93: score 0.9"


# --- A real search, end to end ---


def test_the_search_shows_each_trial_and_a_leaderboard_and_the_trainer_trains_the_winner(iris_search):
    workdir, process = iris_search
    outcome = last_outcome(workdir, "iris")
    search = outcome.results.search
    assert [trial.trial for trial in search.leaderboard if trial.status == "COMPLETED"] != []
    assert sorted(trial.trial for trial in search.leaderboard) == [1, 2, 3]
    for number in (1, 3):
        assert f"trial {number}/3 · " in process.stdout
    assert "Model search (Tuner): 3 trial(s) by val_sparse_categorical_accuracy" in process.stdout
    best = search.best
    assert best.trial != 2 and best.score == max(t.score for t in search.leaderboard if t.score is not None)
    # The Trainer's model has the winning layer sizes (its recorded layers' kernels).
    model_run = next((workdir / "iris" / "pipeline_root" / "Trainer" / "model_run").iterdir())
    layers = json.loads((model_run / "model_summary.json").read_text())["layers"]
    kernels = [weight["shape"] for layer in layers for weight in layer["weights"] if "kernel" in weight["name"]]
    sizes = [int(size) for size in str(best.values["model.hidden_units"]).split()]
    assert [shape[1] for shape in kernels[:-1]] == sizes


def test_a_failing_trial_is_recorded_as_failed_and_the_search_goes_on(iris_search):
    workdir, process = iris_search
    search = last_outcome(workdir, "iris").results.search
    failed = [trial for trial in search.leaderboard if trial.status == "FAILED"]
    assert [trial.trial for trial in failed] == [2]
    assert "InjectedFault" in failed[0].error
    assert "trial 2/3 · " in process.stdout and "failed (" in process.stdout


def test_mlflow_holds_a_child_run_per_trial_and_the_winners_values_on_the_run(iris_search):
    workdir, _ = iris_search
    outcome = last_outcome(workdir, "iris")
    client = mlflow.MlflowClient(outcome.tracking_uri)
    parent = client.get_run(outcome.results.mlflow_run_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(run.info.run_name for run in children) == ["trial 1", "trial 2", "trial 3"]
    assert {run.info.run_name: run.info.status for run in children}["trial 2"] == "FAILED"
    best = outcome.results.search.best
    assert all(
        "val_sparse_categorical_accuracy" in run.data.metrics for run in children if run.info.status == "FINISHED"
    )
    assert {key: parent.data.params[f"tuned.{key}"] for key in best.values} == {
        key: str(value) for key, value in best.values.items()
    }


def test_the_same_search_again_searches_nothing(iris_search):
    workdir, _ = iris_search
    again = run_tfpipe("run", "iris", "--workdir", str(workdir), *SEARCH, "--rerun")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Tuner                            cached" in again.stdout
    assert "trial 1/3" not in again.stdout


@pytest.mark.e2e
def test_a_killed_search_resumes_from_the_trials_it_finished(tmp_path):
    killed = run_tfpipe("run", "iris", "--workdir", str(tmp_path), *SEARCH, fault="trial:3:KILL")
    assert killed.returncode == -9
    assert "trial 2/3 · " in killed.stdout
    resumed = run_tfpipe("run", "iris", "--workdir", str(tmp_path), *SEARCH)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # Trials 1 and 2 are not trained again: only trial 3 starts in the resumed run.
    assert "trial 3/3 · " in resumed.stdout
    assert "trial 1/3 · " not in resumed.stdout and "trial 2/3 · " not in resumed.stdout
    search = last_outcome(tmp_path, "iris").results.search
    assert sorted(trial.trial for trial in search.leaderboard) == [1, 2, 3]


@pytest.mark.e2e  # loads TFX and builds the pipeline: seconds, not a unit test
def test_the_compiled_kubeflow_spec_carries_the_tuner_feeding_the_trainer(tmp_path):
    output = tmp_path / "spec.json"
    result = run_tfpipe(
        "compile", "iris", "--target", "kubeflow", "--image", "registry.example/tfpipe:test",
        "--output", str(output), "--set", "tuning.trials=4",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    tasks = json.loads(output.read_text())["pipelineSpec"]["root"]["dag"]["tasks"]
    assert "Tuner" in tasks and "Tuner" in tasks["Trainer"]["dependentTasks"]
    assert "Tuner" in tasks["MlflowTracker"]["dependentTasks"]
