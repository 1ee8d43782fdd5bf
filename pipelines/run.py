"""`tfpipe run`: runs a pipeline on this machine and gathers what it produced into one outcome."""

from __future__ import annotations

import importlib
import traceback
from types import ModuleType

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
    config: PipelineConfig, workdir: Workdir, runner: ModuleType, beam_args: list[str], on_progress: ProgressCallback
) -> dict:
    """Runs every component, reporting each to `on_progress`; returns the outcome, JSON-ready:
    status succeeded or failed (with the failed component and the error), and what the run
    produced (summary.summarize). A failing component's traceback goes to the log."""
    from components.validation_gate import InputDataError
    from pipelines import in_process, summary

    components: dict[str, ComponentRun] = {}

    def record(name: str, component_run: ComponentRun) -> None:
        components[name] = component_run
        on_progress(name, component_run)

    runner_name = runner.__name__.rsplit(".", 1)[-1].removesuffix("_runner")
    outcome: dict = {
        "pipeline": config.name,
        "runner": runner_name,
        "beam_pipeline_args": beam_args,
        "config": config.to_dict(),
        "tracking_uri": workdir.tracking()[0],
    }
    try:
        runner.run_pipeline(config, workdir, beam_args, record)
        outcome["status"] = "succeeded"
    except Exception as error:  # A failing component: report it, keep its traceback in the log.
        traceback.print_exc()
        failed = next((name for name, component_run in components.items() if component_run.status == "failed"), None)
        outcome |= {"status": "failed", "failed_component": failed, "error": f"{type(error).__name__}: {error}"}
        if isinstance(error, InputDataError):
            outcome |= {"error": str(error), "data_problems": error.headline, "anomalies": error.problems}
        try:
            in_process.record_failure(config, workdir, runner_name, failed, error)
        except Exception:  # An unreachable tracking server must not hide the failure itself.
            traceback.print_exc()
    outcome |= summary.summarize(str(workdir.metadata_path.resolve()), components)
    return outcome
