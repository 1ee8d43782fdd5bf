"""Image classification module code: Transform's preprocessing_fn, the Trainer's run_fn and model
zoo, and `tfpipe predict`'s request module. TFX packages this folder for Transform and Trainer, so
an edit to any file here re-runs both. Sizes, channels and class names come from the config."""
