"""The request family: every command-line option survives request -> argv -> parser -> request."""
from __future__ import annotations

import sys
from dataclasses import fields

import pytest

from steu_core.cli import build_parser
from steu_core.errors import ConfigError
from steu_core.request import CompareRequest, RunRequest, UnlearnRequest, cli_option
from steu_core import worker


def _non_default(cls) -> dict:
    """A value for every field that differs from its default, so a dropped option shows."""
    values = {"train": "t.csv", "eval": "e.csv", "forget_class": "substance", "out": "/tmp/out-x", "model": "/m",
              "forget": "f.csv", "forget_ids": "ids.csv", "forget_from_run": "run-x", "id_column": "note_id",
              "forget_text_column": "body",
              "forget_label_column": "-", "seed": 7, "device": "cpu", "precision": "fp32", "text_column": "note",
              "label_column": "dx", "max_length": 64, "batch_size": 5, "min_forget": 3, "max_file_mb": 12.5,
              "lock_wait_s": 30.0, "use_cache": False, "allow_pickle": True, "request_id": "REQ-9",
              "requester": "Privacy office", "reason": "patient request", "operator": "ana"}
    if cls is UnlearnRequest:
        values.update(method="head_only", settings={"max_steps": 7, "lr_head": 0.01}, seeds=3)
    else:
        values.update(methods=["steu", "head_only"], settings={"steu": {"k": 5}}, audits=["probe"],
                      audit_settings={"probe": {"folds": 3}}, retain_sample=32, n_boot=50, record_ledger=True,
                      full_relearning=True)
    return values


@pytest.mark.parametrize("cls", [UnlearnRequest, CompareRequest])
def test_every_option_round_trips(cls):
    req = cls(**_non_default(cls))
    optioned = [f.name for f in fields(cls) if cli_option(f) is not None]
    defaults = cls(train="a", eval="b", forget_class="c", out="d")
    assert all(getattr(req, n) != getattr(defaults, n) for n in optioned if n not in ("train", "eval", "forget_class",
                                                                                         "out"))
    args = build_parser().parse_args([cls.command, *req.to_argv()])
    assert cls.from_args(args) == req


def test_every_request_field_but_the_ledger_switch_has_an_option():
    missing = [f.name for f in fields(UnlearnRequest) if cli_option(f) is None]
    assert missing == ["record_ledger"]  # unlearn always records; compare opts in with --record-ledger
    assert cli_option(next(f for f in fields(CompareRequest) if f.name == "record_ledger")).flag == "--record-ledger"


def test_worker_command_is_the_request_argv(tmp_path):
    req = UnlearnRequest(**{**_non_default(UnlearnRequest), "out": str(tmp_path / "r")})
    cmd = worker.build_command(req)
    assert cmd[:4] == [sys.executable, "-m", "steu_core", "unlearn"] and cmd[-1] == "--quiet"
    for flag in ("--precision", "--batch-size", "--max-file-mb", "--wait", "--allow-pickle", "--no-cache"):
        assert flag in cmd  # the fields the hand-written command used to drop


def test_bad_json_settings_name_the_option():
    args = build_parser().parse_args(["unlearn", "--train", "t", "--eval", "e", "--forget-class", "x", "--out", "o",
                                      "--settings", "{not json"])
    with pytest.raises(ConfigError, match="--settings is not valid JSON"):
        UnlearnRequest.from_args(args)


def test_compare_derives_each_run_from_its_own_fields():
    cmp = CompareRequest(**_non_default(CompareRequest))
    run = cmp.unlearn_request("steu", "/tmp/x/steu")
    shared = {f.name for f in fields(RunRequest)} - {"out"}
    assert all(getattr(run, n) == getattr(cmp, n) for n in shared)
    assert (run.method, run.settings, str(run.out)) == ("steu", {"k": 5}, "/tmp/x/steu")


def test_compare_refuses_a_method_listed_twice():
    req = CompareRequest(train="t", eval="e", forget_class="x", out="/nonexistent/o", methods=["steu", "steu"])
    with pytest.raises(ConfigError, match="listed twice"):
        req.validate()


def test_a_new_request_id_names_the_day_and_differs_each_time():
    import re

    from steu_core.drafts import new_request_id

    ids = {new_request_id() for _ in range(20)}
    assert all(re.fullmatch(r"REQ-\d{8}-[0-9A-F]{4}", i) for i in ids) and len(ids) > 1


def test_a_forms_choices_become_the_requests_fields():
    from steu_core.request import request_fields_of

    paths = {"train": "t.csv", "eval": "e.csv", "forget": "ids.csv"}
    picked = {"text_column": "text", "label_column": "diagnosis", "id_column": "note_id", "forget_text_column": "x"}
    by_ids = request_fields_of(paths, True, picked, ["note_id", "text", "label"], "copd", 10, {"request_id": "REQ-1"})
    # the detected text column is left to each file; a label column other than the detected one is kept
    assert (by_ids["text_column"], by_ids["label_column"]) == (None, "diagnosis")
    assert by_ids["forget_ids"] == "ids.csv" and by_ids["forget"] is None and by_ids["id_column"] == "note_id"
    assert by_ids["forget_text_column"] is None  # a notes file's column means nothing for a file of ids
    assert by_ids["requester"] == "" and by_ids["request_id"] == "REQ-1"
    notes = request_fields_of(paths, False, picked, ["note_id", "text", "label"], "copd", 10, {})
    assert notes["forget"] == "ids.csv" and notes["id_column"] is None and notes["forget_text_column"] == "x"
