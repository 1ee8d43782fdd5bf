"""`tfpipe schema`: infer a schema from the data with TFDV and compare it with the curated one."""

from __future__ import annotations

import difflib
from pathlib import Path

import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2


def infer_schema(data_dir: Path, output_path: Path) -> None:
    """Writes the schema TFDV infers from every CSV file in `data_dir`."""
    statistics = tfdv.generate_statistics_from_csv(str(data_dir / "*"))
    tfdv.write_schema_text(tfdv.infer_schema(statistics), str(output_path))


def write_schema_for_review(data_dir: Path, output_path: Path) -> None:
    """The schema a pipeline that infers its own (PipelineConfig.infers_schema) starts from: TFDV's
    inference from every CSV file in `data_dir`, with every float column required to be a finite number
    (a NaN or inf would train a NaN model), written to `output_path` for the user to review."""
    statistics = tfdv.generate_statistics_from_csv(str(data_dir / "*"))
    schema = tfdv.infer_schema(statistics)
    for feature in schema.feature:
        if feature.type == schema_pb2.FLOAT:
            feature.float_domain.disallow_nan = True
            feature.float_domain.disallow_inf = True
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tfdv.write_schema_text(schema, str(output_path))


def schema_diff(curated_path: Path, inferred_path: Path) -> str:
    """A unified diff of the two schemas, both normalized (comments and order of fields dropped)."""
    curated, inferred = (_normalized(path) for path in (curated_path, inferred_path))
    return "".join(difflib.unified_diff(curated, inferred, fromfile=str(curated_path), tofile=str(inferred_path)))


def _normalized(path: Path) -> list[str]:
    schema = tfdv.load_schema_text(str(path))
    features = sorted(schema.feature, key=lambda feature: feature.name)
    del schema.feature[:]
    schema.feature.extend(features)
    return text_format.MessageToString(schema).splitlines(keepends=True)
