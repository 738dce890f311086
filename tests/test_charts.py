"""Plotly figure builders: shapes, colours, labels and values come from results.json as given."""
from __future__ import annotations

import plotly.graph_objects as go
import pytest

from fixtures_results import make_results
from steu_core import charts

BUILDERS = [charts.forget_retain_f1, charts.per_class_f1, charts.confusion_matrices, charts.mia_roc,
            charts.changed_rows, charts.changed_fraction]


@pytest.fixture
def results():
    return make_results()


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_every_builder_returns_a_titled_white_figure(builder, results):
    fig = builder(results)
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text
    assert len(fig.data) >= 1
    fig.to_json()  # serialisable (what the dashboard and kaleido need)


def test_template_is_plotly_white(results):
    import plotly.io as pio

    white = pio.templates["plotly_white"]
    for builder in BUILDERS:
        assert builder(results).layout.template == white


def test_headline_chart_values_and_colours(results):
    fig = charts.forget_retain_f1(results)
    before, after = fig.data
    assert (before.name, after.name) == ("Before", "After")
    assert before.marker.color == charts.BEFORE and after.marker.color == charts.AFTER
    assert list(before.y) == pytest.approx([results["forget_f1_before"], results["retain_f1_before"],
                                            results["macro_f1_before"]])
    assert list(after.y) == pytest.approx([results["forget_f1_after"], results["retain_f1_after"],
                                           results["macro_f1_after"]])
    assert results["forget_class"] in before.x[0]
    assert fig.layout.yaxis.title.text == "F1 score"
    assert fig.layout.barmode == "group"


def test_per_class_marks_the_forgotten_class(results):
    fig = charts.per_class_f1(results)
    assert len(fig.data[0].x) == len(results["labels"])
    marked = [x for x in fig.data[0].x if "forgotten" in x]
    assert marked == [f"<b>{results['forget_class']} (forgotten)</b>"]
    i = results["labels"].index("cardiac")
    assert fig.data[1].y[i] == pytest.approx(results["per_class_f1_after"]["cardiac"])


def test_confusion_matrices_side_by_side_with_counts(results):
    fig = charts.confusion_matrices(results)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    before, after = fig.data
    assert [list(r) for r in before.text] == results["confusion_before"]
    assert [list(r) for r in after.text] == results["confusion_after"]
    fc = results["forget_class_id"]
    row = results["confusion_after"][fc]
    assert after.z[fc][0] == pytest.approx(row[0] / sum(row))
    titles = [a.text for a in fig.layout.annotations]
    assert "Before" in titles and "After" in titles


def test_confusion_matrix_class_names_are_wrapped_escaped_and_shown_once(results):
    r = {**results, "labels": ["substance_use_disorder", "<b>x</b>", *results["labels"][2:]],
         "forget_class": "substance_use_disorder"}
    fig = charts.confusion_matrices(r)
    ticks = list(fig.data[0].y)
    assert ticks[0] == "<b>substance<br>use<br>disorder*</b>", "long names break onto lines; the forgotten class is marked"
    assert ticks[1] == "&lt;b&gt;x&lt;/b&gt;", "markup in a class name is shown, not interpreted"
    assert fig.layout.yaxis.showticklabels is True and fig.layout.yaxis2.showticklabels is False


def test_mia_roc_has_diagonal_four_curves_and_auc_in_legend(results):
    fig = charts.mia_roc(results)
    assert len(fig.data) == 5
    assert list(fig.data[0].x) == [0, 1] and list(fig.data[0].y) == [0, 1]
    names = [t.name for t in fig.data[1:]]
    assert any("Before, loss: AUC 0.642" in n for n in names)
    assert any("After, confidence: AUC 0.497" in n for n in names)
    colours = {t.name.split(",")[0]: t.line.color for t in fig.data[1:]}
    assert colours == {"Before": charts.BEFORE, "After": charts.AFTER}
    assert "False positive rate" in fig.layout.xaxis.title.text
    assert "True positive rate" in fig.layout.yaxis.title.text


