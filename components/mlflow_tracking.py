"""MLflow runs for pipeline runs: one MLflow run per TFX pipeline run, in an experiment
named after the pipeline. Used by the components that record runs (MlflowTracker on
success, DataValidationGate on rejected data) and by the CLI for other failures."""

import contextlib
import json
import os
from collections.abc import Iterator

import mlflow
from mlflow.entities import RunStatus

# Tags every pipeline run carries.
TAG_PIPELINE_RUN_ID = "tfx.pipeline_run_id"
TAG_DATA_DIR = "data.dir"
TAG_DATA_FINGERPRINT = "data.fingerprint"
TAG_CODE_VERSION = "mlflow.source.git.commit"
TAG_RUNNER = "tfx.runner"
TAG_FAILURE_REASON = "failure_reason"
TAG_BLESSED = "blessed"


def client(tracking_uri: str) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@contextlib.contextmanager
def fluent_tracking_uri(tracking_uri: str) -> Iterator[None]:
    """Points MLflow's fluent API (mlflow.start_run, log_model, load_model) at `tracking_uri`
    for the block only. mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI, so left
    set it would send every later run of this process's subprocesses to that store."""
    exported = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(exported)  # None unsets both the global and the variable


def experiment_id(tracking_uri: str, artifact_root: str, pipeline_name: str) -> str:
    """The pipeline's experiment, created on first use.

    `artifact_root` is where an embedded store keeps artifacts; empty when a
    tracking server decides (its --default-artifact-root / --artifacts-destination).
    """
    mlflow_client = client(tracking_uri)
    experiment = mlflow_client.get_experiment_by_name(pipeline_name)
    if experiment is not None:
        return experiment.experiment_id
    location = os.path.join(artifact_root, pipeline_name) if artifact_root else None
    return mlflow_client.create_experiment(pipeline_name, artifact_location=location)


def run_context(
    tracking_uri: str,
    artifact_root: str,
    pipeline_name: str,
    config: dict,
    data_dir: str,
    code_version: str,
    runner: str,
) -> str:
    """What the recording components need to know of a run, as one JSON component parameter."""
    return json.dumps(
        {
            "tracking_uri": tracking_uri,
            "artifact_root": artifact_root,
            "pipeline_name": pipeline_name,
            "config": config,
            "data_dir": data_dir,
            "code_version": code_version,
            "runner": runner,
        },
        sort_keys=True,
    )


def load_context(run_context_json: str) -> dict:
    """A run_context() JSON, read where a component runs. An empty tracking URI (a pipeline
    compiled for containers) is that environment's MLFLOW_TRACKING_URI, never a path of the
    machine that compiled it."""
    context = json.loads(run_context_json)
    if not context["tracking_uri"]:
        context["tracking_uri"] = os.environ.get("MLFLOW_TRACKING_URI", "")
        if not context["tracking_uri"]:
            raise RuntimeError("MLFLOW_TRACKING_URI is not set where the components run; set it to the MLflow server.")
    return context


def start_run(context: dict, pipeline_run_id: str, tags: dict[str, str]) -> str:
    """Starts the MLflow run of one pipeline run; logs the resolved config as params. Returns its id."""
    mlflow_client = client(context["tracking_uri"])
    run = mlflow_client.create_run(
        experiment_id(context["tracking_uri"], context["artifact_root"], context["pipeline_name"]),
        run_name=f"{context['pipeline_name']} {pipeline_run_id}",
        tags={
            TAG_PIPELINE_RUN_ID: pipeline_run_id,
            TAG_DATA_DIR: context["data_dir"],
            TAG_CODE_VERSION: context["code_version"],
            TAG_RUNNER: context["runner"],
            **tags,
        },
    )
    params = [mlflow.entities.Param(key, str(value)) for key, value in flatten(context["config"]).items()]
    mlflow_client.log_batch(run.info.run_id, params=params)
    return run.info.run_id


def fail_run(tracking_uri: str, run_id: str, reason: str, details: str | None = None) -> None:
    """Marks a run FAILED with its one-sentence reason (and the full text as an artifact)."""
    mlflow_client = client(tracking_uri)
    mlflow_client.set_tag(run_id, TAG_FAILURE_REASON, reason[:5000])
    if details:
        mlflow_client.log_text(run_id, details, "failure.txt")
    mlflow_client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """{"model": {"l2": 0.1}} -> {"model.l2": 0.1}, the form `--set` uses."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = ",".join(map(str, value)) if isinstance(value, list) else value
    return flat
