"""The Trainer's executor: TFX's GenericExecutor (the module code's run_fn), then the `export` fault point
(components/faults.py) once the model is written:
`Trainer(custom_executor_spec=executor_spec.ExecutorClassSpec(TrainExecutor), ...)`.
"""

# No `from __future__ import annotations` here, as in every module TFX loads executors from.

from typing import Any

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import path_utils

from components import faults


class TrainExecutor(trainer_executor.GenericExecutor):
    """TFX's GenericExecutor; after run_fn, the fault point `export` for the tests of the InfraValidator."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        model = artifact_utils.get_single_instance(output_dict[standard_component_specs.MODEL_KEY])
        faults.exported(path_utils.serving_model_dir(model.uri))
