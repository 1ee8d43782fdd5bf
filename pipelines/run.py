"""`tfpipe run`: runs a pipeline on this machine, start to end, and keeps its record.

`execute` owns everything around the components: the workdir's run lock, the up-to-date check,
the run folder, the log the noisy TF/TFX output goes to, and the run's record (`RunOutcome`,
written to the run folder). What a person sees is the caller's: it passes a `RunObserver`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import signal
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Protocol, TextIO

from components import tf_setup
from pipelines import history, interrupts, up_to_date
from pipelines.config import PipelineConfig
from pipelines.outcome import RunOutcome
from pipelines.progress import ComponentRun
from pipelines.run_log import output_to_log
from pipelines.workdir import Workdir

# `tfpipe run --runner`: the modules that run a pipeline on this machine, each with a
# run_pipeline(config, workdir, beam_pipeline_args, on_progress, compare_with_blessed, started_at).
RUNNERS = {"local": "pipelines.local_runner", "beam": "pipelines.beam_runner"}
# The step before the first component, as the console shows it.
LOADING_STEP = "load TensorFlow and TFX"
# Class names a sentence about a label names before "...".
_CLASSES_SHOWN = 5


@dataclasses.dataclass(frozen=True)
class RunRequest:
    config: PipelineConfig
    workdir: Workdir
    runner: str = "local"
    """A key of RUNNERS."""
    beam_args: list[str] = dataclasses.field(default_factory=list)
    """The Beam pipeline options every component's Beam pipeline gets."""
    rerun: bool = False
    """Run even when nothing changed since the last successful run."""


@dataclasses.dataclass(frozen=True)
class UpToDate:
    """Nothing changed since the last successful run, whose folder and record these are: nothing ran."""

    run_dir: Path
    last: RunOutcome
    seconds: float


