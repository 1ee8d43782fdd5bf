"""Table module code: features, preprocessing_fn, run_fn, what `tfpipe predict` sends."""
