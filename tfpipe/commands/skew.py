"""`tfpipe skew PIPELINE`: training-serving skew of the requests `tfpipe serve --log-requests` logged."""

from __future__ import annotations

import argparse
from pathlib import Path

from components import tf_setup
from pipelines import named
from pipelines.config import apply_settings
from pipelines.run_log import output_to_log
from pipelines.workdir import Workdir
from tfpipe.commands import options

# Exit status when a feature is skewed beyond its threshold (a usage error is 2).
EXIT_SKEWED = 1


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "skew",
        help="compare the requests a served model answered with its training data (TFDV skew comparators)",
        description="Reads the requests `tfpipe serve --log-requests RATE` logged for the pipeline's model, computes "
        "their TFDV statistics, and compares them with the training data's statistics of the run that pushed the "
        "version that answered them: Jensen-Shannon divergence for numeric features, L-infinity distance for "
        "categorical ones, each against its threshold in the pipeline's schema (skew_comparator, else "
        "drift_comparator, else 0.3). Exits 1 when a feature is skewed. Tabular pipelines only: image, audio "
        "and text requests are not compared.",
        epilog="example: tfpipe serve --log-requests 0.1 &  (send requests)  tfpipe skew iris",
    )
    options.add_pipeline(parser)
    options.add_workdir(parser)
    parser.add_argument(
        "--request-log-dir",
        type=Path,
        metavar="DIR",
        help="the --request-log-dir the server logged to: DIR/<model>/request_logs/ (default: the workdir)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config_class, defining = named.pipeline(Path(args.workdir), args.pipeline)
    config = apply_settings(config_class(), defining)
    pipeline_dir = Workdir(args.workdir, config.name).pipeline_dir
    pipeline_dir.mkdir(parents=True, exist_ok=True)
    with output_to_log(pipeline_dir / "skew.log") as terminal:
        tf_setup.configure()
        from pipelines.skew import SkewNotComputed, serving_skew_report

        try:
            report = serving_skew_report(Path(args.workdir), config, args.request_log_dir or Path(args.workdir))
        except SkewNotComputed as error:
            raise options.UsageError(str(error)) from None
        terminal.write(
            f"{report.requests} examples in the logged requests {config.model_name} version {report.version} answered "
            f"({report.logs}), against the training data of run {report.run_folder}:\n"
        )
        width = max((len(skew.feature) for skew in report.skews), default=0)
        for skew in report.skews:
            measured = f"{skew.measure} {skew.distance:.3g} (threshold {skew.threshold:g})"
            terminal.write(f"  {skew.feature:<{width}}  {measured}  {'skewed' if skew.skewed else 'ok'}\n")
        if report.skewed:
            names = ", ".join(skew.feature for skew in report.skewed)
            terminal.write(
                f"Skew: the requests' {names} moved away from the training data beyond the schema's thresholds; "
                "check what the clients send (units, encodings) or retrain on data like it.\n"
            )
            return EXIT_SKEWED
        terminal.write("No skew: every feature's requests are within its threshold of the training data.\n")
    return 0
