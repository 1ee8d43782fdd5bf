"""Fault injection for the tests of what a run leaves behind when it is killed or interrupted
(tests/test_fault_injection.py): named points in the code where a run can be made to receive a
signal, so a kill lands at an exact place (inside the Pusher after its rename, say) rather than
wherever a timer happens to fire.

`TFPIPE_FAULT=<point>:<signal>` in a run's environment sends <signal> (KILL, TERM or INT) to the
run's own process when it reaches <point>; `RAISE` in place of a signal raises InjectedFault there
instead, an error the code at that point must survive. Points: `before:<component>` and `after:<component>`
(the moment the runner logs the component as running or finished: pipelines/in_process.py),
`push:copied` (the Pusher's copy is complete and still hidden) and `push:published` (the version is
renamed into place, the Pusher not yet recorded in ML Metadata: components/push_executor.py), `trial:<n>`
(inside a model search's n-th trial: components/models/tuning.py). Unset, nothing
happens; nothing else reads the variable.
"""

import os
import signal

ENV = "TFPIPE_FAULT"


class InjectedFault(RuntimeError):
    """The error TFPIPE_FAULT=<point>:RAISE raises at <point>."""


def point(name: str) -> None:
    """Sends the signal TFPIPE_FAULT names for `name` (or raises InjectedFault), if it names `name`."""
    where, _, signal_name = os.environ.get(ENV, "").rpartition(":")
    if where != name:
        return
    if signal_name == "RAISE":
        raise InjectedFault(f"fault injected at {name} (TFPIPE_FAULT)")
    os.kill(os.getpid(), signal.Signals[f"SIG{signal_name}"])
