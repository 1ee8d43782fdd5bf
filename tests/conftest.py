"""Shared fixtures. Pipeline runs are expensive (a minute each on 2 cores), so the
iris run is made once per session and every end-to-end test reads from it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
TFPIPE = str(Path(sys.executable).parent / "tfpipe")

# Few steps keep the run short; a hidden layer reaches the blessing threshold in them.
FAST_IRIS = ["--set", "train_steps=100", "--set", "model.hidden_units=16", "--set", "model.learning_rate=0.05"]


def run_tfpipe(*args: str) -> subprocess.CompletedProcess:
    """`tfpipe ARGS` as a user runs it: a real process, its console captured."""
    return subprocess.run([TFPIPE, *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)


def last_summary(workdir: Path, pipeline: str) -> dict:
    runs = sorted((workdir / pipeline / "runs").iterdir())
    return json.loads((runs[-1] / "summary.json").read_text())


class PipelineRun:
    def __init__(self, workdir: Path, pipeline: str, process: subprocess.CompletedProcess):
        self.workdir = workdir
        self.process = process
        self.summary = last_summary(workdir, pipeline)


@pytest.fixture(scope="session")
def iris_run(tmp_path_factory) -> PipelineRun:
    workdir = tmp_path_factory.mktemp("iris-workdir")
    process = run_tfpipe("run", "iris", "--workdir", str(workdir), *FAST_IRIS)
    assert process.returncode == 0, process.stdout + process.stderr
    return PipelineRun(workdir, "iris", process)
