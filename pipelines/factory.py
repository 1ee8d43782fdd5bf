"""The one pipeline factory: every tfpipe pipeline is this DAG with its own config and module code."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import tensorflow_model_analysis as tfma

# Not `from tfx import v1`: that also imports the Google Cloud AI Platform
# extension, 6 of the 15 s a cached run spends importing.
from tfx.components import (
    BulkInferrer,
    Evaluator,
    ExampleValidator,
    Pusher,
    StatisticsGen,
    Trainer,
    Transform,
)
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.placeholder import runtime_placeholders
from tfx.orchestration import metadata
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import bulk_inferrer_pb2, pusher_pb2, trainer_pb2

from components import mlflow_tracking
from components.baseline import baseline_resolver, latest_blessed_model_resolver
from components.infra_validator import serving_infra_validator
from components.mlflow_tracker import MlflowTracker
from components.push_executor import PushExecutor
from components.train_executor import TrainExecutor
from components.tuner import Tuner
from components.validation_gate import GATE_ID, DataValidationGate, accepted_statistics
from pipelines.config import REPO_ROOT, UNLABELLED_SPLIT, PipelineConfig
from pipelines.tuning import TRIALS_DIR_KEY


@dataclasses.dataclass(frozen=True)
class Orchestrator:
    """What the DAG must know of the orchestrator that runs it."""

    name: str
    """Recorded with each MLflow run (tag tfx.runner)."""
    pipeline_run_id: Any = None
    """The run's id as the orchestrator fills it in. None: TFX's run-id placeholder, which the
    IR-based runners (local, beam) fill; Airflow and Kubeflow fill their own templates."""
    own_baseline_strategy: bool = True
    """Whether the baseline resolver may use components/baseline.py's strategy. False where the
    orchestrator resolves it its own way (see baseline_resolver): TFX's LatestBlessedModelStrategy."""
    image_root: str | None = None
    """Where the project is installed in the container image that runs every component; None:
    this checkout. In an image, module code is imported by name and the schema read from there."""
    name_separator: str = "_"
    """What the orchestrator's pipeline names may have in place of the underscores of tfpipe's
    (spoken_digits): KFP's allow lower-case letters, digits and hyphens only."""


LOCAL = Orchestrator("local")


