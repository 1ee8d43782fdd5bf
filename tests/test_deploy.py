"""The deployment files for the real TF Serving (serving/deploy/): they parse, run the image matching
our TensorFlow over the mounted serving dir with the Pusher's container config, on TF Serving's ports."""

import importlib.metadata
from pathlib import Path

import pytest
import tensorflow as tf
import yaml
from conftest import REPO_ROOT, PipelineRun
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from pipelines.workdir import DEFAULT_WORKDIR, Workdir
from serving.push import CONTAINER_MODELS_CONFIG, CONTAINER_MODELS_DIR
from serving.servables import is_complete_version

DEPLOY = REPO_ROOT / "serving" / "deploy"
IMAGE = f"tensorflow/serving:{importlib.metadata.version('tensorflow-serving-api')}"
EXPECTED_FLAGS = {
    "--port": "8500",
    "--rest_api_port": "8501",
    "--model_config_file": f"{CONTAINER_MODELS_DIR}/{CONTAINER_MODELS_CONFIG}",
}


def load(relative: str) -> dict:
    return yaml.safe_load((DEPLOY / relative).read_text())


def flags(arguments: list[str]) -> dict[str, str]:
    return dict(argument.split("=", 1) for argument in arguments)


def check_server_flags(arguments: list[str]) -> None:
    given = flags(arguments)
    assert {name: given.get(name) for name in EXPECTED_FLAGS} == EXPECTED_FLAGS
    assert int(given["--model_config_file_poll_wait_seconds"]) > 0  # newly pushed models are picked up


def test_the_image_is_the_tf_serving_release_of_our_tensorflow():
    # tensorflow-serving-api is released with the server; both must match TensorFlow's minor version.
    assert IMAGE.rsplit(":", 1)[1].split(".")[:2] == tf.__version__.split(".")[:2]


def test_docker_compose_serves_the_serving_dir_with_the_container_config():
    [service] = load("docker-compose.yaml")["services"].values()
    assert service["image"] == IMAGE
    assert service["entrypoint"] == ["tensorflow_model_server"]
    check_server_flags(service["command"])
    assert sorted(service["ports"]) == ["8500:8500", "8501:8501"]
    [volume] = service["volumes"]
    assert (volume["target"], volume["read_only"]) == (CONTAINER_MODELS_DIR, True)
    # By default, the serving dir that `tfpipe run` pushes to (paths are relative to the compose file).
    default_source = volume["source"].split(":-", 1)[1].rstrip("}")
    assert (DEPLOY / default_source).resolve() == (REPO_ROOT / Workdir(DEFAULT_WORKDIR, "").serving_dir).resolve()


def test_kubernetes_deployment_service_and_volume_fit_together():
    deployment, service, claim = load("k8s/deployment.yaml"), load("k8s/service.yaml"), load("k8s/pvc.yaml")
    assert [deployment["kind"], service["kind"], claim["kind"]] == ["Deployment", "Service", "PersistentVolumeClaim"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == ["tensorflow_model_server"]
    check_server_flags(container["args"])
    container_ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert container_ports == {"grpc": 8500, "http": 8501}

    [mount] = container["volumeMounts"]
    [volume] = pod["spec"]["volumes"]
    assert (mount["name"], mount["mountPath"], mount["readOnly"]) == (volume["name"], CONTAINER_MODELS_DIR, True)
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]

    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert {port["port"]: container_ports[port["targetPort"]] for port in service["spec"]["ports"]} == {
        8500: 8500,
        8501: 8501,
    }


@pytest.fixture
def container_config(iris_run: PipelineRun) -> model_server_config_pb2.ModelServerConfig:
    path = iris_run.workdir / "serving" / CONTAINER_MODELS_CONFIG
    return text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())


def test_the_container_config_names_base_paths_that_the_mount_provides(container_config, iris_run: PipelineRun):
    """The serving dir mounted at /models: each base path in the config is a model folder with a version."""
    [model] = container_config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("iris", f"{CONTAINER_MODELS_DIR}/iris", "tensorflow")
    on_host = iris_run.workdir / "serving" / Path(model.base_path).relative_to(CONTAINER_MODELS_DIR)
    assert any(is_complete_version(version) for version in on_host.iterdir())
