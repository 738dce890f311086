"""The request a finished run was made for, from its own results.json."""
from __future__ import annotations

from steu_core.runs.request_view import stored_request_rows


def _results(**data) -> dict:
    return {"run_id": "run-1", "forget_class": "substance", "method": "steu", "model": {"source": "/m"},
            "request": {"request_id": "REQ-7", "requester": "Privacy office", "reason": "", "operator": "ana"},
            "data": {"train": {"name": "train.csv", "rows": 90}, "eval": {"name": "eval.csv", "rows": 45},
                     "forget": {"name": "forget.csv", "rows": 30}, **data}}


def test_the_rows_come_from_the_run_alone():
    rows = stored_request_rows(_results(forget_source={"given_by": "notes"}))
    assert rows["Request id"] == "REQ-7" and rows["Reason"] == "-" and rows["Operator"] == "ana"
    assert rows["Forget set"] == "forget.csv (30 notes)" and rows["Forget set given as"] == "notes"


def test_a_forget_set_given_by_ids_says_so():
    ids = {"name": "ids.csv", "sha256": "ab", "column": "note_id", "ids": 30, "duplicates_dropped": 0}
    rows = stored_request_rows(_results(forget_source={"given_by": "ids", "ids_file": ids}))
    assert rows["Forget set given as"] == "ids of training notes"
    assert rows["Forget set"] == "30 ids in ids.csv -> forget.csv (30 notes)"


def test_a_run_from_before_forget_sources_reads_as_notes():
    assert stored_request_rows(_results())["Forget set given as"] == "notes"