def create_pipeline(
    config: PipelineConfig,
    pipeline_root: str,
    serving_dir: str,
    tracking_uri: str,
    tracking_artifact_root: str = "",
    metadata_path: str | None = None,
    beam_pipeline_args: list[str] | None = None,
    orchestrator: Orchestrator = LOCAL,
    *,
    compare_with_blessed: bool = True,
    started_at: float | None = None,
) -> Pipeline:
    """Wires the standard components in the order the data flows.

    Args:
      config: the pipeline's config, overrides applied.
      pipeline_root: folder (or bucket path) where TFX writes every artifact.
      serving_dir: TF Serving's model base path; models land in `<serving_dir>/<model_name>/<version>/`.
      tracking_uri: the MLflow tracking store (a tracking server URL or a database URI); empty: the
        MLFLOW_TRACKING_URI of the process that runs the components (a container's).
      tracking_artifact_root: where an embedded MLflow store keeps artifacts; empty for a server.
      metadata_path: ML Metadata sqlite file; None leaves the connection to the orchestrator.
      beam_pipeline_args: options for the Beam pipelines inside the data components (pipelines/beam_profiles.py).
      orchestrator: the orchestrator that runs it (local, beam, airflow, kubeflow).
      compare_with_blessed: False leaves out the latest blessed model, as the Evaluator's baseline and
        as the warm start: for a run whose model answers another label or other classes (pipelines/run.py).
      started_at: when the command that runs this pipeline in its own process started (RunContext.started_at).
    """
    run_context = run_context_for(config, tracking_uri, tracking_artifact_root, orchestrator.name, started_at).to_json()
    # The run id, filled in when the run starts. A component given it differs every
    # run and is never cached: right for the two that record runs in MLflow.
    pipeline_run_id = orchestrator.pipeline_run_id or runtime_placeholders.execution_invocation().pipeline_run_id

    # Reads the data folder into tf.Examples with train and eval splits (CSV unless the config says otherwise).
    example_gen = config.example_gen()

    # Computes TFDV statistics of each split.
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])

    # Brings in the curated schema, the contract the data must meet.
    schema_gen = ImportSchemaGen(schema_file=_schema_file(config, pipeline_root, orchestrator.image_root))

    # Compares the statistics with the schema and records the anomalies.
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )

    # Finds the statistics of the last data the gate let through, which the schema's drift comparators
    # compare this run's with (none on the first run).
    accepted_statistics_resolver = accepted_statistics()

    # Stops the run when there is any anomaly, or drift beyond the schema's thresholds, before anything is trained.
    validation_gate = DataValidationGate(
        examples=example_gen.outputs["examples"],
        statistics=statistics_gen.outputs["statistics"],
        anomalies=example_validator.outputs["anomalies"],
        schema=schema_gen.outputs["schema"],
        previous_statistics=accepted_statistics_resolver.outputs["statistics"],
        schema_path=_shown(config.schema_path),
        data_dir=str(config.resolved_data_dir()),
        min_examples=json.dumps(config.min_split_examples(), sort_keys=True),
        label_key=config.label_key,
        class_names=json.dumps(list(config.label_class_names())),
        min_class_examples=config.min_class_examples,
        run_context=run_context,
        pipeline_run_id=pipeline_run_id,
    ).with_id(GATE_ID)

    # Analyzes the train split (min, max, ...) and transforms both splits.
    transform = Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        **_module_code(config, config.preprocessing_module, "preprocessing_fn", orchestrator.image_root),
        custom_config=config.transform_config().to_custom_config(),
        # No TFDV statistics of Transform's input and output: StatisticsGen's are the ones validated
        # and tracked, and two more passes over the data cost as much as the analysis itself.
        disable_statistics=True,
    )
    transform.add_upstream_node(validation_gate)

    # With warm_start, finds the latest blessed model, whose weights the Trainer starts from.
    warm_start_resolver = latest_blessed_model_resolver() if config.warm_start and compare_with_blessed else None

    # With tuning.trials > 0, searches the config's search space, a model trained per trial: its best
    # values go to the Trainer. Its trials are kept under the pipeline root, where a killed search resumes.
    tuner = (
        Tuner(
            **_module_code(config, config.model_module, "tuner_fn", orchestrator.image_root),
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            train_args=trainer_pb2.TrainArgs(num_steps=config.tuning.steps_per_trial),
            eval_args=trainer_pb2.EvalArgs(num_steps=config.eval_steps),
            custom_config={**config.to_custom_config(), TRIALS_DIR_KEY: f"{pipeline_root}/Tuner/trials"},
        )
        if config.tuning.trials
        else None
    )

    # Trains the Keras model (with the search's best values, if it searched) and exports a SavedModel
    # with the serving signature.
    trainer = Trainer(
        **_module_code(config, config.model_module, "run_fn", orchestrator.image_root),
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(num_steps=config.train_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=config.eval_steps),
        custom_config=config.to_custom_config(),
        base_model=warm_start_resolver.outputs["model"] if warm_start_resolver else None,
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
        custom_executor_spec=executor_spec.ExecutorClassSpec(TrainExecutor),
    )

    # Finds the latest blessed model other than this one (see baseline_resolver): the baseline it must not fall behind.
    model_resolver = (
        baseline_resolver(trainer.outputs["model"] if orchestrator.own_baseline_strategy else None)
        if compare_with_blessed
        else None
    )

    # Scores the model on the eval split with TFMA and blesses it if it meets the thresholds.
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"] if model_resolver else None,
        eval_config=eval_config(config),
    )

    # Serves the model in a separate process (`tfpipe serve`, TF Serving's API) and sends it a few eval
    # examples over gRPC: a model that does not load or answer is not infra-blessed, and not pushed.
    infra_validator = serving_infra_validator(
        model=trainer.outputs["model"],
        examples=example_gen.outputs["examples"],
        model_name=config.model_name,
        num_examples=config.infra_validation_requests,
        max_loading_time_seconds=config.infra_validation_seconds,
    )

    # Copies a blessed and infra-blessed model into TF Serving's layout as a new version, atomically, and rewrites
    # models.config. The stock executor copies in place, so a server could load a half-copied version.
    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=infra_validator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=f"{serving_dir}/{config.model_name}")
        ),
        custom_executor_spec=executor_spec.ExecutorClassSpec(PushExecutor),
    )

    # With bulk_inference_dir: reads the unlabelled rows, and scores them with the model if it is blessed,
    # through its bulk inference signature (serialized raw tf.Examples in), writing PredictionLogs.
    bulk_inference = []
    if config.bulk_inference_dir:
        unlabelled_example_gen = config.unlabelled_example_gen()
        bulk_inferrer = BulkInferrer(
            examples=unlabelled_example_gen.outputs["examples"],
            model=trainer.outputs["model"],
            model_blessing=evaluator.outputs["blessing"],
            data_spec=bulk_inferrer_pb2.DataSpec(example_splits=[UNLABELLED_SPLIT]),
            model_spec=bulk_inferrer_pb2.ModelSpec(model_signature_name=[config.bulk_inference_signature]),
        )
        bulk_inference = [unlabelled_example_gen, bulk_inferrer]

    # Records the run in MLflow: config, curves, data checks, TFMA results, the model, the registry.
    mlflow_tracker = MlflowTracker(
        examples=example_gen.outputs["examples"],
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        anomalies=example_validator.outputs["anomalies"],
        model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"],
        evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"],
        pushed_model=pusher.outputs["pushed_model"],
        run_context=run_context,
        pipeline_run_id=pipeline_run_id,
        model_name=config.model_name,
        serving_model_dir=f"{serving_dir}/{config.model_name}",
        json_signature=config.json_signature,
        label_key=config.label_key,
        label_class_names=list(config.label_class_names()),
        tuner_results=tuner.outputs["tuner_results"] if tuner else None,
    )

    return Pipeline(
        pipeline_name=config.name.replace("_", orchestrator.name_separator),
        pipeline_root=pipeline_root,
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            accepted_statistics_resolver,
            validation_gate,
            transform,
            *([warm_start_resolver] if warm_start_resolver else []),
            *([tuner] if tuner else []),
            trainer,
            *([model_resolver] if model_resolver else []),
            evaluator,
            infra_validator,
            pusher,
            *bulk_inference,
            mlflow_tracker,
        ],
        enable_cache=True,
        metadata_connection_config=(
            metadata.sqlite_metadata_connection_config(metadata_path) if metadata_path else None
        ),
        beam_pipeline_args=beam_pipeline_args or [],
    )