def test_mia_roc_when_the_audit_was_skipped(results):
    results["mia"] = {"n_members": 1, "n_nonmembers": 0, "skipped": "needs at least 2 members"}
    fig = charts.mia_roc(results)
    assert len(fig.data) == 1
    assert any("needs at least 2" in a.text for a in fig.layout.annotations)


def test_changed_rows_ranked_by_l2_with_pmi_in_hover(results):
    fig = charts.changed_rows(results, top=10)
    bar = fig.data[0]
    assert len(bar.x) == 10
    ranked = sorted(results["selected_tokens"], key=lambda t: -t["l2_change"])[:10]
    assert list(bar.x) == [t["l2_change"] for t in reversed(ranked)]  # largest drawn at the top
    assert bar.y[-1].startswith(ranked[0]["token"])
    assert bar.customdata[-1][0] == pytest.approx(ranked[0]["pmi"])
    assert "PMI" in bar.hovertemplate
    assert "the 10 of 108" in fig.layout.title.text


def test_changed_rows_escapes_markup_in_tokens(results):
    results["selected_tokens"][0]["token"] = "<b>&x"
    results["selected_tokens"][0]["l2_change"] = 9.0
    fig = charts.changed_rows(results, top=3)
    assert fig.data[0].y[-1].startswith("&lt;b&gt;&amp;x")


def test_changed_fraction_shows_the_fraction_readably(results):
    fig = charts.changed_fraction(results)
    assert "0.189 %" in fig.layout.title.text
    assert fig.layout.xaxis.type == "log"
    bar = fig.data[0]
    assert results["params_total"] in bar.x and results["params_changed"] in bar.x
    assert any("0.189 %" in t for t in bar.text)


def test_changed_fraction_breaks_down_rows_and_head_when_hidden_size_known(results):
    results["model"]["hidden_size"] = 384
    bar = charts.changed_fraction(results).data[0]
    assert results["k"] * 384 in bar.x
    assert results["params_changed"] - results["k"] * 384 in bar.x


def test_builders_do_not_mutate_results(results):
    import copy

    before = copy.deepcopy(results)
    for builder in BUILDERS:
        builder(results)
    assert results == before


def test_charts_module_does_not_import_streamlit():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(charts))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
             for a in n.names} | {(n.module or "").split(".")[0] for n in ast.walk(tree)
                                  if isinstance(n, ast.ImportFrom)}
    assert "streamlit" not in names


def test_to_png_writes_a_png(tmp_path, results):
    out = charts.to_png(charts.forget_retain_f1(results), tmp_path / "sub" / "f1.png", 800, 450)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import struct

    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1600, 900)  # scale 2


def _lines(text: str) -> list[str]:
    import re

    return [re.sub(r"<[^>]+>", "", line) for line in str(text or "").split("<br>")]


@pytest.mark.parametrize("builder", [charts.mia_roc, lambda r: charts.changed_rows(r, top=25)],
                         ids=["mia_roc", "changed_rows"])
def test_half_width_charts_have_titles_that_fit(builder, results):
    """These two sit in half a page (about 400 px at 1280 x 720): a longer line was cut."""
    fig = builder(results)
    assert all(len(line) <= 40 for line in _lines(fig.layout.title.text))
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert all(len(line) <= 36 for line in _lines(axis.title.text))


def test_confusion_matrix_names_cannot_overlap(results):
    """Row names wrap onto short lines; column names are single slanted lines (several lines side by side
    in narrow columns ran into each other)."""
    r = {**results, "labels": ["substance_use_disorder", "major_depression", *results["labels"][2:]],
         "forget_class": "substance_use_disorder"}
    fig = charts.confusion_matrices(r)
    assert fig.layout.xaxis.tickangle == -45 and fig.layout.xaxis2.tickangle == -45
    assert all("<br>" not in tick for tick in fig.data[0].x)
    assert all(len(line) <= 12 for tick in fig.data[0].y for line in _lines(tick.replace("*", "")))
    assert "forgotten class: substance_use_disorder" in fig.layout.title.text


def test_roc_legend_entries_fit_half_a_page(results):
    names = [t.name for t in charts.mia_roc(results).data]
    assert names and all(len(n) <= 48 for n in names)
