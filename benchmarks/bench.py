"""`make bench`: runs the benchmarks, stores their figures with provenance, regenerates RESULTS.md.

  .venv/bin/python benchmarks/bench.py [--quick] [--only NAME,...]

Runs the benchmarks of BENCHMARKS one after another (each is timed, so nothing else should run),
each with `--results-fp`, and stores what each wrote, with the date (UTC), the commit, the machine
and the exact command, as benchmarks/results/<name>.json; then renders RESULTS.md from every
stored result and benchmarks/conclusions.md (benchmarks/render.py, which `--render-only` runs
alone). Without --only it runs the benchmarks marked `in_make_bench` (about 85 min on 2 cores);
`--only letters_models` runs one of the others. A benchmark that fails keeps its stored result and
makes the exit status 1.

To add a benchmark: a script in benchmarks/ that takes `--results-fp` (benchmarks/results.py),
an entry in BENCHMARKS, and its `## <name>` section in benchmarks/conclusions.md once measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import render
from results import Machine, Provenance, Results, StoredResult

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
BENCH_DIR = "$BENCH_DIR"
"""Stands for the run's temporary folder in arguments and in the stored command."""


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    """The stored result: benchmarks/results/<name>.json, and its section in RESULTS.md."""
    title: str
    """What it measures, a sentence without its full stop."""
    script: str
    arguments: tuple[str, ...] = ()
    quick_arguments: tuple[str, ...] | None = None
    """The arguments under --quick, when they differ."""
    in_make_bench: bool = True
    """Whether `make bench` runs it; the others are long, or need a run made first (--only NAME)."""


# The CIFAR-10 searches' budget: the Trainer 1,200 steps in 2 epochs, one learning rate and shift.
_CIFAR10_BUDGET = (
    "--set",
    "train_steps=1200",
    "--set",
    "epochs=2",
    "--set",
    "search_space.learning_rate=0.003",
    "--set",
    "search_space.shift_fraction=0.1",
)
# The notes' six and the default vgg6.
_CIFAR10_CANDIDATES = ("--set", "search_space.model=baseline,lenet5,alexnet8,vgg16,inception10,resnet18,vgg6")
# Short trials: 150 steps each, within 20 minutes.
_CIFAR10_SHORT_SEARCH = ("--steps-per-trial", "150", *_CIFAR10_BUDGET, "--set", "tuning.max_minutes=20")

# spoken_digits_loso's configurations: the defaults, the settings before issue #32, and each setting changed alone.
_SPOKEN_DIGITS_VARIANTS = (
    "defaults",
    "before #32: band shift, no warp|augmentation.warp_range=0|augmentation.frequency_shift_bins=2",
    "warp and band shift|augmentation.frequency_shift_bins=2",
    "spectral envelope, 12 cepstra|cepstral_coefficients=12",
    "mean and variance per recording|recording_normalisation=mean_variance",
    "speed 0.1|augmentation.speed_range=0.1",
    "mixup 0.4|augmentation.mixup_alpha=0.4",
)

