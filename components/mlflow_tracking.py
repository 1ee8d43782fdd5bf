"""MLflow runs for pipeline runs: one MLflow run per TFX pipeline run, in an experiment
named after the pipeline. Used by the components that record runs (MlflowTracker on
success, DataValidationGate on rejected data) and by the CLI for other failures."""

import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator

import mlflow
from mlflow.entities import RunStatus
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_SOURCE_NAME, MLFLOW_SOURCE_TYPE

# Tags every pipeline run carries.
TAG_PIPELINE_RUN_ID = "tfx.pipeline_run_id"
TAG_DATA_DIR = "data.dir"
TAG_DATA_FINGERPRINT = "data.fingerprint"
TAG_CODE_VERSION = "mlflow.source.git.commit"
TAG_RUNNER = "tfx.runner"
TAG_FAILURE_REASON = "failure_reason"
TAG_BLESSED = "blessed"
# MLflow 3's UI opens an experiment in its GenAI view unless the experiment says it trains models.
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
RUNNING_OUTCOME = "running"
# How fail_run ends a run: FAILED (a component failed) or KILLED (a signal stopped the run).
FAILED = RunStatus.FAILED
KILLED = RunStatus.KILLED


def client(tracking_uri: str) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def init_store(tracking_uri: str) -> None:
    """Creates an embedded (sqlite) store's tables once, under a lock beside the database file.

    MLflow creates them on first use, in migrations that two processes starting on a new store
    at once both run: one fails (`table _alembic_tmp_experiments already exists`). Under the lock
    the second finds the tables made. A tracking server initialises its own store: nothing to do."""
    if not tracking_uri.startswith("sqlite:///"):
        return
    database = tracking_uri.removeprefix("sqlite:///")
    with open(f"{database}.init.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            client(tracking_uri).search_experiments(max_results=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
        if experiment.tags.get(TAG_EXPERIMENT_KIND) != MODEL_TRAINING_KIND:  # a store from before the tag
            mlflow_client.set_experiment_tag(experiment.experiment_id, TAG_EXPERIMENT_KIND, MODEL_TRAINING_KIND)
        return experiment.experiment_id
    location = os.path.join(artifact_root, pipeline_name) if artifact_root else None
    return mlflow_client.create_experiment(
        pipeline_name, artifact_location=location, tags={TAG_EXPERIMENT_KIND: MODEL_TRAINING_KIND}
    )


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What the recording components (MlflowTracker, DataValidationGate) and the CLI's records of
    failed runs need to know of a run. It reaches a component as one JSON parameter (to_json)."""

    tracking_uri: str
    """The MLflow store; empty: the MLFLOW_TRACKING_URI where the component runs (see resolved)."""
    artifact_root: str
    """Where an embedded store keeps artifacts; empty for a tracking server."""
    pipeline_name: str
    config: dict
    """The resolved config's tunable values (PipelineConfig.to_dict), logged as params."""
    data_dir: str
    code_version: str
    """The repository's git commit."""
    runner: str
    started_at: float | None = None
    """When the command that runs the pipeline in its own process started (seconds since the
    epoch): MLflow's run starts then, so its duration is the one the console and `tfpipe runs`
    show, loading TensorFlow included. None where an orchestrator starts the run (its run id's time)."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RunContext":
        return cls(**json.loads(text))

    def resolved(self) -> "RunContext":
        """This context where a component runs. An empty tracking URI (a pipeline compiled for
        containers) is that environment's MLFLOW_TRACKING_URI, never a path of the machine that
        compiled it."""
        if self.tracking_uri:
            return self
        tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
        if not tracking_uri:
            raise RuntimeError("MLFLOW_TRACKING_URI is not set where the components run; set it to the MLflow server.")
        return dataclasses.replace(self, tracking_uri=tracking_uri)


def start_run(context: RunContext, pipeline_run_id: str, tags: dict[str, str]) -> str:
    """Starts the MLflow run of one pipeline run; logs the resolved config as params. Returns its id.

    A pipeline run has one MLflow run: when a component started it already (DataValidationGate, as
    the data is accepted, so that the Trainer's epochs reach it live), this one adds its `tags` to it.

    The run starts when the pipeline run did (so MLflow's duration is the pipeline's, not the
    tracker's: the command's start where it ran the pipeline, see RunContext.started_at), and is
    named for what a runs list needs to tell runs apart: pipeline, model, data, and the outcome
    once known (name_outcome)."""
    mlflow_client = client(context.tracking_uri)
    running = runs_of(context.tracking_uri, context.pipeline_name, {pipeline_run_id}, status="RUNNING")
    if running:
        run_id = running[0].info.run_id
        mlflow_client.log_batch(run_id, tags=[mlflow.entities.RunTag(key, value) for key, value in tags.items()])
        return run_id
    run = mlflow_client.create_run(
        experiment_id(context.tracking_uri, context.artifact_root, context.pipeline_name),
        start_time=int(context.started_at * 1000) if context.started_at else _pipeline_start_ms(pipeline_run_id),
        run_name=f"{_run_title(context)}: {RUNNING_OUTCOME}",
        tags={
            TAG_PIPELINE_RUN_ID: pipeline_run_id,
            TAG_DATA_DIR: context.data_dir,
            TAG_CODE_VERSION: context.code_version,
            # MLflow's Source column: what ran.
            MLFLOW_SOURCE_NAME: f"tfpipe run {context.pipeline_name}",
            MLFLOW_SOURCE_TYPE: "LOCAL",
            TAG_RUNNER: context.runner,
            **tags,
        },
    )
    params = [mlflow.entities.Param(key, str(value)) for key, value in flatten(context.config).items()]
    mlflow_client.log_batch(run.info.run_id, params=params)
    mlflow_client.log_inputs(run.info.run_id, datasets=[_training_data(context, tags.get(TAG_DATA_FINGERPRINT, ""))])
    return run.info.run_id


def _training_data(context: RunContext, fingerprint: str) -> mlflow.entities.DatasetInput:
    """The data folder as MLflow's dataset of the run (its Datasets column): named by the folder, its
    digest from ExampleGen's fingerprint of the files, so a changed file is a new dataset."""
    dataset = mlflow.entities.Dataset(
        name=os.path.basename(os.path.normpath(context.data_dir)) or context.data_dir,
        digest=hashlib.sha256(fingerprint.encode()).hexdigest()[:16],
        source_type="local",
        source=json.dumps({"uri": context.data_dir}),
    )
    return mlflow.entities.DatasetInput(dataset, tags=[mlflow.entities.InputTag(MLFLOW_DATASET_CONTEXT, "training")])


def name_outcome(tracking_uri: str, run_id: str, outcome: str) -> None:
    """Ends the run's name with its outcome ("blessed, pushed 1795...", "not blessed", "failed")."""
    mlflow_client = client(tracking_uri)
    title = mlflow_client.get_run(run_id).info.run_name.removesuffix(f": {RUNNING_OUTCOME}")
    mlflow_client.update_run(run_id, name=f"{title}: {outcome}")


def _run_title(context: RunContext) -> str:
    """`<pipeline> <model> [on <data folder>]`: the model by its config's name or architecture."""
    model = context.config.get("model", {})
    described = model.get("name") or model.get("architecture") or ""
    if not described and "hidden_units" in model:
        described = "mlp " + "-".join(map(str, model["hidden_units"])) if model["hidden_units"] else "softmax"
    data = os.path.basename(os.path.normpath(context.data_dir)) or context.data_dir
    # The shipped data is in the folder named like the pipeline: say only when it is other data.
    on_data = f"on {data}" if data != context.pipeline_name else ""
    return " ".join(part for part in (context.pipeline_name, described, on_data) if part)


def _pipeline_start_ms(pipeline_run_id: str) -> int:
    # TFX's local and Beam runners name a run by the time it started (ISO format); other
    # orchestrators by their own ids: then now, the tracker's start, is the best known.
    try:
        started = datetime.datetime.fromisoformat(pipeline_run_id)
    except ValueError:
        return int(time.time() * 1000)
    return int(started.timestamp() * 1000)


def log_epoch(tracking_uri: str, run_id: str, epoch: int, metrics: dict[str, float], ended_at: float) -> None:
    """One epoch's metrics (Keras' names, `epoch` counted from 0 as history.csv counts it) at the time
    it ended (seconds since the epoch)."""
    at = int(ended_at * 1000)
    client(tracking_uri).log_batch(
        run_id, metrics=[mlflow.entities.Metric(name, value, at, epoch) for name, value in metrics.items()]
    )


def end_at(tracking_uri: str, run_id: str, ended_at: float) -> None:
    """Moves the run's end to `ended_at` (seconds since the epoch), keeping its status: the command
    that ran the pipeline ends it when its own record is written, after the tracker finished."""
    mlflow_client = client(tracking_uri)
    mlflow_client.set_terminated(run_id, mlflow_client.get_run(run_id).info.status, end_time=int(ended_at * 1000))


def fail_run(tracking_uri: str, run_id: str, reason: str, details: str | None = None, status: int = FAILED) -> None:
    """Marks a run FAILED (or `status`: KILLED) with its one-sentence reason (and the full text as an artifact)."""
    mlflow_client = client(tracking_uri)
    # The name is a convenience: the status and reason below are what count.
    with contextlib.suppress(Exception):
        name_outcome(tracking_uri, run_id, "killed" if status == KILLED else "failed")
    mlflow_client.set_tag(run_id, TAG_FAILURE_REASON, reason[:5000])
    if details:
        mlflow_client.log_text(run_id, details, "failure.txt")
    mlflow_client.set_terminated(run_id, RunStatus.to_string(status))


def runs_of(tracking_uri: str, pipeline_name: str, pipeline_run_ids: set[str], status: str = "") -> list:
    """The MLflow runs of these TFX pipeline runs (by tag), those with `status` (RUNNING...) only if given."""
    mlflow_client = client(tracking_uri)
    experiment = mlflow_client.get_experiment_by_name(pipeline_name)
    if experiment is None or not pipeline_run_ids:
        return []
    conditions = [f"attributes.status = '{status}'"] if status else []
    if len(pipeline_run_ids) == 1:
        conditions.append(f"tags.`{TAG_PIPELINE_RUN_ID}` = '{next(iter(pipeline_run_ids))}'")
    runs = mlflow_client.search_runs([experiment.experiment_id], filter_string=" and ".join(conditions))
    return [run for run in runs if run.data.tags.get(TAG_PIPELINE_RUN_ID) in pipeline_run_ids]


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """{"model": {"l2": 0.1}} -> {"model.l2": 0.1}, the form `--set` uses."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = ",".join(map(str, value)) if isinstance(value, list) else value
    return flat
