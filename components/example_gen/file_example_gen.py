"""FileExampleGen: one tf.Example per input file (an image, a recording), on Beam, for any file type.

No standard TFX ExampleGen reads images or audio. This is TFX's custom ExampleGen pattern, the one
way tfpipe writes a file-reading ExampleGen: an executor whose GetInputSourceToExamplePTransform
turns one split pattern into tf.Examples, run by FileBasedExampleGen. A pattern names a labels
file, class folders or TFRecord files (layouts.py).

What a file holds is the pipeline's business: its module code has a reader module (the config's
`example_reader`, for example components/models/images/ingest.py) with
  CONTENT_KEY            the bytes feature that carries the file's content (in TFRecords too)
  read(content, options) -> {feature name: int, float or bytes value} it adds, or ValueError(reason)
Each example holds the content as read, its class index (`label`) and the reader's features.

An input the reader refuses, and a labels line that names a missing file or an unknown class,
never become examples: they are listed with the reason (rejected_inputs.py). A split left with
no example at all fails the run, naming the data folder. TFRecords are read here too, not by
ImportExampleGen, so that their records get the same check: ImportExampleGen would pass a corrupt
one on to Transform, which cannot skip it and fails.
"""

import hashlib
import importlib
import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import rejected_inputs
from components.example_gen.layouts import LABEL_KEY, LABELS_SUFFIX, TFRECORD_SUFFIXES, Layout

# Where each split's Beam stage writes its rejected lines, until Do gathers them into one list.
_REJECTED_PARTS_KEY = "_rejected_parts_dir"


class NoInputError(ValueError):
    """A split has no readable input."""


def FileExampleGen(
    data_dir: str,
    layout: Layout,
    class_names: tuple[str, ...],
    reader: str,
    reader_options: dict[str, Any],
    data_fingerprint: str,
    component_id: str,
) -> FileBasedExampleGen:
    """The component over `data_dir`, read as `layout` says.

    Args:
      class_names: the classes in label order; labels and class folder names must be among them.
      reader: the import name of the module that checks each file and adds its features (above).
      reader_options: what the reader needs of the config (an image's channels, an audio's rate).
      data_fingerprint: changes whenever a file under `data_dir` does (layouts.fingerprint),
        so that the component is not cached on files TFX's own fingerprint does not look at.
      component_id: the node's name in the DAG and the console (ImageExampleGen, AudioExampleGen).
    """
    settings = struct_pb2.Struct()
    settings.update(
        {
            "class_names": list(class_names),
            "reader": reader,
            "reader_options": reader_options,
            "data_fingerprint": data_fingerprint,
        }
    )
    custom_config = example_gen_pb2.CustomConfig()
    custom_config.custom_config.Pack(settings)
    input_config = example_gen_pb2.Input(
        splits=[
            example_gen_pb2.Input.Split(name=name, pattern=pattern) for name, pattern in layout.split_patterns.items()
        ]
    )
    return FileBasedExampleGen(
        input_base=data_dir,
        input_config=input_config,
        custom_config=custom_config,
        custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
    ).with_id(component_id)


class _Candidate(NamedTuple):
    """An input to check: a file (`path`) or bytes from a TFRecord (`encoded`); or a known problem."""

    where: str
    path: str | None = None
    encoded: bytes | None = None
    label: int | None = None
    problem: str | None = None


def _settings(exec_properties: dict[str, Any]) -> dict[str, Any]:
    custom_config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], custom_config)
    settings = struct_pb2.Struct()
    custom_config.custom_config.Unpack(settings)
    return json_format.MessageToDict(settings)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _FilesToExamples(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str) -> beam.PCollection:
    """The inputs a split pattern names -> tf.Examples; the rejected ones are written aside."""
    settings = _settings(exec_properties)
    class_names = settings["class_names"]
    content_key = importlib.import_module(settings["reader"]).CONTENT_KEY
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    matches = sorted(fileio.glob(os.path.join(input_base, split_pattern)))
    labels_files = [path for path in matches if path.endswith(LABELS_SUFFIX)]
    tfrecords = [path for path in matches if path.endswith(TFRECORD_SUFFIXES)]
    class_folders = [path for path in matches if fileio.isdir(path)]

    candidates = (
        (
            pipeline
            | "LabelsFiles" >> beam.Create(labels_files)
            | "LabelsLines" >> beam.FlatMap(_labels_file_candidates, input_base, class_names)
        ),
        (
            pipeline
            | "ClassFolders" >> beam.Create(class_folders)
            | "ClassFolderFiles" >> beam.FlatMap(_class_folder_candidates, input_base, class_names)
        ),
        (
            pipeline
            | "TFRecordFiles" >> beam.Create(tfrecords)
            | "ReadTFRecords" >> beam.io.ReadAllFromTFRecord(with_filename=True)
            | "Records" >> beam.Map(_record_candidate, input_base, len(class_names), content_key)
        ),
    ) | "AllCandidates" >> beam.Flatten()
    examples, rejected = candidates | "ReadInputs" >> beam.ParDo(
        _ReadInput(settings["reader"], settings["reader_options"])
    ).with_outputs(_ReadInput.REJECTED, main="examples")
    part = hashlib.sha256(split_pattern.encode()).hexdigest()[:12]
    _ = rejected | "WriteRejected" >> beam.io.WriteToText(os.path.join(exec_properties[_REJECTED_PARTS_KEY], part))
    return examples


def _relative(path: str, input_base: str) -> str:
    return os.path.relpath(path, input_base)


def _class_index(class_names: list[str], name: str) -> int | None:
    return class_names.index(name) if name in class_names else None


