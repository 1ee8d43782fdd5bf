"""Pushing a blessed model into TF Serving's layout, atomically, and the models.config naming every model.

<serving dir>/
  <model>/<version>/          a SavedModel; versions are integers that only grow
  <model>/<version>/tfpipe_push.json  which TFX model the version is (its artifact's URI and id)
  <model>/.incoming-*/        a push still being copied: hidden, so no server loads it
  models.config               ModelServerConfig for a server on this machine (base paths as pushed)
  models.container.config     the same for a server that mounts <serving dir> at /models (serving/deploy/)
  .push.lock                  held while a version number is chosen and the configs are rewritten

A version is copied into a hidden folder beside its final place, then renamed into place: a
rename on one filesystem is atomic, so a server polling the model folder sees either no new
version or a complete one, never a half-copied one, and a copy that fails leaves nothing visible.
The configs are written to hidden files first and renamed over the old ones, so a server
re-reading models.config never reads half a file.

A push is idempotent and survives being killed: the whole push happens under the lock, so a
`.incoming-*` folder found by the next push (which holds the lock) was left by a push that was
killed, and is removed; and each version records the TFX model it is (`tfpipe_push.json`,
written before the rename, so it appears with the version), so a Pusher re-run after a crash
between the rename and ML Metadata's record finds its model already pushed as the newest version
and records that version instead of pushing a copy.

The pipeline's Pusher pushes with `push_model` (components/push_executor.py).
"""

# No `from __future__ import annotations` here, as in every module TFX loads executors from: it
# breaks TFX's decorated components and executors.

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeAlias

from google.protobuf import text_format
from tensorflow_serving.config import file_system_storage_path_source_pb2, model_server_config_pb2

from serving.servables import is_complete_version

MODELS_CONFIG = "models.config"
CONTAINER_MODELS_CONFIG = "models.container.config"
# Where the deployment files (serving/deploy/) mount the serving dir: TF Serving's image
# convention (its MODEL_BASE_PATH), and what models.container.config's base paths start with.
CONTAINER_MODELS_DIR = "/models"
STAGING_PREFIX = ".incoming-"
# In each version folder: which TFX model artifact it is (model_uri, model_id) and when it was pushed.
PUSH_RECORD = "tfpipe_push.json"
_LOCK_FILE = ".push.lock"

# TypeAlias: usable in annotations (as Any: the generated protobuf modules carry no types mypy reads).
ModelServerConfig: TypeAlias = model_server_config_pb2.ModelServerConfig
VersionPolicy = file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig.ServableVersionPolicy
# TF Serving's own default: serve the newest version only.
DEFAULT_POLICY = VersionPolicy(latest=VersionPolicy.Latest(num_versions=1))


