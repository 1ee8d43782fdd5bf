"""Runs a pipeline in this process (LocalDagRunner, BeamDagRunner) and reports each component's progress."""

from __future__ import annotations

import concurrent.futures
import logging
import re
import time
import traceback
from collections.abc import Callable

from absl import logging as absl_logging
from tfx.orchestration.pipeline import Pipeline
from tfx.orchestration.portable.tfx_runner import IrBasedRunner

from components import faults, mlflow_tracking
from components.training_progress import PROGRESS_LOGGER, TrainingProgress, TrialProgress
from components.validation_gate import DataAnomaliesError
from pipelines import interrupts
from pipelines.config import PipelineConfig
from pipelines.factory import run_context_for
from pipelines.progress import ComponentRun, ProgressCallback
from pipelines.summary import latest_pipeline_run_id
from pipelines.workdir import Workdir

# The component whose epochs reach MLflow live: the Tuner's trials have child runs of their own.
TRAINER = "Trainer"


class LiveEpochs:
    """Logs each epoch the Trainer ends to the pipeline run's MLflow run as it ends (the run the
    DataValidationGate started on accepting the data; MlflowTracker adds the epochs this missed).

    It logs on a thread of its own, so that training never waits on the tracking server, and only what
    can be logged: no started run (a tracking server down) is left to MlflowTracker, which says why."""

    def __init__(self, tracking_uri: str, pipeline_name: str, pipeline_run_id: Callable[[], str | None]):
        self._tracking_uri = tracking_uri
        self._pipeline_name = pipeline_name
        self._find_pipeline_run_id = pipeline_run_id
        self._pipeline_run_id: str | None = None
        self._run_id: str | None = None
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-epochs")

    @classmethod
    def of(cls, config: PipelineConfig, workdir: Workdir) -> LiveEpochs:
        metadata_path = str(workdir.metadata_path.resolve())
        return cls(workdir.tracking()[0], config.name, lambda: latest_pipeline_run_id(metadata_path))

    def epoch_ended(self, progress: TrainingProgress, ended_at: float) -> None:
        # Looked up here, not on the worker: ML Metadata logs through absl, whose records reach
        # ComponentProgress, and a worker waiting on its lock while flush() holds it would never end.
        if self._pipeline_run_id is None:
            self._pipeline_run_id = self._find_pipeline_run_id()
        self._worker.submit(self._log, self._pipeline_run_id, progress, ended_at)

    def flush(self) -> None:
        """Waits until every epoch ended so far is logged (before MlflowTracker reads what is)."""
        self._worker.submit(lambda: None).result()

    def close(self) -> None:
        self._worker.shutdown(wait=True)

    def _log(self, pipeline_run_id: str | None, progress: TrainingProgress, ended_at: float) -> None:
        try:
            if self._run_id is None:
                runs = mlflow_tracking.runs_of(
                    self._tracking_uri, self._pipeline_name, {pipeline_run_id} if pipeline_run_id else set(), "RUNNING"
                )
                if not runs:
                    return
                self._run_id = runs[0].info.run_id
            mlflow_tracking.log_epoch(self._tracking_uri, self._run_id, progress.epoch - 1, progress.metrics, ended_at)
        except Exception:  # Shown live only: MlflowTracker logs the epochs from the training record all the same.
            logging.exception("Could not log epoch %d to MLflow.", progress.epoch)


class ComponentProgress(logging.Handler):
    """Follows a run through the runner's and launcher's log records, the only progress hook they offer,
    and the progress records of the component under way (PROGRESS_LOGGER: the Trainer's epochs).

    The message texts are those of TFX 1.16's local_dag_runner.py ("Component X is running."),
    beam/beam_dag_runner.py ("node X is running.") and portable/launcher.py (pinned in
    requirements/constraints.txt).
    """

    _STARTED = re.compile(r"(?:Component|node) (\S+) is running\.")
    _FINISHED = re.compile(r"(?:Component|node) (\S+) is finished\.")
    _CACHED = re.compile(r"A cached execution (\d+) is used\.")
    _EXECUTING = re.compile(r"Going to run a new execution (\d+)$")

    def __init__(self, on_progress: ProgressCallback, live_epochs: LiveEpochs | None = None):
        super().__init__(level=logging.INFO)
        self.components: dict[str, ComponentRun] = {}
        self.current: str | None = None
        self._on_progress = on_progress
        self._live_epochs = live_epochs
        # The search's trial under way (the Tuner trains a model per trial): shown before its epochs.
        self._trial: TrialProgress | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == PROGRESS_LOGGER:
            self._progress(record)
            return
        message = record.getMessage()
        if match := self._STARTED.match(message):
            self.current = match.group(1)
            self.components[self.current] = ComponentRun("running", time.monotonic())
            self._report(self.current)
            faults.point(f"before:{self.current}")
        elif self.current is None:
            return
        elif match := self._CACHED.match(message):
            self.components[self.current].status = "cached"
            self.components[self.current].execution_id = int(match.group(1))
        elif match := self._EXECUTING.match(message):
            self.components[self.current].execution_id = int(match.group(1))
        elif self._FINISHED.match(message):
            finished = self.current
            self._finish(finished, "cached" if self.components[finished].status == "cached" else "done")
            faults.point(f"after:{finished}")

    def _progress(self, record: logging.LogRecord) -> None:
        progress = getattr(record, "progress", None)
        if self.current is None or not isinstance(progress, (TrainingProgress, TrialProgress)):
            return
        component = self.components[self.current]
        if isinstance(progress, TrialProgress):
            self._trial = progress
            component.detail = progress.detail()
            if progress.score is not None or progress.failed:
                component.milestone, component.every_milestone = str(progress), True
        else:
            trial = f"{self._trial.detail()} · " if self._trial else ""
            component.detail = trial + progress.detail()
            if progress.epoch_done and not self._trial:
                component.milestone = str(progress)
        try:
            self._report(self.current)
            live = self._live_epochs if self.current == TRAINER else None
            if live is not None and isinstance(progress, TrainingProgress) and progress.epoch_done:
                live.epoch_ended(progress, record.created)
        except Exception:  # Progress is only shown (and logged live): failing must not fail the Trainer.
            self.handleError(record)

    def fail_current(self, status: str = "failed") -> None:
        """Ends the component under way as failed (or `status`: interrupted)."""
        if self.current is not None:
            self._finish(self.current, status)

    def _finish(self, current: str, status: str) -> None:
        if current == TRAINER and self._live_epochs is not None:
            self._live_epochs.flush()
        self._trial = None
        component = self.components[current]
        component.status = status
        component.seconds = time.monotonic() - component.started
        self._report(current)
        self.current = None

    def _report(self, current: str) -> None:
        self._on_progress(current, self.components[current])


