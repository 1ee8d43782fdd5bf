"""`tfpipe predict PIPELINE INPUT...`: the model's prediction for each input, a line each."""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path
from typing import cast

from components import tf_setup
from components.models.contracts import ForecastRequestModule, Predict, RequestModule, SequenceRequestModule
from pipelines.config import PipelineConfig
from pipelines.outcome import RunOutcome
from pipelines.run_log import output_to_log
from pipelines.workdir import Workdir
from tfpipe.commands import options


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "predict",
        help="print the model's prediction for each input, from the latest pushed model or a model server",
        description="Calls the latest version pushed under <workdir>/serving/<model>/ on each input, or with "
        "--server the latest version a model server serves (tfpipe serve or TensorFlow Serving, over gRPC), "
        "and prints one line per input: the predicted class and its probability, or the forecast price and "
        "the trading day it is for.",
        epilog="inputs: digits: image files (PNG or JPEG, any size); "
        "iris: sepal_length=5.1,sepal_width=3.5,petal_length=1.4,petal_width=0.2 or 5.1,3.5,1.4,0.2 (cm); "
        "letters: the first letters of words (hel tensorflo); "
        "pronunciation: words (tensorflow mlflow), each answered in ARPAbet phonemes; "
        "stock: daily price CSV files, one series each, of which the last window_days days are used "
        "(pass the --set window_days=N and horizon_days=N the model was trained with)",
    )
    options.add_pipeline(parser)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="one input to predict for (see below)")
    options.add_workdir(parser)
    options.add_overrides(parser, "config values the model was trained with, where inputs depend on them")
    parser.add_argument(
        "--server",
        metavar="HOST:PORT",
        help="ask this gRPC model server (e.g. 127.0.0.1:8500) instead of loading the model here",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="with --server: deadline of each call (default: 10); a call UNAVAILABLE is tried 3 times",
    )
    parser.add_argument(
        "--latest-trained",
        action="store_true",
        help="use the model the latest run trained, blessed or not (the first line says which run and "
        "whether it was blessed), instead of the latest pushed version",
    )
    parser.add_argument(
        "--complete",
        action="store_true",
        help="for a pipeline that predicts the next step of a sequence (letters): predict step by step "
        "to the end of it and print the whole sequence",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = options.load_config(args)
    if args.complete and config.prediction_kind != "sequence":
        raise options.UsageError(f"--complete: the {config.name} pipeline predicts no sequence to continue.")
    workdir = Workdir(args.workdir, config.name)
    model_dir = workdir.serving_dir / config.model_name
    no_model = (
        f"No {config.name} model has been pushed to {model_dir} yet; "
        f"run `tfpipe run {config.name}{options.workdir_option(args)}` first."
    )
    if args.latest_trained and args.server is not None:
        raise options.UsageError("--latest-trained loads the model here; a model server serves pushed versions only.")
    if args.server is None and not args.latest_trained and not model_dir.is_dir():
        raise options.UsageError(no_model)
    workdir.pipeline_dir.mkdir(parents=True, exist_ok=True)
    # TensorFlow's start-up messages go to the log, as in `tfpipe run`; the predictions to the terminal.
    # Its C++ warnings can come after the log is closed, as the process exits: keep only errors.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with output_to_log(workdir.pipeline_dir / "predict.log") as terminal:
        tf_setup.configure()
        requests = cast(RequestModule, importlib.import_module(config.request_module))
        try:
            examples = requests.to_examples(args.inputs, config)
        except ValueError as error:
            raise options.UsageError(str(error)) from None
        if args.latest_trained:
            version, note = _latest_trained(args, workdir)
            terminal.write(note + "\n")
            from serving.predict import load

            predict = load(version)
        else:
            predict = _model(args, config, model_dir, no_model)
        for name, line in zip(args.inputs, _lines(args, config, requests, examples, predict)):
            terminal.write(f"{name}: {line}\n")
    return 0


def _lines(
    args: argparse.Namespace, config: PipelineConfig, requests: RequestModule, examples: list[bytes], predict: Predict
) -> list[str]:
    """A line per input, in the words of the pipeline's kind of prediction (config.prediction_kind)."""
    if args.complete:
        return cast(SequenceRequestModule, requests).complete(args.inputs, config, predict)
    outputs = predict(examples)
    lines = [requests.describe(outputs, index) for index in range(len(args.inputs))]
    if config.prediction_kind == "forecast":
        forecasts = cast(ForecastRequestModule, requests)
        return [f"{line} for {forecasts.predicted_for(name, config)}" for name, line in zip(args.inputs, lines)]
    return lines


def _latest_trained(args: argparse.Namespace, workdir: Workdir) -> tuple[Path, str]:
    """The SavedModel the newest run with a trained model trained (cached or not), and a line saying
    which run and whether it was blessed and pushed."""
    from tfx.utils import path_utils

    from pipelines import history, summary

    for past in history.recent_runs(workdir.root, workdir.pipeline, limit=100):
        trainer = RunOutcome.read(past.folder).components.get("Trainer") if past.status != "running or killed" else None
        if trainer is None or trainer.execution_id is None or trainer.status == "failed":
            continue
        model = summary.outputs_of(str(workdir.metadata_path.resolve()), trainer.execution_id)["model"][0]
        blessed = {True: "blessed", False: "not blessed", None: "not evaluated"}[past.blessed]
        pushed = f"pushed as version {past.pushed_version}" if past.pushed_version else "not pushed"
        note = f"Model trained by the run of {past.started:%Y-%m-%d %H:%M:%S}: {blessed}, {pushed}."
        return Path(path_utils.serving_model_path(model.uri)), note
    raise options.UsageError(
        f"No {workdir.pipeline} run has trained a model in {workdir.root} yet; "
        f"run `tfpipe run {workdir.pipeline}{options.workdir_option(args)}` first."
    )


def _model(args: argparse.Namespace, config: PipelineConfig, model_dir: Path, no_model: str) -> Predict:
    """A function of serialized tf.Examples -> the model's outputs: the latest pushed version loaded
    here, or with --server the latest version a model server serves."""
    if args.server is None:
        from serving.predict import latest_version, load

        version = latest_version(model_dir)
        if version is None:
            raise options.UsageError(no_model)
        return load(version)
    from serving.client import ServerError, predict_on_server

    def on_server(examples: list[bytes]):
        try:
            return predict_on_server(args.server, args.timeout, config.model_name, examples)
        except ServerError as error:
            raise options.UsageError(str(error)) from None

    return on_server
