"""`tfpipe schema`: infer a schema from the data with TFDV and compare it with the curated one."""

from __future__ import annotations

import difflib
from pathlib import Path

import tensorflow_data_validation as tfdv
from google.protobuf import text_format


def infer_schema(data_dir: Path, output_path: Path) -> None:
    """Writes the schema TFDV infers from every CSV file in `data_dir`."""
    statistics = tfdv.generate_statistics_from_csv(str(data_dir / "*"))
    tfdv.write_schema_text(tfdv.infer_schema(statistics), str(output_path))


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
