"""The statistics page logged with every run: self-contained, and it says what the data holds."""

import re

import pandas as pd
import tensorflow_data_validation as tfdv

from components import statistics_html


def _stats(frame: pd.DataFrame):
    return tfdv.generate_statistics_from_dataframe(frame).datasets[0]


def test_the_page_needs_nothing_from_the_network_and_shows_each_split_and_feature():
    train = _stats(pd.DataFrame({"petal_length": [1.0, 1.5, 4.2, 5.9], "species": ["a", "a", "b", "c"]}))
    evaluation = _stats(pd.DataFrame({"petal_length": [1.4, None], "species": ["a", "<b>"]}))
    page = statistics_html.render({"eval": evaluation, "train": train}, {"train": [], "eval": ["column 'x': odd"]})

    assert not re.search(r"https?://|<script|<link|<iframe|@import|src=", page)
    assert page.index("train: 4 examples") < page.index("eval: 2 examples")  # train first
    assert "petal_length" in page and "species" in page
    assert "<svg" in page  # the histogram, inline
    assert "column &#x27;x&#x27;: odd" in page  # anomalies listed, escaped
    assert "&lt;b&gt;" in page and "<b>&lt;" not in page  # data values are escaped
    assert "50.0%" in page  # the eval split's missing petal_length


def test_no_anomalies_is_said_plainly():
    page = statistics_html.render({"train": _stats(pd.DataFrame({"x": [1, 2]}))}, {"train": []})
    assert "No anomalies" in page


def test_the_label_classes_are_counted_by_name_and_a_missing_one_stands_out():
    train = _stats(pd.DataFrame({"species": [0, 0, 1, 2]}))
    classes = statistics_html.LabelClasses("species", ("setosa", "<versicolor>", "virginica"), {"train": [2, 1, 0]})
    page = statistics_html.render({"train": train}, {"train": []}, classes=classes)
    table = page[page.index("<h2>Classes of species</h2>") :]
    rows = re.findall(r"<tr><td>(\d)</td><td class='text'>([^<]*)</td><td[^>]*>([\d,]+)</td></tr>", table)
    assert rows == [("0", "setosa", "2"), ("1", "&lt;versicolor&gt;", "1"), ("2", "virginica", "0")]
    assert "<td class='warn'>0</td>" in table
