"""What a run finds before it starts, holding the workdir's lock (pipelines/workdir.py): the MLflow
store created once, and what runs that ended without finishing (kill -9, a crash, Ctrl-C) left
half-done, closed so that ML Metadata and MLflow agree with what happened.

Holding the lock, no other `tfpipe run` uses the workdir, so an execution still RUNNING in ML
Metadata, or an MLflow run still RUNNING for one of this workdir's pipeline runs, belongs to a
run that ended: the execution is marked FAILED and the MLflow run KILLED, each with the reason.
(TFX's launcher marks a failed execution FAILED, but a killed process marks nothing.) What the
Pusher and the registry left is set right by the next push and the next MlflowTracker (serving/push.py,
components/mlflow_tracker.py).
"""

from __future__ import annotations

from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from components import mlflow_tracking

ABANDONED = "left running by a tfpipe run that ended before it finished"
# On an execution marked FAILED here: why.
FAILURE_PROPERTY = "tfpipe_failure_reason"
_UNFINISHED = (metadata_store_pb2.Execution.RUNNING, metadata_store_pb2.Execution.NEW)


def _store(metadata_path: str) -> metadata_store.MetadataStore:
    return metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))


def pipeline_run_ids(metadata_path: str) -> set[str]:
    """The TFX run ids of every pipeline run this ML Metadata store has seen."""
    if not Path(metadata_path).is_file():
        return set()
    return {context.name for context in _store(metadata_path).get_contexts_by_type("pipeline_run")}


def fail_unfinished_executions(metadata_path: str, reason: str = ABANDONED) -> list[str]:
    """Marks every execution still RUNNING (or NEW) FAILED, with `reason`; returns their components' names.
    Call only when no run is under way (holding the workdir's lock, or from the run that left them)."""
    if not Path(metadata_path).is_file():
        return []
    store = _store(metadata_path)
    unfinished = [execution for execution in store.get_executions() if execution.last_known_state in _UNFINISHED]
    for execution in unfinished:
        execution.last_known_state = metadata_store_pb2.Execution.FAILED
        execution.custom_properties[FAILURE_PROPERTY].string_value = reason
    if unfinished:
        store.put_executions(unfinished)
    return [_component(store, execution) for execution in unfinished]


def _component(store: metadata_store.MetadataStore, execution: metadata_store_pb2.Execution) -> str:
    nodes = [context.name for context in store.get_contexts_by_execution(execution.id) if context.type == "node"]
    return nodes[0].rpartition(".")[2] if nodes else execution.type.rpartition(".")[2]


def kill_unfinished_mlflow_runs(tracking_uri: str, pipeline_name: str, run_ids: set[str], reason: str) -> int:
    """Marks the MLflow runs of these pipeline runs still RUNNING as KILLED, with `reason`; returns how many."""
    runs = mlflow_tracking.runs_of(tracking_uri, pipeline_name, run_ids, status="RUNNING")
    for run in runs:
        mlflow_tracking.fail_run(tracking_uri, run.info.run_id, reason, status=mlflow_tracking.KILLED)
    return len(runs)


def before_run(pipeline_name: str, metadata_path: str, tracking_uri: str) -> tuple[set[str], list[str]]:
    """Creates the MLflow store once, closes what ended runs left unfinished. Returns the pipeline run
    ids known before this run (the run's own id is the one that appears next) and one line per thing
    closed, for the console."""
    mlflow_tracking.init_store(tracking_uri)
    known = pipeline_run_ids(metadata_path)
    notes = []
    components = fail_unfinished_executions(metadata_path)
    if components:
        notes.append(
            f"Marked {len(components)} execution(s) {ABANDONED} as failed in ML Metadata: {', '.join(components)}."
        )
    killed = kill_unfinished_mlflow_runs(tracking_uri, pipeline_name, known, f"The tfpipe run {ABANDONED}.")
    if killed:
        notes.append(f"Marked {killed} MLflow run(s) {ABANDONED} as KILLED.")
    return known, notes
