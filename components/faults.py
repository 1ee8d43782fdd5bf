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
(inside a model search's n-th trial: components/models/tuning.py), `export` (the Trainer has
written the model: components/train_executor.py). `export:UNSERVABLE` leaves a model that TF Serving
and `tfpipe serve` load but cannot answer with (`unservable`), the candidate the InfraValidator must
stop. Unset, nothing happens; nothing else reads the variable.
"""

import os
import signal
from pathlib import Path

ENV = "TFPIPE_FAULT"


class InjectedFault(RuntimeError):
    """The error TFPIPE_FAULT=<point>:RAISE raises at <point>."""


# What `export:UNSERVABLE` makes serving_default's output name: a tensor no graph has.
UNSERVABLE_TENSOR = "fault_injected_at_export:0"


def point(name: str) -> None:
    """Sends the signal TFPIPE_FAULT names for `name` (or raises InjectedFault), if it names `name`."""
    where, _, signal_name = os.environ.get(ENV, "").rpartition(":")
    if where != name:
        return
    if signal_name == "RAISE":
        raise InjectedFault(f"fault injected at {name} (TFPIPE_FAULT)")
    os.kill(os.getpid(), signal.Signals[f"SIG{signal_name}"])


def exported(serving_model_dir: str) -> None:
    """The `export` point, reached once the Trainer has written the SavedModel in `serving_model_dir`;
    `export:UNSERVABLE` makes the model unservable (`unservable`)."""
    if os.environ.get(ENV, "") == "export:UNSERVABLE":
        unservable(Path(serving_model_dir))
    else:
        point("export")


def unservable(saved_model_dir: Path) -> None:
    """Points the outputs of the SavedModel's serving_default SignatureDef at a tensor its graph does not
    have. A server that runs SignatureDefs, as TF Serving and `tfpipe serve` do, loads the model and
    fails every request; TensorFlow 2's loader (TFMA, the Evaluator) reads signatures from the object
    graph instead and does not notice, so the model is evaluated and blessed as usual."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = saved_model_dir / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        for output in meta_graph.signature_def["serving_default"].outputs.values():
            output.name = UNSERVABLE_TENSOR
    path.write_bytes(saved_model.SerializeToString())
