"""The portable path that Flink, Spark and Dataflow take: the iris and stock pipelines' Beam steps
submitted as portable jobs to Beam's own Python job service (LOOPBACK workers), with the same
outputs as in memory. Stock's own Beam step, the windowing in TimeSeriesExampleGen, goes too."""

import subprocess
import sys

import pytest
from conftest import FAST_IRIS, FAST_STOCK, PipelineRun, free_port, last_outcome, run_tfpipe


@pytest.fixture(scope="module")
def job_service():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in process.stdout:  # the service says when it listens
            if "Listening for beam jobs" in line:
                break
        yield process, f"localhost:{port}"
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.fixture
def in_memory(request, iris_run: PipelineRun, stock_run: PipelineRun) -> tuple[PipelineRun, list[str]]:
    """The session's in-memory run of the pipeline, and the arguments that made it."""
    if request.param == "iris":
        return iris_run, list(FAST_IRIS)
    return stock_run, ["--set", f"data_dir={stock_run.workdir.parent / 'data'}", *FAST_STOCK]


@pytest.mark.e2e
@pytest.mark.parametrize("in_memory", ["iris", "stock"], indirect=True)
def test_the_portable_runner_matches_the_in_memory_run(job_service, in_memory, tmp_path):
    process, endpoint = job_service
    run, arguments = in_memory
    pipeline = run.outcome.pipeline
    workdir = tmp_path / "workdir"
    result = run_tfpipe(
        "run",
        pipeline,
        "--workdir",
        str(workdir),
        *arguments,
        "--beam-profile",
        "portable",
        f"--beam-arg=--job_endpoint={endpoint}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = last_outcome(workdir, pipeline)
    assert outcome.beam_pipeline_args[:2] == ["--runner=PortableRunner", "--environment_type=LOOPBACK"]
    # The same examples, statistics, transform and model as the in-memory run: the same metrics.
    assert outcome.results.metrics.keys() == run.outcome.results.metrics.keys()
    for name, metrics in run.outcome.results.metrics.items():
        assert outcome.results.metrics[name] == pytest.approx(metrics), name
    assert process.poll() is None  # the service kept serving jobs


def test_the_portable_profile_needs_a_job_endpoint():
    result = run_tfpipe("run", "iris", "--beam-profile", "portable")
    assert result.returncode == 2
    assert "Beam profile portable needs --job_endpoint" in result.stderr
