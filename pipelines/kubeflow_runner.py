"""`tfpipe compile --target kubeflow`: the KFP v2 pipeline spec, written by TFX's KubeflowV2DagRunner.

Every component runs in one container image with this project installed at IMAGE_ROOT
(pipelines/kubeflow/Dockerfile). Nothing of this machine goes into the spec: paths are the
image's or mounted volumes', the pipeline root is the run's (a runtime parameter), and the MLflow
server is the MLFLOW_TRACKING_URI of the containers.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tfx.orchestration.kubeflow.v2.kubeflow_v2_dag_runner import KubeflowV2DagRunner, KubeflowV2DagRunnerConfig

from pipelines.config import IMAGE_ROOT, PipelineConfig
from pipelines.factory import Orchestrator, create_pipeline, retried_components

ORCHESTRATOR = Orchestrator(
    "kubeflow",
    # Filled in by the KFP backend: the run's job name.
    pipeline_run_id="{{$.pipeline_job_name}}",
    # KubeflowV2's compiler accepts only TFX's own resolver strategies.
    own_baseline_strategy=False,
    image_root=IMAGE_ROOT,
    name_separator="-",
)


def compile_pipeline(
    config: PipelineConfig,
    image: str,
    output: Path,
    pipeline_root: str,
    data_dir: str | None,
    serving_dir: str,
    beam_pipeline_args: list[str],
) -> dict:
    """Writes the spec (a PipelineJob, JSON) to `output` and returns it.

    Args:
      image: the container image every component runs in.
      pipeline_root: where the artifacts go (gs://, s3://, minio://); a run may override it.
      data_dir: the data folder in the containers; None: the image's copy of the shipped data.
      serving_dir: TF Serving's model base path in the containers (a mounted volume).
    """
    config = dataclasses.replace(config, data_dir=data_dir or f"{IMAGE_ROOT}/{config.data_dir}")
    if config.bulk_inference_dir and not Path(config.bulk_inference_dir).is_absolute():
        # Relative to the project, as a shipped data_dir is: the image's copy.
        config = dataclasses.replace(config, bulk_inference_dir=f"{IMAGE_ROOT}/{config.bulk_inference_dir}")
    pipeline = create_pipeline(
        config,
        pipeline_root=pipeline_root,
        serving_dir=serving_dir,
        tracking_uri="",  # the containers' MLFLOW_TRACKING_URI
        beam_pipeline_args=beam_pipeline_args,
        orchestrator=ORCHESTRATOR,
    )
    runner = KubeflowV2DagRunner(
        KubeflowV2DagRunnerConfig(default_image=image), output_dir=str(output.parent), output_filename=output.name
    )
    runner.run(pipeline, write_out=True)
    spec = json.loads(output.read_text())
    # TFX's compiler sets no retry policy; KFP's (PipelineTaskSpec.retryPolicy) is added per retried task.
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    for task_id in retried_components(pipeline):
        if config.retries:
            tasks[task_id]["retryPolicy"] = retry_policy(config.retries, config.retry_delay_seconds)
    output.write_text(json.dumps(spec, indent=2, sort_keys=True))
    return spec


def retry_policy(retries: int, delay_seconds: int) -> dict:
    """KFP's retry policy (JSON of PipelineTaskSpec.RetryPolicy): `retries` more tries, the first after
    `delay_seconds`, each wait doubled, none longer than an hour."""
    return {
        "maxRetryCount": retries,
        "backoffDuration": f"{delay_seconds}s",
        "backoffFactor": 2.0,
        "backoffMaxDuration": "3600s",
    }
