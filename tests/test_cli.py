"""The CLI's fast paths: help and listing answer without importing TensorFlow."""

import subprocess
import sys

from conftest import REPO_ROOT, run_tfpipe


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
    for argv in (["--help"], ["run", "--help"], ["compile", "--help"], ["serve", "--help"], ["list"]):
        modules = _modules_loaded_by(argv)
        assert "pipelines.registry" in modules, argv  # the probe itself works
        assert "tensorflow" not in modules, argv
        assert "tfx" not in modules, argv


def test_list_names_each_pipeline_on_one_line():
    result = run_tfpipe("list")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("iris ") and "species" in line for line in lines)


def test_run_help_lists_settable_keys_with_defaults():
    result = run_tfpipe("run", "--help")
    assert "model.learning_rate=" in result.stdout
    assert "train_steps=" in result.stdout


def test_bad_override_is_one_sentence_and_exit_2():
    result = run_tfpipe("run", "iris", "--set", "train_steps=lots")
    assert result.returncode == 2
    assert result.stderr.strip() == "tfpipe: --set train_steps=lots: expected a value of type int."


def test_missing_data_folder_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    result = run_tfpipe("run", "iris", "--workdir", str(tmp_path), "--set", f"data_dir={missing}")
    assert result.returncode == 2
    assert f"data folder {missing} does not exist" in result.stderr