# Components that read or write outside the pipeline root (the data folder, a model server's port, the
# serving folder, the MLflow server): a failure there may pass on a second try. The others fail alike every time.
_RETRIED = ("InfraValidator", "Pusher", "MlflowTracker")


def retried_components(pipeline: Pipeline) -> list[str]:
    """The ids of the components an orchestrator retries (the `retries` setting): the ExampleGen, InfraValidator,
    Pusher and MlflowTracker."""
    return [
        component.id
        for component in pipeline.components
        if component.id.endswith("ExampleGen") or component.id in _RETRIED
    ]


# Metrics TFMA has its own Python classes for, which it computes one example, slice and output at a
# time: Keras's functions of the same names, averaged by Keras's MeanMetricWrapper, give the same
# values under the same names, computed by TensorFlow in batches. On stock's eval split at 200,000
# rows (30,000 windows in 3 slices each, 3 outputs) TFMA took 51.7 s instead of 89.3
# (docs/design.md, Measured decisions). TFMA picks its own class for a registered name whatever module is named.
_BATCHED_IN_KERAS = {"MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error"}


def metric_config(name: str, module: str = "") -> tfma.MetricConfig:
    """TFMA's config for the metric class `name` (a tf.keras.metrics or TFMA class name, or a Keras
    Metric subclass defined in `module`, by import name)."""
    if name in _BATCHED_IN_KERAS:
        function = _BATCHED_IN_KERAS[name]
        return tfma.MetricConfig(class_name="MeanMetricWrapper", config=json.dumps({"fn": function, "name": function}))
    return tfma.MetricConfig(class_name=name, module=module)


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    """TFMA: the pipeline's metrics overall and per slice, for the model and any baseline outputs;
    blessing needs a value and a no-regression threshold, and no loss to the required baselines."""
    bound = {"value": config.blessing_threshold}
    direction = (
        tfma.MetricDirection.HIGHER_IS_BETTER
        if config.blessing_higher_is_better
        else tfma.MetricDirection.LOWER_IS_BETTER
    )
    # TFMA blesses only if the change (new - baseline, sign by direction; relative: divided by the
    # baseline's value) passes this bound; TFX drops it on the first run, when there is no baseline.
    allowed_change = -config.max_regression if config.blessing_higher_is_better else config.max_regression
    change = {"relative" if config.regression_relative else "absolute": {"value": allowed_change - 1e-10}}
    # Lower is better with no bound: an error has units (prices), so a fixed one would not be
    # scale-free; the required wins over naive baselines bound it instead.
    value_bound = config.blessing_higher_is_better or config.blessing_threshold > 0
    blessing_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(
            lower_bound=bound if config.blessing_higher_is_better else None,
            upper_bound=None if config.blessing_higher_is_better else bound,
        )
        if value_bound
        else None,
        change_threshold=tfma.GenericChangeThreshold(direction=direction, **change),
    )
    # Blessing looks at the whole eval split; slices are reported, not gated
    # (a 20-example slice is too noisy to stop a push).
    overall_only = [tfma.SlicingSpec()]
    scored = [
        metric_config(name, config.metrics_module) for name in config.metrics if name != config.blessing_metric
    ] + [metric_config("ExampleCount")]
    blessing = metric_config(config.blessing_metric, config.metrics_module)
    blessing.per_slice_thresholds.append(
        tfma.PerSliceMetricThreshold(slicing_specs=overall_only, threshold=blessing_threshold)
    )
    slicing_specs = [tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[key]) for key in config.slice_features]
    if not config.baseline_outputs:
        return tfma.EvalConfig(
            model_specs=[
                tfma.ModelSpec(
                    signature_name=config.evaluation_signature,
                    preprocessing_function_names=list(config.evaluation_preprocessing),
                    label_key=config.label_key,
                    prediction_key=config.prediction_key,
                )
            ],
            slicing_specs=slicing_specs,
            metrics_specs=[tfma.MetricsSpec(metrics=[*scored, blessing])],
        )

    # Several outputs: each named output is scored against the same label.
    win_outputs = [config.win_output(baseline) for baseline in config.required_wins()]
    outputs = [config.prediction_key, *config.baseline_outputs, *win_outputs]
    # The mean of (model's measure - baseline's) per example: for squared error MSE(model) -
    # MSE(baseline), at most 0 exactly when the model's RMSE is no worse than the baseline's; for
    # correct, accuracy(model) - accuracy(baseline), at least 0 when its accuracy is no lower.
    zero = {"value": 0.0}
    no_loss = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound=zero)
        if config.win_measure_higher_is_better
        else tfma.GenericValueThreshold(upper_bound=zero)
    )
    metrics_specs = [
        tfma.MetricsSpec(metrics=[blessing], output_names=[config.prediction_key]),
        tfma.MetricsSpec(
            metrics=[*scored, metric_config(config.blessing_metric, config.metrics_module)],
            output_names=list(config.baseline_outputs),
        ),
        tfma.MetricsSpec(metrics=scored, output_names=[config.prediction_key]),
    ]
    if win_outputs:
        mean_excess = tfma.MetricConfig(
            class_name="MeanPrediction",
            per_slice_thresholds=[tfma.PerSliceMetricThreshold(slicing_specs=overall_only, threshold=no_loss)],
        )
        metrics_specs.append(tfma.MetricsSpec(metrics=[mean_excess], output_names=win_outputs))
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=config.evaluation_signature,
                preprocessing_function_names=list(config.evaluation_preprocessing),
                label_keys={output: config.label_key for output in outputs},
                prediction_keys={output: output for output in outputs},
            )
        ],
        slicing_specs=slicing_specs,
        metrics_specs=metrics_specs,
    )


