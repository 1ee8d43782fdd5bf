"""The baseline resolver: the latest blessed model other than the candidate."""

from tfx.components.evaluator import constants
from tfx.types import standard_artifacts

from components.baseline import CANDIDATE, MODEL, MODEL_BLESSING, LatestBlessedBaselineStrategy


def _model(artifact_id):
    model = standard_artifacts.Model()
    model.id = artifact_id
    return model


def _blessing(model_id, blessed=True):
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model_id)
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, 1 if blessed else 0)
    return blessing


def _resolve(models, blessings, candidate):
    result = LatestBlessedBaselineStrategy().resolve_artifacts(
        store=None, input_dict={MODEL: models, MODEL_BLESSING: blessings, CANDIDATE: candidate}
    )
    return [model.id for model in result[MODEL]]


def test_new_candidate_gets_the_latest_blessed_model():
    models = [_model(1), _model(2), _model(3)]
    assert _resolve(models, [_blessing(1), _blessing(2), _blessing(3, blessed=False)], [models[2]]) == [2]


def test_cached_candidate_is_never_its_own_baseline():
    # An unchanged re-run: the Trainer hands back model 2, already blessed.
    models = [_model(1), _model(2)]
    assert _resolve(models, [_blessing(1), _blessing(2)], [models[1]]) == [1]


def test_no_baseline_on_the_first_run():
    models = [_model(1)]
    assert _resolve(models, [_blessing(1)], [models[0]]) == []
    assert _resolve(models, [], [models[0]]) == []
