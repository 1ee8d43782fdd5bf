"""Orchestrators beyond the local one: the Beam runner end to end with worker processes,
every pipeline compiled for Kubeflow Pipelines, and the CLI's answers to bad choices.
(Airflow runs the iris DAG end to end in `make airflow-test`, in its own venv.)"""

import json

import mlflow
import pytest
from conftest import FAST_IRIS, REPO_ROOT, last_outcome, run_tfpipe

from pipelines.registry import PIPELINES

IMAGE = "registry.example/tfpipe:test"
PIPELINE_ROOT = "gs://example-bucket/tfpipe"

# The factory's DAG as Kubeflow runs it: each task and the tasks it waits for. KubeflowV2
# compiles the baseline resolver into two queries (blessing, then model).
KUBEFLOW_DAG = {
    "CsvExampleGen": set(),
    "StatisticsGen": {"CsvExampleGen"},
    "ImportSchemaGen": set(),
    "ExampleValidator": {"StatisticsGen", "ImportSchemaGen"},
    "accepted_statistics_resolver": set(),
    "DataValidationGate": {
        "CsvExampleGen",
        "StatisticsGen",
        "ExampleValidator",
        "ImportSchemaGen",
        "accepted_statistics_resolver",
    },
    "Transform": {"CsvExampleGen", "ImportSchemaGen", "DataValidationGate"},
    "Trainer": {"Transform", "ImportSchemaGen"},
    "baseline_model_resolver-model-blessing-resolver": set(),
    "baseline_model_resolver-model-resolver": set(),
    "Evaluator": {"CsvExampleGen", "Trainer", "baseline_model_resolver-model-resolver"},
    "InfraValidator": {"CsvExampleGen", "Trainer"},
    "Pusher": {"Trainer", "Evaluator", "InfraValidator"},
    "MlflowTracker": {
        "CsvExampleGen",
        "StatisticsGen",
        "ImportSchemaGen",
        "ExampleValidator",
        "Trainer",
        "Evaluator",
        "Pusher",
    },
}


# Each pipeline's ExampleGen takes CsvExampleGen's place in the DAG above.
EXAMPLE_GENS = {
    "iris": "CsvExampleGen",
    "stock": "TimeSeriesExampleGen",
    "digits": "ImageExampleGen",
    "mnist": "ImageExampleGen",
    "fashion_mnist": "ImageExampleGen",
    "cifar10": "ImageExampleGen",
    "letters": "WordExampleGen",
    "pronunciation": "DictionaryExampleGen",
    "spoken_digits": "AudioExampleGen",
    "table": "CsvExampleGen",
}