def run_context_for(
    config: PipelineConfig, tracking_uri: str, tracking_artifact_root: str, runner: str, started_at: float | None = None
) -> mlflow_tracking.RunContext:
    """What the MLflow-recording components know of the run (see components/mlflow_tracking.py)."""
    return mlflow_tracking.RunContext(
        tracking_uri=tracking_uri,
        artifact_root=tracking_artifact_root,
        pipeline_name=config.name,
        config=config.to_dict(),
        data_dir=config.data_dir,
        code_version=_code_version(),
        runner=runner,
        started_at=started_at,
    )


def _code_version() -> str:
    """The repository's git commit, recorded with each run; "unknown" outside a git checkout."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def _module_code(config: PipelineConfig, module: str, function: str, image_root: str | None) -> dict[str, str]:
    """Transform's or Trainer's module code argument.

    From this checkout, the file: TFX packages it, so an edit re-runs the component. In an
    image the project is installed, and a file of this machine is not there (TFX would
    package it into the pipeline root at compile time): the function by its import name.
    """
    if image_root is None:
        return {"module_file": config.module_file(module)}
    return {function: f"{module}.{function}"}


def _shown(path: Path) -> str:
    """A path as messages show it: relative to the repository where it is in it (a curated schema)."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _schema_file(config: PipelineConfig, pipeline_root: str, image_root: str | None) -> str:
    if image_root is not None:
        # An edited schema comes with a new image, and KFP's cache key includes the image.
        return f"{image_root}/{config.schema_path.relative_to(REPO_ROOT)}"
    return _content_addressed_schema(config, pipeline_root)


def _content_addressed_schema(config: PipelineConfig, pipeline_root: str) -> str:
    # ImportSchemaGen's cache key is the file's path, not its content: an edited
    # schema would be ignored on the next run. A copy named by its hash makes an
    # edit produce a new path (and a cache miss) while an unchanged schema stays cached.
    content = _schema_for_classes(config)
    folder = Path(pipeline_root) / "curated_schemas" / hashlib.sha256(content).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "schema.pbtxt"
    if not target.exists():
        target.write_bytes(content)
    return str(target)


def _schema_for_classes(config: PipelineConfig) -> bytes:
    """The curated schema, its label's class index domain fitted to the config's class names: a named
    pipeline (pipelines/named.py) may have more or fewer classes than the shipped one whose schema it
    uses. Unchanged, byte for byte, where the domain already fits."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    content = config.schema_path.read_bytes()
    classes = len(config.label_class_names())
    schema = text_format.Parse(content, schema_pb2.Schema())
    label = next((feature for feature in schema.feature if feature.name == config.label_key), None)
    if not classes or label is None or not label.HasField("int_domain") or label.int_domain.max == classes - 1:
        return content
    label.int_domain.max = classes - 1
    return text_format.MessageToString(schema).encode()
