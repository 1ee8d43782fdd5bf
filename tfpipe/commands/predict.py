"""`tfpipe predict PIPELINE INPUT...`: the model's prediction for each input, a line each."""

from __future__ import annotations

import argparse
import functools
import importlib
import os
from collections.abc import Callable
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
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="one input to predict for (see below)")
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
        "--batch",
        type=Path,
        metavar="FOLDER_OR_FILE",
        help="score every input of a folder (each file one input: images, recordings, price files) or of a file "
        "(each row of a CSV file, each line of a word list) through Beam, and write --output",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("predictions.csv"),
        metavar="CSV",
        help="with --batch: the CSV file written, a row per input: row,input,prediction (default: predictions.csv)",
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
    _check_choices(args, config)
    workdir = Workdir(args.workdir, config.name)
    model_dir = workdir.serving_dir / config.model_name
    no_model = (
        f"No {config.name} model has been pushed to {model_dir} yet; "
        f"run `tfpipe run {config.name}{options.workdir_option(args)}` first."
    )
    if args.server is None and not args.latest_trained and not model_dir.is_dir():
        raise options.UsageError(no_model)
    workdir.pipeline_dir.mkdir(parents=True, exist_ok=True)
    # TensorFlow's start-up messages go to the log, as in `tfpipe run`; the predictions to the terminal.
    # Its C++ warnings can come after the log is closed, as the process exits: keep only errors.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with output_to_log(workdir.pipeline_dir / "predict.log") as terminal:
        tf_setup.configure()
        requests = cast(RequestModule, importlib.import_module(config.request_module))
        version = None
        if args.latest_trained:
            version, note = _latest_trained(args, workdir)
            terminal.write(note + "\n")
        elif args.server is None:
            version = _latest_pushed(model_dir, no_model)
        if args.batch is not None:
            rows = _predict_batch(args, config, requests, version)
            terminal.write(f"Wrote {rows} prediction(s) to {args.output}\n")
            return 0
        try:
            examples = requests.to_examples(args.inputs, config)
        except ValueError as error:
            raise options.UsageError(str(error)) from None
        predict = _predictor(config, version, args.server, args.timeout)
        for name, line in zip(args.inputs, _lines(args.inputs, args.complete, config, requests, examples, predict)):
            terminal.write(f"{name}: {line}\n")
    return 0


def _check_choices(args: argparse.Namespace, config: PipelineConfig) -> None:
    """UsageError for options that do not go together."""
    if args.complete and config.prediction_kind != "sequence":
        raise options.UsageError(f"--complete: the {config.name} pipeline predicts no sequence to continue.")
    if (args.batch is None) == (not args.inputs):
        raise options.UsageError("Give the inputs to predict for, or --batch FOLDER_OR_FILE, not both.")
    if args.batch is not None and args.complete:
        raise options.UsageError("--complete predicts step by step for a few inputs; it takes no --batch.")
    if args.latest_trained and args.server is not None:
        raise options.UsageError("--latest-trained loads the model here; a model server serves pushed versions only.")


def _lines(
    inputs: list[str],
    complete: bool,
    config: PipelineConfig,
    requests: RequestModule,
    examples: list[bytes],
    predict: Predict,
) -> list[str]:
    """A line per input, in the words of the pipeline's kind of prediction (config.prediction_kind)."""
    if complete:
        return cast(SequenceRequestModule, requests).complete(inputs, config, predict)
    outputs = predict(examples)
    lines = [requests.describe(outputs, index) for index in range(len(inputs))]
    if config.prediction_kind == "forecast":
        forecasts = cast(ForecastRequestModule, requests)
        return [f"{line} for {forecasts.predicted_for(name, config)}" for name, line in zip(inputs, lines)]
    return lines


def batch_inputs(path: Path, config: PipelineConfig, requests: RequestModule) -> list[str]:
    """The inputs --batch names: the request module's reading of a file where it has one (`batch_inputs`:
    iris's CSV rows, letters' lines), else every file of a folder (hidden ones aside), or the file itself."""
    if not path.exists():
        raise options.UsageError(f"--batch {path}: no such file or folder.")
    rows = getattr(requests, "batch_inputs", None)
    if path.is_file() and rows is not None:
        try:
            return rows(path, config)
        except ValueError as error:
            raise options.UsageError(f"--batch {path}: {error}") from None
    if path.is_file():
        return [str(path)]
    return sorted(str(entry) for entry in path.iterdir() if entry.is_file() and not entry.name.startswith("."))


def batch_lines(
    request_module: str, config: PipelineConfig, version: Path | None, server: str | None, timeout: float
) -> Callable[[list[str]], list[str]]:
    """For each Beam worker: the model loaded once (or its server), and a function of a batch of inputs ->
    the lines `tfpipe predict` prints for them."""
    tf_setup.configure()
    requests = cast(RequestModule, importlib.import_module(request_module))
    predict = _predictor(config, version, server, timeout)

    def lines(inputs: list[str]) -> list[str]:
        return _lines(inputs, False, config, requests, requests.to_examples(inputs, config), predict)

    return lines


def _predict_batch(args: argparse.Namespace, config: PipelineConfig, requests: RequestModule, version) -> int:
    """Writes --output from the inputs of --batch through Beam; UsageError, and nothing written, for an
    input the request module refuses."""
    from components.batch_prediction import predict_to_csv
    from pipelines.beam_profiles import beam_pipeline_args

    inputs = batch_inputs(args.batch, config, requests)
    if not inputs:
        raise options.UsageError(f"--batch {args.batch}: no inputs in it.")
    if not args.output.parent.is_dir():
        raise options.UsageError(f"--output {args.output}: its folder does not exist.")
    lines_for = functools.partial(batch_lines, config.request_module, config, version, args.server, args.timeout)
    try:
        return predict_to_csv(inputs, lines_for, args.output, beam_pipeline_args())
    except ValueError as error:
        raise options.UsageError(f"--batch {args.batch}: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    # Beam adds where the error was raised (" [while running 'Predict']") after the message.
    return str(error).split(" [while running")[0].strip().splitlines()[0]


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


def _latest_pushed(model_dir: Path, no_model: str) -> Path:
    from serving.predict import latest_version

    version = latest_version(model_dir)
    if version is None:
        raise options.UsageError(no_model)
    return version


def _predictor(config: PipelineConfig, version: Path | None, server: str | None, timeout: float) -> Predict:
    if server is None:
        from serving.predict import load

        assert version is not None
        return load(version)
    from serving.client import ServerError, predict_on_server

    def on_server(examples: list[bytes]):
        try:
            return predict_on_server(server, timeout, config.model_name, examples)
        except ServerError as error:
            raise options.UsageError(str(error)) from None

    return on_server
