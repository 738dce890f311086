"""The dashboard's request draft: metadata only, owner-only, found again by its id."""
from __future__ import annotations

import os
import stat
import time

import pytest

from steu_core import drafts, uploads


def test_a_draft_is_found_again_by_its_id_and_is_owner_only():
    draft_id = uploads.new_session()
    record = {"request_id": "REQ-1", "reason": "GDPR art. 17", "files": {"forget": {"path": "/x/f.csv"}},
              "min_forget": 10, "col_id": None}
    drafts.save_draft(draft_id, record)
    assert drafts.load_draft(draft_id) == record
    assert stat.S_IMODE(drafts.draft_path(draft_id).stat().st_mode) == 0o600
    drafts.remove_draft(draft_id)
    assert drafts.load_draft(draft_id) is None


@pytest.mark.parametrize("bad", ["../../etc/passwd", "req-xyz", "", None])
def test_an_id_that_is_no_draft_id_finds_nothing_and_cannot_be_written(bad):
    assert drafts.load_draft(bad) is None
    with pytest.raises(ValueError):
        drafts.save_draft(str(bad), {"request_id": "x"})


def test_a_draft_refuses_text_that_could_be_a_note():
    with pytest.raises(ValueError, match="keeps no text"):
        drafts.save_draft(uploads.new_session(), {"reason": "x" * (drafts.MAX_TEXT + 1)})
    with pytest.raises(ValueError, match="bytes"):
        drafts.save_draft(uploads.new_session(), {f"k{i}": "y" * 400 for i in range(60)})


def test_old_drafts_are_deleted_when_another_is_written():
    old_id, new_id = uploads.new_session(), uploads.new_session()
    drafts.save_draft(old_id, {"request_id": "old"})
    long_ago = time.time() - drafts.MAX_AGE_S - 60
    os.utime(drafts.draft_path(old_id), (long_ago, long_ago))
    drafts.save_draft(new_id, {"request_id": "new"})
    assert drafts.load_draft(old_id) is None and drafts.load_draft(new_id) == {"request_id": "new"}


def test_a_finished_run_uses_the_request_id_up_and_a_failed_one_leaves_it_for_the_retry():
    started = {drafts.RUN_KEY: "run-1"}
    for going_on in ("starting", "running", None):
        assert drafts.after_its_run(started, going_on) == {}
    assert drafts.after_its_run({drafts.RUN_KEY: None}, "finished") == {}  # the draft started no run
    done = drafts.after_its_run(started, "finished")
    assert done[drafts.RUN_KEY] is None and done["request_id"].startswith("REQ-")
    for ended in ("failed", "cancelled", "missing"):
        assert drafts.after_its_run(started, ended) == {drafts.RUN_KEY: None}
