"""Windowing of daily prices (components/models/stock/windowing.py), without Beam: boundaries,
several series, row order, the time split, and each kind of bad input."""

import datetime
import random

import pytest

from components.models.stock import features, windowing

HEADER = "date,open,high,low,close,volume,ticker"


def _csv(tmp_path, lines, name="prices.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _rows(ticker, days, start=100.0):
    first = datetime.date(2020, 1, 1)
    return [
        f"{first + datetime.timedelta(days=i)},{start + i},{start + i + 0.5},{start + i - 0.5},{start + i + 0.25},"
        f"{1000 + i},{ticker}"
        for i in range(days)
    ]


def _windows(path, window_days=5, horizon_days=1, eval_days=3, target_column="open"):
    layout = windowing.read_layout(path)
    with open(path) as f:
        next(f)
        parsed = [windowing.parse_row(layout, line) for line in f]
    problems = [row for row in parsed if isinstance(row, windowing.Problem)]
    series = {}
    for ticker, day in (row for row in parsed if row and not isinstance(row, windowing.Problem)):
        series.setdefault(ticker, []).append(day)
    for ticker, days in series.items():
        problems += list(windowing.series_windows(ticker, days, window_days, horizon_days, eval_days, target_column))
    return [w for w in problems if isinstance(w, windowing.Window)], [
        p for p in problems if isinstance(p, windowing.Problem)
    ]


def _values(window, key):
    feature = window.example.features.feature[key]
    return list(feature.float_list.value or feature.bytes_list.value or feature.int64_list.value)


def test_window_boundaries_and_time_split(tmp_path):
    windows, problems = _windows(_csv(tmp_path, [HEADER, *_rows("A", 12)]), window_days=5, horizon_days=2, eval_days=3)
    assert not problems
    # 12 days, 5 in a window, target 2 days after its last: windows end on days 4..9.
    assert len(windows) == 12 - 5 - 2 + 1
    first, last = windows[0], windows[-1]
    assert _values(first, "open") == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert _values(first, features.TARGET_KEY) == [106.0]
    assert _values(last, features.TARGET_KEY) == [111.0]
    # Targets on the last 3 days (9, 10, 11) are evaluation windows; all others train.
    assert [w.split for w in windows] == ["train"] * 3 + ["eval"] * 3
    last_train_target = max(_values(w, features.TARGET_KEY)[0] for w in windows if w.split == "train")
    assert last_train_target < 100.0 + 12 - 3  # no training target inside the evaluation period
    assert _values(last, features.TARGET_DATE_KEY) == [b"2020-01-12"]
    assert _values(last, features.YEAR_KEY) == [2020]


def test_target_column_is_configurable(tmp_path):
    windows, _ = _windows(_csv(tmp_path, [HEADER, *_rows("A", 8)]), target_column="close")
    assert _values(windows[0], features.TARGET_KEY) == [105.25]


def test_series_never_mix_and_row_order_does_not_matter(tmp_path):
    lines = _rows("A", 10, start=100.0) + _rows("B", 9, start=500.0)
    ordered, _ = _windows(_csv(tmp_path, [HEADER, *lines], "ordered.csv"))
    random.Random(7).shuffle(lines)
    shuffled, _ = _windows(_csv(tmp_path, [HEADER, *lines], "shuffled.csv"))
    key = lambda w: (_values(w, "ticker"), _values(w, features.TARGET_DATE_KEY))  # noqa: E731
    assert sorted(map(key, ordered)) == sorted(map(key, shuffled))
    assert [w.example for w in sorted(ordered, key=key)] == [w.example for w in sorted(shuffled, key=key)]
    for window in ordered:
        opens = _values(window, "open")
        # Consecutive days of one series: A's prices are 100+i, B's 500+i.
        assert opens == [opens[0] + i for i in range(5)]
        assert (opens[0] >= 500) == (_values(window, "ticker") == [b"B"])
    # Each series has its own last 3 days as its evaluation period.
    assert sum(w.split == "eval" for w in ordered) == 6


def test_notes_layout_with_index_column_and_code(tmp_path):
    lines = [",date,open,close,high,low,volume,code"] + [
        f"{i},2021-03-{i + 1:02d},{10 + i},{10.5 + i},{11 + i},{9 + i},{100 * i},600519" for i in range(8)
    ]
    windows, problems = _windows(_csv(tmp_path, lines))
    assert not problems
    assert _values(windows[0], "ticker") == [b"600519"]
    assert _values(windows[0], "close") == [10.5, 11.5, 12.5, 13.5, 14.5]


def test_non_numeric_price_is_named(tmp_path):
    lines = [HEADER, *_rows("A", 8)]
    lines[3] = lines[3].replace(",102.5,", ",n/a,")
    _, problems = _windows(_csv(tmp_path, lines))
    assert problems == [f"{tmp_path / 'prices.csv'}: column 'high' on 2020-01-03 holds 'n/a'; expected a number."]


def test_duplicate_dates_in_a_series_are_named(tmp_path):
    lines = [HEADER, *_rows("A", 8), _rows("A", 8)[2]]
    _, problems = _windows(_csv(tmp_path, lines))
    assert problems == ["series A has more than one row for 2020-01-03; expected one row per trading day."]


def test_series_shorter_than_window_and_horizon_is_named(tmp_path):
    windows, problems = _windows(
        _csv(tmp_path, [HEADER, *_rows("A", 8), *_rows("SHORT", 5)]), window_days=5, horizon_days=1
    )
    assert problems == ["series SHORT has 5 days; a window needs at least 6 (window_days 5 + horizon_days 1)."]
    assert {tuple(_values(w, "ticker")) for w in windows} == {(b"A",)}


def test_empty_file_is_one_sentence(tmp_path):
    path = _csv(tmp_path, [""])
    with pytest.raises(
        ValueError, match=r"prices.csv is empty; expected a header line date,open,high,low,close,volume"
    ):
        windowing.read_layout(path)


def test_missing_columns_are_named(tmp_path):
    path = _csv(tmp_path, ["date,open,close", "2020-01-01,1,2"])
    with pytest.raises(ValueError, match=r"has no column 'high', 'low', 'volume'; expected columns"):
        windowing.read_layout(path)


def test_the_shuffle_buffer_mixes_series_and_holds_no_more_than_its_size():
    """TimeSeriesExampleGen writes windows through ShuffleBuffer instead of a GroupByKey: every
    window comes out once, series that come in one after another leave mixed, and the buffer never
    grows past its size (what keeps the ExampleGen's memory flat as the rows grow)."""
    from components.example_gen.time_series_example_gen import ShuffleBuffer

    # 20 series of 100 windows, one series after another, as the windowing step makes them.
    windows = [(series, day) for series in range(20) for day in range(100)]
    buffer = ShuffleBuffer(size=300, seed=0)
    buffer.start_bundle()
    passed, largest = [], 0
    for window in windows:
        passed.extend(buffer.process(window))
        largest = max(largest, len(buffer._buffer))
    passed.extend(value.value for value in buffer.finish_bundle())

    assert sorted(passed) == windows
    assert largest == 300
    # The first 300 windows out come from at least 3 series, and no series keeps its days in order.
    assert len({series for series, _ in passed[:300]}) >= 3
    assert all(
        [day for s, day in passed if s == series] != sorted(day for s, day in passed if s == series)
        for series in range(20)
    )
