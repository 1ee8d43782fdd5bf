"""Data folders of spans: new data arriving as numbered folders, `span-0001/`, `span-0002/`, ...

TFX's ExampleGens call each delivery of data a span (`{SPAN}` in an input pattern, here
`span-{SPAN:4}/`: four digits); a run reads the latest span, with a rolling window of the spans before it
(TFX's RangeConfig `rolling_range`). A data folder without span folders is read whole, as before.
No TensorFlow here: the CLI resolves spans before it loads anything.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from components.example_gen import layouts

# TFX's pattern for the same folders (an ExampleGen's input_config): the span in 4 digits, zero-padded.
SPAN_PATTERN = "span-{SPAN:4}"
_SPAN_FOLDER = re.compile(r"span-([0-9]{4})")


def spans(data_dir: Path) -> dict[int, Path]:
    """The span folders directly in `data_dir`, by span number (`span-0007` is 7; four digits), in order."""
    if not data_dir.is_dir():
        return {}
    found = {}
    for entry in data_dir.iterdir():
        match = _SPAN_FOLDER.fullmatch(entry.name)
        if match and entry.is_dir():
            found[int(match.group(1))] = entry
    return dict(sorted(found.items()))


def window(data_dir: Path, span_window: int) -> list[Path]:
    """The folders a run reads: the latest span and the `span_window - 1` before it (every span up to
    the latest with 0), oldest first; `[data_dir]` when it holds no span folders."""
    found = list(spans(data_dir).values())
    if not found:
        return [data_dir]
    return found[-span_window:] if span_window else found


def latest(data_dir: Path) -> int | None:
    """The number of the latest span in `data_dir`, or None when it holds no span folders."""
    found = spans(data_dir)
    return max(found) if found else None


@dataclasses.dataclass(frozen=True)
class WindowRead:
    """What a file-reading ExampleGen (files, lines of text) reads of a data folder, resolved when the
    pipeline is built, as stock's windows are (TFX's own `{SPAN}` resolution reads one span only)."""

    folders: tuple[str, ...]
    """The folders read, oldest first, relative to the data folder: span folders' names, or "" for the data
    folder itself; relative, so that a pipeline compiled for a container reads its own copy's spans."""
    span: int
    """The latest span read, recorded as the Examples' `span`; 0 without span folders, as TFX records it."""
    fingerprint: str
    """Changes whenever a file under a folder read does (layouts.fingerprint): the ExampleGen is cached on
    it, where TFX's own fingerprint sees only the entries its split pattern matches directly in the data folder."""


def read_window(data_dir: Path, span_window: int) -> WindowRead:
    """The WindowRead of `data_dir` for `span_window` (see window)."""
    folders = window(data_dir, span_window)
    return WindowRead(
        folders=tuple("" if folder == data_dir else folder.name for folder in folders),
        span=latest(data_dir) or 0,
        fingerprint="\n".join(layouts.fingerprint(folder) for folder in folders),
    )
