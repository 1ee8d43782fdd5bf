"""`tfpipe run`: runs a pipeline on this machine and gathers what it produced into one outcome."""

from __future__ import annotations

import dataclasses
import importlib
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from pipelines import interrupts
from pipelines.config import PipelineConfig
from pipelines.progress import ComponentRun, ProgressCallback
from pipelines.workdir import Workdir

# `tfpipe run --runner`: the modules that run a pipeline on this machine, each with a
# run_pipeline(config, workdir, beam_pipeline_args, on_progress).
RUNNERS = {"local": "pipelines.local_runner", "beam": "pipelines.beam_runner"}


def load_runner(name: str) -> ModuleType:
    """The runner module; importing it loads TensorFlow and TFX (seconds)."""
    return importlib.import_module(RUNNERS[name])


def run(
    config: PipelineConfig,
    workdir: Workdir,
    run_dir: Path,
    runner: ModuleType,
    beam_args: list[str],
    on_progress: ProgressCallback,
    on_notice: Callable[[str], None] = print,
) -> dict:
    """Runs every component, reporting each to `on_progress`; returns the outcome, JSON-ready:
    status succeeded, failed (with the failed component and the error) or interrupted (by SIGINT
    or SIGTERM: where, which signal, the exit status), and what the run produced (summary.summarize,
    which writes the data statistics page into `run_dir`, the run's folder: Workdir.new_run_dir).
    A failing component's traceback goes to the log.

    Call holding the workdir's run lock (Workdir.run_lock): first the MLflow store is created if
    new, and what runs that ended unfinished left is closed (pipelines/recovery.py), each thing
    closed said to `on_notice` in one line."""
    from components.validation_gate import InputDataError
    from pipelines import in_process, recovery, summary

    components: dict[str, ComponentRun] = {}

    def record(name: str, component_run: ComponentRun) -> None:
        components[name] = component_run
        on_progress(name, component_run)

    runner_name = runner.__name__.rsplit(".", 1)[-1].removesuffix("_runner")
    metadata_path = str(workdir.metadata_path.resolve())
    outcome: dict = {
        "pipeline": config.name,
        "runner": runner_name,
        "beam_pipeline_args": beam_args,
        "config": config.to_dict(),
        "tracking_uri": workdir.tracking()[0],
    }
    known_runs, notes = recovery.before_run(config.name, metadata_path, outcome["tracking_uri"])
    for note in notes:
        on_notice(note)
    if notes:
        outcome["recovered"] = notes
    try:
        runner.run_pipeline(config, workdir, beam_args, record)
        outcome["status"] = "succeeded"
    except BaseException as error:  # A failing component: report it, keep its traceback in the log.
        interruption = interrupts.as_interruption(error)
        if interruption is None and not isinstance(error, Exception):
            raise  # SystemExit and the like
        traceback.print_exc()
        if interruption is not None:
            outcome |= _interrupted(config, workdir, runner_name, components, interruption, metadata_path, known_runs)
        else:
            failed = next((name for name, run in components.items() if run.status == "failed"), None)
            outcome |= {"status": "failed", "failed_component": failed, "error": f"{type(error).__name__}: {error}"}
            if isinstance(error, InputDataError):
                outcome |= {"error": str(error), "data_problems": error.headline, "anomalies": error.problems}
            try:
                in_process.record_failure(config, workdir, runner_name, failed, error)
            except Exception:  # An unreachable tracking server must not hide the failure itself.
                traceback.print_exc()
    # Only finished components have results to read; every component is listed.
    finished = {name: run for name, run in components.items() if run.status in ("done", "cached")}
    outcome |= summary.summarize(metadata_path, finished, config, run_dir)
    outcome["components"] = {name: dataclasses.asdict(run) for name, run in components.items()}
    return outcome


def _interrupted(
    config: PipelineConfig,
    workdir: Workdir,
    runner_name: str,
    components: dict[str, ComponentRun],
    interruption: interrupts.Interrupted,
    metadata_path: str,
    known_runs: set[str],
) -> dict:
    """The outcome of a run a signal stopped; its unfinished executions marked failed in ML Metadata
    and the run KILLED in MLflow, naming where it stopped (best effort: a second signal stops that too)."""
    from pipelines import in_process, recovery

    at = next((name for name, run in components.items() if run.status in ("interrupted", "running")), None)
    where = at or (f"the end of {list(components)[-1]}" if components else "the start of the run")
    try:
        recovery.fail_unfinished_executions(metadata_path, f"interrupted by {interruption.signal_name}")
        new_runs = recovery.pipeline_run_ids(metadata_path) - known_runs
        pipeline_run_id = max(new_runs) if new_runs else None
        in_process.record_interruption(config, workdir, runner_name, where, interruption.signal_name, pipeline_run_id)
    except BaseException:  # a tracking server down, or a second Ctrl-C: the run is stopped all the same
        traceback.print_exc()
    return {
        "status": "interrupted",
        "interrupted_at": where,
        "signal": interruption.signal_name,
        "exit_status": interruption.exit_status,
    }
