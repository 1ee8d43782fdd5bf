"""The recipe benchmarks' pipeline settings (benchmarks/recipes.py) are valid `--set`s that give the notes'
recipes: the cifar10 one the notes' settings pipelines/cifar10/notes.yaml holds."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from recipes import image_recipe_settings, set_arguments  # noqa: E402
from stock_recipe import recipe_overrides  # noqa: E402

from pipelines.config import apply_overrides, apply_settings  # noqa: E402
from pipelines.config_files import settings_from_file  # noqa: E402
from pipelines.registry import config_for  # noqa: E402

# The shipped splits' sizes (data/README.md).
CIFAR10_TRAIN, CIFAR10_TEST, MNIST_TRAIN, MNIST_TEST = 50_000, 5_000, 5_000, 1_000


def test_the_cifar10_recipe_trains_what_the_notes_settings_file_trains():
    settings = image_recipe_settings("baseline", CIFAR10_TRAIN, CIFAR10_TEST, epochs=5, precision="float32")
    recipe = apply_overrides(config_for("cifar10"), set_arguments(settings)[1::2])
    notes = apply_settings(config_for("cifar10"), settings_from_file(REPO_ROOT / "pipelines/cifar10/notes.yaml"))
    assert (recipe.train_steps, recipe.epochs, recipe.model, recipe.augmentation) == (
        notes.train_steps,
        notes.epochs,
        notes.model,
        notes.augmentation,
    )
    # Every test photo scored after each epoch, as the notes' validation_data; no autoencoder trained beside it.
    assert recipe.eval_steps * recipe.model.batch_size >= CIFAR10_TEST
    assert not recipe.autoencoder.enabled and not recipe.early_stopping.enabled


def test_the_mnist_recipe_is_the_notes_mlp_for_five_passes_over_the_training_digits():
    settings = image_recipe_settings("mlp", MNIST_TRAIN, MNIST_TEST, epochs=5, precision="auto")
    recipe = apply_overrides(config_for("mnist"), set_arguments(settings)[1::2])
    assert recipe.model.name == "mlp" and recipe.model.batch_size == 32 and recipe.model.learning_rate == 0.001
    assert recipe.train_steps == 5 * 157 and recipe.epochs == 5
    assert not any(vars(recipe.augmentation).values())


def test_the_stock_recipe_settings_apply_and_bound_the_rmse_so_a_first_run_is_blessed():
    recipe = apply_overrides(config_for("stock"), recipe_overrides(50)[1::2])
    # 7,623 training windows of the shipped series in batches of 64: 120 steps a pass.
    assert recipe.scaling == "min_max" and recipe.train_steps == 50 * 120
    assert not recipe.must_beat_persistence and recipe.blessing_threshold > 0
    # The notes' 50 epochs are the most the pipeline trains: it stops on its own validation slice.
    assert recipe.early_stopping.enabled and recipe.validation_slice_by_time