BENCHMARKS = (
    Benchmark(
        "first_fit", "The first fit() of a tiny Keras 2 model, with and without the autograph rule", "first_fit.py"
    ),
    Benchmark(
        "iris_rerun",
        "`tfpipe run iris` on a fresh workdir, the same command unchanged, and with --rerun",
        "iris_rerun.py",
        ("--workdir", f"{BENCH_DIR}/iris"),
    ),
    Benchmark(
        "notes_keras",
        "iris with the notes' subclassed IrisModel and the functional model, each trained by fit and by the "
        "notes' GradientTape loop",
        "notes_keras.py",
        quick_arguments=("--train-steps", "100"),
        in_make_bench=False,
    ),
    Benchmark(
        "serving_latency",
        "gRPC Predict on `tfpipe serve` against the in-process call and an empty gRPC server: the iris model",
        "serving_latency.py",
        ("--model", "iris", "--workdir", f"{BENCH_DIR}/iris"),
    ),
    Benchmark(
        "ui_start",
        "Seconds until `tfpipe ui` answers, and until it stops, with one MLflow server worker and with MLflow's four",
        "ui_start.py",
        quick_arguments=("--repeats", "1"),
    ),
    Benchmark(
        "odd_inputs_memory",
        "Peak memory of reading one bad input (decompression bombs, a 52-million-character line, an 11-minute "
        "recording) on the default settings",
        "odd_inputs_memory.py",
    ),
    Benchmark(
        "serving_robustness",
        "`tfpipe serve` under malformed requests and bursts of connections, on TF Serving's test models",
        "serving_robustness.py",
    ),
    Benchmark(
        "stock_recipe",
        "The notes' stock recipe as their plain Keras script and through the whole stock pipeline",
        "stock_recipe.py",
        ("--epochs", "50", "--workdir", f"{BENCH_DIR}/stock"),
        quick_arguments=("--epochs", "5", "--workdir", f"{BENCH_DIR}/stock"),
    ),
    Benchmark(
        "cifar10_recipe",
        "The notes' CIFAR-10 recipe (the baseline CNN, 5 epochs) as their plain Keras script and through the "
        "whole cifar10 pipeline",
        "cifar10_recipe.py",
        ("--epochs", "5", "--workdir", f"{BENCH_DIR}/cifar10_recipe"),
        quick_arguments=("--epochs", "1", "--workdir", f"{BENCH_DIR}/cifar10_recipe"),
    ),
    Benchmark(
        "mnist_recipe",
        "The notes' MNIST recipe (the MLP, 5 epochs) as their plain Keras script and through the whole mnist pipeline",
        "mnist_recipe.py",
        ("--epochs", "5", "--workdir", f"{BENCH_DIR}/mnist_recipe"),
        quick_arguments=("--epochs", "1", "--workdir", f"{BENCH_DIR}/mnist_recipe"),
    ),
    Benchmark(
        "scale_run",
        "The stock pipeline on 200,000 rows of 100 simulated tickers, per Beam profile",
        "scale_run.py",
        ("--tickers", "100", "--days", "2000"),
        quick_arguments=("--tickers", "25", "--days", "2000"),
    ),
    Benchmark(
        "scale_run_1m",
        "The stock pipeline on 1,000,000 rows of 500 simulated tickers, in memory",
        "scale_run.py",
        ("--profiles", "in-memory"),
        in_make_bench=False,
    ),
    Benchmark(
        "early_stopping_stock",
        "The stock pipeline with early stopping on and off, at the notes' recipe settings and the defaults",
        "early_stopping_stock.py",
        ("--workdir", f"{BENCH_DIR}/early_stopping_stock"),
        quick_arguments=("--recipe-epochs", "0", "--workdir", f"{BENCH_DIR}/early_stopping_stock"),
        in_make_bench=False,
    ),
    Benchmark(
        "stock_train_steps",
        "Where the stock Trainer's steps go: the recipe's model fit per input and setting",
        "stock_train_steps.py",
        in_make_bench=False,
    ),
    Benchmark(
        "serving_latency_stock",
        "As serving_latency, for the stock model (needs `tfpipe run stock` in ./workdir first)",
        "serving_latency.py",
        ("--model", "stock", "--workdir", "workdir"),
        in_make_bench=False,
    ),
    Benchmark(
        "serving_latency_digits",
        "As serving_latency, for the digits model (needs `tfpipe run digits` in ./workdir first)",
        "serving_latency.py",
        ("--model", "digits", "--workdir", "workdir"),
        in_make_bench=False,
    ),
    Benchmark(
        "serving_robustness_backlog_5",
        "Bursts of connections with the standard library's listen backlog of 5, what the REST listener had",
        "serving_robustness.py",
        ("--rest", "0", "--grpc", "0", "--backlog", "5"),
        in_make_bench=False,
    ),
    Benchmark(
        "letters_models",
        "The letters pipeline's models and the notes' fixed contexts against the bigram baseline",
        "letters_models.py",
        in_make_bench=False,
    ),
    Benchmark(
        "pronunciation_run",
        "`tfpipe run pronunciation` with its defaults on a fresh workdir: the whole CMU Pronouncing Dictionary",
        "pronunciation_run.py",
        in_make_bench=False,
    ),
    Benchmark(
        "spoken_digits_loso",
        "Spoken digits leaving each voice out: the Trainer's model trained on four FSDD voices and scored on all "
        "500 recordings of the fifth, each voice in turn, for the defaults and each speaker-independence setting",
        "spoken_digits_loso.py",
        tuple(f"--variant={variant}" for variant in _SPOKEN_DIGITS_VARIANTS),
    ),
    Benchmark(
        "spoken_digits_training_time",
        "Spoken digits: seconds of the Trainer's fit with the defaults and with the settings before issue #32, "
        "taking turns",
        "spoken_digits_loso.py",
        ("--timing-rounds", "3", *(f"--variant={variant}" for variant in _SPOKEN_DIGITS_VARIANTS[:2])),
    ),
    Benchmark(
        "spoken_digits_assignment",
        "The course assignment's 40 training and 20 test spectrograms: AudioNet fine-tuned from the spoken_digits "
        "model (trained without the test voice) against AudioNet trained on the 40 from scratch",
        "spoken_digits_assignment.py",
    ),
    Benchmark(
        "spoken_digits_default_run",
        "Spoken digits: `tfpipe run spoken_digits` with the defaults since issue #32 (theo the eval voice)",
        "spoken_digits_speakers.py",
        ("--speakers", "theo"),
        in_make_bench=False,
    ),
    Benchmark(
        "spoken_digits_speakers",
        "Spoken digits with each voice held out in turn, and with FSDD's own split",
        "spoken_digits_speakers.py",
        ("--speakers", "george,jackson,nicolas,theo,yweweler", "--fsdd"),
        in_make_bench=False,
    ),
    Benchmark(
        "image_zoo",
        "The notes' six CNNs on CIFAR-10 for equal training time, and vgg6 in bfloat16 against float32",
        "image_zoo.py",
        ("--budget-s", "300"),
        quick_arguments=("--budget-s", "60"),
    ),
    Benchmark(
        "model_search_cifar10",
        "The notes' six CNNs searched by the Tuner on CIFAR-10 (150 steps each) against the default vgg6, "
        "both trained 1,200 steps",
        "model_search.py",
        ("cifar10", "--trials", "6", *_CIFAR10_SHORT_SEARCH),
        in_make_bench=False,
    ),
    Benchmark(
        "model_search_cifar10_vgg6",
        "As model_search_cifar10, with vgg6 (the default) among the candidates: 7 trials",
        "model_search.py",
        ("cifar10", "--trials", "7", *_CIFAR10_CANDIDATES, *_CIFAR10_SHORT_SEARCH),
        in_make_bench=False,
    ),
    Benchmark(
        "model_search_cifar10_full_trials",
        "As model_search_cifar10_vgg6, each trial trained the Trainer's 1,200 steps, as the notes compare their "
        "networks: 7 trials",
        "model_search.py",
        (
            "cifar10",
            "--trials",
            "7",
            *_CIFAR10_CANDIDATES,
            "--steps-per-trial",
            "1200",
            *_CIFAR10_BUDGET,
            "--set",
            "tuning.max_minutes=90",
        ),
        in_make_bench=False,
    ),
    Benchmark(
        "unfamiliar_inputs",
        "The share of images the mnist and fashion_mnist models' autoencoders flag as unlike their training "
        "images: their own unseen test images and each other's, through tfpipe predict's path; the autoencoder's "
        "training time",
        "unfamiliar_inputs.py",
        ("--workdir", f"{BENCH_DIR}/unfamiliar_inputs"),
        in_make_bench=False,
    ),
    Benchmark(
        "table_runs",
        "The table pipeline on the shipped wine and diabetes tables, each against its naive baseline (majority "
        "class, mean label)",
        "table_runs.py",
    ),
    Benchmark(
        "model_search_letters",
        "The letters models searched by the Tuner (8 trials of 400 steps) against the default GRU, same budget",
        "model_search.py",
        ("letters", "--trials", "8", "--steps-per-trial", "400"),
        in_make_bench=False,
    ),
    Benchmark(
        "drift_thresholds",
        "How far the shipped stock data drifts between monthly spans, the measurements behind the stock schema's "
        "drift thresholds",
        "drift_thresholds.py",
    ),
    Benchmark(
        "drift_thresholds_iris",
        "How far two deliveries of iris-like flowers drift apart by chance, the measurements behind the iris "
        "schema's drift thresholds",
        "drift_thresholds_iris.py",
    ),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter settings where a benchmark has them")
    parser.add_argument(
        "--only", help=f"comma-separated names to run (default: those `make bench` runs); any of: {_names()}"
    )
    parser.add_argument("--render-only", action="store_true", help="regenerate RESULTS.md only; run nothing")
    args = parser.parse_args()
    if args.render_only:
        return render.main()
    chosen = [b for b in BENCHMARKS if b.in_make_bench] if not args.only else _chosen(args.only.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="tfpipe-bench-"))
    failed = [benchmark.name for benchmark in chosen if not run(benchmark, workdir, args.quick)]
    if failed:
        print(f"bench: failed, their stored results kept: {', '.join(failed)}", file=sys.stderr)
    return render.main() or int(bool(failed))


