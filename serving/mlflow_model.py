"""A pushed SavedModel as an MLflow pyfunc model: one of its signatures over plain named features.

MlflowTracker logs this file as the model's code (MLflow's "models from code"), with the SavedModel
as an artifact and the signature's name in the model config, so `mlflow models serve`,
`mlflow.pyfunc.load_model` and MLflow's batch scoring need TensorFlow and MLflow, nothing of
tfpipe's. MLflow's `tensorflow` flavor is not used: it calls a model with one tensor, and every
pipeline's plain signature but the image and audio ones takes several named inputs.

Inputs are named as the signature names them, each with a leading batch dimension:
`{"dataframe_records": [{"sepal_length": 5.1, ...}]}` on `mlflow models serve`'s /invocations
(or any of its input formats), a DataFrame with those columns in Python. Bytes (images, audio) arrive as
base64 text in JSON (MLflow's encoding for its binary type).

MLflow runs this file where it loads the model; nothing imports it (it registers the model when
run). components/mlflow_tracker.py logs it with the SavedModel as artifact `saved_model` and the
signature's name as model config `signature_name`.
"""

import mlflow
import numpy as np
import tensorflow as tf


class SavedModelSignature(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        # Kept on the instance: a signature function needs the loaded object that owns its variables.
        self.saved_model = tf.saved_model.load(context.artifacts["saved_model"])
        self.signature = self.saved_model.signatures[context.model_config["signature_name"]]
        self.input_specs = self.signature.structured_input_signature[1]

    def predict(self, context, model_input, params=None) -> dict[str, np.ndarray]:
        inputs = {}
        for name, spec in self.input_specs.items():
            value = model_input[name]
            # A DataFrame column of per-row lists (a stock window) becomes one [rows, ...] array.
            value = np.stack(value.to_list()) if hasattr(value, "to_list") else np.asarray(value)
            inputs[name] = tf.constant(value.astype(object) if spec.dtype == tf.string else value, dtype=spec.dtype)
        outputs = {name: output.numpy() for name, output in self.signature(**inputs).items()}
        # Text outputs (class names) as str: MLflow's JSON would send bytes base64-encoded.
        return {name: _text(value) if value.dtype == object else value for name, value in outputs.items()}


def _text(values: np.ndarray) -> np.ndarray:
    return np.vectorize(bytes.decode, otypes=[object])(values)


mlflow.models.set_model(SavedModelSignature())
