"""How evaluation slices are named in the summary, the console and MLflow: a slice of the label by
its class name (`species=setosa`), every other slice by its value."""

from components.evaluation import OVERALL, slice_name
from pipelines.registry import config_for


def _names(pipeline: str, slice_keys) -> list[str]:
    config = config_for(pipeline)
    return [slice_name(key, config.label_key, config.label_class_names()) for key in slice_keys]


def test_iris_slices_of_the_label_are_named_by_species():
    keys = [(), *((("species", index),) for index in range(3))]
    assert _names("iris", keys) == [OVERALL, "species=setosa", "species=versicolor", "species=virginica"]


def test_digit_classes_are_named_by_class_names_which_are_the_digits():
    for pipeline in ("digits", "mnist", "spoken_digits"):
        assert _names(pipeline, [(("label", digit),) for digit in range(10)]) == [f"label={d}" for d in range(10)]
    assert _names("spoken_digits", [(("speaker", "george"),)]) == ["speaker=george"]


def test_other_features_and_values_without_a_class_keep_their_value():
    assert _names("stock", [(("ticker", "MSFT"), ("year", 2017))]) == ["ticker=MSFT & year=2017"]
    assert _names("letters", [(("context_length", 3),)]) == ["context_length=3"]
    assert slice_name((("species", 3),), "species", ("setosa", "versicolor", "virginica")) == "species=3"
    assert slice_name((("label", 1), ("speaker", "jackson")), "label", ("cat", "dog")) == "label=dog & speaker=jackson"
