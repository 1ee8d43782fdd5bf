"""Iris module code: features, preprocessing_fn, run_fn."""
