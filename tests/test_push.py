"""Pushing into TF Serving's layout: the Pusher's executor on the iris run's real model, versions that
only grow, no partial version ever visible, and models.config parsed with TF Serving's own protos."""

import os
import shutil
from pathlib import Path

import pytest
from conftest import PipelineRun
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.push_executor import PushExecutor
from serving.model_manager import ModelManager, folder_models
from serving.push import CONTAINER_MODELS_CONFIG, CONTAINER_MODELS_DIR, MODELS_CONFIG, push_model


def read_config(path: Path) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())


def listed(path: Path) -> dict:
    """model name -> (base path, number of latest versions served), from a models.config."""
    return {
        model.name: (model.base_path, model.model_version_policy.latest.num_versions)
        for model in read_config(path).model_config_list.config
    }


def trainer_model(iris_run: PipelineRun) -> standard_artifacts.Model:
    """The iris run's Trainer output, as the Pusher receives it."""
    [uri] = (iris_run.workdir / "iris" / "pipeline_root" / "Trainer" / "model").iterdir()
    model = standard_artifacts.Model()
    model.uri = str(uri)
    return model


def run_pusher(model, model_dir: Path | str, tmp_path: Path, blessed: bool = True) -> standard_artifacts.PushedModel:
    """The Pusher's executor, called as TFX calls it, pushing to `model_dir`."""
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / f"pushed-{len(list(tmp_path.glob('pushed-*')))}")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(model_dir))
    )
    PushExecutor().Do(
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_BLESSING_KEY: [blessing]},
        {standard_component_specs.PUSHED_MODEL_KEY: [pushed]},
        {standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)},
    )
    return pushed


def visible_versions(model_dir: Path) -> list[str]:
    return sorted(path.name for path in model_dir.iterdir() if not path.name.startswith("."))


def test_the_pipeline_pushed_with_both_configs(iris_run: PipelineRun):
    serving_dir = iris_run.workdir / "serving"
    version = Path(iris_run.outcome.results.pushed_model).name
    assert visible_versions(serving_dir / "iris") == [version]
    assert listed(serving_dir / MODELS_CONFIG) == {"iris": (str((serving_dir / "iris").resolve()), 1)}
    assert listed(serving_dir / CONTAINER_MODELS_CONFIG) == {"iris": (f"{CONTAINER_MODELS_DIR}/iris", 1)}
    [model] = read_config(serving_dir / MODELS_CONFIG).model_config_list.config
    assert model.model_platform == "tensorflow"


def model_copy(iris_run: PipelineRun, tmp_path: Path, name: str) -> standard_artifacts.Model:
    """Another TFX model: the iris run's, copied to another URI (a push of the same model is not repeated)."""
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "models" / name)
    shutil.copytree(trainer_model(iris_run).uri, model.uri)
    return model


def test_versions_only_grow_and_the_configs_list_every_model(iris_run, tmp_path):
    serving_dir = tmp_path / "serving"
    model = trainer_model(iris_run)
    # Three pushes (of three models) inside one second still get three growing versions.
    models = [model_copy(iris_run, tmp_path, str(number)) for number in range(3)]
    pushes = [run_pusher(each, serving_dir / "iris", tmp_path) for each in models]
    numbers = [int(push.get_string_custom_property("pushed_version")) for push in pushes]
    assert numbers == sorted(set(numbers)) and len(numbers) == 3
    assert visible_versions(serving_dir / "iris") == [str(number) for number in numbers]
    for push, number in zip(pushes, numbers):
        assert push.get_int_custom_property("pushed") == 1
        assert push.get_string_custom_property("pushed_destination") == str(serving_dir / "iris" / str(number))
        assert (Path(push.uri) / "saved_model.pb").is_file()  # the artifact's own copy
    assert not [path for path in serving_dir.rglob(".incoming-*")]

    # A policy edited in models.config survives the next push; a second model joins the list.
    config = read_config(serving_dir / MODELS_CONFIG)
    config.model_config_list.config[0].model_version_policy.latest.num_versions = 2
    (serving_dir / MODELS_CONFIG).write_text(text_format.MessageToString(config))
    run_pusher(model, serving_dir / "roses", tmp_path)
    assert listed(serving_dir / MODELS_CONFIG) == {
        "iris": (str((serving_dir / "iris").resolve()), 2),
        "roses": (str((serving_dir / "roses").resolve()), 1),
    }
    assert listed(serving_dir / CONTAINER_MODELS_CONFIG) == {
        "iris": (f"{CONTAINER_MODELS_DIR}/iris", 2),
        "roses": (f"{CONTAINER_MODELS_DIR}/roses", 1),
    }


def test_an_unblessed_model_is_not_pushed(iris_run, tmp_path):
    pushed = run_pusher(trainer_model(iris_run), tmp_path / "serving" / "iris", tmp_path, blessed=False)
    assert pushed.get_int_custom_property("pushed") == 0
    assert not (tmp_path / "serving").exists()


def test_a_failing_copy_leaves_nothing_visible(iris_run, tmp_path):
    serving_dir = tmp_path / "serving"
    pushed_before = Path(iris_run.outcome.results.pushed_model)
    push_model(pushed_before, serving_dir / "iris")
    configs_before = {name: (serving_dir / name).read_bytes() for name in (MODELS_CONFIG, CONTAINER_MODELS_CONFIG)}
    versions_before = visible_versions(serving_dir / "iris")
    # A file that vanishes while the model is copied: the copy fails after writing most of the version.
    broken = tmp_path / "broken"
    shutil.copytree(pushed_before, broken)
    os.symlink(tmp_path / "gone", broken / "variables" / "vanished")

    with pytest.raises(shutil.Error):
        push_model(broken, serving_dir / "iris")

    assert visible_versions(serving_dir / "iris") == versions_before
    assert sorted(path.name for path in serving_dir.rglob(".*")) == [".push.lock"]
    assert {name: (serving_dir / name).read_bytes() for name in configs_before} == configs_before
    # A server polling the folder finds only the complete version.
    manager = ModelManager(folder_models(serving_dir))
    manager.poll()
    assert manager.loaded_versions("iris") == [int(version) for version in versions_before]
    manager.stop()


def test_a_broken_models_config_stops_the_push_before_anything_is_visible(iris_run, tmp_path):
    serving_dir = tmp_path / "serving"
    serving_dir.mkdir()
    (serving_dir / MODELS_CONFIG).write_text("model_config_list { config { nme: 'iris' } }")
    with pytest.raises(ValueError, match="is not a ModelServerConfig text proto"):
        push_model(Path(iris_run.outcome.results.pushed_model), serving_dir / "iris")
    assert visible_versions(serving_dir / "iris") == []


def test_a_push_destination_on_an_object_store_is_refused(iris_run, tmp_path):
    with pytest.raises(ValueError, match="needs a local or mounted folder"):
        run_pusher(trainer_model(iris_run), "gs://bucket/serving/iris", tmp_path)
