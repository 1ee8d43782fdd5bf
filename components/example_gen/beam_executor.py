"""The one base of the executors of file_example_gen.py and text_example_gen.py: the settings their
component packs into FileBasedExampleGen's custom_config, the folders read (the data folder, or the
span folders of the run's window: spans.py) and the span recorded, the reader module their Beam stage
calls by name, the rejected inputs that stage writes aside for Do to gather, and the check that no
split is left empty.
"""

import hashlib
import importlib
import os
from typing import Any

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import rejected_inputs
from components.example_gen.spans import WindowRead

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


def window_settings(window: WindowRead) -> dict[str, Any]:
    """The settings of custom_config that say what a run reads (window_paths) and which span it records."""
    return {"input_folders": list(window.folders), "span": window.span, "data_fingerprint": window.fingerprint}


def window_paths(exec_properties: dict[str, Any], split_pattern: str) -> list[str]:
    """The paths `split_pattern` matches in each folder read (window_settings), sorted: a span folder holds
    what a data folder without spans holds, and each split's pattern is the same in every span."""
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    folders = custom_settings(exec_properties)["input_folders"]
    return sorted(path for folder in folders for path in fileio.glob(os.path.join(input_base, folder, split_pattern)))


def read_lines(path: str) -> list[str]:
    with fileio.open(path, "r") as f:
        return f.read().splitlines()


# Why a path that names no regular file is not read: a device such as /dev/zero never ends.
NOT_A_REGULAR_FILE = "is not a regular file (a device, a pipe or a socket); it was not read"


def is_special_file(path: str) -> bool:
    """Whether `path` is on this machine and names a device, a pipe or a socket (through any links)."""
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


def split_is_empty(split_uri: str) -> bool:
    """Whether the split's gzipped TFRecord files at `split_uri` hold no example."""
    files = fileio.glob(os.path.join(split_uri, "*"))
    return not files or not any(True for _ in tf.data.TFRecordDataset(files, compression_type="GZIP").take(1))


class ReadWithReader(beam.DoFn):
    """An input -> its tf.Examples, by the pipeline's reader module, or `<where>: <problem>` on the
    REJECTED output; subclasses say how an input is read (process)."""

    REJECTED = "rejected"

    def __init__(self, reader: str, options: dict[str, Any]):
        # The reader by name: Beam pickles this DoFn for its workers, and a name always pickles.
        self._reader_name = reader
        self._options = options

    def setup(self):
        self._reader = importlib.import_module(self._reader_name)


def write_rejected(rejected: beam.PCollection, exec_properties: dict[str, Any], split_pattern: str) -> None:
    """Writes a split pattern's rejected lines, each on one readable line, where RejectingExecutor.Do
    gathers them."""
    part = hashlib.sha256(split_pattern.encode()).hexdigest()[:12]
    _ = (
        rejected
        | "ShortenRejected" >> beam.Map(rejected_inputs.shortened)
        | "WriteRejected" >> beam.io.WriteToText(os.path.join(exec_properties[REJECTED_PARTS_KEY], part))
    )


class RejectingExecutor(BaseExampleGenExecutor):
    """TFX's ExampleGen executor, for a Beam stage that sets inputs aside (write_rejected): Do lists
    them once (rejected_inputs.py) and fails, saying why (empty_split_message), when a split is empty."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        parts_dir = os.path.join(examples.uri, "rejected_parts")
        super().Do(input_dict, output_dict, {**exec_properties, REJECTED_PARTS_KEY: parts_dir})
        rejected = sorted(line for part in fileio.glob(os.path.join(parts_dir, "*")) for line in read_lines(part))
        fileio.rmtree(parts_dir)
        rejected_inputs.record(examples, rejected)
        # As TFX's ExampleGens record it (their driver resolves one span; this window was resolved when built).
        examples.span = int(custom_settings(exec_properties)["span"])
        for split in artifact_utils.decode_split_names(examples.split_names):
            if split_is_empty(artifact_utils.get_split_uri([examples], split)):
                raise NoInputError(self.empty_split_message(split, rejected, exec_properties))

    def empty_split_message(self, split: str, rejected: list[str], exec_properties: dict[str, Any]) -> str:
        """The one sentence NoInputError says when `split` has no example."""
        raise NotImplementedError
