"""Which float type a model trains in: bfloat16 mixed precision where the CPU computes bfloat16 natively
and the model trains faster under it, float32 otherwise.

Keras' `mixed_bfloat16` policy computes layers in bfloat16 and keeps their weights in float32; oneDNN
runs those bfloat16 matrix products on AVX-512-BF16 or AMX units, and only under that policy. Without
such units bfloat16 is emulated and slower than float32, so `auto` asks the CPU (/proc/cpuinfo's
flags, read at run time: machines of one kind can differ). Recurrent models are left in float32 by
`auto`: an LSTM step measured slower under the policy (docs/design.md). Where both remain, `auto` times
a few training steps of the model under each (faster_policy): the units speed up large products, but a
small model's steps are mostly the casts around them (the notes' baseline CNN's step is longer under
the policy than in float32: benchmarks/RESULTS.md#cifar10_recipe).

No loss scaling: Keras' mixed-precision guide needs it for float16 only; bfloat16 has float32's
exponent range. The model's last layer computes in float32 (components/models/images/zoo.py), so its
probabilities and the loss are float32.

Importing this module imports no TensorFlow.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

AUTO, BFLOAT16, FLOAT32 = "auto", "bfloat16", "float32"
CHOICES = (AUTO, BFLOAT16, FLOAT32)
# /proc/cpuinfo flags of units that compute bfloat16 products natively.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# Keras' policy names.
MIXED_POLICY, FLOAT32_POLICY = "mixed_bfloat16", "float32"
# Training steps timed per policy in each round, after the first (which traces): their median is a round's
# figure. Rounds alternate the policies and each keeps its shortest round: the first steps a process runs
# are slow for reasons of their own (thread pools, kernel caches), which one round would charge to
# whichever policy went first.
PROBE_STEPS, PROBE_ROUNDS = 8, 2


def cpu_bf16_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, ...]:
    """The BF16_FLAGS the CPU reports (empty where it reports none, or there is no /proc/cpuinfo)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return ()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return tuple(flag for flag in BF16_FLAGS if flag in flags)


def policy_name(requested: str, recurrent: bool, cpu_flags: tuple[str, ...] | None = None) -> str:
    """The Keras policy to train in: `requested` bfloat16 or float32 as asked; `auto`: mixed_bfloat16 for a
    model that is not `recurrent` on a CPU with one of BF16_FLAGS (`cpu_flags`; None: this CPU's), else float32."""
    if requested not in CHOICES:
        raise ValueError(f"precision {requested!r}: expected one of {', '.join(CHOICES)}.")
    if requested == BFLOAT16:
        return MIXED_POLICY
    if requested == FLOAT32 or recurrent:
        return FLOAT32_POLICY
    flags = cpu_bf16_flags() if cpu_flags is None else cpu_flags
    return MIXED_POLICY if flags else FLOAT32_POLICY


def faster_policy(seconds_per_step: Callable[[str], float]) -> tuple[str, dict[str, float]]:
    """`auto`'s choice where the CPU has the units: the policy whose training step `seconds_per_step`
    measures shorter (float32 on a tie), and both measurements by policy name."""
    measured = {name: float("inf") for name in (FLOAT32_POLICY, MIXED_POLICY)}
    for _ in range(PROBE_ROUNDS):
        for name in measured:
            measured[name] = min(measured[name], seconds_per_step(name))
    return min(measured, key=lambda name: (measured[name], name != FLOAT32_POLICY)), measured


def step_seconds(build: Callable, inputs, targets) -> Callable[[str], float]:
    """A `seconds_per_step` for faster_policy: the median of PROBE_STEPS training steps on one batch
    (`inputs`, `targets`) of a compiled model `build` makes under the policy (once, on the first call for
    it, with a step that traces it). Only shapes set a dense model's step time, so the batch may be any
    values; the models are thrown away."""
    models = {}

    def measure(policy: str) -> float:
        if policy not in models:
            with keras_policy(policy):
                models[policy] = build()
            models[policy].train_on_batch(inputs, targets)
        steps = []
        for _ in range(PROBE_STEPS):
            started = time.perf_counter()
            models[policy].train_on_batch(inputs, targets)
            steps.append(time.perf_counter() - started)
        return statistics.median(steps)

    return measure


@contextlib.contextmanager
def keras_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy set to `name` for the layers built inside, the previous one restored after
    (the Trainer may share its process with other pipelines' runs)."""
    import tf_keras as keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