def push_model(
    saved_model: Path,
    model_dir: Path,
    model_uri: str = "",
    model_id: int = 0,
    passed: Callable[[str], None] = lambda stage: None,
) -> Path:
    """Copies a SavedModel to `<model_dir>/<version>/` atomically and rewrites the serving dir's configs.

    Args:
      saved_model: the SavedModel folder to push.
      model_dir: the model's base path, `<serving dir>/<model name>`, on a local or mounted filesystem.
      model_uri: the TFX Model artifact's URI, recorded in the version (PUSH_RECORD). If the newest
        version already records it (a push killed before the Pusher was recorded), that version is
        returned and nothing is copied. Empty: always a new version.
      model_id: the artifact's ML Metadata id, recorded beside its URI.
      passed: called as the push passes each stage: "copied" (the copy complete and still hidden),
        then "published" (renamed into place); where the fault-injection tests stop a run.

    Returns:
      The version's folder. A new version's name is the Unix time of the push (the stock Pusher's
      versioning), or one more than the newest version already there if that is not larger,
      so versions only grow even for two pushes in one second or after a clock step back.
    """
    serving_dir = model_dir.parent
    model_dir.mkdir(parents=True, exist_ok=True)
    with _push_lock(serving_dir):
        # Holding the lock, no other push is under way: a staging folder is a killed push's.
        remove_stale_staging(model_dir)
        newest = _newest_version(model_dir)
        if model_uri and newest is not None and pushed_model_uri(newest) == model_uri:
            return newest
        # copytree creates it with the source's permissions (mkdtemp's would be owner-only,
        # unreadable to a server running as another user once renamed into place).
        staging = model_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        try:
            shutil.copytree(saved_model, staging)
            record = {"model_uri": model_uri, "model_id": model_id, "pushed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            (staging / PUSH_RECORD).write_text(json.dumps(record, indent=2) + "\n")
            passed("copied")
            version_dir = model_dir / str(_next_version(model_dir))
            _publish(staging, version_dir, serving_dir, model_dir.name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    passed("published")
    return version_dir


def pushed_model_uri(version_dir: Path) -> str | None:
    """The TFX model artifact URI a pushed version records, or None (pushed without one, or by another tool)."""
    try:
        return json.loads((version_dir / PUSH_RECORD).read_text()).get("model_uri") or None
    except (OSError, ValueError):
        return None


def remove_stale_staging(model_dir: Path) -> list[str]:
    """Removes the hidden folders and files of pushes that were killed; returns their names.
    Call holding the push lock (push_model does)."""
    stale = [path for path in (*model_dir.glob(f"{STAGING_PREFIX}*"), *model_dir.parent.glob(f"{STAGING_PREFIX}*"))]
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return [path.name for path in stale]


def _newest_version(model_dir: Path) -> Path | None:
    versions = [path for path in model_dir.iterdir() if is_complete_version(path)]
    return max(versions, key=lambda path: int(path.name), default=None)


def _publish(staging: Path, version_dir: Path, serving_dir: Path, model_name: str) -> None:
    """Renames the copied version into place and replaces both configs; called holding the push lock."""
    staged = [
        (serving_dir / f"{STAGING_PREFIX}{name}", serving_dir / name, base_dir)
        for name, base_dir in [
            (MODELS_CONFIG, str(serving_dir.resolve())),
            (CONTAINER_MODELS_CONFIG, CONTAINER_MODELS_DIR),
        ]
    ]
    try:
        # Written before the version appears, so what can fail (a full disk, a broken
        # models.config) fails while nothing is visible yet; only renames follow.
        for path, _, base_dir in staged:
            path.write_text(text_format.MessageToString(models_config(serving_dir, base_dir, also=model_name)))
        os.rename(staging, version_dir)
        for path, final, _ in staged:
            os.replace(path, final)
    finally:
        for path, _, _ in staged:
            path.unlink(missing_ok=True)


def models_config(serving_dir: Path, base_dir: str, also: str = "") -> ModelServerConfig:
    """A ModelServerConfig listing every model under `serving_dir` (and `also`) with base path `<base_dir>/<model>`.

    A model's version policy is the one models.config already gives it, so a policy edited
    there (serve the newest 2, say) survives later pushes; a new model gets TF Serving's default.
    """
    policies = {model.name: model.model_version_policy for model in _read_config(serving_dir / MODELS_CONFIG)}
    names = {
        path.name
        for path in serving_dir.iterdir()
        if path.is_dir()
        and not path.name.startswith(".")
        and any(is_complete_version(version) for version in path.iterdir())
    }
    config = ModelServerConfig()
    for name in sorted(names | ({also} if also else set())):
        config.model_config_list.config.add(
            name=name,
            base_path=f"{base_dir}/{name}",
            model_platform="tensorflow",
            model_version_policy=policies.get(name, DEFAULT_POLICY),
        )
    return config


def _read_config(path: Path) -> list[model_server_config_pb2.ModelConfig]:
    if not path.is_file():
        return []
    try:
        config = text_format.Parse(path.read_text(), ModelServerConfig())
    except text_format.ParseError as error:
        raise ValueError(
            f"{path} is not a ModelServerConfig text proto ({error}); fix it or delete it to start afresh."
        ) from None
    return list(config.model_config_list.config)


def _next_version(model_dir: Path) -> int:
    existing = [int(path.name) for path in model_dir.iterdir() if path.name.isdigit()]
    return max(int(time.time()), max(existing, default=0) + 1)


@contextlib.contextmanager
def _push_lock(serving_dir: Path) -> Iterator[None]:
    """Serializes pushes into one serving dir (two pipelines, or two runs of one) across processes."""
    with open(serving_dir / _LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