def run_pipeline(
    pipeline: Pipeline, runner: IrBasedRunner, on_progress: ProgressCallback, live_epochs: LiveEpochs | None = None
) -> dict[str, ComponentRun]:
    """Runs every component in order; returns what each did. Raises what a failing component raised.
    `live_epochs`: where the Trainer's epochs go as they end."""
    progress = ComponentProgress(on_progress, live_epochs)
    absl_logging.set_verbosity(absl_logging.INFO)
    progress_logger = logging.getLogger(PROGRESS_LOGGER)
    progress_logger.setLevel(logging.INFO)  # below the root logger's WARNING, which would drop its records
    loggers = [logging.getLogger("absl"), progress_logger]
    for logger in loggers:
        logger.addHandler(progress)
    try:
        runner.run(pipeline)
    except BaseException as error:
        progress.fail_current("interrupted" if interrupts.as_interruption(error) else "failed")
        raise _component_error(error) from None
    finally:
        for logger in loggers:
            logger.removeHandler(progress)
        if live_epochs is not None:
            live_epochs.close()
    return progress.components


def _component_error(error: BaseException) -> BaseException:
    # BeamDagRunner runs each component in a Beam DoFn, and Beam re-raises a failure as
    # a RuntimeError naming the step (marked `_tagged_with_step`) raised while handling
    # the component's own error: that one is what the CLI reports (DataAnomaliesError...).
    while getattr(error, "_tagged_with_step", False) and error.__context__ is not None:
        error = error.__context__
    return error


def record_failure(
    config: PipelineConfig,
    workdir: Workdir,
    runner: str,
    component: str | None,
    error: BaseException,
    started_at: float | None = None,
) -> None:
    """Records a run that a component failed as a FAILED MLflow run, since no component after
    the failure runs to do it. (DataValidationGate and MlflowTracker record their own failures.)
    `started_at`: when the command started (RunContext.started_at)."""
    if component == "MlflowTracker" or isinstance(error, DataAnomaliesError):
        return
    tracking_uri, tracking_artifact_root = workdir.tracking()
    context = run_context_for(config, tracking_uri, tracking_artifact_root, runner, started_at)
    pipeline_run_id = latest_pipeline_run_id(str(workdir.metadata_path.resolve())) or "unknown"
    run_id = mlflow_tracking.start_run(context, pipeline_run_id, tags={})
    reason = f"{component or 'The pipeline'} failed: {type(error).__name__}: {error}"
    mlflow_tracking.fail_run(tracking_uri, run_id, reason, details="".join(traceback.format_exception(error)))


def record_interruption(
    config: PipelineConfig,
    workdir: Workdir,
    runner: str,
    where: str,
    signal_name: str,
    pipeline_run_id: str | None,
    started_at: float | None = None,
) -> None:
    """Records a run stopped by a signal as a KILLED MLflow run naming where it stopped: the run
    MlflowTracker had started, if it was under way, else a new one (no component after it runs)."""
    tracking_uri, tracking_artifact_root = workdir.tracking()
    reason = f"Interrupted at {where} by {signal_name}."
    if pipeline_run_id:
        runs = mlflow_tracking.runs_of(tracking_uri, config.name, {pipeline_run_id})
        for run in runs:
            if run.info.status == "RUNNING":
                mlflow_tracking.fail_run(tracking_uri, run.info.run_id, reason, status=mlflow_tracking.KILLED)
        if runs:  # recorded: killed now, or ended by the component that started it
            return
    context = run_context_for(config, tracking_uri, tracking_artifact_root, runner, started_at)
    run_id = mlflow_tracking.start_run(context, pipeline_run_id or "unknown", tags={})
    mlflow_tracking.fail_run(tracking_uri, run_id, reason, status=mlflow_tracking.KILLED)
