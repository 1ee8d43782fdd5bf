"""`tfpipe ui`: MLflow's UI over a workdir's tracking store, as one well-behaved foreground process.

`mlflow ui` itself prints its address before it accepts connections, starts worker processes
that outlive it when it is killed, and writes deprecation warnings to the terminal; and it starts four
server workers and a job runner, each loading MLflow before the UI answers (ui_start in
benchmarks/RESULTS.md). This starts one worker (`--workers`) and no job runner,
in a process group of its own with its output in `<workdir>/mlflow/ui.log`, prints the
address once the UI answers, and stops the whole group on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MODEL_TRAINING_VIEW = "workflowType=machine_learning"
# MLflow's server imports its app and migrates a new store before it listens: tens of seconds here.
_START_TIMEOUT_S = 180.0


class UiError(Exception):
    """The UI cannot start: one sentence."""


def serve(tracking_uri: str, artifact_root: str, host: str, port: int, log_path: Path, workers: int = 1) -> int:
    """Runs the UI until Ctrl-C or SIGTERM, with `workers` server processes; 0 after a clean stop."""
    check_port_free(host, port)
    mlflow = str(Path(sys.executable).parent / "mlflow")
    command = [
        mlflow,
        "ui",
        "--backend-store-uri",
        tracking_uri,
        "--default-artifact-root",
        artifact_root,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={
                **os.environ,
                "PYTHONWARNINGS": "ignore::DeprecationWarning",
                # MLflow 3's job runner (GenAI scorers and trace jobs), a process of its own that loads MLflow
                # beside the server: nothing tfpipe records uses it.
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            },
        )
    # The handler only asks the server's group to stop: waiting there for the server would wait on the
    # wait below, which holds the process's lock, until the wait's timeout.
    previous = {
        sig: signal.signal(sig, lambda *_: _signal_group(process, signal.SIGTERM))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
        if not _wait_until_answering(url, process):
            _end_group(process)
            raise UiError(f"the MLflow UI did not start (exit status {process.returncode}); see {log_path}.")
        # MLflow 3 opens its GenAI view unless the address asks for the model training one.
        print(
            f"MLflow UI on http://{host}:{port}/#/experiments?{MODEL_TRAINING_VIEW} over {tracking_uri} "
            f"(Ctrl-C stops it; log: {log_path})",
            flush=True,
        )
        process.wait()
        _end_group(process)  # workers the server left behind
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def has_tables(database: Path) -> bool:
    """Whether the sqlite store `database` exists with MLflow's tables made (its migrations' record)."""
    if not database.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            return connection.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    except sqlite3.Error:
        return False


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise UiError(
                f"--port {port}: {host}:{port} is already in use ({error.strerror}); choose another with --port."
            ) from None


def _wait_until_answering(url: str, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def _signal_group(process: subprocess.Popen, sig: int) -> bool:
    """Sends `sig` to the server's process group (0: none, only whether any of it is left); False when
    none of it is left."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return False
    return True


def _end_group(process: subprocess.Popen, seconds: float = 10.0) -> None:
    """Stops the server and the workers it started: the whole group, asked first, then made to."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _signal_group(process, sig):
            return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            process.poll()  # reaps the server itself once it ends, so only live workers keep the group
            if not _signal_group(process, 0):
                return
            time.sleep(0.1)
