"""The calibrated stop of the sparse edits (stop_at 'calibrated', steu_core.methods.calibration): held-out notes of
the class are split off the evaluation notes before the run and no audit scores them; the edit trains on past
"forgotten" until the forget notes look no more familiar than those notes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from steu_core.data import NoteSet, load_notes
from steu_core.errors import ConfigError, DataError
from steu_core.methods import calibration_share, get_method, setting_fields
from steu_core.runs import UnlearnRequest, run_unlearning
from steu_core.runs.prepare import split_calibration

FAST = {"max_steps": 40, "lr_rows": 0.05, "lr_head": 0.02, "min_df": 2, "k": 6}


def _notes(n_class: int, n_other: int) -> NoteSet:
    labels = ["c"] * n_class + ["o"] * n_other
    return NoteSet(texts=tuple(f"note {i}" for i in range(len(labels))), labels=tuple(labels), name="eval.csv")


def test_the_split_takes_only_notes_of_the_class_and_no_note_twice():
    evaluation = _notes(30, 20)
    audited, calibration = split_calibration(evaluation, "c", 0.33, seed=4)
    assert len(calibration) == 10 and set(calibration.labels) == {"c"}
    assert set(audited.texts).isdisjoint(calibration.texts)
    assert sorted(audited.texts + calibration.texts) == sorted(evaluation.texts)
    assert audited.labels.count("o") == 20
    # rows of the evaluation file, so the run can record which notes no audit scored
    assert set(calibration.row_numbers) == {int(t.split()[1]) + 1 for t in calibration.texts}


def test_a_smaller_share_takes_part_of_a_larger_ones_notes_and_the_seed_changes_them():
    evaluation = _notes(30, 5)
    small = set(split_calibration(evaluation, "c", 0.2, seed=1)[1].texts)
    large = set(split_calibration(evaluation, "c", 0.5, seed=1)[1].texts)
    other = set(split_calibration(evaluation, "c", 0.5, seed=2)[1].texts)
    assert small < large and other != large


def test_a_split_that_leaves_too_few_notes_on_either_side_is_refused():
    with pytest.raises(DataError, match="leaves 1 to calibrate on"):
        split_calibration(_notes(4, 5), "c", 0.25, seed=0)
    with pytest.raises(DataError, match="and 1 for the audits"):
        split_calibration(_notes(3, 5), "c", 0.5, seed=0)


def test_only_a_calibrated_stop_asks_for_notes_and_unknown_values_are_refused():
    assert calibration_share("steu", {}) == 0.0
    assert calibration_share("steu", {"stop_at": "calibrated", "calibration_share": 0.25}) == 0.25
    assert calibration_share("head_only", {"stop_at": "calibrated"}) == pytest.approx(0.33)
    assert calibration_share("retrain_oracle", {}) == 0.0
    with pytest.raises(ConfigError, match="stop_at' must be one of forgotten, calibrated"):
        get_method("steu")({"stop_at": "early"})
    with pytest.raises(ConfigError, match="calibration_share' must be above 0, at most 0.5"):
        get_method("steu")({"calibration_share": 0.8})
    fields = {f.name: f for f in setting_fields("steu")}
    assert fields["stop_at"].choices == ("forgotten", "calibrated")
    assert fields["forget_target"].choices == ("suppress", "spread")


def test_a_calibrated_method_given_no_held_out_notes_says_how_to_run_it(tiny_bert, tiny_data):
    from test_steu_spread import _context
    with pytest.raises(ConfigError, match="needs at least 2 held-out notes"):
        get_method("steu")({**FAST, "stop_at": "calibrated"}).run(_context(tiny_bert, tiny_data))


def _run(model, tiny_data, out, **settings) -> dict:
    req = UnlearnRequest(model=str(model), train=tiny_data["train"], eval=tiny_data["eval"],
                         forget_class=tiny_data["forget_class"], out=out, settings={**FAST, **settings},
                         device="cpu", max_length=48, min_forget=5)
    return json.loads((run_unlearning(req) / "results.json").read_text())


def test_a_calibrated_run_keeps_its_calibration_notes_out_of_every_audit(tiny_bert, tiny_data, tmp_path):
    plain = _run(tiny_bert, tiny_data, tmp_path / "plain")
    calibrated = _run(tiny_bert, tiny_data, tmp_path / "calibrated", stop_at="calibrated")
    evaluation = load_notes(tiny_data["eval"])
    of_class = evaluation.labels.count(tiny_data["forget_class"])
    split = calibrated["data"]["calibration"]
    assert plain["data"]["calibration"] is None and split["notes"] == round(0.33 * of_class)
    rows = np.array(split["eval_file_rows"]) - 1
    assert {evaluation.labels[i] for i in rows} == {tiny_data["forget_class"]}
    # the audits' non-members and the held-out F1 are the evaluation notes less the calibration notes
    assert calibrated["mia"]["n_nonmembers"] == of_class - split["notes"] == plain["mia"]["n_nonmembers"] - split["notes"]
    assert calibrated["data"]["eval_forget_class_rows"] == of_class - split["notes"]
    assert calibrated["data"]["eval"]["sha256"] == plain["data"]["eval"]["sha256"]  # the file as given
    training = calibrated["training"]
    assert training["stop_at"] == "calibrated" and training["calibration_notes"] == split["notes"]
    checked = [h["loss_auc_vs_calibration"] for h in training["history"] if "loss_auc_vs_calibration" in h]
    assert checked, "a check that found the class forgotten must then compare the forget and calibration notes"
    if training["stopped_early"]:
        assert checked[-1] <= 0.5
    # the calibrated stop only adds a condition: it never stops before the plain rule would
    assert training["steps"] >= plain["training"]["steps"]
    assert calibrated["encoder_unchanged"] is True and calibrated["param_diff_verdict"] == "pass"


def test_a_comparison_scores_no_compared_methods_calibration_notes_in_its_deep_audits(tiny_data, tmp_path):
    from steu_core.compare.runner import without_calibration_notes
    from steu_core.request import CompareRequest
    evaluation = load_notes(tiny_data["eval"])
    cls = tiny_data["forget_class"]
    req = CompareRequest(train=tiny_data["train"], eval=tiny_data["eval"], forget_class=cls, out=tmp_path / "c",
                         methods=["steu", "head_only"], seed=3,
                         settings={"steu": {"stop_at": "calibrated", "calibration_share": 0.2},
                                   "head_only": {"stop_at": "calibrated", "calibration_share": 0.4}})
    scored = without_calibration_notes(req, evaluation, cls, tmp_path)
    # the larger share's notes, which hold the smaller share's: neither method's held-out notes are scored
    for share in (0.2, 0.4):
        held_out = split_calibration(evaluation, cls, share, 3)[1]
        assert set(held_out.texts).isdisjoint(scored.texts)
    assert len(scored) == len(evaluation) - round(0.4 * evaluation.labels.count(cls))
    plain = CompareRequest(train=tiny_data["train"], eval=tiny_data["eval"], forget_class=cls, out=tmp_path / "d",
                           methods=["steu", "head_only"])
    assert without_calibration_notes(plain, evaluation, cls, tmp_path) is evaluation