class RunObserver(Protocol):
    """What the caller shows of a run while it goes."""

    def started(self, terminal: TextIO, log_path: Path, took_over: dict | None) -> None:
        """The run has its folder; from now on stdout and stderr go to `log_path` and `terminal` is the
        terminal. `took_over`: what a run that ended without releasing the workdir wrote in its lock."""

    def step(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A piece of work that is not a component (loading TensorFlow)."""

    def component(self, name: str, run: ComponentRun) -> None:
        """A component started, made progress or ended."""

    def notice(self, text: str) -> None:
        """A line worth reading (what an earlier, unfinished run left and this one closed)."""

    def finished(self, outcome: RunOutcome) -> None:
        """The run ended and its record is written."""


def load_runner(name: str) -> ModuleType:
    """The runner module; importing it loads TensorFlow and TFX (seconds)."""
    return importlib.import_module(RUNNERS[name])


def execute(request: RunRequest, observer: RunObserver) -> RunOutcome | UpToDate:
    """Runs the pipeline unless it is up to date; returns its record, written to its run folder.

    Raises WorkdirBusyError when another run holds the workdir, and Interrupted when a signal
    arrives after the record is written (before that, an interrupted run is an outcome)."""
    started, started_at = time.monotonic(), time.time()
    config, workdir = request.config, request.workdir
    # One run per workdir; Ctrl-C and SIGTERM stop the run where it is (pipelines/interrupts.py).
    with workdir.run_lock(f"tfpipe run {config.name}") as took_over, interrupts.raise_on_signals():
        run_fingerprint = _fingerprint(request)
        if not request.rerun and run_fingerprint is not None:
            unchanged = up_to_date.unchanged_since(config, workdir, run_fingerprint)
            if unchanged is not None:
                return UpToDate(*unchanged, seconds=time.monotonic() - started)
        run_dir = workdir.new_run_dir()
        log_path = run_dir / "run.log"
        with output_to_log(log_path) as terminal:
            observer.started(terminal, log_path, took_over)
            try:
                with observer.step(LOADING_STEP):
                    tf_setup.configure()
                    runner = load_runner(request.runner)
                if config.infers_schema and not config.schema_path.is_file():
                    _infer_schema(config, observer)
                    run_fingerprint = _fingerprint(request)
                outcome = _run_components(request, run_dir, runner, observer, started_at)
            except KeyboardInterrupt as error:  # before the pipeline started (_run_components reports its own)
                interruption = interrupts.as_interruption(error) or interrupts.Interrupted(signal.SIGINT)
                outcome = RunOutcome(
                    pipeline=config.name,
                    based_on=config.based_on or None,
                    status="interrupted",
                    interrupted_at=LOADING_STEP,
                    signal=interruption.signal_name,
                    exit_status=interruption.exit_status,
                )
            outcome.seconds = round(time.monotonic() - started, 1)
            _end_tracked_run(outcome, started_at)
            outcome.fingerprint = run_fingerprint
            outcome.log = str(log_path)
            outcome.write(run_dir)
            observer.finished(outcome)
    return outcome


def _infer_schema(config: PipelineConfig, observer: RunObserver) -> None:
    """Writes the schema TFDV infers from the data to `config.schema_path`, which this and every later
    run holds the data to (ImportSchemaGen, the data gate), and says where it is to be reviewed."""
    from pipelines.schema_review import write_schema_for_review

    with observer.step("infer the schema with TFDV"):
        write_schema_for_review(config.resolved_data_dir(), config.schema_path)
    observer.notice(
        f"Schema inferred from {config.resolved_data_dir()}: {config.schema_path}. Review it (tfpipe schema "
        f"{config.name} compares it with the data); later runs hold the data to it, and an edit re-runs the pipeline."
    )


def _fingerprint(request: RunRequest) -> str | None:
    """up_to_date.fingerprint of this run; None (the run goes ahead) when an input cannot be read:
    the pipeline then reports the problem in its own words."""
    try:
        return up_to_date.fingerprint(request.config, request.runner, request.beam_args, request.workdir.tracking()[0])
    except OSError:
        return None


def _end_tracked_run(outcome: RunOutcome, started_at: float) -> None:
    """Ends the run's MLflow run when the command's record ends, as it started when the command did
    (RunContext.started_at): one duration for the run in MLflow, on the console and in `tfpipe runs`."""
    if outcome.results.mlflow_run_id is None:
        return
    from components import mlflow_tracking

    try:
        mlflow_tracking.end_at(
            outcome.tracking_uri, outcome.results.mlflow_run_id, started_at + (outcome.seconds or 0.0)
        )
    except Exception:  # An unreachable tracking server must not fail a finished run.
        traceback.print_exc()


def _run_components(
    request: RunRequest, run_dir: Path, runner: ModuleType, observer: RunObserver, started_at: float
) -> RunOutcome:
    """Runs every component, reporting each to the observer; returns the outcome: succeeded, failed
    (with the failed component and the error) or interrupted (by SIGINT or SIGTERM: where, which
    signal, the exit status), and what the run produced (summary.summarize, which writes the data
    statistics page into `run_dir`). A failing component's traceback goes to the log.

    First the MLflow store is created if new, and what runs that ended unfinished left is closed
    (pipelines/recovery.py), each thing closed said to the observer in one line. `started_at`: when the
    command started (seconds since the epoch), MLflow's start of the run (RunContext.started_at)."""
    from components.validation_gate import InputDataError
    from pipelines import in_process, recovery, summary

    config, workdir = request.config, request.workdir
    components: dict[str, ComponentRun] = {}

    def record(name: str, component_run: ComponentRun) -> None:
        components[name] = component_run
        observer.component(name, component_run)

    runner_name = runner.__name__.rsplit(".", 1)[-1].removesuffix("_runner")
    metadata_path = str(workdir.metadata_path.resolve())
    outcome = RunOutcome(
        pipeline=config.name,
        based_on=config.based_on or None,
        status="succeeded",
        runner=runner_name,
        beam_pipeline_args=request.beam_args,
        config=config.to_dict(),
        tracking_uri=workdir.tracking()[0],
        label_key=config.label_key,
        label_classes=list(config.label_class_names()),
    )
    outcome.not_compared = label_change(outcome, workdir)
    if outcome.not_compared:
        observer.notice(outcome.not_compared)
    known_runs, notes = recovery.before_run(config.name, metadata_path, outcome.tracking_uri)
    for note in notes:
        observer.notice(note)
    outcome.recovered = notes
    try:
        runner.run_pipeline(
            config,
            workdir,
            request.beam_args,
            record,
            compare_with_blessed=outcome.not_compared is None,
            started_at=started_at,
        )
    except BaseException as error:  # A failing component: report it, keep its traceback in the log.
        interruption = interrupts.as_interruption(error)
        if interruption is None and not isinstance(error, Exception):
            raise  # SystemExit and the like
        traceback.print_exc()
        if interruption is not None:
            _interrupted(outcome, config, workdir, components, interruption, metadata_path, known_runs, started_at)
        else:
            failed = next((name for name, run in components.items() if run.status == "failed"), None)
            outcome.status, outcome.failed_component = "failed", failed
            outcome.error = f"{type(error).__name__}: {error}"
            if isinstance(error, InputDataError):
                outcome.error, outcome.data_problems, outcome.anomalies = str(error), error.headline, error.problems
            try:
                in_process.record_failure(config, workdir, runner_name, failed, error, started_at)
            except Exception:  # An unreachable tracking server must not hide the failure itself.
                traceback.print_exc()
    # Only finished components have results to read; every component is listed.
    finished = {name: run for name, run in components.items() if run.status in ("done", "cached")}
    outcome.results = summary.summarize(metadata_path, finished, config, run_dir)
    outcome.components = components
    return outcome


def label_change(outcome: RunOutcome, workdir: Workdir) -> str | None:
    """Why the model of the run `outcome` starts cannot be compared with the latest blessed model of its
    pipeline: that model answers another label, or other classes, than this run's data (a data folder
    of other classes under the same pipeline name). None when it answers the same, when there is
    none, or when its record is older than label records."""
    latest = history.latest_blessed(workdir.root, outcome.pipeline)
    if latest is None:
        return None
    folder, blessed = latest
    if blessed.label_key is None or (blessed.label_key, blessed.label_classes) == (
        outcome.label_key,
        outcome.label_classes,
    ):
        return None
    return (
        f"The latest blessed {outcome.pipeline} model (run {folder.name}) answers "
        f"{_answers(blessed.label_key, blessed.label_classes)}, and this run's data "
        f"{_answers(outcome.label_key, outcome.label_classes)}: the new model is not compared with it or "
        "warm-started from it, and if its own thresholds bless it, it replaces it in serving; "
        "give it its own name with --name NAME to keep both."
    )


def _answers(label_key: str | None, classes: list[str]) -> str:
    """`species with 3 classes (setosa, versicolor, virginica)`, the first few classes only."""
    if not classes:
        return f"{label_key} as a number"
    shown = ", ".join(classes[:_CLASSES_SHOWN]) + (", ..." if len(classes) > _CLASSES_SHOWN else "")
    return f"{label_key} with {len(classes)} classes ({shown})"


def _interrupted(
    outcome: RunOutcome,
    config: PipelineConfig,
    workdir: Workdir,
    components: dict[str, ComponentRun],
    interruption: interrupts.Interrupted,
    metadata_path: str,
    known_runs: set[str],
    started_at: float,
) -> None:
    """Marks `outcome` interrupted where the signal stopped it; its unfinished executions marked failed in
    ML Metadata and the run KILLED in MLflow (best effort: a second signal stops that too)."""
    from pipelines import in_process, recovery

    at = next((name for name, run in components.items() if run.status in ("interrupted", "running")), None)
    where = at or (f"the end of {list(components)[-1]}" if components else "the start of the run")
    try:
        recovery.fail_unfinished_executions(metadata_path, f"interrupted by {interruption.signal_name}")
        new_runs = recovery.pipeline_run_ids(metadata_path) - known_runs
        pipeline_run_id = max(new_runs) if new_runs else None
        in_process.record_interruption(
            config, workdir, outcome.runner, where, interruption.signal_name, pipeline_run_id, started_at
        )
    except BaseException:  # a tracking server down, or a second Ctrl-C: the run is stopped all the same
        traceback.print_exc()
    outcome.status, outcome.interrupted_at = "interrupted", where
    outcome.signal, outcome.exit_status = interruption.signal_name, interruption.exit_status
