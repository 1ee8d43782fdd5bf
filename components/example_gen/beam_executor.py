"""What the executors of file_example_gen.py and text_example_gen.py share: the settings their
component packs into FileBasedExampleGen's custom_config, the rejected lines their Beam stages write
aside for Do to gather, and the check that no split is left empty.
"""

import os
from typing import Any

import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

# The exec property naming where each split's Beam stage writes its rejected lines, until Do
# gathers them into one list.
REJECTED_PARTS_KEY = "_rejected_parts_dir"


class NoInputError(ValueError):
    """A split has no example: every input for it was rejected, or there was none."""


def custom_settings(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """The settings the component packed, as a protobuf Struct, into its custom_config."""
    custom_config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], custom_config)
    settings = struct_pb2.Struct()
    custom_config.custom_config.Unpack(settings)
    return json_format.MessageToDict(settings)


def read_lines(path: str) -> list[str]:
    with fileio.open(path, "r") as f:
        return f.read().splitlines()


def split_is_empty(split_uri: str) -> bool:
    """Whether the split's gzipped TFRecord files at `split_uri` hold no example."""
    files = fileio.glob(os.path.join(split_uri, "*"))
    return not files or not any(True for _ in tf.data.TFRecordDataset(files, compression_type="GZIP").take(1))
