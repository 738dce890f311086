"""The head record next to the ledger catches what the hash chain alone cannot: removed newest
entries, an older copy restored, an emptied or deleted database, a consistently rewritten chain."""
from __future__ import annotations

import json
import shutil

import pytest
from test_ledger_checkpoint import _contents, _fill, _forge

from steu_core.cli import main
from steu_core.ledger import Ledger, canonical_json, default_path
from steu_core.ledger.head import HEAD_FORMAT, check_head, head_path, read_head


def verify(capsys, *argv):
    code = main(["ledger", "verify", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ledger():
    led = Ledger()
    _fill(led, 6)
    return led


def test_every_append_advances_the_head(ledger, capsys):
    head = read_head(head_path(ledger.path))
    assert head["format"] == HEAD_FORMAT and head == {"format": HEAD_FORMAT, **ledger.tree_head()}
    assert head["tree_size"] == 6
    code, out, _ = verify(capsys)
    assert code == 0 and "OK against the head record" in out


def test_removed_newest_entries_are_caught(ledger, capsys):
    _forge(ledger, _contents(ledger)[:4])
    assert ledger.verify().ok, "the shortened chain is still a valid chain"
    code, out, _ = verify(capsys)
    assert code == 1 and "has 4 entries but its head record covers 6" in out and "entries 5-6 were removed" in out


def test_an_older_copy_restored_is_caught(ledger, tmp_path, capsys):
    old = tmp_path / "old.sqlite"
    shutil.copy2(ledger.path, old)
    _fill(ledger, 2, tag="b")
    shutil.copy2(old, ledger.path)
    for wal in ledger.path.parent.glob(ledger.path.name + "-*"):
        wal.unlink()
    code, out, _ = verify(capsys)
    assert code == 1 and "head record covers 8" in out


def test_a_consistent_rewrite_is_caught(ledger, capsys):
    contents = _contents(ledger)
    contents[2][2] = canonical_json({**json.loads(contents[2][2]), "rows": 0})
    _forge(ledger, contents)
    code, out, _ = verify(capsys)
    assert code == 1 and "do not hash to the root in its head record" in out


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_allow_empty_does_not_excuse_a_ledger_that_had_entries(ledger, capsys, how):
    for f in ledger.path.parent.glob(ledger.path.name + "-*"):
        f.unlink()
    if how == "deleted":
        ledger.path.unlink()
    else:
        ledger.path.write_bytes(b"")
    code, out, _ = verify(capsys, "--allow-empty")
    assert code == 1 and "0 entries but its head record covers 6" in out


def test_a_missing_or_damaged_head_fails(ledger, capsys):
    head_path(ledger.path).write_text("{not json")
    code, out, _ = verify(capsys)
    assert code == 1 and "not readable" in out
    head_path(ledger.path).unlink()
    code, out, _ = verify(capsys)
    assert code == 1 and "is missing although the ledger has 6 entries" in out
    ledger.append("request", {"request_id": "R-next"})
    assert verify(capsys)[0] == 0, "the next append writes the head again"


def test_a_new_installation_needs_no_head(capsys):
    code, out, _ = verify(capsys, "--allow-empty")
    assert code == 0 and not default_path().exists() and "no head record and no entries" in out


def test_json_output_carries_the_head_result(ledger, capsys):
    _forge(ledger, _contents(ledger)[:5])
    code, out, _ = verify(capsys, "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is True and data["head"]["ok"] is False and data["head"]["head_size"] == 6


def test_a_grown_ledger_extends_its_head(ledger):
    res = check_head(ledger, 6)
    assert res.ok and res.head_size == 6
    assert not check_head(ledger, 5).ok
