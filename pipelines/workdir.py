"""Where a pipeline's runs keep their files. Free of TensorFlow imports (the CLI uses it early).

<workdir>/
  .tfpipe-run.lock                  held by the one `tfpipe run` using the workdir (its pid, start, command)
  serving/<model>/<version>/        TF Serving's model base path, shared by all pipelines
  serving/models.config             TF Serving's config listing every pushed model (serving/push.py)
  mlflow/mlflow.db, mlflow/artifacts/  the embedded MLflow store (unless MLFLOW_TRACKING_URI is set)
  <pipeline>/
    metadata.sqlite                 ML Metadata: lineage, and the cache
    pipeline_root/                  every TFX artifact
    runs/<run stamp>/run.log        the full TF/TFX/Beam log of one `tfpipe run`
    runs/<run stamp>/summary.json   what the console summary shows, for scripts
    runs/<run stamp>/statistics.html  the data's statistics and anomalies, one self-contained page
    request_logs/                   requests `tfpipe serve --log-requests` logged, which `tfpipe skew` reads
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import tempfile
import time
import typing
from collections.abc import Iterator
from pathlib import Path

DEFAULT_WORKDIR = Path("workdir")
RUN_LOCK = ".tfpipe-run.lock"


class WorkdirBusyError(Exception):
    """Another `tfpipe run` holds the workdir: one sentence naming it (pid, start time, command)."""


class WorkdirNotWritableError(Exception):
    """The workdir (or the pipeline's folder in it) cannot be created or written: one sentence saying why."""


class PipelineLocations(typing.TypedDict):
    """create_pipeline's arguments that say where a run keeps everything."""

    pipeline_root: str
    serving_dir: str
    tracking_uri: str
    tracking_artifact_root: str
    metadata_path: str


@dataclasses.dataclass(frozen=True)
class Workdir:
    root: Path
    pipeline: str

    @property
    def pipeline_dir(self) -> Path:
        return self.root / self.pipeline

    @property
    def pipeline_root(self) -> Path:
        return self.pipeline_dir / "pipeline_root"

    @property
    def metadata_path(self) -> Path:
        return self.pipeline_dir / "metadata.sqlite"

    @property
    def serving_dir(self) -> Path:
        return self.root / "serving"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow" / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.root / "mlflow" / "artifacts"

    def tracking(self) -> tuple[str, str]:
        """(tracking URI, artifact root): MLFLOW_TRACKING_URI's server if set (it keeps the
        artifacts), else the embedded sqlite store and artifact folder in this workdir."""
        uri = os.environ.get("MLFLOW_TRACKING_URI", "")
        if uri:
            return uri, ""
        self.mlflow_db.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.mlflow_db.resolve()}", str(self.mlflow_artifacts.resolve())

    def pipeline_locations(self) -> PipelineLocations:
        """create_pipeline's arguments for where a run on this machine keeps everything."""
        tracking_uri, tracking_artifact_root = self.tracking()
        return {
            "pipeline_root": str(self.pipeline_root.resolve()),
            "serving_dir": str(self.serving_dir.resolve()),
            "tracking_uri": tracking_uri,
            "tracking_artifact_root": tracking_artifact_root,
            "metadata_path": str(self.metadata_path.resolve()),
        }

    def check_writable(self) -> None:
        """Creates the pipeline's folder and writes a file in it, so that a workdir the run could not
        write fails before anything starts (WorkdirNotWritableError) rather than in some component."""
        try:
            self.pipeline_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.pipeline_dir):
                pass
        except OSError as error:
            reason = error.strerror or type(error).__name__
            where = f" ({error.filename})" if error.filename and str(error.filename) != str(self.pipeline_dir) else ""
            raise WorkdirNotWritableError(
                f"workdir {self.root} cannot be written ({reason}{where}); give --workdir a folder this user can "
                "create and write in."
            ) from None

    @contextlib.contextmanager
    def run_lock(self, command: str) -> Iterator[dict | None]:
        """Holds the workdir for one run: a second run on the same workdir (two terminals, say) fails
        at once with WorkdirBusyError instead of racing the first for the MLflow store, ML Metadata and
        the serving dir. The lock is an flock, so the system releases it when its holder dies, even
        by kill -9: a lock left by a dead process is simply taken over. Yields what that process had
        written in the lock file (pid, started, command), or None when the last holder ended cleanly.
        A workdir that cannot be written is WorkdirNotWritableError, before the lock is tried."""
        self.check_writable()
        fd = os.open(self.root / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WorkdirBusyError(self._busy_message(fd)) from None
            left = _read_holder(fd)
            holder = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": command}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            try:
                yield left
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _busy_message(self, fd: int) -> str:
        holder = _read_holder(fd)
        if holder is None:  # it has the lock but has not written itself in yet
            time.sleep(0.2)
            holder = _read_holder(fd)
        who = (
            f"pid {holder.get('pid')}, started {holder.get('started')}: {holder.get('command')}"
            if holder
            else "it has just started"
        )
        return (
            f"workdir {self.root} is in use by another tfpipe run ({who}); wait for it to finish, "
            "or give this run another --workdir."
        )

    def new_run_dir(self) -> Path:
        """A fresh folder for one run's log and summary, named by the local time it started."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = self.pipeline_dir / "runs" / stamp
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = self.pipeline_dir / "runs" / f"{stamp}-{suffix}"
        run_dir.mkdir(parents=True)
        return run_dir


def _read_holder(fd: int) -> dict | None:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode()) or None
    except ValueError:
        return None
