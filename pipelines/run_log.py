"""Where a command's own output goes: TensorFlow, TFX and Beam write to the process's stdout and
stderr, which a command sends to a log file while it keeps the terminal for its own lines. No
TensorFlow here."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def output_to_log(log_path: Path) -> Iterator[TextIO]:
    """Sends file descriptors 1 and 2 (Python, TensorFlow's C++ logs, Beam workers) to `log_path`.

    Yields a stream that still reaches the terminal.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved_stdout, saved_stderr = os.dup(1), os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    terminal = os.fdopen(os.dup(saved_stdout), "w", buffering=1)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_stdout, 1)
        os.dup2(saved_stderr, 2)
        os.close(saved_stdout)
        os.close(saved_stderr)
        terminal.close()
