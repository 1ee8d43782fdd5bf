"""The user's view of a run: one line per component on the terminal, everything else in a log file."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console as RichConsole
from rich.live import Live
from rich.text import Text

_NAME_WIDTH = 32


# On a stream that is no terminal, a running component's finished stages (the Trainer's epochs) are
# printed at most this often, in seconds: a line per epoch would flood a CI log.
_MILESTONE_INTERVAL_S = 10.0
_STATUS_STYLES = {"done": "green", "cached": "cyan", "failed": "bold red", "interrupted": "yellow"}


@dataclasses.dataclass
class _Running:
    """The component under way and what has been shown of it."""

    name: str
    started: float
    detail: str | None = None
    milestone_shown: str | None = None
    milestone_shown_at: float = -math.inf

    def line(self) -> Text:
        line = Text(
            f"  {self.name:<{_NAME_WIDTH}} running {time.monotonic() - self.started:7.0f} s",
            no_wrap=True,
            overflow="ellipsis",
        )
        if self.detail:
            line.append(f"  {self.detail}", style="bold")
        return line


class Console:
    """Prints a line per component once it has finished. On a terminal the running component has a
    live line (rich) with its seconds so far and its progress (the Trainer's epoch, step and loss);
    elsewhere (CI, pipes) the lines are plain text, with the running component's finished stages
    (the Trainer's epochs) at most every 10 s."""

    def __init__(self, stream: TextIO, live: bool | None = None):
        """`live`: whether to show a live line and colours; by default when `stream` is a terminal
        (what `stream` is, not what FORCE_COLOR or TTY_COMPATIBLE say: a CI log gets plain lines)."""
        self._rich = RichConsole(
            file=stream,
            force_terminal=stream.isatty() if live is None else live,
            force_interactive=live,
            highlight=False,
            soft_wrap=True,
        )
        # Rich's own test: a terminal that is not dumb (TERM=dumb gets plain lines).
        self.live = self._rich.is_interactive
        self._running: _Running | None = None
        self._live: Live | None = None

    @property
    def width(self) -> int | None:
        """The terminal's width in characters; None when the lines go to a log or a pipe."""
        return self._rich.width if self._rich.is_terminal else None

    def say(self, text: str = "") -> None:
        self._rich.print(Text(text))

    def component(
        self,
        name: str,
        status: str,
        seconds: float | None,
        detail: str | None = None,
        milestone: str | None = None,
        every_milestone: bool = False,
    ) -> None:
        """Reports a component's state: running (and again each time its progress changes: `detail`,
        the latest, and `milestone`, the last stage it finished, each one shown with `every_milestone`),
        then cached / done / failed with its seconds."""
        if status == "running":
            self._show_running(name, detail, milestone, every_milestone)
            return
        self._end_running()
        self._rich.print(
            Text.assemble(
                f"  {name:<{_NAME_WIDTH}} ", (f"{status:<7}", _STATUS_STYLES.get(status, "")), f" {seconds:7.1f} s"
            )
        )

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

    def _show_running(self, name: str, detail: str | None, milestone: str | None, every_milestone: bool) -> None:
        if self._running is None or self._running.name != name:
            self._end_running()
            self._running = running = _Running(name, time.monotonic())
            if self.live:
                # Not redirecting stdout and stderr: they go to the run's log (pipelines/run_log.py).
                self._live = Live(
                    console=self._rich,
                    get_renderable=running.line,
                    refresh_per_second=2,
                    transient=True,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                self._live.start()
        running = self._running
        running.detail = detail
        now = time.monotonic()
        if self._live is not None and not every_milestone:
            self._live.refresh()
        elif (
            milestone
            and milestone != running.milestone_shown
            and (every_milestone or now - running.milestone_shown_at >= _MILESTONE_INTERVAL_S)
        ):
            running.milestone_shown, running.milestone_shown_at = milestone, now
            # "Trainer:", not "Trainer": a component's own line is the one that starts with its name.
            self._rich.print(Text(f"  {name + ':':<{_NAME_WIDTH}} {milestone}"))

    def _end_running(self) -> None:
        if self._live is not None:
            self._live.stop()  # transient: the live line is cleared
            self._live = None
        self._running = None


# The most slices the console table shows as columns: enough for overall, ten classes and a speaker;
# more (stock's tickers), or more than the terminal's width holds, are cut to the best and worst by
# the blessing metric, with every slice still in summary.json and MLflow.
MOST_SLICES = 12


def metrics_table(
    metrics: dict[str, dict[str, float]], rank_by: str = "", higher_is_better: bool = True, width: int | None = None
) -> list[str]:
    """Rows of metrics, one column per slice. A metric of several outputs (`<output>/<metric>`: the
    model's and its baselines') has its rows together, so the figures to compare stand side by side.
    Over MOST_SLICES slices, or more than fit in `width` characters (a terminal's; None: no limit, as
    for a log or a pipe), the first (overall) and the best and worst by `rank_by` are shown (without
    `rank_by`, the first ones)."""
    names = sorted({name for s in metrics for name in metrics[s]}, key=lambda name: (name.rpartition("/")[2], name))
    name_width = max(len(name) for name in names)
    column = max(9, *(len(s) for s in metrics))
    fit = MOST_SLICES if width is None else (width - 2 - name_width) // (column + 2)
    slices, note = _shown_slices(metrics, rank_by, higher_is_better, max(3, min(MOST_SLICES, fit)))
    lines = ["  " + " " * name_width + "".join(f"  {s:>{column}}" for s in slices)]
    for name in names:
        cells = "".join(f"  {_cell(metrics[s].get(name, '-')):>{column}}" for s in slices)
        lines.append(f"  {name:<{name_width}}{cells}")
    return lines + ([note] if note else [])


def _shown_slices(
    metrics: dict[str, dict[str, float]], rank_by: str, higher_is_better: bool, most: int
) -> tuple[list, str]:
    slices = list(metrics)
    if len(slices) <= most:
        return slices, ""
    first, others = slices[0], slices[1:]
    if not rank_by:
        shown = slices[:most]
        how = f"the first {most - 1}"
    else:
        values = {s: _number(metrics[s].get(rank_by)) for s in others}
        ranked = sorted(
            (s for s in others if values[s] is not None), key=lambda s: values[s] or 0.0, reverse=higher_is_better
        )
        each = (most - 1) // 2
        shown = [first, *ranked[:each], *ranked[each:][-each:]]
        how = f"the {each} best and {each} worst by {rank_by}"
    note = (
        f"  ({len(shown) - 1} of {len(others)} slices shown: {how}; "
        "every slice is in summary.json and in MLflow's evaluation/slices.csv)"
    )
    return shown, note


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN ranks nowhere


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
    if math.isfinite(value) and value == int(value) and abs(value) < 1e12:
        return str(int(value))  # counts as integers, not 3.3e+04
    return f"{value:.4g}"
