"""A comparison in progress, in words (steu_core/compare/progress.py): each method's row says where its
run stands, including what a long part of a stage is doing."""
from __future__ import annotations

from steu_core.compare.progress import CURRENT, DONE, WAITING, method_rows


def test_each_method_row_says_where_its_run_stands():
    detail = {"methods": ["steu", "head_only", "retrain_oracle"], "index": 2,
              "run": {"stage": "unlearn", "step": 10, "total": 60,
                      "activity": "checking the stopping rule on the 240 forget notes"}}
    rows = method_rows("method", detail)
    assert [r["state"] for r in rows] == [DONE, CURRENT, WAITING]
    assert rows[1]["text"] == "Unlearning: step 10 of 60 · checking the stopping rule on the 240 forget notes"
    assert 0 < rows[1]["fraction"] < 1 and rows[2]["text"] == "waiting"
    detail["run"]["activity"] = ""
    assert method_rows("method", detail)[1]["text"] == "Unlearning: step 10 of 60"
