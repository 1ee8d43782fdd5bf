"""The latest blessed model, as the baseline a new model must not fall behind (other than the
candidate) and as the model a warm-started Trainer starts from.

TFX's LatestBlessedModelStrategy ignores the candidate. When a run changes
nothing, the Trainer is cached and hands back the model it trained before,
which is by then the latest blessed model: the Evaluator re-runs to compare
the model with itself and the Pusher pushes it again as a new version. Leaving
the candidate out gives the Evaluator the same baseline as when it first
scored this model, so an unchanged run is cached from end to end.
"""

from tfx import types
from tfx.components.evaluator import constants
from tfx.dsl.components.common.resolver import Resolver, ResolverStrategy
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.types import Channel, standard_artifacts

MODEL = "model"
MODEL_BLESSING = "model_blessing"
CANDIDATE = "candidate"


class LatestBlessedBaselineStrategy(ResolverStrategy):
    """Inputs: every `model` and `model_blessing` of the pipeline, and this run's `candidate` model."""

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]) -> dict[str, list[types.Artifact]]:
        candidate_ids = {model.id for model in input_dict[CANDIDATE]}
        blessings = {
            blessing.get_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY): blessing
            for blessing in input_dict[MODEL_BLESSING]
            if blessing.get_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1
        }
        for model in sorted(input_dict[MODEL], key=lambda artifact: artifact.id, reverse=True):
            if model.id in blessings and model.id not in candidate_ids:
                return {MODEL: [model], MODEL_BLESSING: [blessings[model.id]], CANDIDATE: []}
        return {MODEL: [], MODEL_BLESSING: [], CANDIDATE: []}


def baseline_resolver(candidate: types.BaseChannel | None) -> Resolver:
    """A Resolver node whose `model` output is the baseline for `candidate`.

    None: TFX's LatestBlessedModelStrategy, for orchestrators where the strategy above cannot
    work. Kubeflow V2 compiles only TFX's own strategies; Airflow's (pre-IR) launcher hands a
    strategy every model the Trainer ever made as `candidate`, which would leave no baseline.
    With TFX's strategy an unchanged re-run compares the model with itself (see above).
    """
    if candidate is None:
        return Resolver(
            strategy_class=LatestBlessedModelStrategy,
            model=Channel(type=standard_artifacts.Model),
            model_blessing=Channel(type=standard_artifacts.ModelBlessing),
        ).with_id("baseline_model_resolver")
    return Resolver(
        strategy_class=LatestBlessedBaselineStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
        candidate=candidate,
    ).with_id("baseline_model_resolver")


def latest_blessed_model_resolver() -> Resolver:
    """A Resolver node whose `model` output is the latest blessed model, for a Trainer to warm start from.

    TFX's own strategy is right here: it resolves before the Trainer runs, so this run's
    model cannot be among its results.
    """
    return Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
    ).with_id("warm_start_model_resolver")
