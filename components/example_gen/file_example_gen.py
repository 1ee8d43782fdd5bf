"""FileExampleGen: one tf.Example per input file (an image, a recording), on Beam, for any file type.

No standard TFX ExampleGen reads images or audio. This is TFX's custom ExampleGen pattern, the one
way tfpipe writes a file-reading ExampleGen: an executor whose GetInputSourceToExamplePTransform
turns one split pattern into tf.Examples, run by FileBasedExampleGen. A pattern names a labels
file, class folders, named files or TFRecord files (layouts.py), in the data folder or in each span
folder the run reads (spans.py: the latest span and the `span_window - 1` before it, each in the
same layout); the latest span is recorded as the Examples' `span`.

What a file holds is the pipeline's business: its module code has a reader module (the config's
`example_reader`, for example components/models/images/ingest.py) with
  CONTENT_KEY            the bytes feature that carries the file's content (in TFRecords too)
  read(content, options) -> {feature name: int, float or bytes value} it adds, or ValueError(reason);
                         a CONTENT_KEY value among them replaces the content (an image converted)
Each example holds the content as read (or as the reader converted it), its class index (`label`)
and the reader's features, and with `name_fields` the fields a file name carries after its class
(`7_george_12.wav` with name fields speaker and take: `george`, `12`; empty strings for a name not
of that form), as bytes.

The splits are the data's own (train and test parts, layouts.py), or one input split 2:1 by hash,
or, with a `split_rule`, one input read once and split by that rule: an example whose rule
feature has one of the rule's values is an eval example, any other a train example (the speaker
split of spoken digits: the eval split is a voice never trained on).

An input the reader refuses, a file that cannot be read (a link that leads nowhere or round in a
circle included), and a labels line that names a missing file or an unknown class, never become
examples: they are listed with the reason (rejected_inputs.py). A split left with
no example at all fails the run, naming the data folder. TFRecords are read here too, not by
ImportExampleGen, so that their records get the same check: ImportExampleGen would pass a corrupt
one on to Transform, which cannot skip it and fails.
"""

import importlib
import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import struct_pb2
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import rejected_inputs
from components.example_gen.beam_executor import (
    NOT_A_REGULAR_FILE,
    ReadWithReader,
    RejectingExecutor,
    custom_settings,
    is_special_file,
    window_paths,
    window_settings,
    write_rejected,
)
from components.example_gen.layouts import (
    LABEL_KEY,
    LABELS_SUFFIX,
    NAME_SEPARATOR,
    NAMED_FILES,
    TFRECORD_SUFFIXES,
    Layout,
)
from components.example_gen.spans import WindowRead
from components.tf_example import tf_example


