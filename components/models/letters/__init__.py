"""Letters module code: words -> one example per prefix (ingest.py), the character vocabulary and
bigram counts (preprocessing.py), the recurrent zoo and its SavedModel (model.py), and `tfpipe
predict`'s request module (prediction_inputs.py). TFX packages this folder for Transform and
Trainer, so an edit to any file here re-runs both."""