def _names() -> str:
    return ", ".join(benchmark.name for benchmark in BENCHMARKS)


def _chosen(names: list[str]) -> list[Benchmark]:
    by_name = {benchmark.name: benchmark for benchmark in BENCHMARKS}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise SystemExit(f"bench: unknown benchmark {', '.join(unknown)}; known: {_names()}")
    return [by_name[name] for name in names]


def run(benchmark: Benchmark, workdir: Path, quick: bool) -> bool:
    """Runs one benchmark and stores its result; False when it failed (its stored result is kept)."""
    arguments = benchmark.quick_arguments if quick and benchmark.quick_arguments is not None else benchmark.arguments
    arguments = (*arguments, "--results-fp", f"{BENCH_DIR}/{benchmark.name}.json")
    shown = shlex.join([".venv/bin/python", f"benchmarks/{benchmark.script}", *arguments])
    print(f"bench: {shown}", flush=True)
    date = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = os.getloadavg()[0]
    began = time.monotonic()
    process = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS_DIR / benchmark.script),
            *(a.replace(BENCH_DIR, str(workdir)) for a in arguments),
        ],
        stdout=None,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    seconds = time.monotonic() - began
    written = workdir / f"{benchmark.name}.json"
    if process.returncode or not written.is_file():
        print(f"bench: {benchmark.name} exit status {process.returncode}\n{process.stderr[-2000:]}", file=sys.stderr)
        return False
    results = Results.from_json(json.loads(written.read_text()))
    results.benchmark = benchmark.name
    machine = machine_now(f"{load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    provenance = Provenance(f"{date:%Y-%m-%d %H:%M} UTC", commit(), machine, shown, round(seconds))
    StoredResult(benchmark.title, results, provenance).write(render.RESULTS_DIR / f"{benchmark.name}.json")
    return True


def machine_now(load_average: str) -> Machine:
    """This machine: cores, memory, CPU model and whether it has AVX-512-BF16 and AMX (/proc/cpuinfo)."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), None
    )
    flags = next(
        (set(line.split(":", 1)[1].split()) for line in cpuinfo.splitlines() if line.startswith("flags")), None
    )
    return Machine(
        cpus=os.cpu_count(),
        memory_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        cpu_model=model,
        avx512_bf16=None if flags is None else "avx512_bf16" in flags,
        amx=None if flags is None else bool({"amx_bf16", "amx_tile", "amx_int8"} & flags),
        platform=platform.platform(),
        python=platform.python_version(),
        load_average=load_average,
    )


def commit() -> str:
    """HEAD's hash, marked when tracked files differ from it (the results and RESULTS.md aside)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!benchmarks/results",
            ":!benchmarks/RESULTS.md",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head} with uncommitted changes" if changed else head or "unknown"


if __name__ == "__main__":
    sys.exit(main())
