"""The user's view of a run: one line per component on the terminal, everything else in a log file."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

_NAME_WIDTH = 32


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


class Console:
    """Prints component lines: on a terminal a live line that ticks while the component runs;
    elsewhere (CI, pipes) one final line per component."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.live = stream.isatty()
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def say(self, text: str = "") -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def component(self, name: str, status: str, seconds: float | None) -> None:
        """Reports a component's state: running, then cached / done / failed with its seconds."""
        self._stop_ticker()
        if status == "running":
            if self.live:
                self._start_ticker(name)
            return
        line = f"  {name:<{_NAME_WIDTH}} {status:<7} {seconds:7.1f} s"
        with self._lock:
            self.stream.write(("\r\033[K" if self.live else "") + line + "\n")
            self.stream.flush()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A piece of work that is not a component (loading TensorFlow, say), shown the same way."""
        started = time.monotonic()
        self.component(name, "running", None)
        try:
            yield
        except BaseException as error:
            status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            self.component(name, status, time.monotonic() - started)
            raise
        self.component(name, "done", time.monotonic() - started)

    def _start_ticker(self, name: str) -> None:
        started = time.monotonic()
        self._stop.clear()

        def tick() -> None:
            while not self._stop.is_set():
                with self._lock:
                    self.stream.write(f"\r\033[K  {name:<{_NAME_WIDTH}} running {time.monotonic() - started:7.0f} s")
                    self.stream.flush()
                self._stop.wait(1.0)

        self._ticker = threading.Thread(target=tick, daemon=True)
        self._ticker.start()

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None


def metrics_table(metrics: dict[str, dict[str, float]]) -> list[str]:
    """Rows of metrics, one column per slice. A metric of several outputs (`<output>/<metric>`: the
    model's and its baselines') has its rows together, so the figures to compare stand side by side."""
    slices = list(metrics)
    names = sorted(
        {name for values in metrics.values() for name in values}, key=lambda name: (name.rpartition("/")[2], name)
    )
    width = max(len(name) for name in names)
    column = max(9, *(len(s) for s in slices))
    lines = ["  " + " " * width + "".join(f"  {s:>{column}}" for s in slices)]
    for name in names:
        cells = "".join(f"  {_cell(metrics[s].get(name, '-')):>{column}}" for s in slices)
        lines.append(f"  {name:<{width}}{cells}")
    return lines


def _cell(value) -> str:
    """A metric as the table shows it: 4 significant digits; NaN, inf (TFMA's JSON gives them as
    the strings "NaN", "Infinity") and anything else not a number as they come."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4g}"