def FileExampleGen(
    data_dir: str,
    layout: Layout,
    class_names: tuple[str, ...],
    reader: str,
    reader_options: dict[str, Any],
    window: WindowRead,
    component_id: str,
    max_file_bytes: int,
    name_fields: tuple[str, ...] = (),
    split_rule: dict[str, Any] | None = None,
) -> FileBasedExampleGen:
    """The component over the folders of `data_dir` that `window` reads, each read as `layout` says.

    Args:
      class_names: the classes in label order; labels and class folder names must be among them.
      reader: the import name of the module that checks each file and adds its features (above).
      reader_options: what the reader needs of the config (an image's channels, an audio's rate).
      window: the folders read (`data_dir` itself, or its span folders), the span recorded, and their
        fingerprint, so that the component is not cached on files TFX's own fingerprint does not look at.
      component_id: the node's name in the DAG and the console (ImageExampleGen, AudioExampleGen).
      max_file_bytes: the largest file read; a larger one is left out and listed, unread.
      name_fields: names of the string features read from a file name after its class (above).
      split_rule: {"feature": name, "eval_values": [values]}: the eval split is the examples whose
        `feature` has one of `eval_values`, the train split the others; for a layout of one input
        only. None: the layout's own splits, or 2:1 by hash.
    """
    if split_rule is not None and len(layout.split_patterns) != 1:
        raise ValueError(f"a split rule splits data given in one piece; this {layout.kind} layout comes split")
    settings = struct_pb2.Struct()
    settings.update(
        {
            "class_names": list(class_names),
            "reader": reader,
            "reader_options": reader_options,
            **window_settings(window),
            "layout": layout.kind,
            "name_fields": list(name_fields),
            "max_file_bytes": max_file_bytes,
            **({"split_rule": split_rule} if split_rule is not None else {}),
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
    names: dict[str, str] | None = None
    """The name fields' values (FileExampleGen's name_fields)."""


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _FilesToExamples(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str) -> beam.PCollection:
    """The inputs a split pattern names -> tf.Examples; the rejected ones are written aside."""
    settings = custom_settings(exec_properties)
    class_names = settings["class_names"]
    name_fields = settings.get("name_fields", [])
    content_key = importlib.import_module(settings["reader"]).CONTENT_KEY
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    matches = window_paths(exec_properties, split_pattern)
    named = settings.get("layout") == NAMED_FILES
    labels_files = [] if named else [path for path in matches if path.endswith(LABELS_SUFFIX)]
    tfrecords = [] if named else [path for path in matches if path.endswith(TFRECORD_SUFFIXES)]
    class_folders = [] if named else [path for path in matches if fileio.isdir(path)]
    named_files = [path for path in matches if named and not fileio.isdir(path)]

    candidates = (
        (
            pipeline
            | "LabelsFiles" >> beam.Create(labels_files)
            | "LabelsLines" >> beam.FlatMap(_labels_file_candidates, input_base, class_names, name_fields)
        ),
        (
            pipeline
            | "ClassFolders" >> beam.Create(class_folders)
            | "ClassFolderFiles" >> beam.FlatMap(_class_folder_candidates, input_base, class_names, name_fields)
        ),
        (
            pipeline
            | "NamedFiles" >> beam.Create(named_files)
            | "NamedFileCandidates" >> beam.FlatMap(_named_file_candidates, input_base, class_names, name_fields)
        ),
        (
            pipeline
            | "TFRecordFiles" >> beam.Create(tfrecords)
            | "Records" >> beam.FlatMap(_record_candidates, input_base, len(class_names), content_key, name_fields)
        ),
    ) | "AllCandidates" >> beam.Flatten()
    examples, rejected = candidates | "ReadInputs" >> beam.ParDo(
        _ReadInput(settings["reader"], settings["reader_options"], int(settings["max_file_bytes"]))
    ).with_outputs(_ReadInput.REJECTED, main="examples")
    write_rejected(rejected, exec_properties, split_pattern)
    return examples


def _relative(path: str, input_base: str) -> str:
    return os.path.relpath(path, input_base)


def _class_index(class_names: list[str], name: str) -> int | None:
    return class_names.index(name) if name in class_names else None


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _class_prefix(stem: str, class_names: list[str]) -> str | None:
    """The longest class name that `stem` starts with, followed by the separator; None if there is none."""
    prefixes = [name for name in class_names if stem.startswith(name + NAME_SEPARATOR)]
    return max(prefixes, key=len, default=None)


def _name_values(path: str, class_names: list[str], name_fields: list[str]) -> dict[str, str]:
    """The name fields of `<class>_<field>_..._<field>.<ext>` (the first field takes any extra separators);
    empty strings for a name not of that form."""
    values = dict.fromkeys(name_fields, "")
    stem = _stem(path)
    class_name = _class_prefix(stem, class_names)
    if not name_fields or class_name is None:
        return values
    fields = stem[len(class_name) + len(NAME_SEPARATOR) :].rsplit(NAME_SEPARATOR, len(name_fields) - 1)
    if len(fields) != len(name_fields) or not all(fields):
        return values
    return dict(zip(name_fields, fields))


def _labels_file_candidates(
    labels_path: str, input_base: str, class_names: list[str], name_fields: list[str]
) -> Iterator[_Candidate]:
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
            yield _Candidate(
                _relative(path, input_base), path=path, label=index, names=_name_values(path, class_names, name_fields)
            )


def _class_folder_candidates(
    folder: str, input_base: str, class_names: list[str], name_fields: list[str]
) -> Iterator[_Candidate]:
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
            yield _Candidate(where, path=path, label=index, names=_name_values(path, class_names, name_fields))


def _named_file_candidates(
    path: str, input_base: str, class_names: list[str], name_fields: list[str]
) -> Iterator[_Candidate]:
    """The named file at `path`, its class the start of its name; hidden files are not inputs."""
    if os.path.basename(path).startswith("."):
        return
    where = _relative(path, input_base)
    class_name = _class_prefix(_stem(path), class_names)
    if class_name is None:
        yield _Candidate(
            where,
            problem=f"its name does not start with a class name and '{NAME_SEPARATOR}' ({', '.join(class_names)})",
        )
    else:
        yield _Candidate(
            where,
            path=path,
            label=class_names.index(class_name),
            names=_name_values(path, class_names, name_fields),
        )


def _record_candidates(
    path: str, input_base: str, class_count: int, content_key: str, name_fields: list[str]
) -> Iterator[_Candidate]:
    """One candidate per record of the TFRecord file at `path` (gzipped if its name ends in .gz); a file
    cut short, corrupt or no TFRecord file at all is one problem after the records read before it
    (Beam's TFRecord reader would fail the run on it, naming no file)."""
    count = 0
    try:
        compression = "GZIP" if path.endswith(".gz") else ""
        for record in tf.data.TFRecordDataset(path, compression_type=compression):
            count += 1
            yield _record_candidate(path, record.numpy(), input_base, class_count, content_key, name_fields)
    except tf.errors.OpError as error:
        yield _Candidate(
            _relative(path, input_base),
            problem=f"is cut short, corrupt or no {'gzipped ' if compression else ''}TFRecord file after "
            f"{count} record(s) ({rejected_inputs.op_message(error)})",
        )


def _record_candidate(
    file_name: str, record: bytes, input_base: str, class_count: int, content_key: str, name_fields: list[str]
) -> _Candidate:
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
    # A record's name fields are its own bytes features of those names, where it has them.
    names = {
        field: feature[field].bytes_list.value[0].decode("utf-8", "replace")
        if field in feature and len(feature[field].bytes_list.value) == 1
        else ""
        for field in name_fields
    }
    return _Candidate(where, encoded=content[0], label=labels[0], names=names)


class _ReadInput(ReadWithReader):
    """A candidate -> a tf.Example, or a line `<where>: <problem>` on the REJECTED output."""

    def __init__(self, reader: str, options: dict[str, Any], max_file_bytes: int):
        super().__init__(reader, options)
        self._max_file_bytes = max_file_bytes

    def process(self, candidate: _Candidate):
        problem, encoded = candidate.problem, candidate.encoded
        if problem is None and encoded is None:
            try:
                size = fileio.stat(candidate.path).length
                if is_special_file(str(candidate.path)):
                    problem = NOT_A_REGULAR_FILE
                elif size > self._max_file_bytes:
                    problem = f"is {size:,} bytes; the largest file read is {self._max_file_bytes:,} bytes"
                else:
                    with fileio.open(candidate.path, "rb") as f:
                        encoded = f.read()
            except (OSError, tf.errors.OpError) as error:
                problem = rejected_inputs.unreadable(str(candidate.path), error)
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
        names = {field: value.encode() for field, value in (candidate.names or {}).items()}
        values = {self._reader.CONTENT_KEY: encoded, LABEL_KEY: candidate.label, **names, **added}
        yield tf_example(values)


class Executor(RejectingExecutor):
    """Reads input files into tf.Examples, then records what it rejected and checks that no split is empty."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _FilesToExamples

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline, exec_properties: dict[str, Any]):
        """With a split rule, the one input is read once and split by it; otherwise as TFX splits."""
        rule = custom_settings(exec_properties).get("split_rule")
        if rule is None:
            return super().GenerateExamplesByBeam(pipeline, exec_properties)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        (split,) = input_config.splits
        train, evaluation = (
            pipeline
            | "InputToRecord" >> _FilesToExamples(exec_properties, split.pattern)
            | "SplitByRule" >> beam.Partition(_split_by_rule, 2, rule["feature"], frozenset(rule["eval_values"]))
        )
        return {"train": train, "eval": evaluation}

    def empty_split_message(self, split: str, rejected: list[str], exec_properties: dict[str, Any]) -> str:
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        rule = custom_settings(exec_properties).get("split_rule")
        which = (
            f" (eval: every example whose {rule['feature']} is one of {', '.join(rule['eval_values'])}; "
            "train: every other)"
            if rule
            else ""
        )
        return f"No readable input in {input_base} for the {split} split{which}; {len(rejected)} input(s) rejected" + (
            f", the first: {rejected[0]}." if rejected else "."
        )


def _split_by_rule(example: tf.train.Example, partitions: int, feature: str, eval_values: frozenset) -> int:
    """1 (eval) when the example's `feature` has one of `eval_values`, else 0 (train)."""
    if feature not in example.features.feature:  # reading a missing key would add it
        return 0
    value = example.features.feature[feature]
    values = [item.decode("utf-8", "replace") for item in value.bytes_list.value]
    values += [str(item) for item in value.int64_list.value]
    return int(any(item in eval_values for item in values))
