"""The CLI's fast paths: help and listing answer without importing TensorFlow."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BIN, REPO_ROOT, free_port, run_tfpipe

from pipelines import named
from pipelines.outcome import RunOutcome


def _modules_loaded_by(argv: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from tfpipe.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('MODULES', *sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    return set(result.stdout.split("MODULES")[-1].split())


def test_help_and_list_do_not_import_tensorflow():
    for argv in (["--help"], ["run", "iris", "--help"], ["compile", "--help"], ["serve", "--help"], ["list"]):
        modules = _modules_loaded_by(argv)
        assert "pipelines.registry" in modules, argv  # the probe itself works
        assert "tensorflow" not in modules, argv
        assert "tfx" not in modules, argv


def test_list_names_each_pipeline_on_one_line():
    result = run_tfpipe("list")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("iris ") and "species" in line for line in lines)


def test_run_help_lists_the_settable_keys_of_the_pipeline_named():
    result = run_tfpipe("run", "cifar10", "--help")
    assert result.returncode == 0
    assert "cifar10: settable with --set" in result.stdout
    assert "model.name=vgg6" in result.stdout and "train_steps=" in result.stdout
    assert "model.hidden_units" not in result.stdout  # iris's
    assert len(result.stdout.splitlines()) < 200
    # No pipeline named: how to see a pipeline's keys.
    bare = run_tfpipe("run", "--help")
    assert "`tfpipe run PIPELINE --help` lists the keys" in bare.stdout and "model.name=" not in bare.stdout


def test_bad_override_is_one_sentence_and_exit_2():
    result = run_tfpipe("run", "iris", "--set", "train_steps=lots")
    assert result.returncode == 2
    assert result.stderr.strip() == "tfpipe: --set train_steps=lots: expected a value of type int."


def test_missing_data_folder_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    result = run_tfpipe("run", "iris", "--workdir", str(tmp_path), "--set", f"data_dir={missing}")
    assert result.returncode == 2
    assert f"data folder {missing} does not exist" in result.stderr


def test_bare_tfpipe_shows_help_and_succeeds():
    result = run_tfpipe()
    assert result.returncode == 0
    assert "usage: tfpipe" in result.stdout and "runs" in result.stdout


def test_version():
    for flag in ("--version", "-V"):
        result = run_tfpipe(flag)
        assert result.returncode == 0
        assert result.stdout.strip().startswith("tfpipe 0.")


def test_help_as_a_command():
    assert run_tfpipe("help").stdout == run_tfpipe("--help").stdout
    assert run_tfpipe("help", "runs").stdout == run_tfpipe("runs", "--help").stdout
    unknown = run_tfpipe("help", "rnus")
    assert unknown.returncode == 2
    assert "no command 'rnus'" in unknown.stderr


def _failed_iris_run(workdir: Path) -> None:
    """A workdir holding one iris run's record: failed, started 2026-11-23 10:15:00."""
    run_dir = workdir / "iris" / "runs" / "20261123-101500"
    run_dir.mkdir(parents=True)
    (run_dir / "run.log").write_text("")
    RunOutcome("iris", "failed", seconds=3.5).write(run_dir)


def test_the_workdir_can_come_before_the_command(tmp_path):
    _failed_iris_run(tmp_path)
    before = run_tfpipe("--workdir", str(tmp_path), "runs")
    assert before.returncode == 0, before.stderr
    assert "2026-11-23 10:15:00  iris      failed" in before.stdout
    # After the command it wins: it is the command's own.
    after = run_tfpipe("--workdir", str(tmp_path), "runs", "--workdir", str(tmp_path / "elsewhere"))
    assert after.returncode == 2
    assert "elsewhere holds no runs yet" in after.stderr


def test_a_blessing_threshold_outside_its_metrics_range_is_refused():
    result = run_tfpipe("run", "iris", "--set", "blessing_threshold=1.5")
    assert result.returncode == 2
    assert "SparseCategoricalAccuracy is a share between 0 and 1" in result.stderr


def test_the_workdir_can_be_set_once_in_the_environment(tmp_path):
    _failed_iris_run(tmp_path)
    env = {**__import__("os").environ, "TFPIPE_WORKDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "tfpipe.cli", "runs"], capture_output=True, text=True, cwd=REPO_ROOT, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "2026-11-23 10:15:00  iris      failed" in result.stdout


def test_run_help_describes_each_key():
    assert "model.learning_rate=0.1" in run_tfpipe("run", "iris", "--help").stdout
    assert "Adam's step size (the first one" in run_tfpipe("run", "mnist", "--help").stdout  # the field's docstring


def test_a_config_file_with_an_unknown_key_stops_before_anything_runs(tmp_path):
    config_file = tmp_path / "my.yaml"
    config_file.write_text("model:\n  learnig_rate: 0.01\n")
    result = run_tfpipe("run", "iris", "--workdir", str(tmp_path / "workdir"), "--config", str(config_file))
    assert result.returncode == 2
    assert result.stderr.startswith("tfpipe: --set model.learnig_rate: unknown field 'learnig_rate'")
    assert not (tmp_path / "workdir" / "iris" / "runs").exists()


def _bash_completions(line: str, workdir: Path) -> list[str]:
    """What bash completes at the end of `line`, through the script `tfpipe completion bash` prints."""
    script = run_tfpipe("completion", "bash").stdout
    complete = (
        f'eval "$1"; COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; read -ra COMP_WORDS <<< "$COMP_LINE"; '
        'COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMP_TYPE=9; _python_argcomplete tfpipe; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "TFPIPE_WORKDIR": str(workdir)}
    completed = subprocess.run(["bash", "-c", complete, "bash", script], capture_output=True, text=True, env=env)
    return completed.stdout.split()


def test_completion_knows_commands_pipelines_named_ones_and_set_keys(tmp_path):
    named.write(tmp_path, named.define(tmp_path, "mine", "mnist", []))
    assert _bash_completions("tfpipe ru", tmp_path) == ["runs", "run"]
    assert _bash_completions("tfpipe run mn", tmp_path) == ["mnist"]
    assert _bash_completions("tfpipe predict mi", tmp_path) == ["mine"]
    assert _bash_completions("tfpipe run iris --set model.h", tmp_path) == ["model.hidden_units="]
    assert "model.name=" in _bash_completions("tfpipe run mine --set model.", tmp_path)
    assert "--beam-profile" in _bash_completions("tfpipe run iris --be", tmp_path)
    for shell, marker in (("zsh", "#compdef tfpipe"), ("fish", "complete --command tfpipe")):
        script = run_tfpipe("completion", shell)
        assert script.returncode == 0 and marker in script.stdout, shell


def test_ui_on_a_taken_port_is_one_sentence(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_tfpipe("ui", "--workdir", str(tmp_path), "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tfpipe: --port {port}: 127.0.0.1:{port} is already in use (Address already in use); "
        "choose another with --port."
    )


@pytest.mark.e2e  # starts MLflow's server: seconds
def test_ui_prints_its_address_once_it_answers_and_leaves_nothing_running(tmp_path):
    import signal
    import urllib.request

    import psutil

    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "tfpipe"), "ui", "--workdir", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    line = process.stdout.readline()
    assert line.startswith(f"MLflow UI on http://127.0.0.1:{port}/#/experiments?workflowType=machine_learning")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:  # answers already
        assert response.status == 200
    started = psutil.Process(process.pid).children(recursive=True)
    assert started  # the MLflow server and its workers
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert not [child for child in started if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    assert "Warning" not in process.stderr.read()
