"""The spoken_digits pipeline end to end through the real CLI on a sample of the shipped recordings plus a
truncated one: what was rejected, the speaker split and its slices, the spectrograms and curves in
MLflow, the pushed model's signatures on WAV bytes of other lengths, and `tfpipe predict`. And the
course assignment's own format, spectrogram PNGs in class folders, through the image pipeline."""

import io
import wave

import numpy as np
import pytest
import tensorflow as tf
from conftest import CUT_SHORT_RECORDING, REPO_ROOT, SpokenDigitsRun, last_outcome, run_tfpipe
from mlflow.tracking import MlflowClient

from components.models.spoken_digits import features, spectrogram_images
from pipelines.registry import config_for
from pipelines.spoken_digits.config import SpokenDigitsConfig

RECORDINGS = REPO_ROOT / "data" / "spoken_digits"
# Recordings of theo, the voice held out of training.
HELD_OUT = [f"{digit}_theo_{take}.wav" for digit in range(10) for take in (2, 5)]


def _pcm(wav: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as recording:
        return np.frombuffer(recording.readframes(recording.getnframes()), np.int16)


def _wav(pcm: np.ndarray, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(rate)
        recording.writeframes(pcm.astype(np.int16).tobytes())
    return buffer.getvalue()


def _centred(pcm: np.ndarray, samples: int) -> np.ndarray:
    missing = samples - len(pcm)
    return np.pad(pcm, (missing // 2, missing - missing // 2))


@pytest.fixture(scope="module")
def pushed_model(spoken_digits_run: SpokenDigitsRun):
    return tf.saved_model.load(spoken_digits_run.outcome.results.pushed_model)


def test_the_run_lists_the_truncated_recording_and_evaluates_the_held_out_voice(spoken_digits_run: SpokenDigitsRun):
    console = spoken_digits_run.process.stdout
    assert "AudioExampleGen" in spoken_digits_run.outcome.components
    assert "Run succeeded" in console and "Blessed: yes" in console
    rejected = spoken_digits_run.outcome.results.rejected_inputs
    assert rejected.count == 1
    assert rejected.first[0].startswith(f"{CUT_SHORT_RECORDING}: is truncated (its data chunk declares")
    metrics = spoken_digits_run.outcome.results.metrics
    # The eval split is theo's 80 recordings, sliced per digit and per speaker.
    assert metrics["overall"]["example_count"] == 80
    assert set(metrics) == {"overall", "speaker=theo", *(f"label={digit}" for digit in range(10))}
    assert metrics["speaker=theo"]["example_count"] == 80
    assert 0 <= metrics["overall"]["sparse_categorical_accuracy"] <= 1


def test_mlflow_holds_spectrograms_curves_and_the_confusion_matrix(spoken_digits_run: SpokenDigitsRun):
    client = MlflowClient(f"sqlite:///{spoken_digits_run.workdir / 'mlflow' / 'mlflow.db'}")
    run_id = spoken_digits_run.outcome.results.mlflow_run_id
    training = {item.path for item in client.list_artifacts(run_id, "training")}
    assert {f"training/spectrogram_{digit}.png" for digit in range(10)} <= training
    assert "training/training_curves.png" in training
    assert "evaluation/confusion_matrix.png" in [item.path for item in client.list_artifacts(run_id, "evaluation")]
    assert "sparse_categorical_accuracy" in client.get_run(run_id).data.metrics


def test_serving_takes_wav_bytes_of_any_length(pushed_model):
    serve = pushed_model.signatures[SpokenDigitsConfig.json_signature]
    originals = [(RECORDINGS / name).read_bytes() for name in HELD_OUT]
    probabilities = serve(audio=tf.constant(originals))["probabilities"].numpy()
    assert probabilities.shape == (len(HELD_OUT), 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # Longer than the model's 0.8 s (silence around the word, 2 and 3 s): the middle is kept, so the
    # word lands where it did when padded, and the answer is the same.
    for seconds in (2, 3):
        longer = [_wav(_centred(_pcm(wav), seconds * 8000)) for wav in originals]
        np.testing.assert_allclose(serve(audio=tf.constant(longer))["probabilities"].numpy(), probabilities, atol=1e-4)
    # Shorter (the first 0.1 s) and very long (5 s of the word repeated): still one answer each.
    shorter = [_wav(_pcm(wav)[:800]) for wav in originals[:3]]
    repeated = [_wav(np.tile(_pcm(wav), 20)[:40000]) for wav in originals[:3]]
    for batch in (shorter, repeated):
        outputs = serve(audio=tf.constant(batch))
        assert outputs["probabilities"].shape == (3, 10)
        assert set(outputs["class_name"].numpy()) <= {digit.encode() for digit in "0123456789"}


def test_serving_default_takes_examples_and_agrees_with_the_wav_signature(pushed_model):
    wavs = [(RECORDINGS / name).read_bytes() for name in HELD_OUT[:4]]
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={features.AUDIO_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[wav]))}
            )
        ).SerializeToString()
        for wav in wavs
    ]
    from_examples = pushed_model.signatures["serving_default"](examples=tf.constant(examples))
    from_wavs = pushed_model.signatures[SpokenDigitsConfig.json_signature](audio=tf.constant(wavs))
    np.testing.assert_allclose(from_examples["probabilities"].numpy(), from_wavs["probabilities"].numpy(), atol=1e-6)


