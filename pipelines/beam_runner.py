"""`tfpipe run --runner beam`: TFX's BeamDagRunner runs the DAG as a Beam pipeline, one step per component.

The DAG itself runs on Beam's DirectRunner in this process (TFX's IR-based BeamDagRunner takes
no options for it), so the console follows each component as under the local runner. Where the
Beam pipelines inside the components run is the Beam profile's choice (pipelines/beam_profiles.py).
"""

from __future__ import annotations

from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from pipelines import in_process
from pipelines.config import PipelineConfig
from pipelines.factory import Orchestrator, create_pipeline
from pipelines.workdir import Workdir

ORCHESTRATOR = Orchestrator("beam")


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
        orchestrator=ORCHESTRATOR,
    )
    return in_process.run_pipeline(pipeline, BeamDagRunner(), on_progress, in_process.LiveEpochs.of(config, workdir))
