"""Writes data/spoken_digits_synthetic/: the ten digit words spoken by speech synthesizers, in FSDD's format.

Run from the repository root: `.venv/bin/python data/make_spoken_digits_synthetic.py`
(needs Debian's `flite` and `espeak-ng` packages on the PATH: `apt-get install flite espeak-ng`).

Synthetic speakers for training only (issue #32): four FSDD voices cannot teach every way of saying a
digit, and a synthesizer speaks in many voices, speeds and pitches. Each synthetic speaker is one
engine voice: flite's five (CMU ARCTIC and the kal diphone voice) and eleven espeak-ng American
English variants. Each says every digit once per speed and pitch of its grid (TAKES), so the take in
`{digit}_{speaker}_{take}.wav` names the same speed and pitch for every digit. Every recording is
resampled to FSDD's 8 kHz mono 16-bit PCM, trimmed of its leading and trailing silence as FSDD's are
(a small margin kept), and scaled to the same peak. The synthesizers are deterministic, so the folder
is the same every time for the same package versions (flite 2.2, espeak-ng 1.51 in Debian 12).
"""

import shutil
import subprocess
import tempfile
import wave
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

TARGET = Path(__file__).parent / "spoken_digits_synthetic"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SAMPLE_RATE = 8000
# FSDD's recordings peak near half of full scale; every synthetic one is scaled to this.
PEAK = 0.5 * 32767
# Silence trimming: 10 ms frames, a frame is speech when its RMS is within 35 dB of the loudest frame's;
# 20 ms kept either side of the speech so that onsets and releases are not clipped.
TRIM_FRAME_SECONDS = 0.01
TRIM_BELOW_PEAK_DB = 35.0
TRIM_MARGIN_SECONDS = 0.02

# flite voices and their F0 targets (Hz, the intonation model's mean): low, the voice's own, high.
FLITE_VOICES = {"kal": 95, "kal16": 95, "awb": 110, "rms": 105, "slt": 170}
FLITE_PITCH_FACTORS = (0.8, 1.0, 1.25)
# rms ignores the F0 target (its three pitches came out byte for byte the same): its own pitch only.
FLITE_OWN_PITCH_ONLY = {"rms"}
FLITE_DURATION_STRETCHES = (0.85, 1.0, 1.2)
# espeak-ng variants (m: male, f: female voice quality) over its American English voice.
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4")
ESPEAK_WORDS_PER_MINUTE = (130, 175)
ESPEAK_PITCHES = (25, 50, 75)  # espeak-ng's 0-99 pitch scale; 50 is its default


def flite(word: str, voice: str, pitch_factor: float, stretch: float, path: Path) -> None:
    f0 = round(FLITE_VOICES[voice] * pitch_factor)
    command = ["flite", "-voice", voice, "--setf", f"int_f0_target_mean={f0}"]
    command += ["--setf", f"duration_stretch={stretch}", "-t", word, "-o", str(path)]
    subprocess.run(command, check=True, capture_output=True)


def espeak(word: str, variant: str, words_per_minute: int, pitch: int, path: Path) -> None:
    command = ["espeak-ng", "-v", f"en-us+{variant}", "-s", str(words_per_minute), "-p", str(pitch)]
    subprocess.run([*command, "-w", str(path), word], check=True, capture_output=True)


def takes() -> list[tuple[str, list[tuple]]]:
    """Each synthetic speaker's name and its takes: (engine function, its arguments after the word)."""
    speakers = []
    for voice in FLITE_VOICES:
        pitch_factors = (1.0,) if voice in FLITE_OWN_PITCH_ONLY else FLITE_PITCH_FACTORS
        grid = [(flite, voice, p, s) for p in pitch_factors for s in FLITE_DURATION_STRETCHES]
        speakers.append((f"flite{voice}", grid))
    for variant in ESPEAK_VARIANTS:
        grid = [(espeak, variant, w, p) for w in ESPEAK_WORDS_PER_MINUTE for p in ESPEAK_PITCHES]
        speakers.append((f"espeak{variant}", grid))
    return speakers


def read_samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as recording:
        if (recording.getnchannels(), recording.getsampwidth()) != (1, 2):
            raise ValueError(f"{path}: expected mono 16-bit samples from the synthesizer")
        samples = np.frombuffer(recording.readframes(recording.getnframes()), np.int16)
        return samples.astype(np.float64), recording.getframerate()


def to_fsdd_format(samples: np.ndarray, rate: int) -> np.ndarray:
    """8 kHz, trimmed to the word, peak-scaled, as 16-bit integers."""
    common = gcd(SAMPLE_RATE, rate)
    samples = resample_poly(samples, SAMPLE_RATE // common, rate // common)
    frame = round(TRIM_FRAME_SECONDS * SAMPLE_RATE)
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    speech = np.flatnonzero(20 * np.log10(rms / rms.max()) > -TRIM_BELOW_PEAK_DB)
    margin = round(TRIM_MARGIN_SECONDS * SAMPLE_RATE)
    start = max(0, speech[0] * frame - margin)
    end = min(len(samples), (speech[-1] + 1) * frame + margin)
    word = samples[start:end]
    return np.round(word * (PEAK / np.abs(word).max())).astype(np.int16)


def write(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(SAMPLE_RATE)
        recording.writeframes(samples.tobytes())


def main() -> None:
    missing = [tool for tool in ("flite", "espeak-ng") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not found: install Debian's flite and espeak-ng packages first.")
    # Written to a fresh folder first, so that a failure leaves the shipped folder as it was.
    with tempfile.TemporaryDirectory() as scratch:
        built = Path(scratch) / "recordings"
        built.mkdir()
        raw = Path(scratch) / "raw.wav"
        for speaker, grid in takes():
            for take, (engine, *arguments) in enumerate(grid):
                for digit, word in enumerate(DIGIT_WORDS):
                    engine(word, *arguments, raw)
                    write(built / f"{digit}_{speaker}_{take}.wav", to_fsdd_format(*read_samples(raw)))
        TARGET.mkdir(parents=True, exist_ok=True)
        for stale in TARGET.glob("*.wav"):
            stale.unlink()
        for path in sorted(built.glob("*.wav")):
            shutil.move(path, TARGET / path.name)
    files = list(TARGET.glob("*.wav"))
    size = sum(path.stat().st_size for path in files)
    print(f"wrote {len(files)} recordings of {len(takes())} synthetic speakers ({size / 1e6:.1f} MB) to {TARGET}")


if __name__ == "__main__":
    main()
