"""Spoken digits with each FSDD voice held out in turn, and with FSDD's own split: accuracy per speaker.

Run: .venv/bin/python benchmarks/spoken_digits_speakers.py [--speakers george,jackson,...] [--fsdd]
     [--set KEY=VALUE ...] [--results-fp PATH]
Runs `tfpipe run spoken_digits --set eval_speakers=<speaker>` once per speaker, each on a fresh
workdir (so no run is cached or compared with another's model), defaults otherwise; with --fsdd
also once with `--set split=fsdd` (recordings 0-4 of every speaker are the eval split, voices the
model also trained on). Prints one row per run: eval accuracy overall and per speaker, blessed,
seconds in the run; records the mean and the worst over the held-out voices. About 3 minutes per run
on 2 cores. benchmarks/spoken_digits_loso.py trains the same model on the same features without the
pipeline around it, to compare configurations.
"""

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from results import Results, Value, add_results_option

from pipelines.outcome import RunOutcome

TFPIPE = str(Path(sys.executable).parent / "tfpipe")
SPEAKERS = ("george", "jackson", "nicolas", "theo", "yweweler")
COLUMNS = ["eval split", "accuracy", "examples", "accuracy per speaker", "blessed", "seconds in the run"]


def run(workdir: Path, overrides: list[str]) -> RunOutcome:
    arguments = [item for override in overrides for item in ("--set", override)]
    subprocess.run(
        [TFPIPE, "run", "spoken_digits", "--workdir", str(workdir), *arguments], check=True, capture_output=True
    )
    latest = sorted((workdir / "spoken_digits" / "runs").iterdir())[-1]
    return RunOutcome.read(latest)


def row(name: str, outcome: RunOutcome) -> list[Value]:
    """One run's row, in COLUMNS' order."""
    metrics = outcome.results.metrics or {}
    per_speaker = ", ".join(
        f"{key.split('=', 1)[1]} {values['sparse_categorical_accuracy']:.3f}"
        for key, values in sorted(metrics.items())
        if key.startswith("speaker=")
    )
    overall = metrics["overall"]
    return [
        name,
        round(overall["sparse_categorical_accuracy"], 3),
        int(overall["example_count"]),
        per_speaker,
        bool(outcome.results.blessed),
        round(outcome.seconds or 0.0),
    ]


def results(rows: list[list[Value]]) -> Results:
    recorded = Results("spoken_digits_speakers")
    for name, accuracy, *_ in rows:
        recorded.figure(f"{name}: accuracy", accuracy)
    held_out = [
        float(accuracy) for name, accuracy, *_ in rows if str(name).startswith("held out") and accuracy is not None
    ]
    if len(held_out) > 1:
        recorded.figure("held out, mean over the voices", round(statistics.mean(held_out), 3))
        recorded.figure("held out, worst voice", min(held_out))
    recorded.table("Accuracy by eval split", COLUMNS, rows)
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", default=",".join(SPEAKERS), help="comma-separated speakers to hold out")
    parser.add_argument("--fsdd", action="store_true", help="also run FSDD's own split")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="more --set values for every run")
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary folder, removed after)")
    add_results_option(parser)
    args = parser.parse_args()
    runs = [(f"held out: {speaker}", [f"eval_speakers={speaker}"]) for speaker in args.speakers.split(",") if speaker]
    if args.fsdd:
        runs.append(("split=fsdd", ["split=fsdd"]))
    with contextlib.ExitStack() as stack:
        root = Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory()))
        rows = []
        for index, (name, overrides) in enumerate(runs):
            rows.append(row(name, run(root / f"run{index}", overrides + args.overrides)))
            name, accuracy, examples, per_speaker, blessed, seconds = rows[-1]
            print(
                f"{name:<22} accuracy {accuracy:.3f} on {examples} (per speaker: {per_speaker}); "
                f"blessed {blessed}; {seconds} s in the run",
                flush=True,
            )
    results(rows).write(args.results_fp)


if __name__ == "__main__":
    main()
