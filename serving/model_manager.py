"""Which model versions are loaded: finds versions under the base path, loads new ones, unloads old ones.

The base path holds `<model>/<version>/` folders (TF Serving's layout, written by the Pusher).
A poll loads every model's newest `versions_to_keep` versions (TF Serving's default policy keeps
the latest one) and unloads the rest. A new version is loaded before an old one is unloaded, and
a request keeps the servable it resolved until it is answered, so a swap never fails a request.
A version that fails to load (a corrupt SavedModel, or one caught half-copied by a Pusher that
does not write atomically) is retried every `LOAD_RETRY_INTERVAL_S` seconds, `MAX_LOAD_ATTEMPTS`
times in all, as TF Serving retries; meanwhile the versions already loaded keep serving.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Mapping

from tensorflow_serving.apis import get_model_status_pb2, model_pb2

from serving.batching import BatchingOptions
from serving.errors import invalid_argument, not_found
from serving.servables import Servable, is_complete_version

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


class ModelManager:
    """The loaded versions of every model under a base path, kept current by polling it.

    Args:
      base_path: the folder holding `<model>/<version>/` SavedModels (`<workdir>/serving`).
      versions_to_keep: how many of each model's newest versions stay loaded.
      version_labels: per model, label -> version (e.g. {"iris": {"stable": 1795431339}}), so
        clients can ask for `version_label` instead of a number.
      batching: how requests are merged per signature; None runs each request on its own.
    """

    def __init__(
        self,
        base_path: Path,
        versions_to_keep: int = 1,
        version_labels: Mapping[str, Mapping[str, int]] | None = None,
        batching: BatchingOptions | None = None,
    ):
        if versions_to_keep < 1:
            raise ValueError(f"versions_to_keep must be at least 1, got {versions_to_keep}")
        self.base_path = Path(base_path)
        self.versions_to_keep = versions_to_keep
        self.version_labels = {model: dict(labels) for model, labels in (version_labels or {}).items()}
        self.batching = batching
        self._servables: dict[str, dict[int, Servable]] = {}
        self._statuses: dict[str, dict[int, VersionStatus]] = {}
        self._lock = threading.Lock()  # guards both dicts; never held while loading a model
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def poll(self) -> None:
        """Brings the loaded versions of every model in line with what is on disk now."""
        # A hidden folder (".incoming", say) is a push in progress or a tool's, not a model.
        folders = self.base_path.iterdir() if self.base_path.is_dir() else []
        on_disk = {path.name for path in folders if path.is_dir() and not path.name.startswith(".")}
        with self._lock:
            loaded = set(self._servables)
        # A model whose folder was removed is updated too: all its versions are unloaded.
        for name in sorted(on_disk | loaded):
            self._update_model(self.base_path / name)

    def start_watching(self, poll_interval_s: float) -> None:
        """Polls the base path every `poll_interval_s` seconds in a background thread."""

        def watch():
            while not self._stop.wait(poll_interval_s):
                try:
                    self.poll()
                except Exception:  # A full disk or a vanished folder must not end the watching.
                    log.exception("polling %s failed; trying again in %s s", self.base_path, poll_interval_s)

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
        """The version a label names (labels are fixed at start, so no lock is needed)."""
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

    def _update_model(self, model_dir: Path) -> None:
        name = model_dir.name
        candidates = model_dir.iterdir() if model_dir.is_dir() else []
        on_disk = sorted((int(path.name) for path in candidates if is_complete_version(path)), reverse=True)
        keep: list[int] = []
        for version in on_disk:
            if len(keep) == self.versions_to_keep:
                break
            if self._is_loaded(name, version) or self._load(name, version, model_dir / str(version)):
                keep.append(version)
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
