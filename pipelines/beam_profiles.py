"""Where the Beam pipelines inside the data components run: one named profile each.

TFX's data components (ExampleGen, StatisticsGen, Transform, Evaluator, ...) are Beam
pipelines; a profile is the `beam_pipeline_args` they get. The orchestrator that runs the
DAG (`--runner`) is a separate choice. Free of TensorFlow imports (the CLI reads it for --help).
"""

from __future__ import annotations

import dataclasses


class BeamProfileError(ValueError):
    """An unknown profile, or one missing options it cannot run without."""


@dataclasses.dataclass(frozen=True)
class BeamProfile:
    name: str
    description: str
    args: tuple[str, ...]
    required: tuple[str, ...] = ()
    """Options the user must add with --beam-arg (a project, a cluster address, ...)."""

    def pipeline_args(self, workers: int, extra: list[str]) -> list[str]:
        """The components' beam_pipeline_args: this profile's, then the user's `extra` (which win)."""
        given = {arg.split("=", 1)[0] for arg in extra}
        missing = [option for option in self.required if option not in given]
        if missing:
            raise BeamProfileError(
                f"Beam profile {self.name} needs {', '.join(missing)}: add each with --beam-arg=OPTION=VALUE."
            )
        return [arg.format(workers=workers) for arg in self.args] + list(extra)


PROFILES: dict[str, BeamProfile] = {
    profile.name: profile
    for profile in (
        BeamProfile(
            "in-memory",
            "DirectRunner in this process (default): on small data, worker processes cost more to start than they save",
            # No args: DirectRunner's defaults are this profile. TFX gives any Beam component
            # with beam args an sdist of TFX itself, built per component, for remote workers
            # to install; workers in this process never use it.
            (),
        ),
        BeamProfile(
            "multi-processing",
            "DirectRunner with --beam-workers worker processes on this machine, for data that outgrows one core",
            ("--direct_running_mode=multi_processing", "--direct_num_workers={workers}"),
        ),
        # Beam's portable path, the one Flink, Spark and Dataflow (runner v2) take: the pipeline
        # is submitted as a portable job, every DoFn pickled to workers that share no state with
        # this process. Against Beam's own Python job service and LOOPBACK workers it runs here
        # (docs/runners.md says how to start one); on a cluster, point --job_endpoint at its job
        # server and give workers an image (--environment_type=DOCKER --environment_config=IMAGE).
        BeamProfile(
            "portable",
            "Beam's PortableRunner against a job service at --job_endpoint (LOOPBACK workers by default)",
            ("--runner=PortableRunner", "--environment_type=LOOPBACK"),
            required=("--job_endpoint",),
        ),
        # The three below need what a single machine does not have: Dataflow a Google Cloud
        # project; Beam's Flink and Spark runners a cluster, and a job server they download
        # when the pipeline starts. Their options are checked before anything runs.
        # Their workers need this project's code: --sdk_container_image (Dataflow) or
        # --environment_config (Flink, Spark) naming an image with it installed, such as
        # the one pipelines/kubeflow/Dockerfile builds.
        BeamProfile(
            "dataflow",
            "Google Cloud Dataflow: needs a Google Cloud project and a container image with this project",
            ("--runner=DataflowRunner", "--experiments=use_runner_v2"),
            required=("--project", "--region", "--temp_location", "--sdk_container_image"),
        ),
        BeamProfile(
            "flink",
            "a Flink cluster, --beam-workers its parallelism: needs the cluster, and network access for Beam to "
            "download its Flink job server",
            ("--runner=FlinkRunner", "--environment_type=DOCKER", "--parallelism={workers}"),
            required=("--flink_master", "--environment_config"),
        ),
        BeamProfile(
            "spark",
            "a Spark cluster: needs the cluster, and network access for Beam to download its Spark job server",
            ("--runner=SparkRunner", "--environment_type=DOCKER"),
            required=("--spark_master_url", "--environment_config"),
        ),
    )
}
DEFAULT_PROFILE = "in-memory"


def beam_pipeline_args(profile: str = DEFAULT_PROFILE, workers: int = 2, extra: list[str] | None = None) -> list[str]:
    """The beam_pipeline_args of a named profile, with the user's own options after its."""
    if profile not in PROFILES:
        raise BeamProfileError(f"Unknown Beam profile {profile!r}; known profiles: {', '.join(PROFILES)}.")
    if workers < 1:
        raise BeamProfileError(f"--beam-workers {workers}: expected at least 1 worker.")
    return PROFILES[profile].pipeline_args(workers, extra or [])
