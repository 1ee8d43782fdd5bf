"""Each pipeline's module code (TFX's Transform and Trainer load these files), and the training helpers they share."""
