"""Seconds for a tiny Keras 2 model's first fit(), with and without the autograph rule
that components/tf_setup.py installs.

  .venv/bin/python benchmarks/first_fit.py [--results-fp PATH]
"""

import argparse
import os
import subprocess
import sys

from results import Results, add_results_option

_CHILD = """
import os, time
os.environ["TF_USE_LEGACY_KERAS"] = "1"
if os.environ["WITH_RULE"] == "1":
    from components import tf_setup
    tf_setup.configure()  # installs the DoNotConvert("tf_keras") rule
import numpy as np
import tf_keras as keras
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy")
x, y = np.random.rand(64, 4).astype("float32"), np.random.randint(0, 3, 64)
started = time.monotonic()
model.fit(x, y, epochs=1, verbose=0)
print(f"{time.monotonic() - started:.2f}")
"""
LABELS = {"0": "TF 2.16 default", "1": "with DoNotConvert('tf_keras')"}


def results(seconds: dict[str, float]) -> Results:
    """The figures of one run: `seconds` of the first fit by label of LABELS."""
    recorded = Results("first_fit")
    for label, value in seconds.items():
        recorded.figure(f"first fit, {label}", value, "s")
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_option(parser)
    args = parser.parse_args()
    seconds = {}
    for with_rule, label in LABELS.items():
        env = dict(os.environ, WITH_RULE=with_rule)
        result = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True)
        seconds[label] = float(result.stdout.strip().splitlines()[-1])
        print(f"first fit, {label:<20}: {seconds[label]:.2f} s")
    results(seconds).write(args.results_fp)


if __name__ == "__main__":
    main()
