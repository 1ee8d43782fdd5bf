"""`tfpipe compile PIPELINE --target kubeflow`: the pipeline written out for another orchestrator."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from components import tf_setup
from pipelines.run_log import output_to_log
from tfpipe.commands import options

# `tfpipe compile --target`: the modules that write a pipeline out for another orchestrator.
TARGETS = {"kubeflow": "pipelines.kubeflow_runner"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "compile",
        help="write a pipeline out for another orchestrator (Kubeflow Pipelines)",
        description="Writes the pipeline's KFP v2 pipeline spec (JSON) with TFX's KubeflowV2DagRunner. Every "
        "component runs in IMAGE (pipelines/kubeflow/Dockerfile builds one), paths are the image's, and the "
        "MLflow server is the containers' MLFLOW_TRACKING_URI.",
    )
    options.add_pipeline(parser)
    parser.add_argument("--target", choices=list(TARGETS), required=True, help="orchestrator: kubeflow")
    parser.add_argument(
        "--image", required=True, help="container image with this project (pipelines/kubeflow/Dockerfile)"
    )
    parser.add_argument("--output", type=Path, help="spec file to write (default: ./<pipeline>_kubeflow.json)")
    parser.add_argument(
        "--pipeline-root",
        default="minio://mlpipeline/v2/artifacts",
        help="where the artifacts go, a runtime parameter that a run may override "
        "(default: minio://mlpipeline/v2/artifacts, standalone KFP's store)",
    )
    parser.add_argument(
        "--data-dir", help="the data folder in the containers (default: the image's copy of the shipped data)"
    )
    parser.add_argument(
        "--serving-dir",
        default="/serving",
        help="TF Serving's model base path in the containers, a mounted volume (default: /serving)",
    )
    options.add_overrides(parser, "override a config value, as for tfpipe run")
    options.add_beam_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Paths are the containers', not this machine's: as given.
    config = options.load_config(args, from_cwd=False)
    beam_args = options.beam_args(args)
    output = (args.output or Path(f"{config.name}_{args.target}.json")).resolve()
    if not output.parent.is_dir():
        raise options.UsageError(f"--output {args.output}: folder {output.parent} does not exist.")
    print(f"Compiling {config.name} for {args.target} (image {args.image}) ...", flush=True)
    with output_to_log(output.with_suffix(".log")):
        tf_setup.configure()
        target = importlib.import_module(TARGETS[args.target])
        target.compile_pipeline(
            config,
            args.image,
            output,
            pipeline_root=args.pipeline_root,
            data_dir=args.data_dir,
            serving_dir=args.serving_dir,
            beam_pipeline_args=beam_args,
        )
    print(f"Wrote {output}")
    return 0
