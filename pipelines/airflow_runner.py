"""Airflow: one DAG per pipeline through TFX's Airflow integration (AirflowDagRunner).

Each component is an Airflow task (a PythonOperator running TFX's launcher), so Airflow's
scheduler, retries and UI apply. The DAGs themselves are in pipelines/airflow/dags/.
"""

from __future__ import annotations

import datetime

from airflow.models import DAG
from tfx.orchestration.airflow.airflow_dag_runner import AirflowDagRunner, AirflowPipelineConfig
from tfx.orchestration.data_types import RuntimeParameter

from pipelines.beam_profiles import beam_pipeline_args
from pipelines.config import PipelineConfig
from pipelines.factory import Orchestrator, create_pipeline, retried_components
from pipelines.workdir import Workdir

ORCHESTRATOR = Orchestrator(
    "airflow",
    # TFX's Airflow runner has no run-id placeholder; it renders a string RuntimeParameter
    # as a template of the DAG run (the default is Airflow's run_id).
    pipeline_run_id=RuntimeParameter(name="pipeline_run_id", ptype=str, default="{{ run_id }}"),
    own_baseline_strategy=False,
)


def airflow_dag(config: PipelineConfig, workdir: Workdir) -> DAG:
    """The pipeline as an Airflow DAG whose id is the pipeline's name, run on the config's `schedule` (or
    when triggered), its outside-facing components retried `retries` times with exponential back-off."""
    pipeline = create_pipeline(
        config, **workdir.pipeline_locations(), beam_pipeline_args=beam_pipeline_args(), orchestrator=ORCHESTRATOR
    )
    dag_config = {
        "schedule": config.schedule or None,
        "start_date": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        # A missed day is not made up: the next run reads the latest span, which holds it.
        "catchup": False,
        # One run at a time: runs share the workdir's ML Metadata and pushed versions.
        "max_active_runs": 1,
    }
    dag = AirflowDagRunner(AirflowPipelineConfig(airflow_dag_config=dag_config)).run(pipeline)
    for task_id in retried_components(pipeline):
        task = dag.get_task(task_id)
        task.retries = config.retries
        task.retry_delay = datetime.timedelta(seconds=config.retry_delay_seconds)
        task.retry_exponential_backoff = True
    return dag