def test_serving_refuses_a_recording_at_another_rate(pushed_model):
    other_rate = _wav(_pcm((RECORDINGS / HELD_OUT[0]).read_bytes()), rate=16000)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected WAV recordings sampled at 8000 Hz"):
        pushed_model.signatures[SpokenDigitsConfig.json_signature](audio=tf.constant([other_rate]))


def test_predict_prints_the_digit_of_each_wav_file(spoken_digits_run: SpokenDigitsRun, tmp_path):
    paths = [str(RECORDINGS / name) for name in HELD_OUT[:3]]
    longer = tmp_path / "longer.wav"
    longer.write_bytes(_wav(_centred(_pcm((RECORDINGS / HELD_OUT[0]).read_bytes()), 16000)))
    result = run_tfpipe("predict", "spoken_digits", *paths, str(longer), "--workdir", str(spoken_digits_run.workdir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == [*paths, str(longer)]
    for line in lines:
        digit, probability = line.split(": ")[1].split(" (probability ")
        assert digit in "0123456789" and 0 < float(probability.rstrip(")")) <= 1
    assert lines[0].split(": ")[1] == lines[3].split(": ")[1]  # the same word, padded to 2 s


def test_predict_on_a_file_that_is_no_wav_is_one_sentence(spoken_digits_run: SpokenDigitsRun):
    not_a_wav = str(REPO_ROOT / "data" / "digits" / "images" / "0000.png")
    result = run_tfpipe("predict", "spoken_digits", not_a_wav, "--workdir", str(spoken_digits_run.workdir))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tfpipe: {not_a_wav} is not a WAV file (no RIFF/WAVE header); expected a 16-bit PCM WAV recording at 8000 Hz."
    )


@pytest.mark.e2e  # runs the image pipeline itself
def test_the_assignments_spectrogram_pngs_run_through_the_image_pipeline(tmp_path):
    """40 training and 20 test spectrogram PNGs in class folders, the course assignment's format, read
    by the digits pipeline as given train and eval splits. Few steps: it runs, it is not accurate."""
    data_dir = tmp_path / "spectrograms"
    config = config_for("spoken_digits")
    counts = spectrogram_images.write_class_folders(RECORDINGS, data_dir, config)
    assert counts == {"train": 40, "test": 20}
    frames, mel_bins, _ = config.spectrogram_shape
    workdir = tmp_path / "workdir"
    result = run_tfpipe(
        "run",
        "digits",
        "--workdir",
        str(workdir),
        "--set",
        f"data_dir={data_dir}",
        "--set",
        f"image_height={mel_bins}",
        "--set",
        f"image_width={frames}",
        "--set",
        "channels=1",
        "--set",
        "train_steps=40",
        "--set",
        "epochs=1",
        "--set",
        "eval_steps=1",
        "--set",
        "blessing_threshold=0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = last_outcome(workdir, "digits")
    assert outcome.results.rejected_inputs.count == 0
    assert outcome.results.metrics["overall"]["example_count"] == 20
    assert all(outcome.results.metrics[f"label={digit}"]["example_count"] == 2 for digit in range(10))
    assert outcome.results.blessed is True
