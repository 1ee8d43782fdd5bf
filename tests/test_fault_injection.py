"""Fault injection: real `tfpipe run iris` runs on one workdir, killed with -9 at a component
boundary and twice inside the Pusher, stopped by SIGTERM and SIGINT, and a second run started
while one is under way; then a plain run. Afterwards exactly one version is pushed for the one TFX
model, nothing hidden is left in the serving dir, no execution is left RUNNING in ML Metadata, and
MLflow has one run per run that got past the data gate, which starts it (KILLED for the killed and
the interrupted, FINISHED for the last) and one registered version, the pushed one (issue 16).

The kills land at exact places through TFPIPE_FAULT (components/faults.py). Runs share the cache,
so only the first trains; tracking goes to the workdir's embedded store."""

import json
import os
import signal
import subprocess

import mlflow
import pytest
from conftest import BIN, FAST_IRIS, REPO_ROOT, last_outcome
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from components.mlflow_tracker import CHAMPION_ALIAS, TAG_TF_SERVING_VERSION
from pipelines.recovery import ABANDONED
from serving.push import PUSH_RECORD

pytestmark = pytest.mark.e2e


def _start(workdir, fault: str | None = None) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    if fault:
        env["TFPIPE_FAULT"] = fault
    return subprocess.Popen(
        [str(BIN / "tfpipe"), "run", "iris", "--workdir", str(workdir), *FAST_IRIS],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(workdir, fault: str | None = None) -> subprocess.CompletedProcess:
    process = _start(workdir, fault)
    stdout, stderr = process.communicate(timeout=900)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


class Runs:
    """What each run of the sequence printed and returned."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.serving = workdir / "serving" / "iris"
        self.by_step: dict[str, subprocess.CompletedProcess] = {}
        self.first_pid = 0  # the run under way when the second one started


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    runs = Runs(tmp_path_factory.mktemp("faults") / "workdir")
    # kill -9 at a component boundary: the Trainer has finished and is recorded, nothing after it ran.
    runs.by_step["kill after Trainer"] = _run(runs.workdir, "after:Trainer:KILL")
    # kill -9 inside the Pusher, while its copy is still hidden (.incoming-*).
    runs.by_step["kill while copying"] = _run(runs.workdir, "push:copied:KILL")
    # kill -9 inside the Pusher, after the version is renamed into place and before ML Metadata records the push.
    runs.by_step["kill after rename"] = _run(runs.workdir, "push:published:KILL")
    # SIGTERM as MlflowTracker starts, the model pushed; meanwhile a second run on the same workdir.
    first = _start(runs.workdir, "before:MlflowTracker:TERM")
    assert first.stdout is not None
    console = [first.stdout.readline()]  # the run's first line: it holds the workdir's lock
    runs.by_step["second at once"] = _run(runs.workdir)
    stdout, stderr = first.communicate(timeout=900)
    runs.by_step["terminate in MlflowTracker"] = subprocess.CompletedProcess(
        first.args, first.returncode, "".join(console) + stdout, stderr
    )
    runs.first_pid = first.pid
    # Ctrl-C (SIGINT) as the Evaluator starts (cached by now).
    runs.by_step["interrupt at Evaluator"] = _run(runs.workdir, "before:Evaluator:INT")
    # A plain run: it finds everything in place and finishes what was left.
    runs.by_step["plain"] = _run(runs.workdir)
    return runs


def test_each_killed_run_died_where_it_was_killed(runs: Runs):
    for step in ("kill after Trainer", "kill while copying", "kill after rename"):
        assert runs.by_step[step].returncode == -signal.SIGKILL, (step, runs.by_step[step].stdout)
    assert "  Trainer " in runs.by_step["kill after Trainer"].stdout
    assert "Evaluator" not in runs.by_step["kill after Trainer"].stdout
    # The run after a kill -9 takes the workdir over and says so.
    assert (
        "Took over the workdir from a run that ended without releasing it" in runs.by_step["kill while copying"].stdout
    )


def test_a_run_killed_while_copying_leaves_only_a_hidden_copy_which_the_next_push_removes(runs: Runs):
    # The run killed after its rename found the hidden copy of the run before and cleaned it (asserted below,
    # from what is left); the run killed while copying had marked the abandoned Pusher execution failed.
    after_rename = runs.by_step["kill after rename"].stdout
    assert "as failed in ML Metadata: Pusher." in after_rename
    assert not list(runs.serving.glob(".incoming-*"))


def test_sigterm_and_sigint_stop_the_run_in_one_line_with_130_and_143(runs: Runs):
    terminated = runs.by_step["terminate in MlflowTracker"]
    assert terminated.returncode == 143, terminated.stdout + terminated.stderr
    [line] = [line for line in terminated.stdout.splitlines() if line.startswith("Run interrupted")]
    assert line.startswith("Run interrupted at MlflowTracker by SIGTERM after ")
    assert "Traceback" not in terminated.stdout + terminated.stderr
    interrupted = runs.by_step["interrupt at Evaluator"]
    assert interrupted.returncode == 130, interrupted.stdout + interrupted.stderr
    assert "Run interrupted at Evaluator by SIGINT after " in interrupted.stdout
    assert "Traceback" not in interrupted.stdout + interrupted.stderr
    outcome = last_outcome(runs.workdir, "iris")
    assert outcome.status == "succeeded"  # the plain run's


def test_a_second_run_on_the_workdir_is_refused_while_the_first_runs(runs: Runs):
    second = runs.by_step["second at once"]
    assert second.returncode == 2
    assert second.stderr.startswith(
        f"tfpipe: workdir {runs.workdir} is in use by another tfpipe run (pid {runs.first_pid}, started "
    )
    assert second.stdout == ""


def test_exactly_one_version_is_pushed_and_nothing_hidden_is_left(runs: Runs):
    plain = runs.by_step["plain"]
    assert plain.returncode == 0, plain.stdout + plain.stderr
    [version] = [path for path in runs.serving.iterdir() if not path.name.startswith(".")]
    assert sorted(path.name for path in (runs.workdir / "serving").rglob(".*")) == [".push.lock"]
    outcome = last_outcome(runs.workdir, "iris")
    assert outcome.results.pushed_model == str(version)
    # The version records the one TFX model trained, the first run's.
    [trainer_model] = (runs.workdir / "iris" / "pipeline_root" / "Trainer" / "model").iterdir()
    assert json.loads((version / PUSH_RECORD).read_text())["model_uri"] == str(trainer_model)
    # The interrupted runs pushed nothing new: their Pusher found the version already there.
    assert "Pushed model" not in runs.by_step["terminate in MlflowTracker"].stdout


def test_ml_metadata_has_nothing_left_running_and_every_push_is_the_one_version(runs: Runs):
    store = metadata_store.MetadataStore(
        metadata.sqlite_metadata_connection_config(str(runs.workdir / "iris" / "metadata.sqlite"))
    )
    executions = store.get_executions()
    unfinished = (metadata_store_pb2.Execution.RUNNING, metadata_store_pb2.Execution.NEW)
    assert [execution.id for execution in executions if execution.last_known_state in unfinished] == []
    pushed = {
        artifact.custom_properties["pushed_version"].string_value
        for artifact in store.get_artifacts_by_type("PushedModel")
        if artifact.custom_properties["pushed"].int_value == 1
    }
    [version] = [path.name for path in runs.serving.iterdir() if not path.name.startswith(".")]
    assert pushed == {version}
    trainers = [execution.last_known_state for execution in executions if execution.type.endswith("Trainer")]
    assert trainers.count(metadata_store_pb2.Execution.COMPLETE) == 1  # trained once, then cached
    assert set(trainers) == {metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED}


def test_mlflow_agrees_killed_runs_and_one_registered_version(runs: Runs):
    client = mlflow.MlflowClient(f"sqlite:///{runs.workdir / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("iris")
    recorded = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    # A run killed with -9 cannot record its end: the next run marks the run the gate had started KILLED.
    assert [run.info.status for run in recorded] == ["KILLED"] * 5 + ["FINISHED"]
    assert [run.data.tags["failure_reason"] for run in recorded[:3]] == [f"The tfpipe run {ABANDONED}."] * 3
    assert recorded[3].data.tags["failure_reason"] == "Interrupted at MlflowTracker by SIGTERM."
    assert recorded[4].data.tags["failure_reason"] == "Interrupted at Evaluator by SIGINT."
    [version] = [path.name for path in runs.serving.iterdir() if not path.name.startswith(".")]
    [registered] = client.search_model_versions("name = 'iris'")
    assert registered.tags[TAG_TF_SERVING_VERSION] == version
    assert registered.run_id == recorded[-1].info.run_id
    assert client.get_model_version_by_alias("iris", CHAMPION_ALIAS).version == registered.version
