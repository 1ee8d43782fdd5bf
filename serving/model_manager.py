"""Which model versions are loaded: finds versions on disk, loads new ones, unloads old ones.

Which models there are comes from a model source, read again at every poll: every
`<model>/` folder under a base path (TF Serving's layout, written by the Pusher), or a
`models.config` (TF Serving's ModelServerConfig: name, base path, version policy and labels
of each model), so a model a Pusher adds to the config is served too. A poll loads the
versions a model's policy asks for (TF Serving's default keeps the latest one) and unloads
the rest. A new version is loaded before an old one is unloaded, and a request keeps the
servable it resolved until it is answered, so a swap never fails a request. A version that
fails to load (a corrupt SavedModel, or one caught half-copied by a Pusher that does not
write atomically) is retried every `LOAD_RETRY_INTERVAL_S` seconds, `MAX_LOAD_ATTEMPTS`
times in all, as TF Serving retries; meanwhile the versions already loaded keep serving.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeAlias

from google.protobuf import text_format
from tensorflow_serving.apis import get_model_status_pb2, model_pb2
from tensorflow_serving.config import file_system_storage_path_source_pb2, model_server_config_pb2

from serving.batching import BatchingOptions
from serving.errors import invalid_argument, not_found
from serving.servables import Servable, is_complete_version, version_number

log = logging.getLogger(__name__)

MAX_LOAD_ATTEMPTS = 5  # TF Serving's max_num_load_retries
LOAD_RETRY_INTERVAL_S = 10.0  # shorter than TF Serving's minute: models here load in under a second

State = get_model_status_pb2.ModelVersionStatus.State


@dataclasses.dataclass
class VersionStatus:
    """What GetModelStatus reports for one version: its state and the error that ended it, if any."""

    state: int = State.START
    error: str = ""
    failed_loads: int = 0
    retry_after: float = 0.0  # time.monotonic() before which a failed load is not tried again


# TypeAlias: usable in annotations (as Any: the generated protobuf modules carry no types mypy reads).
VersionPolicy: TypeAlias = file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig.ServableVersionPolicy


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """One model a source names: where its versions are, which to serve, and their labels."""

    name: str
    base_path: Path
    policy: VersionPolicy
    labels: Mapping[str, int]


ModelSource = Callable[[], list[ServedModel]]


def folder_models(
    base_path: Path, versions_to_keep: int = 1, version_labels: Mapping[str, Mapping[str, int]] | None = None
) -> ModelSource:
    """Every `<model>/` folder under `base_path`, each serving its newest `versions_to_keep` versions."""
    if versions_to_keep < 1:
        raise ValueError(f"versions_to_keep must be at least 1, got {versions_to_keep}")
    policy = VersionPolicy(latest=VersionPolicy.Latest(num_versions=versions_to_keep))

    def models() -> list[ServedModel]:
        # A hidden folder (".incoming", say) is a push in progress or a tool's, not a model.
        folders = base_path.iterdir() if base_path.is_dir() else []
        return [
            ServedModel(path.name, path, policy, dict((version_labels or {}).get(path.name, {})))
            for path in sorted(folders)
            if path.is_dir() and not path.name.startswith(".")
        ]

    return models


def config_file_models(config_file: Path, extra_labels: Mapping[str, Mapping[str, int]] | None = None) -> ModelSource:
    """The models a ModelServerConfig text file lists, as `tensorflow_model_server
    --model_config_file` reads it. A relative base path is relative to the file's folder.
    `extra_labels` (per model, label -> version) add to the file's `version_labels`.

    Reading raises ValueError naming the file if it cannot be read or parsed."""

    def models() -> list[ServedModel]:
        try:
            config = text_format.Parse(config_file.read_text(), model_server_config_pb2.ModelServerConfig())
        except OSError as error:
            raise ValueError(f"{config_file} is not a readable ModelServerConfig text proto: {error}") from None
        except text_format.ParseError as error:
            # TF Serving's words for a file that does not parse (tensorflow_model_server_test.py's
            # testBadModelConfig looks for them), after ours.
            raise ValueError(
                f"{config_file} is not a readable ModelServerConfig text proto: "
                f"Error parsing text-format tensorflow.serving.ModelServerConfig: {error}"
            ) from None
        served = []
        for model in config.model_config_list.config:
            policy = model.model_version_policy if model.HasField("model_version_policy") else VersionPolicy()
            if policy.WhichOneof("policy_choice") is None:  # TF Serving's default: the latest version
                policy = VersionPolicy(latest=VersionPolicy.Latest(num_versions=1))
            labels = {**model.version_labels, **(extra_labels or {}).get(model.name, {})}
            served.append(ServedModel(model.name, config_file.parent / model.base_path, policy, labels))
        return served

    return models


class ModelManager:
    """The loaded versions of every model a source names, kept current by polling.

    Args:
      source: which models to serve (`folder_models` or `config_file_models`), asked at every poll.
      batching: how requests are merged per signature; None runs each request on its own.
    """

    def __init__(self, source: ModelSource, batching: BatchingOptions | None = None):
        self.source = source
        self.batching = batching
        self.version_labels: dict[str, dict[str, int]] = {}
        self._servables: dict[str, dict[int, Servable]] = {}
        self._statuses: dict[str, dict[int, VersionStatus]] = {}
        self._lock = threading.Lock()  # guards the dicts; never held while loading a model
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def poll(self) -> None:
        """Brings the loaded versions of every model in line with the source and what is on disk now."""
        models = {model.name: model for model in self.source()}
        with self._lock:
            loaded = set(self._servables)
            self.version_labels = {name: dict(model.labels) for name, model in models.items()}
        for name in sorted(models):
            self._update_model(models[name])
        # A model the source no longer names is unloaded.
        for name in sorted(loaded - set(models)):
            self._unload_all_but(name, keep=[])

    def start_watching(self, poll_interval_s: float) -> None:
        """Polls the base path every `poll_interval_s` seconds in a background thread."""

        def watch():
            while not self._stop.wait(poll_interval_s):
                try:
                    self.poll()
                except Exception:  # A full disk or a vanished folder must not end the watching.
                    log.exception("polling for models failed; trying again in %s s", poll_interval_s)

        self._watcher = threading.Thread(target=watch, name="model version watcher", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stops watching and unloads everything."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        with self._lock:
            servables = [servable for versions in self._servables.values() for servable in versions.values()]
            self._servables.clear()
        for servable in servables:
            servable.close()

    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(name for name, versions in self._servables.items() if versions)

    def loaded_versions(self, model_name: str) -> list[int]:
        with self._lock:
            return sorted(self._servables.get(model_name, {}))

    def servable(self, model_spec: model_pb2.ModelSpec) -> Servable:
        """The servable a request's ModelSpec names: a version, a label's version, or the latest."""
        name = model_spec.name
        if not name:
            raise invalid_argument("ModelSpec has no name specified.")  # TF Serving's ServerCore
        with self._lock:
            versions = self._servables.get(name, {})
            if model_spec.HasField("version"):
                version = model_spec.version.value
                request = f"Specific({name}, {version})"
            elif model_spec.version_label:
                version = self.labelled_version(name, model_spec.version_label)
                request = f"Specific({name}, {version})"
            else:
                version = max(versions, default=None)
                request = f"Latest({name})"
            if version not in versions:
                raise not_found(f"Servable not found for request: {request}")
            return versions[version]

    def labelled_version(self, model_name: str, label: str) -> int:
        """The version a label names (called holding the lock: the source can change labels)."""
        labels = self.version_labels.get(model_name, {})
        if label not in labels:
            raise invalid_argument(f"Unrecognized servable version label: {label}")
        return labels[label]

    def version_statuses(self, model_name: str, version: int | None = None) -> dict[int, VersionStatus]:
        """Every version of a model this server has seen (or the one asked for), with its state."""
        with self._lock:
            statuses = dict(self._statuses.get(model_name, {}))
        if not statuses:
            raise not_found(f"Could not find any versions of model {model_name}")
        if version is None:
            return statuses
        if version not in statuses:
            raise not_found(f"Could not find version {version} of model {model_name}")
        return {version: statuses[version]}

    def _update_model(self, model: ServedModel) -> None:
        name, model_dir = model.name, model.base_path
        candidates = sorted(model_dir.iterdir()) if model_dir.is_dir() else []
        # A version's folder as named on disk: "00000123" is version 123 (TF Serving's test models
        # are named so); of two folders naming one version, the first in name order.
        folders: dict[int, Path] = {}
        for path in candidates:
            number = version_number(path)
            if number is not None and number not in folders and is_complete_version(path):
                folders[number] = path
        on_disk = sorted(folders, reverse=True)
        policy = model.policy.WhichOneof("policy_choice")
        if policy == "specific":
            on_disk = [version for version in on_disk if version in model.policy.specific.versions]
        # latest: the newest that load, so a version that fails to load leaves an older one serving.
        limit = max(model.policy.latest.num_versions, 1) if policy == "latest" else len(on_disk)
        keep: list[int] = []
        for version in on_disk:
            if len(keep) == limit:
                break
            if self._is_loaded(name, version) or self._load(name, version, folders[version]):
                keep.append(version)
        self._unload_all_but(name, keep)

    def _unload_all_but(self, name: str, keep: list[int]) -> None:
        with self._lock:
            loaded = self._servables.get(name, {})
            unloading = [loaded.pop(version) for version in sorted(loaded) if version not in keep]
            for servable in unloading:
                self._statuses[name][servable.version] = VersionStatus(State.END)
        for servable in unloading:
            servable.close()
            log.info("unloaded %s version %d", name, servable.version)

    def _is_loaded(self, name: str, version: int) -> bool:
        with self._lock:
            return version in self._servables.get(name, {})

    def _load(self, name: str, version: int, path: Path) -> bool:
        with self._lock:
            status = self._statuses.setdefault(name, {}).setdefault(version, VersionStatus())
            if status.failed_loads >= MAX_LOAD_ATTEMPTS or time.monotonic() < status.retry_after:
                return False
            status.state = State.LOADING
        try:
            servable = Servable(name, version, path, self.batching)
        except Exception as error:  # A broken or half-copied SavedModel: report it, keep serving the rest.
            with self._lock:
                status.failed_loads += 1
                status.retry_after = time.monotonic() + LOAD_RETRY_INTERVAL_S
                status.state, status.error = State.END, f"{type(error).__name__}: {error}"
            log.warning("could not load %s version %d (attempt %d): %s", name, version, status.failed_loads, error)
            return False
        with self._lock:
            self._servables.setdefault(name, {})[version] = servable
            status.state, status.error = State.AVAILABLE, ""
        log.info("loaded %s version %d from %s", name, version, path)
        return True
