"""Runs a pipeline in this process with TFX's LocalDagRunner and reports each component's progress."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
import traceback
from typing import Callable

from absl import logging as absl_logging
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components import mlflow_tracking
from components.validation_gate import DataAnomaliesError
from pipelines.config import PipelineConfig
from pipelines.factory import create_pipeline, run_context_for
from pipelines.summary import latest_pipeline_run_id
from pipelines.workdir import Workdir

# Beam's DirectRunner in this process: on small data, worker processes cost
# more to start than they save (see the README's measurements).
IN_PROCESS_BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


@dataclasses.dataclass
class ComponentRun:
    """One component's part in a run."""

    status: str  # running | cached | done | failed
    started: float
    seconds: float | None = None
    execution_id: int | None = None


ProgressCallback = Callable[[str, ComponentRun], None]


class ComponentProgress(logging.Handler):
    """Follows a run through the launcher's log records, the only progress hook LocalDagRunner offers.

    The message texts are those of TFX 1.16's local_dag_runner.py and
    portable/launcher.py (pinned in requirements/constraints.txt).
    """

    _STARTED = re.compile(r"Component (\S+) is running\.")
    _FINISHED = re.compile(r"Component (\S+) is finished\.")
    _CACHED = re.compile(r"A cached execution (\d+) is used\.")
    _EXECUTING = re.compile(r"Going to run a new execution (\d+)$")

    def __init__(self, on_progress: ProgressCallback):
        super().__init__(level=logging.INFO)
        self.components: dict[str, ComponentRun] = {}
        self.current: str | None = None
        self._on_progress = on_progress

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if match := self._STARTED.match(message):
            self.current = match.group(1)
            self.components[self.current] = ComponentRun("running", time.monotonic())
            self._report()
        elif self.current is None:
            return
        elif match := self._CACHED.match(message):
            self.components[self.current].status = "cached"
            self.components[self.current].execution_id = int(match.group(1))
        elif match := self._EXECUTING.match(message):
            self.components[self.current].execution_id = int(match.group(1))
        elif self._FINISHED.match(message):
            self._finish("cached" if self.components[self.current].status == "cached" else "done")

    def fail_current(self) -> None:
        if self.current is not None:
            self._finish("failed")

    def _finish(self, status: str) -> None:
        component = self.components[self.current]
        component.status = status
        component.seconds = time.monotonic() - component.started
        self._report()
        self.current = None

    def _report(self) -> None:
        self._on_progress(self.current, self.components[self.current])


RUNNER = "local"


def run_pipeline(
    config: PipelineConfig,
    workdir: Workdir,
    on_progress: ProgressCallback,
) -> dict[str, ComponentRun]:
    """Runs every component in order; returns what each did. Raises what a failing component raised."""
    tracking_uri, tracking_artifact_root = workdir.tracking()
    pipeline = create_pipeline(
        config,
        pipeline_root=str(workdir.pipeline_root.resolve()),
        serving_dir=str(workdir.serving_dir.resolve()),
        tracking_uri=tracking_uri,
        tracking_artifact_root=tracking_artifact_root,
        metadata_path=str(workdir.metadata_path.resolve()),
        beam_pipeline_args=IN_PROCESS_BEAM_ARGS,
        runner=RUNNER,
    )
    progress = ComponentProgress(on_progress)
    absl_logging.set_verbosity(absl_logging.INFO)
    absl_logger = logging.getLogger("absl")
    absl_logger.addHandler(progress)
    try:
        LocalDagRunner().run(pipeline)
    except BaseException:
        progress.fail_current()
        raise
    finally:
        absl_logger.removeHandler(progress)
    return progress.components


def record_failure(config: PipelineConfig, workdir: Workdir, component: str | None, error: BaseException) -> None:
    """Records a run that a component failed as a FAILED MLflow run, since no component after
    the failure runs to do it. (DataValidationGate and MlflowTracker record their own failures.)"""
    if component == "MlflowTracker" or isinstance(error, DataAnomaliesError):
        return
    tracking_uri, tracking_artifact_root = workdir.tracking()
    context = json.loads(run_context_for(config, tracking_uri, tracking_artifact_root, RUNNER))
    pipeline_run_id = latest_pipeline_run_id(str(workdir.metadata_path.resolve())) or "unknown"
    run_id = mlflow_tracking.start_run(context, pipeline_run_id, tags={})
    reason = f"{component or 'The pipeline'} failed: {type(error).__name__}: {error}"
    mlflow_tracking.fail_run(tracking_uri, run_id, reason, details="".join(traceback.format_exception(error)))
