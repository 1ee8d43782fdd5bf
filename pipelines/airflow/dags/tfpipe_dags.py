"""Airflow DAGs, one per registered pipeline (DAG id: the pipeline's name). Point Airflow's
dags_folder here, in a venv with this project and Airflow (make airflow-test builds one).

TFPIPE_WORKDIR (default: ./workdir of the checkout) is where runs keep artifacts, ML Metadata,
the MLflow store (unless MLFLOW_TRACKING_URI is set) and pushed models, as for `tfpipe run`.
"""

import os
from pathlib import Path

# TFX, TFT and TFMA are built around Keras 2; set before TensorFlow is first imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pipelines.airflow_runner import airflow_dag  # noqa: E402
from pipelines.config import REPO_ROOT  # noqa: E402
from pipelines.registry import PIPELINES  # noqa: E402
from pipelines.workdir import Workdir  # noqa: E402

_WORKDIR = Path(os.environ.get("TFPIPE_WORKDIR", REPO_ROOT / "workdir"))

for _name, _config_class in PIPELINES.items():
    globals()[_name] = airflow_dag(_config_class(), Workdir(_WORKDIR, _name))
