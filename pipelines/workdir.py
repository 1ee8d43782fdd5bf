"""Where a pipeline's runs keep their files. Free of TensorFlow imports (the CLI uses it early).

<workdir>/
  serving/<model>/<version>/        TF Serving's model base path, shared by all pipelines
  serving/models.config             TF Serving's config listing every pushed model (serving/push.py)
  mlflow/mlflow.db, mlflow/artifacts/  the embedded MLflow store (unless MLFLOW_TRACKING_URI is set)
  <pipeline>/
    metadata.sqlite                 ML Metadata: lineage, and the cache
    pipeline_root/                  every TFX artifact
    runs/<run stamp>/run.log        the full TF/TFX/Beam log of one `tfpipe run`
    runs/<run stamp>/summary.json   what the console summary shows, for scripts
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

DEFAULT_WORKDIR = Path("workdir")


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

    def pipeline_locations(self) -> dict[str, str]:
        """create_pipeline's arguments for where a run on this machine keeps everything."""
        tracking_uri, tracking_artifact_root = self.tracking()
        return {
            "pipeline_root": str(self.pipeline_root.resolve()),
            "serving_dir": str(self.serving_dir.resolve()),
            "tracking_uri": tracking_uri,
            "tracking_artifact_root": tracking_artifact_root,
            "metadata_path": str(self.metadata_path.resolve()),
        }

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