@pytest.mark.e2e  # loads TFX and builds the pipeline: seconds, not a unit test
@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_each_pipeline_compiles_for_kubeflow(tmp_path, pipeline):
    output = tmp_path / "spec.json"
    result = run_tfpipe(
        "compile",
        pipeline,
        "--target",
        "kubeflow",
        "--image",
        IMAGE,
        "--output",
        str(output),
        "--pipeline-root",
        PIPELINE_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    spec = json.loads(output.read_text())
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    example_gen = EXAMPLE_GENS[pipeline]
    expected = {
        name.replace("CsvExampleGen", example_gen): {
            dependency.replace("CsvExampleGen", example_gen) for dependency in dependencies
        }
        for name, dependencies in KUBEFLOW_DAG.items()
    }
    assert {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()} == expected
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"].values()
    assert {executor["container"]["image"] for executor in executors if "container" in executor} == {IMAGE}
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == PIPELINE_ROOT
    # Nothing of this machine: paths are the image's, MLflow is the containers' MLFLOW_TRACKING_URI.
    text = output.read_text()
    assert str(REPO_ROOT) not in text and str(tmp_path) not in text
    parameters = tasks["MlflowTracker"]["inputs"]["parameters"]
    run_context = json.loads(parameters["run_context"]["runtimeValue"]["constantValue"]["stringValue"])
    assert run_context["tracking_uri"] == "" and run_context["runner"] == "kubeflow"
    assert parameters["pipeline_run_id"]["runtimeValue"]["constantValue"]["stringValue"] == "{{$.pipeline_job_name}}"
    schema_file = tasks["ImportSchemaGen"]["inputs"]["parameters"]["schema_file"]
    assert schema_file["runtimeValue"]["constantValue"]["stringValue"] == f"/tfpipe/schemas/{pipeline}/schema.pbtxt"
    # The tasks that touch what is outside the pipeline are retried with back-off (config `retries`); the others not.
    retried = {name: task["retryPolicy"] for name, task in tasks.items() if "retryPolicy" in task}
    assert set(retried) == {example_gen, "InfraValidator", "Pusher", "MlflowTracker"}
    assert retried["Pusher"] == {
        "maxRetryCount": 2,
        "backoffDuration": "60s",
        "backoffFactor": 2.0,
        "backoffMaxDuration": "3600s",
    }


@pytest.mark.e2e
def test_iris_runs_under_beam_with_worker_processes(tmp_path):
    workdir = tmp_path / "workdir"
    result = run_tfpipe(
        "run",
        "iris",
        "--workdir",
        str(workdir),
        "--runner",
        "beam",
        "--beam-profile",
        "multi-processing",
        "--beam-workers",
        "2",
        *FAST_IRIS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = last_outcome(workdir, "iris")
    assert outcome.runner == "beam"
    assert outcome.beam_pipeline_args == ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    # The console follows the Beam runner's components as it does the local runner's.
    for name in ("CsvExampleGen", "Transform", "Trainer", "Evaluator", "Pusher", "MlflowTracker"):
        [line] = [line for line in result.stdout.splitlines() if line.split()[:1] == [name]]
        assert line.split()[1] == "done", line
    assert outcome.results.blessed is True
    assert (workdir / "serving" / "iris" / outcome.results.pushed_version / "saved_model.pb").is_file()
    # Tracked and registered as under the local runner, with the runner recorded.
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow' / 'mlflow.db'}")
    run = client.get_run(outcome.results.mlflow_run_id)
    assert run.data.tags["tfx.runner"] == "beam"
    assert run.info.status == "FINISHED"
    assert (
        client.get_model_version_by_alias("iris", "champion").tags["tf_serving_version"]
        == outcome.results.pushed_version
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["run", "iris", "--runner", "spark"],
            "tfpipe: argument --runner: invalid choice: 'spark' (choose from 'local', 'beam'); see tfpipe run --help.",
        ),
        (
            ["compile", "iris", "--target", "kubeflow"],
            "tfpipe: the following arguments are required: --image; see tfpipe compile --help.",
        ),
        (
            ["compile", "iris", "--target", "argo", "--image", IMAGE],
            "tfpipe: argument --target: invalid choice: 'argo' (choose from 'kubeflow'); see tfpipe compile --help.",
        ),
        (
            ["run", "iris", "--beam-profile", "gpu"],
            "tfpipe: Unknown Beam profile 'gpu'; known profiles: "
            "in-memory, multi-processing, portable, dataflow, flink, spark.",
        ),
        (
            ["run", "iris", "--beam-profile", "dataflow", "--beam-arg=--project=p"],
            "tfpipe: Beam profile dataflow needs --region, --temp_location, --sdk_container_image: "
            "add each with --beam-arg=OPTION=VALUE.",
        ),
        (
            ["run", "iris", "--beam-profile", "multi-processing", "--beam-workers", "0"],
            "tfpipe: --beam-workers 0: expected at least 1 worker.",
        ),
    ],
)
def test_bad_runner_choices_are_one_sentence_and_exit_2(argv, message):
    result = run_tfpipe(*argv)
    assert result.returncode == 2
    assert result.stderr.strip() == message