def _labels_file_candidates(labels_path: str, input_base: str, class_names: list[str]) -> Iterator[_Candidate]:
    """One candidate per `<file name> <label>` line; names are relative to the folder named like the
    labels file beside it (the notes' `train.txt` + `train/`), else to the labels file's folder."""
    paired_folder = labels_path[: -len(LABELS_SUFFIX)]
    image_folder = paired_folder if fileio.isdir(paired_folder) else os.path.dirname(labels_path)
    labels_name = _relative(labels_path, input_base)
    with fileio.open(labels_path, "r") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{labels_name} line {number}"
        # The label is the last field, so file names may hold spaces.
        fields = line.strip().rsplit(maxsplit=1)
        if len(fields) != 2:
            yield _Candidate(where, problem=f"expected '<file name> <label>', got {line.strip()!r}")
            continue
        file_name, label = fields
        path = os.path.join(image_folder, file_name)
        index = _class_index(class_names, label)
        if index is None:
            yield _Candidate(where, problem=f"label {label!r} is not one of the class names ({', '.join(class_names)})")
        elif not fileio.exists(path):
            yield _Candidate(where, problem=f"names {_relative(path, input_base)}, which does not exist")
        else:
            yield _Candidate(_relative(path, input_base), path=path, label=index)


def _class_folder_candidates(folder: str, input_base: str, class_names: list[str]) -> Iterator[_Candidate]:
    """One candidate per file in a class folder; hidden files (.DS_Store and the like) are not images."""
    class_name = os.path.basename(folder.rstrip("/"))
    index = _class_index(class_names, class_name)
    for name in sorted(fileio.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith(".") or fileio.isdir(path):
            continue
        where = _relative(path, input_base)
        if index is None:
            yield _Candidate(
                where, problem=f"its folder {class_name!r} is not one of the class names ({', '.join(class_names)})"
            )
        else:
            yield _Candidate(where, path=path, label=index)


def _record_candidate(
    file_and_record: tuple[str, bytes], input_base: str, class_count: int, content_key: str
) -> _Candidate:
    file_name, record = file_and_record
    where = f"a record of {_relative(file_name, input_base)}"
    try:
        feature = tf.train.Example.FromString(record).features.feature
    except Exception as error:  # protobuf's DecodeError, among others
        return _Candidate(where, problem=f"is not a tf.Example ({type(error).__name__})")
    content = feature[content_key].bytes_list.value if content_key in feature else []
    labels = feature[LABEL_KEY].int64_list.value if LABEL_KEY in feature else []
    if len(content) != 1 or len(labels) != 1:
        return _Candidate(where, problem=f"expected one '{content_key}' bytes value and one '{LABEL_KEY}' integer")
    if not 0 <= labels[0] < class_count:
        return _Candidate(where, problem=f"label {labels[0]} is not a class index from 0 to {class_count - 1}")
    return _Candidate(where, encoded=content[0], label=labels[0])


class _ReadInput(beam.DoFn):
    """A candidate -> a tf.Example, or a line `<where>: <problem>` on the REJECTED output."""

    REJECTED = "rejected"

    def __init__(self, reader: str, options: dict[str, Any]):
        # The reader by name: Beam pickles this DoFn for its workers, and a name always pickles.
        self._reader_name = reader
        self._options = options

    def setup(self):
        self._reader = importlib.import_module(self._reader_name)

    def process(self, candidate: _Candidate):
        problem, encoded = candidate.problem, candidate.encoded
        if problem is None and encoded is None:
            try:
                with fileio.open(candidate.path, "rb") as f:
                    encoded = f.read()
            except (OSError, tf.errors.OpError) as error:
                problem = f"cannot be read ({rejected_inputs.op_message(error)})"
        if problem is None:
            try:
                added = self._reader.read(encoded, self._options)
            except ValueError as error:
                problem = str(error)
            except tf.errors.OpError as error:
                problem = rejected_inputs.op_message(error)
        if problem is not None:
            yield beam.pvalue.TaggedOutput(self.REJECTED, f"{candidate.where}: {problem}")
            return
        values = {self._reader.CONTENT_KEY: encoded, LABEL_KEY: candidate.label, **added}
        yield tf.train.Example(
            features=tf.train.Features(feature={name: _feature(value) for name, value in values.items()})
        )


def _feature(value) -> tf.train.Feature:
    if isinstance(value, bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    if isinstance(value, float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


class Executor(BaseExampleGenExecutor):
    """Reads input files into tf.Examples, then records what it rejected and checks that no split is empty."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _FilesToExamples

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        parts_dir = os.path.join(examples.uri, "rejected_parts")
        super().Do(input_dict, output_dict, {**exec_properties, _REJECTED_PARTS_KEY: parts_dir})
        rejected = sorted(line for part in fileio.glob(os.path.join(parts_dir, "*")) for line in _read_lines(part))
        fileio.rmtree(parts_dir)
        rejected_inputs.record(examples, rejected)
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        for split in artifact_utils.decode_split_names(examples.split_names):
            if _is_empty(artifact_utils.get_split_uri([examples], split)):
                raise NoInputError(
                    f"No readable input in {input_base} for the {split} split; {len(rejected)} input(s) rejected"
                    + (f", the first: {rejected[0]}." if rejected else ".")
                )


def _read_lines(path: str) -> list[str]:
    with fileio.open(path, "r") as f:
        return f.read().splitlines()


def _is_empty(split_uri: str) -> bool:
    files = fileio.glob(os.path.join(split_uri, "*"))
    return not files or not any(True for _ in tf.data.TFRecordDataset(files, compression_type="GZIP").take(1))
