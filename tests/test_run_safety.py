"""One run per workdir, MLflow's store created once, pushes that are idempotent and survive a kill,
and what a killed run left closed by the next one; without a pipeline run (issue 16).
tests/test_fault_injection.py kills real runs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from conftest import REPO_ROOT, run_tfpipe
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components import mlflow_tracking
from components.push_executor import PushExecutor
from pipelines import recovery
from pipelines.workdir import RUN_LOCK, Workdir, WorkdirBusyError
from serving.push import PUSH_RECORD, push_model, pushed_model_uri

# Holds a workdir's run lock until killed, as a `tfpipe run` does.
HOLD_LOCK = """
import sys, time
from pathlib import Path
from pipelines.workdir import Workdir
with Workdir(Path(sys.argv[1]), "iris").run_lock("tfpipe run iris"):
    print("held", flush=True)
    time.sleep(600)
"""


def _python(code: str, *args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=REPO_ROOT, env={**os.environ, **(env or {})}, text=True, **kwargs
    )


@pytest.fixture
def lock_holder(tmp_path):
    holder = _python(HOLD_LOCK, str(tmp_path), stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "held"
    yield holder
    holder.kill()
    holder.wait()


def test_a_second_run_on_a_workdir_is_refused_naming_the_first(tmp_path, lock_holder):
    with pytest.raises(WorkdirBusyError) as busy, Workdir(tmp_path, "iris").run_lock("tfpipe run iris"):
        pass
    message = str(busy.value)
    assert f"workdir {tmp_path} is in use by another tfpipe run (pid {lock_holder.pid}, started 20" in message
    assert "tfpipe run iris); wait for it to finish, or give this run another --workdir." in message
    # Through the CLI: one sentence, exit status 2, before TensorFlow loads.
    result = run_tfpipe("run", "iris", "--workdir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"tfpipe: {message}"


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path, lock_holder):
    lock_holder.send_signal(signal.SIGKILL)
    lock_holder.wait()
    with Workdir(tmp_path, "iris").run_lock("tfpipe run iris") as left:
        assert left["pid"] == lock_holder.pid and left["command"] == "tfpipe run iris"
        assert json.loads((tmp_path / RUN_LOCK).read_text())["pid"] == os.getpid()
    # Released cleanly: the next holder finds nothing left.
    with Workdir(tmp_path, "iris").run_lock("tfpipe run iris") as left:
        assert left is None


def test_a_new_mlflow_store_is_created_once_by_runs_starting_together(tmp_path):
    # Without the lock, MLflow's migrations race: `table _alembic_tmp_experiments already exists`.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = "import sys\nfrom components.mlflow_tracking import init_store\ninit_store(sys.argv[1])\n"
    starters = [_python(code, uri, stderr=subprocess.PIPE) for _ in range(3)]
    errors = [starter.communicate(timeout=300)[1] for starter in starters]
    assert [starter.returncode for starter in starters] == [0, 0, 0], errors
    assert mlflow.MlflowClient(uri).search_experiments()[0].name == "Default"


# A fake SavedModel: push_model copies folders; servers need saved_model.pb to see a version.
def _saved_model(root: Path, name: str) -> Path:
    model = root / name / "Format-Serving"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(name.encode())
    (model / "variables" / "variables.index").write_bytes(b"index")
    return model


def _versions(model_dir: Path) -> list[str]:
    return sorted(path.name for path in model_dir.iterdir() if not path.name.startswith("."))


def test_pushing_the_same_model_again_finds_its_version(tmp_path):
    model_dir = tmp_path / "serving" / "iris"
    first = push_model(_saved_model(tmp_path, "a"), model_dir, model_uri="/root/Trainer/model/7", model_id=7)
    assert json.loads((first / PUSH_RECORD).read_text())["model_id"] == 7
    assert pushed_model_uri(first) == "/root/Trainer/model/7"
    assert push_model(_saved_model(tmp_path, "a2"), model_dir, model_uri="/root/Trainer/model/7") == first
    second = push_model(_saved_model(tmp_path, "b"), model_dir, model_uri="/root/Trainer/model/9")
    assert int(second.name) > int(first.name)
    # Blessed again after another model was pushed, the first is pushed anew: it becomes the newest.
    third = push_model(_saved_model(tmp_path, "a3"), model_dir, model_uri="/root/Trainer/model/7")
    assert _versions(model_dir) == [first.name, second.name, third.name]


PUSH_AND_DIE = """
import sys
from pathlib import Path
from components import faults
from serving.push import push_model
push_model(
    Path(sys.argv[1]), Path(sys.argv[2]), model_uri="/root/Trainer/model/7",
    passed=lambda stage: faults.point(f"push:{stage}"),
)
"""


def test_a_push_killed_while_copying_is_cleaned_by_the_next(tmp_path):
    model_dir = tmp_path / "serving" / "iris"
    saved_model = _saved_model(tmp_path, "a")
    killed = _python(PUSH_AND_DIE, str(saved_model), str(model_dir), env={"TFPIPE_FAULT": "push:copied:KILL"})
    assert killed.wait(timeout=300) == -signal.SIGKILL
    [leftover] = model_dir.iterdir()
    assert leftover.name.startswith(".incoming-") and (leftover / PUSH_RECORD).is_file()

    version = push_model(saved_model, model_dir, model_uri="/root/Trainer/model/7")
    assert [path.name for path in model_dir.iterdir()] == [version.name]
    assert sorted(path.name for path in model_dir.parent.rglob(".*")) == [".push.lock"]


def _model(uri: Path) -> standard_artifacts.Model:
    model = standard_artifacts.Model()
    model.uri = str(uri)
    model.id = 7
    return model


def _run_push_executor(model, model_dir: Path, pushed_uri: Path) -> standard_artifacts.PushedModel:
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(pushed_uri)
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(model_dir))
    )
    PushExecutor().Do(
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_BLESSING_KEY: [blessing]},
        {standard_component_specs.PUSHED_MODEL_KEY: [pushed]},
        {standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)},
    )
    return pushed


def test_a_pusher_rerun_after_a_kill_between_its_rename_and_its_record_pushes_nothing_new(tmp_path):
    model_dir = tmp_path / "serving" / "iris"
    model = _model(_saved_model(tmp_path, "model").parent)
    # The first Pusher dies once its version is in place, before ML Metadata records it.
    code = (
        "import sys\nfrom pathlib import Path\nfrom test_run_safety import _model, _run_push_executor\n"
        "_run_push_executor(_model(Path(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3]))\n"
    )
    killed = _python(
        code,
        model.uri,
        str(model_dir),
        str(tmp_path / "pushed-1"),
        env={"TFPIPE_FAULT": "push:published:KILL", "PYTHONPATH": str(REPO_ROOT / "tests")},
    )
    assert killed.wait(timeout=300) == -signal.SIGKILL
    [version] = _versions(model_dir)

    pushed = _run_push_executor(model, model_dir, tmp_path / "pushed-2")
    assert _versions(model_dir) == [version]
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_version") == version
    assert pushed.get_string_custom_property("pushed_destination") == str(model_dir / version)


def _mlmd_with_an_unfinished_run(path: Path, run_id: str) -> int:
    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(str(path)))
    run_type = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline_run"))
    node_type = store.put_context_type(metadata_store_pb2.ContextType(name="node"))
    pusher_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="tfx.components.Pusher"))
    contexts = store.put_contexts(
        [
            metadata_store_pb2.Context(type_id=run_type, name=run_id),
            metadata_store_pb2.Context(type_id=node_type, name="iris.Pusher"),
        ]
    )
    running = metadata_store_pb2.Execution(type_id=pusher_type, last_known_state=metadata_store_pb2.Execution.RUNNING)
    done = metadata_store_pb2.Execution(type_id=pusher_type, last_known_state=metadata_store_pb2.Execution.COMPLETE)
    running_id, _ = store.put_executions([running, done])
    store.put_attributions_and_associations(
        [], [metadata_store_pb2.Association(context_id=context, execution_id=running_id) for context in contexts]
    )
    return running_id


def test_what_a_killed_run_left_running_is_closed_by_the_next(tmp_path):
    metadata_path = tmp_path / "metadata.sqlite"
    running_id = _mlmd_with_an_unfinished_run(metadata_path, "2026-11-23T10:00:00.000001")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    context = mlflow_tracking.RunContext(
        tracking_uri=tracking_uri,
        artifact_root=str(tmp_path / "artifacts"),
        pipeline_name="iris",
        config={},
        data_dir="data/iris",
        code_version="x",
        runner="local",
    )
    mlflow_tracking.init_store(tracking_uri)
    ours = mlflow_tracking.start_run(context, "2026-11-23T10:00:00.000001", tags={})
    # A run of another workdir tracked in the same store, under way: not ours to close.
    theirs = mlflow_tracking.start_run(context, "2026-11-23T10:00:05.000001", tags={})

    known, notes = recovery.before_run("iris", str(metadata_path), tracking_uri)

    assert known == {"2026-11-23T10:00:00.000001"}
    assert notes == [
        f"Marked 1 execution(s) {recovery.ABANDONED} as failed in ML Metadata: Pusher.",
        f"Marked 1 MLflow run(s) {recovery.ABANDONED} as KILLED.",
    ]
    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(str(metadata_path)))
    states = {execution.id: execution.last_known_state for execution in store.get_executions()}
    assert states[running_id] == metadata_store_pb2.Execution.FAILED
    assert sorted(states.values()) == [metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.FAILED]
    client = mlflow.MlflowClient(tracking_uri)
    assert client.get_run(ours).info.status == "KILLED"
    assert recovery.ABANDONED in client.get_run(ours).data.tags["failure_reason"]
    assert client.get_run(theirs).info.status == "RUNNING"
    # Nothing left to close the next time.
    assert recovery.before_run("iris", str(metadata_path), tracking_uri)[1] == []


def test_a_lock_file_alone_does_not_block(tmp_path):
    # A lock file a killed run left (with its pid) is no lock: only a live holder's flock is.
    (tmp_path / RUN_LOCK).write_text(json.dumps({"pid": 999999, "started": "then", "command": "tfpipe run iris"}))
    started = time.monotonic()
    with Workdir(tmp_path, "iris").run_lock("tfpipe run iris") as left:
        assert left["pid"] == 999999
    assert time.monotonic() - started < 1


def test_an_interrupted_run_is_killed_in_mlflow_naming_where(tmp_path):
    from pipelines.in_process import record_interruption
    from pipelines.registry import config_for

    workdir = Workdir(tmp_path, "iris")
    tracking_uri, artifact_root = workdir.tracking()
    mlflow_tracking.init_store(tracking_uri)
    context = mlflow_tracking.RunContext(
        tracking_uri=tracking_uri,
        artifact_root=artifact_root,
        pipeline_name="iris",
        config={},
        data_dir="data/iris",
        code_version="x",
        runner="local",
    )
    # Stopped inside MlflowTracker, which had started the run: that run is KILLED.
    started = mlflow_tracking.start_run(context, "2026-11-23T10:00:00.000001", tags={})
    record_interruption(config_for("iris"), workdir, "local", "MlflowTracker", "SIGTERM", "2026-11-23T10:00:00.000001")
    client = mlflow.MlflowClient(tracking_uri)
    run = client.get_run(started)
    assert run.info.status == "KILLED"
    assert run.data.tags["failure_reason"] == "Interrupted at MlflowTracker by SIGTERM."
    # Stopped before any run was recorded: a KILLED run is recorded.
    record_interruption(config_for("iris"), workdir, "local", "Trainer", "SIGINT", "2026-11-23T11:00:00.000001")
    runs = mlflow_tracking.runs_of(tracking_uri, "iris", {"2026-11-23T11:00:00.000001"})
    assert [(run.info.status, run.data.tags["failure_reason"]) for run in runs] == [
        ("KILLED", "Interrupted at Trainer by SIGINT.")
    ]
