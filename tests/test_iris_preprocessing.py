"""Iris preprocessing_fn under TFT: scaling fitted on the train split only."""

import numpy as np
import pytest
import tensorflow_data_validation as tfdv
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata

from components.models.iris import features
from components.models.iris.preprocessing import preprocessing_fn
from pipelines.registry import config_for


def _rows(measurements, species):
    return [
        {
            **{key: np.array([value], np.float32) for key, value in zip(features.FEATURE_KEYS, row)},
            features.LABEL_KEY: np.array([label], np.int64),
        }
        for row, label in zip(measurements, species)
    ]


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    # The curated schema gives the raw feature spec, as in the pipeline.
    schema = tfdv.load_schema_text(str(config_for("iris").schema_path))
    metadata = dataset_metadata.DatasetMetadata(schema)
    train = _rows([[4.0, 2.0, 1.0, 0.1], [6.0, 3.0, 5.0, 2.1], [8.0, 4.0, 7.0, 2.5]], [0, 1, 2])
    # Eval values outside the train range: a scaler fitted on eval (or on all
    # data) would map them into [0, 1].
    evaluation = _rows([[10.0, 1.0, 4.0, 0.1], [6.0, 3.0, 5.0, 2.1]], [2, 1])
    with tft_beam.Context(temp_dir=str(tmp_path_factory.mktemp("tft"))):
        (train_out, _), transform_fn = (train, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn, output_record_batches=False
        )
        eval_out, _ = ((evaluation, metadata), transform_fn) | tft_beam.TransformDataset(output_record_batches=False)
    return train_out, eval_out


def test_train_split_is_scaled_to_unit_range(transformed):
    train_out, _ = transformed
    sepal_length = [float(np.squeeze(row["sepal_length"])) for row in train_out]
    assert sepal_length == pytest.approx([0.0, 0.5, 1.0])


def test_eval_split_uses_the_train_min_and_max(transformed):
    _, eval_out = transformed
    # sepal_length: train min 4, max 8 -> (10 - 4) / 4 = 1.5, beyond the train range.
    assert float(np.squeeze(eval_out[0]["sepal_length"])) == pytest.approx(1.5)
    # sepal_width: train min 2, max 4 -> (1 - 2) / 2 = -0.5.
    assert float(np.squeeze(eval_out[0]["sepal_width"])) == pytest.approx(-0.5)
    # petal_length: train min 1, max 7 -> (5 - 1) / 6.
    assert float(np.squeeze(eval_out[1]["petal_length"])) == pytest.approx(4 / 6)


def test_label_passes_through_unscaled(transformed):
    _, eval_out = transformed
    assert [int(np.squeeze(row["species"])) for row in eval_out] == [2, 1]
