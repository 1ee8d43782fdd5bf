"""Whether a `tfpipe run` would change nothing: answered before TensorFlow is loaded.

An unchanged re-run under TFX is all cached components, but it still pays for loading TensorFlow
and TFX and for the components that run every time (benchmarks/RESULTS.md#iris_rerun).
`tfpipe run` first fingerprints everything the run's outcome depends on; when the last successful
run on the workdir had the same fingerprint and what it produced is still in place, it says so and
runs nothing (`--rerun` runs it anyway, every component cached).

How this is never wrong: the fingerprint is a SHA-256 over the content (not the times) of
- every file in the data folder, by relative path;
- the project's code (every .py file of components/, pipelines/, serving/, tfpipe/) and schemas/,
  which hold every module file, schema and component TFX could run, and a schema the pipeline keeps
  in the workdir instead (the table pipeline's);
- the resolved config (every --set and --config value), the runner, the Beam profile's args and
  the tracking URI;
- the Python version, the pinned constraints and the installed versions of the TFX stack.
It covers what TFX's cache keys on (inputs' fingerprints, module files, component parameters) and
more, so a change that would make TFX run a component again also changes the fingerprint. What it
produced must still be there: ML Metadata, the pipeline root and, if the run pushed, the pushed
version folder. A warm-started run is never unchanged: it trains further from the last blessed
model. Anything unreadable counts as a change. No TensorFlow here.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from pathlib import Path

from pipelines.config import REPO_ROOT, PipelineConfig
from pipelines.outcome import RunOutcome, has_record
from pipelines.workdir import Workdir

CODE_FOLDERS = ("components", "pipelines", "serving", "tfpipe", "schemas")
STACK = (
    "tfx",
    "tensorflow",
    "tf-keras",
    "tensorflow-transform",
    "tensorflow-data-validation",
    "tensorflow-model-analysis",
    "apache-beam",
    "mlflow",
)


def fingerprint(config: PipelineConfig, runner: str, beam_args: list[str], tracking_uri: str) -> str:
    digest = hashlib.sha256()

    def add(label: str, content: bytes) -> None:
        digest.update(f"{label}\0{len(content)}\0".encode())
        digest.update(content)

    settings = {"config": config.to_dict(), "runner": runner, "beam_args": beam_args, "tracking_uri": tracking_uri}
    add("settings", json.dumps(settings, sort_keys=True, default=str).encode())
    add("python", platform.python_version().encode())
    for package in STACK:
        add(package, _installed_version(package).encode())
    add("constraints", (REPO_ROOT / "requirements" / "constraints.txt").read_bytes())
    for folder in CODE_FOLDERS:
        for path in _files(REPO_ROOT / folder):
            if path.suffix in (".py", ".pbtxt"):
                add(f"code:{path.relative_to(REPO_ROOT)}", path.read_bytes())
    if not config.schema_path.is_relative_to(REPO_ROOT) and config.schema_path.is_file():
        add("schema", config.schema_path.read_bytes())  # a schema kept in the workdir (the table pipeline's)
    data_dir = config.resolved_data_dir()
    for path in _files(data_dir):
        add(f"data:{path.relative_to(data_dir)}", _file_digest(path))
    if config.bulk_inference_dir:  # new rows to score are a reason to run again
        unlabelled = config.resolved_bulk_inference_dir()
        for path in _files(unlabelled):
            add(f"unlabelled:{path.relative_to(unlabelled)}", _file_digest(path))
    return digest.hexdigest()


def unchanged_since(config: PipelineConfig, workdir: Workdir, run_fingerprint: str) -> tuple[Path, RunOutcome] | None:
    """The folder and record of the last run on the workdir, if it succeeded with this fingerprint
    and what it produced is in place; else None."""
    if config.warm_start:
        return None
    ended = sorted(folder for folder in (workdir.pipeline_dir / "runs").glob("*") if has_record(folder))
    if not ended:
        return None
    try:
        last = RunOutcome.read(ended[-1])
    except (OSError, ValueError, TypeError):
        return None
    if not last.succeeded or last.fingerprint != run_fingerprint:
        return None
    if not (workdir.metadata_path.is_file() and workdir.pipeline_root.is_dir()):
        return None
    pushed = last.results.pushed_model
    # A version folder is complete once saved_model.pb is in it (serving/push.py renames it into place whole).
    if pushed and not (Path(pushed) / "saved_model.pb").is_file():
        return None
    return ended[-1], last


def _file_digest(path: Path) -> bytes:
    """SHA-256 of a data file, read in blocks: data files can be larger than memory allows."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def _installed_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _files(folder: Path) -> list[Path]:
    """Every file under `folder`, in a fixed order; none if it is missing."""
    return sorted(path for path in folder.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
