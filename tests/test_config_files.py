"""Config files for `tfpipe run --config`, the descriptions `run --help` shows, and `tfpipe runs`' listing."""

import pytest

from components.leaderboard import Search, TrialResult
from pipelines import history
from pipelines.config import ConfigError, apply_overrides, apply_settings, setting_text
from pipelines.config_files import field_descriptions, settings_from_file
from pipelines.outcome import RunOutcome, RunResults
from pipelines.registry import PIPELINES, config_for


def test_a_yaml_file_is_the_same_keys_as_set_nested_or_dotted(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text(
        "train_steps: 2000\nmodel:\n  name: lenet5\n  learning_rate: 0.001\n"
        "augmentation.flip_horizontal: true\nclass_names: [cat, dog]\n"
    )
    config = apply_settings(config_for("digits"), settings_from_file(path))
    assert config.train_steps == 2000
    assert config.model.name == "lenet5" and config.model.learning_rate == 0.001
    assert config.augmentation.flip_horizontal is True
    assert config.class_names == ("cat", "dog")


@pytest.mark.parametrize(
    "text",
    [
        "train_steps: 2000\nmodel:\n  learning_rate: 1\n  name: 5\naugmentation.flip_horizontal: 1\n",
        "class_names: a,b\nimage_height: [7]\n",
        "train_steps: 2.5\n",
        "train_steps: true\n",
        "model.learning_rate: [1, 2]\n",
        "class_names: [1, x]\n",
        "augmentation.flip_vertical: maybe\n",
        "model.learning_rate: -1\n",
    ],
)
def test_typed_settings_give_what_their_text_gives_through_set(tmp_path, text):
    path = tmp_path / "my.yaml"
    path.write_text(text)
    outcomes = []
    for apply in (
        lambda: apply_settings(config_for("digits"), settings_from_file(path)),
        lambda: apply_overrides(
            config_for("digits"), [f"{key}={setting_text(value)}" for key, value in settings_from_file(path)]
        ),
    ):
        try:
            outcomes.append(apply())
        except ConfigError as error:
            outcomes.append(str(error))
    typed, text_read = outcomes
    assert typed == text_read


@pytest.mark.parametrize(
    "text, expected",
    [
        ("train_steps: [1\n", "not valid YAML at line"),
        ("- 1\n- 2\n", "expected a mapping of keys to values"),
        ("model:\n  seed: {a: [1, {b: 2}]}\n", "model.seed.a is"),
    ],
)
def test_a_bad_file_is_one_sentence_naming_it(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"--config {path}: .*{expected}"):
        settings_from_file(path)


def test_an_unknown_key_in_a_file_is_named(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("trian_steps: 5\n")
    with pytest.raises(ConfigError, match="unknown field 'trian_steps'"):
        apply_settings(config_for("iris"), settings_from_file(path))


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_every_settable_key_has_a_description(pipeline):
    config = config_for(pipeline)
    described = field_descriptions(type(config))
    from pipelines.config import describe_fields

    keys = [key for key, _ in describe_fields(config)]
    assert [key for key in keys if not described.get(key)] == []


def _write_run(workdir, pipeline, stamp, outcome: RunOutcome | None):
    folder = workdir / pipeline / "runs" / stamp
    folder.mkdir(parents=True)
    (folder / "run.log").write_text("")
    if outcome is not None:
        outcome.write(folder)


def test_runs_are_listed_newest_first_with_their_outcome(tmp_path):
    _write_run(
        tmp_path,
        "iris",
        "20261123-101500",
        RunOutcome(
            "iris",
            "succeeded",
            seconds=71.2,
            results=RunResults(
                blessed=True,
                pushed_version="17",
                metrics={"overall": {"sparse_categorical_accuracy": 0.9667, "loss": 0.1}},
            ),
        ),
    )
    _write_run(
        tmp_path,
        "stock",
        "20261123-111500",
        RunOutcome(
            "stock",
            "succeeded",
            seconds=300,
            results=RunResults(
                blessed=False,
                metrics={
                    "overall": {"forecast/root_mean_squared_error": 1.234, "persistence/root_mean_squared_error": 1.5}
                },
            ),
        ),
    )
    _write_run(tmp_path, "iris", "20261123-121500", None)  # killed before its summary
    runs = history.recent_runs(tmp_path)
    assert [(run.pipeline, run.status) for run in runs] == [
        ("iris", "running or killed"),
        ("stock", "succeeded"),
        ("iris", "succeeded"),
    ]
    assert runs[1].metric == "root_mean_squared_error 1.234"
    assert runs[2].metric == "sparse_categorical_accuracy 0.9667" and runs[2].pushed_version == "17"
    lines = history.table(history.recent_runs(tmp_path, "iris", limit=1))
    assert lines[0].split() == [
        "started",
        "pipeline",
        "status",
        "eval",
        "metric",
        "blessed",
        "pushed",
        "seconds",
        "search",
        "span",
    ]
    assert lines[1].startswith("2026-11-23 12:15:00  iris      running or killed")


def test_a_run_that_searched_shows_its_trials_in_the_runs_table(tmp_path):
    trials = [TrialResult(number, {"model.l2": 0.01}, "COMPLETED", score=0.9) for number in (1, 2, 3)]
    search = Search("val_sparse_categorical_accuracy", True, trials)
    _write_run(tmp_path, "iris", "20261123-101500", RunOutcome("iris", "succeeded", results=RunResults(search=search)))
    _write_run(tmp_path, "iris", "20261123-111500", RunOutcome("iris", "succeeded"))
    lines = history.table(history.recent_runs(tmp_path, "iris"))
    assert lines[1].split()[-1] != "trials" and lines[2].endswith("3 trials")
