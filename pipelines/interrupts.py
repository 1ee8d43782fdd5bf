"""Ctrl-C (SIGINT) and SIGTERM during `tfpipe run`: either raises `Interrupted` in the main thread,
so the run stops where it is, says where in one line, records itself and exits 130 or 143 (128 +
the signal's number, as a shell reports a process a signal ended). No TensorFlow here.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal. A KeyboardInterrupt, so code that lets Ctrl-C through lets it through."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def received() -> Interrupted | None:
    """The first signal received in the current `raise_on_signals` block, if any: a library may
    have caught the exception and raised another in its place."""
    return Interrupted(_received[0]) if _received else None


def as_interruption(error: BaseException) -> Interrupted | None:
    """`error` as an Interrupted, if a signal caused it (a bare KeyboardInterrupt is Ctrl-C)."""
    if isinstance(error, Interrupted):
        return error
    if isinstance(error, KeyboardInterrupt):
        return Interrupted(signal.SIGINT)
    return received()


@contextlib.contextmanager
def raise_on_signals() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM raise Interrupted (the second one too, so a second
    Ctrl-C stops whatever the first one's handling is doing); the previous handlers come back after."""

    def handler(signum: int, frame) -> None:
        _received.append(signum)
        raise Interrupted(signum)

    _received.clear()
    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
