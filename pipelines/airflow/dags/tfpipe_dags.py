"""Airflow DAGs, one per registered pipeline but table (DAG id: the pipeline's name). Point Airflow's
dags_folder here, in a venv with this project and Airflow (make airflow-test builds one).

TFPIPE_WORKDIR (default: ./workdir of the checkout) is where runs keep artifacts, ML Metadata,
the MLflow store (unless MLFLOW_TRACKING_URI is set) and pushed models, as for `tfpipe run`.
"""

import os
from pathlib import Path

from components import tf_setup
from pipelines.config import REPO_ROOT
from pipelines.registry import PIPELINES
from pipelines.workdir import Workdir

# An entry point of its own: Airflow's scheduler and workers import this file, not the CLI.
tf_setup.configure()
from pipelines.airflow_runner import airflow_dag  # noqa: E402  (after the set-up: it imports TensorFlow)

_WORKDIR = Path(os.environ.get("TFPIPE_WORKDIR", REPO_ROOT / "workdir"))

# A pipeline whose schema is inferred from its user's data (table) runs only under a name, with that
# data: no DAG of its own, as named pipelines have none.
for _name, _config_class in PIPELINES.items():
    if not _config_class.infers_schema:
        globals()[_name] = airflow_dag(_config_class(), Workdir(_WORKDIR, _name))
