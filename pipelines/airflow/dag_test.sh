#!/usr/bin/env bash
# `make airflow-test`: Airflow in its own venv, then one pipeline's DAG end to end with
# `airflow dags test` on SQLite, and a pushed model asserted. Usage: dag_test.sh PYTHON PIPELINE
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$1 pipeline=$2 venv=.venv-airflow

if [ ! -f $venv/.installed ] || [ requirements/constraints.txt -nt $venv/.installed ] || [ pyproject.toml -nt $venv/.installed ]; then
  [ -x $venv/bin/python ] || "$python" -m venv $venv
  $venv/bin/pip install --quiet --upgrade "pip==25.2" "wheel==0.45.1"
  # The project with its pins first, then Airflow on top: pip moves only what Airflow
  # needs (SQLAlchemy 1.4, Flask 2.3, alembic, rich, requests-toolbelt 1.0, opentelemetry),
  # which one resolve with all the pins cannot. protobuf stays at TFX's 3.20.3 (Airflow
  # alone would take 6.x, which TFX's ExampleGen breaks on); opentelemetry then resolves to 1.27.
  $venv/bin/pip install --quiet -c requirements/constraints.txt -e .
  $venv/bin/pip install --quiet "apache-airflow==2.11.2" "protobuf==3.20.3" 2>&1 | grep -v "^WARNING: Location" || true
  touch $venv/.installed
fi

scratch=$(mktemp -d)
export AIRFLOW_HOME=$scratch/airflow TFPIPE_WORKDIR=$scratch/workdir
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/pipelines/airflow/dags AIRFLOW__CORE__LOAD_EXAMPLES=False
# Importing TensorFlow and TFX takes longer than Airflow's default 30 s DAG import timeout.
export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=600 AIRFLOW__CORE__DAG_FILE_PROCESSOR_TIMEOUT=600
export TF_USE_LEGACY_KERAS=1
unset MLFLOW_TRACKING_URI
$venv/bin/airflow db migrate > $scratch/db-migrate.log 2>&1
echo "airflow dags test $pipeline (log: $scratch/dags-test.log)"
if ! $venv/bin/airflow dags test "$pipeline" > $scratch/dags-test.log 2>&1; then
  tail -n 40 $scratch/dags-test.log; exit 1
fi
grep -E "Marking run .* (successful|failed)" $scratch/dags-test.log || true
pushed=$(ls -d $TFPIPE_WORKDIR/serving/$pipeline/*/saved_model.pb 2>/dev/null || true)
[ -n "$pushed" ] || { echo "FAILED: no model pushed under $TFPIPE_WORKDIR/serving/$pipeline"; exit 1; }
# Tracked as under every runner: a finished MLflow run tagged with this runner, the model registered.
$venv/bin/python - "$TFPIPE_WORKDIR/mlflow/mlflow.db" "$pipeline" "$(basename "$(dirname "$pushed")")" <<'PY'
import sys
import mlflow
db, pipeline, version = sys.argv[1:]
client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}")
[run] = client.search_runs([client.get_experiment_by_name(pipeline).experiment_id])
assert run.info.status == "FINISHED" and run.data.tags["tfx.runner"] == "airflow", (run.info.status, run.data.tags)
assert client.get_model_version_by_alias(pipeline, "champion").tags["tf_serving_version"] == version
PY
# The scheduled DAG as Airflow parses it: stock on weekdays after the close, and the outside-facing tasks retried
# with back-off (the configs' schedule, retries and retry_delay_seconds).
$venv/bin/python - <<'PY'
import datetime
from airflow.models import DagBag
bag = DagBag(include_examples=False)
assert not bag.import_errors, bag.import_errors
dag = bag.dags["stock"]
assert str(dag.timetable.summary) == "0 22 * * 1-5" and not dag.catchup and dag.max_active_runs == 1, dag.timetable.summary
retried = {task.task_id: task for task in dag.tasks if task.retries}
assert set(retried) == {"TimeSeriesExampleGen", "InfraValidator", "Pusher", "MlflowTracker"}, sorted(retried)
assert all(t.retries == 2 and t.retry_exponential_backoff and t.retry_delay == datetime.timedelta(seconds=60) for t in retried.values())
assert bag.dags["iris"].timetable.summary in ("None", "Never"), bag.dags["iris"].timetable.summary
PY
echo "OK: pushed $(dirname "$pushed"), tracked in MLflow; stock scheduled 0 22 * * 1-5 with retries"
