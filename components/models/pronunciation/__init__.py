"""Pronunciation module code: dictionary lines -> one example per word (ingest.py), the letter and
phoneme vocabularies (preprocessing.py), the attention encoder-decoder and its decoding loops
(encoder_decoder.py), the naive baselines (naive_baselines.py), the error rates TFMA computes
(error_rates.py), the Trainer's run_fn and SavedModel (model.py), and `tfpipe predict`'s request
module (prediction_inputs.py). TFX packages this folder for Transform and Trainer, so an edit to any
file here re-runs both."""
