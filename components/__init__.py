"""The pipelines' building blocks, in two kinds (as the TFX templates keep `pipeline/` and `models/` apart):

  example_gen/, validation_gate.py, baseline.py, evaluation.py, mlflow_tracker.py, mlflow_tracking.py
      TFX components and the helpers they share, written once for every pipeline
  models/<pipeline>/
      one pipeline's module code: features, Transform's preprocessing_fn, the Trainer's run_fn,
      and what `tfpipe predict` sends the model

Importing a package here has no side effect: entry points that run TensorFlow call
`components.tf_setup.configure()` first.
"""
