"""`tfpipe schema PIPELINE`: a schema inferred from the pipeline's data, diffed with the curated one."""

from __future__ import annotations

import argparse

from components import tf_setup
from pipelines.run_log import output_to_log
from pipelines.workdir import Workdir
from tfpipe.commands import options
from tfpipe.console import Console


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "schema",
        help="infer a fresh schema from a pipeline's data, for review against the curated one",
        description="Infers a schema with TFDV from the pipeline's data and shows how it differs "
        "from the curated schemas/<pipeline>/schema.pbtxt. The curated file is never changed.",
    )
    options.add_pipeline(parser)
    options.add_workdir(parser)
    options.add_overrides(parser, "override a config value, e.g. data_dir=other/folder")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = options.checked_config(args)
    out_dir = Workdir(args.workdir, config.name).pipeline_dir / "inferred_schema"
    out_dir.mkdir(parents=True, exist_ok=True)
    inferred_path = out_dir / "schema.pbtxt"
    with output_to_log(out_dir / "infer.log") as terminal:
        console = Console(terminal)
        with console.step("infer schema with TFDV"):
            tf_setup.configure()
            from pipelines.schema_review import infer_schema, schema_diff

            infer_schema(config.resolved_data_dir(), inferred_path)
        diff = schema_diff(config.schema_path, inferred_path) if config.schema_path.is_file() else None
    print(f"Inferred schema: {inferred_path}")
    if diff is None:
        print(f"{config.name} has no schema yet: its first run writes TFDV's inference to {config.schema_path}.")
        return 0
    if diff:
        print(f"Differences from the curated {config.schema_path} (review before copying anything over):")
        print(diff)
    else:
        print(f"Same as the curated {config.schema_path}.")
    return 0
