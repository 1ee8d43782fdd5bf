#!/usr/bin/env bash
# `make airflow-test`: Airflow in its own venv, then one pipeline's DAG end to end with
# `airflow dags test` on SQLite, and a pushed model asserted. Usage: dag_test.sh PYTHON PIPELINE
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$1 pipeline=$2 venv=.venv-airflow

if [ ! -f $venv/.installed ]; then
  "$python" -m venv $venv
  $venv/bin/pip install --quiet --upgrade "pip==25.2" "wheel==0.45.1"
  # The project with its pins first, then Airflow on top: pip moves only what Airflow
  # needs (SQLAlchemy <2, Flask <3, opentelemetry), which one resolve with the pins cannot.
  $venv/bin/pip install --quiet -c requirements/constraints.txt -e .
  $venv/bin/pip install --quiet "apache-airflow==2.11.2" 2>&1 | grep -v "^WARNING: Location" || true
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
echo "OK: pushed $(dirname "$pushed")"
