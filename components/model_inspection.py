"""The course notes' model-inspection habits for every Trainer: the trainable parameters written to a text
file, `model.summary()`, a `plot_model` diagram, and the model saved as HDF5 and as a weights-only
checkpoint besides the SavedModel. components/training_record.py names the files; MlflowTracker logs them.
"""

import os
import shutil
import sys
import tempfile

import numpy as np
import tf_keras as keras
from tensorflow.io import gfile

from components import training_record

# Above this many parameters weights.txt holds numpy's summary of each variable (its first and last values
# around "..."), not every value: every value of ResNet18's 11 million is about 150 MB of text.
FULL_VALUES_UP_TO = 1_000_000


def parameters_text(model: keras.Model) -> str:
    """Every trainable variable's name, shape and values, one after the other, as the notes' weights.txt."""
    full = model.count_params() <= FULL_VALUES_UP_TO
    parts = [] if full else [f"# {model.count_params():,} parameters: values summarized above {FULL_VALUES_UP_TO:,}\n"]
    with np.printoptions(threshold=sys.maxsize if full else 1000):
        for variable in model.trainable_variables:
            parts += [f"{variable.name}\n", f"{variable.shape}\n", f"{variable.numpy()}\n"]
    return "".join(parts)


def summary_text(model: keras.Model) -> str:
    """`model.summary()` with nested models (a notes' class inside the pipeline's model) expanded."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), expand_nested=True, line_length=110)
    return "\n".join(lines) + "\n"


def write_inspection(model: keras.Model, run_dir: str) -> None:
    """weights.txt, model_summary.txt and the architecture diagram in `run_dir` (the Trainer's ModelRun).

    The diagram is Keras' `plot_model` graph: its DOT text always (pydot, a Python package, makes it), the PNG
    only where Graphviz's `dot` program is on the PATH, since Graphviz is a system package, not a Python one."""
    gfile.makedirs(run_dir)
    for name, text in (
        (training_record.WEIGHTS_FILE, parameters_text(model)),
        (training_record.SUMMARY_TEXT_FILE, summary_text(model)),
    ):
        with gfile.GFile(os.path.join(run_dir, name), "w") as f:
            f.write(text)
    diagram = keras.utils.model_to_dot(model, show_shapes=True, show_layer_names=True, expand_nested=True)
    with gfile.GFile(os.path.join(run_dir, training_record.ARCHITECTURE_DOT_FILE), "w") as f:
        f.write(diagram.to_string())
    if shutil.which("dot"):
        with gfile.GFile(os.path.join(run_dir, training_record.ARCHITECTURE_PNG_FILE), "wb") as f:
            f.write(diagram.create(format="png"))


def save_formats(model: keras.Model, model_dir: str) -> None:
    """`model` as HDF5 and as a weights-only checkpoint in the Model artifact `model_dir`, beside its SavedModel.

    Called before the serving signatures attach the Transform layer to the model: both formats hold the Keras
    model alone, which takes transformed features (the SavedModel's signatures take raw ones)."""
    # h5py writes local files only; the artifact may be in a bucket.
    with tempfile.TemporaryDirectory() as local:
        local_file = os.path.join(local, "model.h5")
        model.save(local_file, save_format="h5")
        hdf5 = os.path.join(model_dir, training_record.HDF5_FILE)
        gfile.makedirs(os.path.dirname(hdf5))
        gfile.copy(local_file, hdf5, overwrite=True)
    model.save_weights(os.path.join(model_dir, training_record.CHECKPOINT_PREFIX), save_format="tf")
