"""`tfpipe run --runner local` (the default): TFX's LocalDagRunner runs one component after another in this process."""

from __future__ import annotations

from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from pipelines import in_process
from pipelines.config import PipelineConfig
from pipelines.factory import LOCAL, create_pipeline
from pipelines.workdir import Workdir


def run_pipeline(
    config: PipelineConfig,
    workdir: Workdir,
    beam_pipeline_args: list[str],
    on_progress: in_process.ProgressCallback,
    compare_with_blessed: bool = True,
    started_at: float | None = None,
) -> dict[str, in_process.ComponentRun]:
    pipeline = create_pipeline(
        config,
        **workdir.pipeline_locations(),
        beam_pipeline_args=beam_pipeline_args,
        compare_with_blessed=compare_with_blessed,
        started_at=started_at,
        orchestrator=LOCAL,
    )
    return in_process.run_pipeline(pipeline, LocalDagRunner(), on_progress, in_process.LiveEpochs.of(config, workdir))
