"""The Pusher's executor: TFX's, pushing with serving/push.py's `push_model` (atomic versions that only
grow, and models.config) in place of its copy:
`Pusher(custom_executor_spec=executor_spec.ExecutorClassSpec(PushExecutor), ...)`.
"""

# No `from __future__ import annotations` here, as in every module TFX loads executors from: it
# breaks TFX's decorated components and executors.

from pathlib import Path
from typing import Any

from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components import faults
from serving.push import push_model


class PushExecutor(pusher_executor.Executor):
    """TFX's Pusher executor, pushing with `push_model`: atomic versions that only grow, and models.config.

    Blessing, the model's path and the PushedModel artifact's properties are the stock executor's.
    """

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise ValueError("the Pusher needs a filesystem push_destination (a local or mounted folder).")
        base_directory = destination.filesystem.base_directory
        if "://" in base_directory:
            raise ValueError(
                f"cannot push to {base_directory}: an atomic push needs a local or mounted folder "
                "(rename is not atomic on object stores)."
            )
        model_path = self.GetModelPath(input_dict)
        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        version_dir = push_model(
            Path(model_path),
            Path(base_directory),
            model_uri=model.uri,
            model_id=model.id,
            passed=lambda stage: faults.point(f"push:{stage}"),
        )
        # The PushedModel artifact keeps its own copy, as the stock executor's does.
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=str(version_dir), pushed_version=version_dir.name)
