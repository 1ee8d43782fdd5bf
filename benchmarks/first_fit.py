"""Seconds for a tiny Keras 2 model's first fit(), with and without the autograph rule
that components/tf_setup.py installs. Run: .venv/bin/python benchmarks/first_fit.py"""

import os
import subprocess
import sys

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


def main() -> None:
    for with_rule in ("0", "1"):
        env = dict(os.environ, WITH_RULE=with_rule)
        result = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True)
        label = "with DoNotConvert('tf_keras')" if with_rule == "1" else "TF 2.16 default     "
        print(f"first fit, {label}: {result.stdout.strip().splitlines()[-1]} s")


if __name__ == "__main__":
    main()
