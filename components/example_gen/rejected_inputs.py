"""The one way an ExampleGen reports inputs it left out: each listed with its reason, counted.

An ExampleGen that rejects inputs writes one `<where>: <reason>` line per rejected input to
`rejected_inputs.txt` in its Examples artifact and sets the artifact's `rejected_inputs` property to
their count. The console summary and MlflowTracker read both from any ExampleGen's output, through
this module only. No TensorFlow here: `fileio` is TFX's, for artifact URIs on any file system.
"""

from __future__ import annotations

import errno
import os
import re

PROPERTY = "rejected_inputs"
FILE = "rejected_inputs.txt"
# The longest listed line, in characters: a reason may quote the input, and an input may be huge.
MAX_LINE_CHARS = 300


def record(examples, lines: list[str]) -> None:
    """Writes the list into the Examples artifact `examples` and counts it in its property."""
    from tfx.dsl.io import fileio

    with fileio.open(os.path.join(examples.uri, FILE), "w") as f:
        f.write("".join(f"{line}\n" for line in sorted(lines)))
    examples.set_int_custom_property(PROPERTY, len(lines))


def shortened(line: str) -> str:
    """`line` on one line and at most MAX_LINE_CHARS long, saying how long it was when it is cut."""
    line = " ".join(line.splitlines())
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[: MAX_LINE_CHARS - 40]}... (cut; {len(line):,} characters in all)"


def list_path(examples_uri: str) -> str:
    return os.path.join(examples_uri, FILE)


def read(examples_uri: str) -> list[str]:
    """The rejected inputs listed in the artifact at `examples_uri`; empty if it lists none."""
    from tfx.dsl.io import fileio

    path = list_path(examples_uri)
    if not fileio.exists(path):
        return []
    with fileio.open(path, "r") as f:
        return f.read().splitlines()


def unreadable(path: str, error: Exception) -> str:
    """Why the file at `path` could not be read, after `error`: a link that leads nowhere or round in a
    circle said so, anything else as the file system said it."""
    if os.path.islink(path):
        target = os.readlink(path)
        try:
            os.stat(path)
        except OSError as stat_error:
            if stat_error.errno == errno.ELOOP:
                return f"cannot be read: it is a link that leads round in a circle (to {target})"
            if stat_error.errno == errno.ENOENT:
                return f"cannot be read: it is a link to {target}, which does not exist"
    return f"cannot be read ({op_message(error)})"


def op_message(error: Exception) -> str:
    """A TensorFlow op's reason for refusing an input, without its op and device decorations, on one line."""
    message = getattr(error, "message", None) or str(error)
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", message)
    return re.sub(r"\s*\[Op:.*", "", message, flags=re.DOTALL).replace("\n", " ").strip()
