"""Try a note: both models' probabilities for one text, the selected tokens' spans, escaped highlighting."""
from __future__ import annotations

import json

import pytest
import torch

from steu_core import charts
from steu_core.errors import ConfigError, DataError
from steu_core.model import load_classifier
from steu_core.try_note import (MAX_CHARS, compare_note, highlight_html, new_model_dir, original_model_dir,
                                run_max_length, token_spans)

NOTE = "Heroin withdrawal, started buprenorphine; vitals stable."


@pytest.fixture(scope="module")
def models(tiny_bert):
    original = load_classifier(tiny_bert, device="cpu")
    new = original.copy()
    # stand-in for unlearning: the head can no longer pick the forgotten class
    head = [p for n, p in new.model.named_parameters() if n.endswith("classifier.bias")][0]
    with torch.no_grad():
        head[new.labels.index("substance")] -= 50.0
    return original, new


def _results(tokenizer, words=("heroin", "buprenorphine")) -> dict:
    ids = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w)[0]) for w in words]
    return {"forget_class": "substance", "selected_tokens": [{"token": w, "id": i} for w, i in zip(words, ids)],
            "data": {"truncated_notes": {"max_length": 48}}}


def test_both_models_score_the_note_and_the_forgotten_class_drops(models):
    original, new = models
    out = compare_note(original, new, NOTE, _results(original.tokenizer))
    assert out["labels"] == original.labels
    assert sum(out["before"]) == pytest.approx(1.0, abs=1e-5) and sum(out["after"]) == pytest.approx(1.0, abs=1e-5)
    k = original.labels.index("substance")
    assert out["predicted_before"] == "substance"
    assert out["after"][k] < 1e-6 < out["before"][k]
    assert out["predicted_after"] != "substance"
    assert out["max_length"] == 48 and out["truncated"] is False


def test_selected_tokens_are_found_by_id_with_their_character_spans(models):
    original, _ = models
    res = _results(original.tokenizer)
    spans = token_spans(original.tokenizer, NOTE, [t["id"] for t in res["selected_tokens"]], 48)
    assert spans and all(NOTE[s["start"]:s["end"]] == s["token"] for s in spans)
    assert {s["id"] for s in spans} <= {t["id"] for t in res["selected_tokens"]}
    assert NOTE[spans[0]["start"]:spans[0]["end"]].lower().startswith("her")
    assert token_spans(original.tokenizer, "vitals stable", [s["id"] for s in spans], 48) == []


def test_tokens_beyond_max_length_are_not_highlighted(models):
    original, new = models
    long = "vitals stable. " * 40 + "heroin"
    res = _results(original.tokenizer)
    assert token_spans(original.tokenizer, long, [t["id"] for t in res["selected_tokens"]], 48) == []
    assert compare_note(original, new, long, res)["truncated"] is True


def test_highlighting_escapes_the_note():
    text = "<script>alert(1)</script> heroin & *bold* $x$"
    start = text.index("heroin")
    out = highlight_html(text, [{"start": start, "end": start + 3}, {"start": start + 3, "end": start + 6}])
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp;" in out
    assert out.count("<mark>") == 1 and "<mark>heroin</mark>" in out


def test_empty_or_huge_notes_are_refused(models):
    original, new = models
    with pytest.raises(DataError, match="empty"):
        compare_note(original, new, "   ", _results(original.tokenizer))
    with pytest.raises(DataError, match="at most"):
        compare_note(original, new, "x" * (MAX_CHARS + 1), _results(original.tokenizer))


def test_run_directories_name_both_models(tmp_path, tiny_bert):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no new model version"):
        new_model_dir(run)
    with pytest.raises(ConfigError, match="does not name the original model"):
        original_model_dir(run)
    (run / "manifest.json").write_text(json.dumps({"original_model": {"path": str(tmp_path / "gone")}}))
    with pytest.raises(ConfigError, match="no longer there"):
        original_model_dir(run)
    (run / "manifest.json").write_text(json.dumps({"original_model": {"path": str(tiny_bert)}}))
    assert original_model_dir(run) == tiny_bert
    assert run_max_length({}) == 128 and run_max_length({"data": {"truncated_notes": {"max_length": 64}}}) == 64


def test_the_probability_chart_shows_both_models(models):
    original, new = models
    fig = charts.note_probabilities(compare_note(original, new, NOTE, _results(original.tokenizer)))
    assert [t.name for t in fig.data] == ["Original model", "New model version"]
    assert "substance (forgotten)" in fig.data[0].y
