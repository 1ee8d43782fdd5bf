"""TFDV statistics and anomalies as one self-contained HTML page: no script, no network fetch.

TFDV's own page (`get_statistics_html`) loads Facets Overview from a CDN at view time, through
HTML imports that current browsers no longer support: behind a firewall, or in a current
Chrome, it shows nothing. This page carries everything inline: a table per split and feature
kind (numeric: count, missing, mean, std, zeros, min, median, max and a histogram as inline
SVG; strings and bytes: count, missing, unique values, the most frequent ones), the examples of each
class of the label by class name, and the anomalies, splits side by side as Facets Overview shows them.
"""

from __future__ import annotations

import dataclasses
import html
import os
from collections.abc import Mapping, Sequence

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.types import artifact_utils

from components.validation_gate import describe_anomalies, examples_per_class, read_anomalies

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; vertical-align: middle; }
th { background: #f3f3f3; text-align: left; } td.name { text-align: left; font-weight: 600; }
td.text { text-align: left; } .warn { color: #b00020; } .ok { color: #1b5e20; }
svg rect { fill: #4a78c2; }
"""


@dataclasses.dataclass(frozen=True)
class LabelClasses:
    """How many examples of each class each split holds, for the label `key` whose classes are `names`."""

    key: str
    names: Sequence[str]
    counts: Mapping[str, Sequence[int]]
    """Split -> examples per class index."""


def page(statistics, anomalies, examples=None, label_key: str = "", class_names: Sequence[str] = ()) -> str:
    """The page of one run's StatisticsGen output and ExampleValidator output (TFX artifacts): the one
    MLflow keeps as data/statistics.html and the run folder holds as statistics.html. With the run's
    `examples` and the label's `class_names` (by class index of `label_key`), a table of the examples
    per class by name, which TFDV's statistics of a class index cannot give."""
    by_split = {
        split: tfdv.load_stats_binary(
            os.path.join(artifact_utils.get_split_uri([statistics], split), "FeatureStats.pb")
        ).datasets[0]
        for split in artifact_utils.decode_split_names(statistics.split_names)
    }
    classes = None
    if examples is not None and class_names:
        counts = examples_per_class(examples, label_key, len(class_names))
        classes = LabelClasses(label_key, class_names, counts) if counts else None
    return render(
        by_split,
        {split: describe_anomalies({split: found}) for split, found in read_anomalies(anomalies).items()},
        title="Data statistics and anomalies (TFDV, each split)",
        classes=classes,
    )


def render(
    statistics: Mapping[str, statistics_pb2.DatasetFeatureStatistics],
    anomalies: Mapping[str, list[str]] | None = None,
    title: str = "Data statistics",
    classes: LabelClasses | None = None,
) -> str:
    """The page for `statistics` by split name (train first), the anomaly lines by split, and the
    examples of each class of the label."""
    splits = sorted(statistics, key=lambda split: (split != "train", split))
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
    ]
    parts.append(
        "<p>" + ", ".join(f"{_e(split)}: {statistics[split].num_examples:,} examples" for split in splits) + "</p>"
    )
    if anomalies is not None:
        found = [(split, line) for split in sorted(anomalies) for line in anomalies[split]]
        if found:
            parts.append("<h2 class='warn'>Anomalies</h2><ul>")
            parts.extend(f"<li><b>{_e(split)}</b>: {_e(line)}</li>" for split, line in found)
            parts.append("</ul>")
        else:
            parts.append("<p class='ok'>No anomalies: the data matches the schema.</p>")
    if classes is not None:
        parts.append(_classes_table(classes, splits))
    features = _features_by_name(statistics, splits)
    numeric = [name for name, by_split in features.items() if any(f.HasField("num_stats") for f in by_split.values())]
    textual = [name for name in features if name not in numeric]
    if numeric:
        parts.append(_numeric_table(features, numeric, splits))
    if textual:
        parts.append(_text_table(features, textual, splits))
    parts.append("</body></html>")
    return "\n".join(parts)


def _features_by_name(statistics, splits) -> dict[str, dict[str, statistics_pb2.FeatureNameStatistics]]:
    features: dict[str, dict[str, statistics_pb2.FeatureNameStatistics]] = {}
    for split in splits:
        for feature in statistics[split].features:
            name = ".".join(feature.path.step) or feature.name
            features.setdefault(name, {})[split] = feature
    return dict(sorted(features.items()))


def _numeric_table(features, names, splits) -> str:
    rows = [
        "<h2>Numeric features</h2><table><tr><th>feature</th><th>split</th><th>count</th><th>missing</th>"
        "<th>mean</th><th>std dev</th><th>zeros</th><th>min</th><th>median</th><th>max</th>"
        "<th>histogram</th></tr>"
    ]
    for name in names:
        for index, split in enumerate(split for split in splits if split in features[name]):
            stats = features[name][split].num_stats
            common = stats.common_stats
            total = common.num_non_missing + common.num_missing
            cells = [
                f"{common.num_non_missing:,}",
                _missing(common.num_missing, total),
                _number(stats.mean),
                _number(stats.std_dev),
                _percent(stats.num_zeros, common.num_non_missing),
                _number(stats.min),
                _number(stats.median),
                _number(stats.max),
            ]
            head = f"<td class='name' rowspan='{len(features[name])}'>{_e(name)}</td>" if index == 0 else ""
            rows.append(
                f"<tr>{head}<td class='text'>{_e(split)}</td>"
                + "".join(f"<td>{cell}</td>" for cell in cells)
                + f"<td>{_histogram(stats)}</td></tr>"
            )
    rows.append("</table>")
    return "".join(rows)


def _classes_table(classes: LabelClasses, splits: list[str]) -> str:
    shown = [split for split in splits if split in classes.counts]
    rows = [
        f"<h2>Classes of {_e(classes.key)}</h2><table><tr><th>class</th><th>name</th>"
        + "".join(f"<th>{_e(split)}</th>" for split in shown)
        + "</tr>"
    ]
    for index, name in enumerate(classes.names):
        counts = [classes.counts[split][index] for split in shown]
        cells = "".join(f"<td>{count:,}</td>" if count else "<td class='warn'>0</td>" for count in counts)
        rows.append(f"<tr><td>{index}</td><td class='text'>{_e(name)}</td>{cells}</tr>")
    rows.append("</table>")
    return "".join(rows)


def _text_table(features, names, splits) -> str:
    rows = [
        "<h2>Categorical, string and bytes features</h2><table><tr><th>feature</th><th>split</th>"
        "<th>count</th><th>missing</th><th>unique</th><th>most frequent</th><th>avg length</th></tr>"
    ]
    for name in names:
        for index, split in enumerate(split for split in splits if split in features[name]):
            feature = features[name][split]
            if feature.HasField("string_stats"):
                stats = feature.string_stats
                common = stats.common_stats
                # TFDV names every value of a bytes feature (an encoded image) __BYTES_VALUE__.
                shown = [value for value in stats.top_values[:5] if value.value != _BYTES_PLACEHOLDER]
                top = ", ".join(f"{_label(value.value)} ({value.frequency:,.0f})" for value in shown)
                top = top or ("(binary values)" if stats.top_values else "")
                unique, length = f"{stats.unique:,}", _number(stats.avg_length)
            elif feature.HasField("bytes_stats"):
                stats_bytes = feature.bytes_stats
                common = stats_bytes.common_stats
                top, unique = "(binary)", f"{stats_bytes.unique:,}"
                length = f"{_number(stats_bytes.avg_num_bytes)} bytes"
            else:
                common = feature.struct_stats.common_stats
                top, unique, length = "", "", ""
            total = common.num_non_missing + common.num_missing
            head = f"<td class='name' rowspan='{len(features[name])}'>{_e(name)}</td>" if index == 0 else ""
            rows.append(
                f"<tr>{head}<td class='text'>{_e(split)}</td><td>{common.num_non_missing:,}</td>"
                f"<td>{_missing(common.num_missing, total)}</td><td>{unique}</td>"
                f"<td class='text'>{_e(top)}</td><td>{length}</td></tr>"
            )
    rows.append("</table>")
    return "".join(rows)


_BYTES_PLACEHOLDER = "__BYTES_VALUE__"


def _histogram(stats: statistics_pb2.NumericStatistics, width: int = 160, height: int = 36) -> str:
    """The standard histogram (equal-width buckets) as an inline SVG bar chart."""
    standard = [h for h in stats.histograms if h.type == statistics_pb2.Histogram.STANDARD]
    buckets = list(standard[0].buckets) if standard else []
    if not buckets:
        return ""
    tallest = max(bucket.sample_count for bucket in buckets) or 1.0
    bar = width / len(buckets)
    bars = "".join(
        f"<rect x='{i * bar:.1f}' y='{height - height * b.sample_count / tallest:.1f}' width='{max(bar - 1, 1):.1f}' "
        f"height='{height * b.sample_count / tallest:.1f}'><title>{_number(b.low_value)} to {_number(b.high_value)}: "
        f"{b.sample_count:,.0f}</title></rect>"
        for i, b in enumerate(buckets)
    )
    return f"<svg width='{width}' height='{height}' role='img' aria-label='histogram'>{bars}</svg>"


def _missing(missing: float, total: float) -> str:
    text = _percent(missing, total)
    return f"<span class='warn'>{text}</span>" if missing else text


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def _number(value: float) -> str:
    return f"{value:.4g}"


def _label(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
