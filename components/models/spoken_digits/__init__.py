"""Spoken digit module code: the WAV reader for FileExampleGen, Transform's preprocessing_fn (WAV ->
normalised log-mel spectrogram), the Trainer's run_fn with AudioNet and augmentation, and `tfpipe
predict`'s request module. TFX packages this folder for Transform and Trainer, so an edit to any
file here re-runs both. Durations, frame sizes and mel bins come from the config."""
