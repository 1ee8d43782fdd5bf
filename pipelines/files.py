"""What every file-reading pipeline's config (images, audio) shares: the data folder's layout (each span
folder's, where it holds spans: components/example_gen/spans.py), and the one FileExampleGen
(components/example_gen/file_example_gen.py) over it with the pipeline's reader.

No TensorFlow here: the CLI reads configs for `--help` and `tfpipe list`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from components.example_gen import layouts, spans
from pipelines.config import IMAGE_ROOT, REPO_ROOT, ConfigError, PipelineConfig, Setting

# The largest input file read, in bytes: a file is read whole before its reader checks it (an
# image's pixels, a recording's length), so this bounds what one file can take. Far above any
# image under the pixel cap or recording under the length cap.
MAX_FILE_BYTES = 1 << 30


def detect_layout(data_dir: Path) -> layouts.Layout:
    """The layout of `data_dir`; ConfigError naming what was found and what was expected if none fits."""
    try:
        return layouts.detect(data_dir)
    except layouts.LayoutError as error:
        raise ConfigError(str(error)) from None


def window_layout(data_dir: Path, folders: list[Path]) -> layouts.Layout:
    """The one layout of the folders a run reads (`data_dir` itself, or its span folders: a split is one
    pattern, read in each); ConfigError naming two span folders whose layouts differ."""
    found = {folder: detect_layout(folder) for folder in folders}
    first, *others = found
    differing = next((folder for folder in others if found[folder] != found[first]), None)
    if differing is not None:
        raise ConfigError(
            f"data folder {data_dir}: span folder {first.name} holds {_described(found[first])} and "
            f"{differing.name} holds {_described(found[differing])}; expected every span a run reads in one layout."
        )
    return found[first]


def _described(layout: layouts.Layout) -> str:
    return f"{layout.kind} ({', '.join(layout.split_patterns.values())})"


def check_class_names(data_dir: Path, layout: layouts.Layout, class_names: tuple[str, ...]) -> None:
    """ConfigError, before anything loads, when no class folder of the data is one of `class_names`:
    FileExampleGen would leave out every example. (A stray folder among the classes is one bad input,
    listed and left out.)"""
    found = layouts.class_names_found(data_dir, layout)
    if found and not set(found) & set(class_names):
        raise ConfigError(
            f"data folder {data_dir}: none of its class folders ({', '.join(found)}) is one of class_names "
            f"({','.join(class_names)}); --set {shlex.quote('class_names=' + ','.join(found))} (the folders, "
            "sorted), or leave class_names unset to read them from the folders."
        )


def class_names_from_data(config: PipelineConfig, given: set[str]) -> list[tuple[str, Setting]]:
    """The class_names setting the data's class folders give (those of every span folder read), when the user
    named a data folder and no class names (PipelineConfig.read_from_data); none for the other layouts."""
    if "data_dir" not in given or "class_names" in given:
        return []
    if not config.resolved_data_dir().is_dir():
        return []
    found = sorted(
        {
            name
            for folder in config.input_dirs()
            for name in layouts.class_names_found(folder, detect_layout(folder)) or ()
        }
    )
    return [("class_names", ",".join(found))] if found else []


def file_example_gen(
    config: PipelineConfig,
    *,
    class_names: tuple[str, ...],
    reader: str,
    reader_options: dict[str, Any],
    component_id: str,
    name_fields: tuple[str, ...] = (),
    split_rule: dict[str, Any] | None = None,
):
    """FileExampleGen over `config`'s data folder (the span folders of its `span_window`, where it holds
    spans), as its layout says (see FileExampleGen for the arguments).

    Imports TFX when called, not when this module loads.
    """
    from components.example_gen.file_example_gen import FileExampleGen

    data_dir = config.resolved_data_dir()
    # The layout is read when the pipeline is built. Compiled for a container, the data
    # folder is the image's copy of this checkout's (pipelines/kubeflow/Dockerfile): read that.
    local_copy = data_dir
    if not data_dir.is_dir() and data_dir.is_relative_to(IMAGE_ROOT):
        local_copy = REPO_ROOT / data_dir.relative_to(IMAGE_ROOT)
    if not local_copy.is_dir():
        raise ConfigError(
            f"data folder {data_dir} is not on this machine; {config.name} reads its layout when "
            "the pipeline is built, so compile with a data folder this checkout has."
        )
    return FileExampleGen(
        data_dir=str(data_dir),
        layout=window_layout(local_copy, spans.window(local_copy, config.span_window)),
        class_names=class_names,
        reader=reader,
        reader_options=reader_options,
        window=spans.read_window(local_copy, config.span_window),
        component_id=component_id,
        max_file_bytes=MAX_FILE_BYTES,
        name_fields=name_fields,
        split_rule=split_rule,
    )
