"""The synthetic spoken digits (data/spoken_digits_synthetic, issue #32) are in FSDD's format, speak every
digit in every take, and are no FSDD voice; the leave-one-voice-out bench trains on them and never scores
them (benchmarks/spoken_digits_loso.py --extra-train-dir)."""

import re
import sys
import wave
from collections import Counter
from pathlib import Path

import numpy as np
from conftest import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import spoken_digits_loso  # noqa: E402
from spoken_digits_speakers import SPEAKERS  # noqa: E402

from pipelines.registry import config_for  # noqa: E402

SYNTHETIC = REPO_ROOT / "data" / "spoken_digits_synthetic"
NAME = re.compile(r"^([0-9])_([a-z0-9]+)_([0-9]+)\.wav$")


def test_synthetic_recordings_are_fsdd_format_and_no_fsdd_voice():
    paths = sorted(SYNTHETIC.glob("*.wav"))
    assert len(paths) >= 500
    takes: Counter = Counter()
    for path in paths:
        match = NAME.match(path.name)
        assert match, f"{path.name}: expected `<digit>_<speaker>_<take>.wav`"
        digit, speaker, take = match.groups()
        assert speaker not in SPEAKERS
        takes[(speaker, take)] += 1
        with wave.open(str(path)) as recording:
            assert (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) == (8000, 1, 2)
            # Trimmed to the word, as FSDD's: not longer than FSDD's longest (2.28 s).
            assert 0.1 < recording.getnframes() / 8000 < 2.3
    assert set(takes.values()) == {10}, "every take of every synthetic speaker says all ten digits"
    assert len({speaker for speaker, _ in takes}) >= 10


class _Classifier:
    """Stands in for the trained model: answers digit 0 for every recording."""


def test_a_fold_trains_on_the_extra_recordings_and_scores_only_the_held_out_voice(monkeypatch):
    config = config_for("spoken_digits")
    frames, bins = 5, 3
    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, frames, bins))
    labels = np.array([0, 1, 2, 0, 1, 2])
    held_out = np.array([False, False, False, True, True, True])
    extra_features = rng.normal(loc=10.0, size=(4, frames, bins))
    extra_labels = np.array([3, 4, 5, 6])
    seen = {}

    def train(config, spectrograms, train_labels):
        seen["spectrograms"], seen["labels"] = spectrograms, train_labels
        return _Classifier(), 1.0

    def predictions(classifier, spectrograms):
        seen["scored"] = len(spectrograms)
        return np.zeros(len(spectrograms), int)

    monkeypatch.setattr(spoken_digits_loso, "train", train)
    monkeypatch.setattr(spoken_digits_loso, "predictions", predictions)
    result = spoken_digits_loso.fold(config, features, labels, held_out, (extra_features, extra_labels))

    assert list(seen["labels"]) == [0, 1, 2, 3, 4, 5, 6]
    # Standardised with the statistics of every training recording, the extra ones included.
    train_frames = seen["spectrograms"].reshape(-1, bins)
    assert np.allclose(train_frames.mean(axis=0), 0.0, atol=1e-5)
    assert seen["scored"] == 3
    assert np.sum(result["confusion"]) == 3
    assert result["accuracy"] == 1 / 3


def test_the_log_keeps_folds_with_and_without_extra_recordings_apart(tmp_path: Path, monkeypatch):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "0_robot_0.wav").write_bytes(b"RIFF")
    log = tmp_path / "folds.jsonl"
    trained = []

    def fold(config, features, labels, held_out, extra_train=None):
        trained.append(extra_train is not None)
        return {"accuracy": 0.5, "seconds": 1.0, "confusion": []}

    monkeypatch.setattr(
        spoken_digits_loso, "recordings", lambda config, folder=None: ([b""], np.zeros(1), np.array(["george"]))
    )
    monkeypatch.setattr(spoken_digits_loso, "spectrograms", lambda wav_files, config: np.zeros((1, 2, 2)))
    monkeypatch.setattr(spoken_digits_loso, "fold", fold)
    variant = spoken_digits_loso.Variant("defaults", ())
    spoken_digits_loso.run_variant(variant, ["george"], log, "code")
    spoken_digits_loso.run_variant(variant, ["george"], log, "code", extra)
    spoken_digits_loso.run_variant(variant, ["george"], log, "code", extra)
    assert trained == [False, True], "the fold with extra recordings is not the one without; each reused after"
    (extra / "0_robot_0.wav").write_bytes(b"RIFF, changed")
    spoken_digits_loso.run_variant(variant, ["george"], log, "code", extra)
    assert trained == [False, True, True], "changed extra recordings train again"
