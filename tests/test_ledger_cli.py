"""``python -m steu_core ledger verify|checkpoint|key``: exit 0 intact, 1 tampered, 2 unusable input."""
from __future__ import annotations

import json
import sqlite3

import pytest
from test_ledger_checkpoint import _contents, _fill, _forge

from steu_core.cli import main
from steu_core.ledger import Ledger, canonical_json, default_key_path, default_path


def run(capsys, *argv):
    code = main(["ledger", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def anchored(tmp_path, capsys):
    """A ledger of 6 entries, its public key saved by `ledger key` and a checkpoint file."""
    ledger = Ledger()
    _fill(ledger, 6)
    code, out, _ = run(capsys, "key")
    assert code == 0
    pub = tmp_path / "steu.pub"
    pub.write_text(out)
    cp = tmp_path / "cp-1.txt"
    assert run(capsys, "checkpoint", "--out", cp)[0] == 0
    return ledger, pub, cp


def test_verify_against_checkpoint_ok_then_grown(anchored, capsys):
    ledger, pub, cp = anchored
    code, out, _ = run(capsys, "verify", "--checkpoint", cp, "--public-key", pub)
    assert code == 0 and out.startswith("OK: 6 entries") and "OK against the checkpoint" in out
    _fill(ledger, 3, tag="b")
    code, out, _ = run(capsys, "verify", "--checkpoint", cp)  # the local key's public half
    assert code == 0 and "extends the checkpoint of 6" in out


def test_consistent_rewrite_passes_the_chain_but_fails_the_checkpoint(anchored, capsys):
    ledger, pub, cp = anchored
    contents = _contents(ledger)
    contents[1][2] = canonical_json({**json.loads(contents[1][2]), "rows": 0})
    _forge(ledger, contents)
    code, out, _ = run(capsys, "verify")  # the chain alone cannot tell; the head record next to it can
    assert code == 1 and out.startswith("OK: 6 entries, chain intact") and "FAILED against the head record" in out
    code, out, _ = run(capsys, "verify", "--checkpoint", cp, "--public-key", pub)
    assert code == 1 and "FAILED against the checkpoint" in out and "first 6 entries" in out
    code, out, _ = run(capsys, "verify", "--checkpoint", cp, "--public-key", pub, "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is True and data["checkpoint"]["ok"] is False
    assert data["checkpoint"]["checkpoint"]["tree_size"] == 6


def test_dropped_tail_fails(anchored, capsys):
    ledger, pub, cp = anchored
    _forge(ledger, _contents(ledger)[:4])
    code, out, _ = run(capsys, "verify", "--checkpoint", cp, "--public-key", pub)
    assert code == 1 and "has 4 entries but the checkpoint covers 6" in out


def test_edited_checkpoint_file_fails(anchored, capsys):
    _, pub, cp = anchored
    lines = cp.read_text().split("\n")
    lines[1] = "5"
    cp.write_text("\n".join(lines))
    code, out, _ = run(capsys, "verify", "--checkpoint", cp, "--public-key", pub)
    assert code == 1 and "does not verify" in out


def test_checkpoint_to_stdout_and_never_overwritten(anchored, capsys):
    _, _, cp = anchored
    code, out, err = run(capsys, "checkpoint")
    assert code == 0 and out.split("\n")[1] == "6" and "\u2014 " in out and "signed by" in err
    code, _, err = run(capsys, "checkpoint", "--out", cp)
    assert code == 2 and "never overwritten" in err


def test_checkpoint_refuses_to_sign_a_rewritten_ledger(anchored, capsys):
    ledger = anchored[0]
    contents = _contents(ledger)
    contents[0], contents[3] = contents[3], contents[0]
    _forge(ledger, contents)
    code, out, err = run(capsys, "checkpoint")
    assert code == 2 and "refusing to sign" in err and out == ""


def test_rotated_key(anchored, capsys, tmp_path):
    _, pub, cp = anchored
    code, out, err = run(capsys, "key", "--rotate")
    assert code == 0 and out.strip() != pub.read_text().strip() and "Rotated" in err
    code, out, _ = run(capsys, "verify", "--checkpoint", cp)
    assert code == 1 and "not signed by" in out
    retired = next(default_key_path().parent.glob("*.pub"))
    assert run(capsys, "verify", "--checkpoint", cp, "--public-key", retired)[0] == 0


def _not_a_ledger(tmp_path, case):
    """A path of each kind a mistyped or damaged --path can be."""
    if case == "missing":
        return tmp_path / "missing.sqlite"
    if case == "directory":
        return tmp_path
    path = tmp_path / f"{case}.sqlite"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "csv":
        path.write_text("text,label\n")
    else:
        con = sqlite3.connect(str(path))
        con.execute("CREATE TABLE other (x)")
        con.commit()
        con.close()
    return path


@pytest.mark.parametrize("case,message", [
    ("missing", "does not exist"),
    ("directory", "is a directory"),
    ("empty", "empty file (0 bytes)"),
    ("csv", "not a SQLite database"),
    ("other_sqlite", "no 'entries' table"),
])
def test_verify_refuses_paths_that_are_not_ledgers(tmp_path, capsys, case, message):
    path = _not_a_ledger(tmp_path, case)
    code, out, err = run(capsys, "verify", "--path", path)
    assert code == 2 and message in err and str(path) in err and out == ""
    assert "Traceback" not in err


def test_allow_empty_accepts_a_new_installation_only(tmp_path, capsys):
    code, _, err = run(capsys, "verify")
    assert code == 2 and "--allow-empty" in err and not default_path().exists()
    code, out, _ = run(capsys, "verify", "--allow-empty")
    assert code == 0 and "0 entries" in out and not default_path().exists()
    (tmp_path / "empty.sqlite").write_bytes(b"")
    assert run(capsys, "verify", "--path", tmp_path / "empty.sqlite", "--allow-empty")[0] == 0
    assert run(capsys, "verify", "--path", tmp_path, "--allow-empty")[0] == 2
    (tmp_path / "x.txt").write_text("hello")
    assert run(capsys, "verify", "--path", tmp_path / "x.txt", "--allow-empty")[0] == 2


def test_show_on_a_file_that_is_not_a_ledger(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("hello, this is not sqlite")
    code, _, err = run(capsys, "show", "--path", tmp_path / "x.txt")
    assert code == 2 and "not a SQLite database" in err


@pytest.mark.parametrize("args,message", [
    (["--checkpoint", "{tmp}/nope.txt"], "does not exist"),
    (["--checkpoint", "{tmp}/garbage.txt"], "not a usable checkpoint"),
    (["--checkpoint", "{cp}", "--public-key", "{tmp}/nope.pub"], "does not exist"),
    (["--checkpoint", "{cp}", "--public-key", "{tmp}/garbage.txt"], "public key"),
])
def test_unusable_checkpoint_or_key_exits_2(anchored, capsys, tmp_path, args, message):
    (tmp_path / "garbage.txt").write_text("no checkpoint here\n")
    argv = [a.format(tmp=tmp_path, cp=anchored[2]) for a in args]
    code, _, err = run(capsys, "verify", *argv)
    assert code == 2 and message in err


def test_verify_without_any_public_key(tmp_path, capsys):
    _fill(Ledger(), 2)
    assert run(capsys, "checkpoint", "--out", tmp_path / "cp.txt")[0] == 0
    default_key_path().unlink()
    code, _, err = run(capsys, "verify", "--checkpoint", tmp_path / "cp.txt")
    assert code == 2 and "--public-key" in err


def test_checkpoint_of_an_empty_ledger_or_with_a_missing_key(tmp_path, capsys):
    code, _, err = run(capsys, "checkpoint")
    assert code == 2 and "does not exist" in err
    _fill(Ledger(), 1)
    code, _, err = run(capsys, "checkpoint", "--key", tmp_path / "typo.key")
    assert code == 2 and "typo.key" in err and "does not exist" in err


def test_show_prints_hostile_request_fields_escaped_on_one_line(capsys):
    """A newline or ANSI code in a request field cannot forge a ledger line or drive the terminal;
    the entry keeps the text as given."""
    import unicodedata

    hostile = "x\n\x1b[31mFAKE"
    Ledger().append("request", {"request_id": "R-1\x1b]0;title\x07", "run_id": "run-1", "requester": hostile,
                                "reason": hostile})
    code, out, _ = run(capsys, "show")
    assert code == 0 and len(out.splitlines()) == 1
    assert not [c for c in out.rstrip("\n") if unicodedata.category(c).startswith("C")]
    assert "requester=x\\n\\x1b[31mFAKE" in out and "R-1\\x1b]0;title\\x07" in out
    assert Ledger().entries()[0]["payload"]["requester"] == hostile


# -- issue 30: the ledger never restarts silently ------------------------------------------------
def test_a_deleted_ledger_stops_every_writer_until_a_new_start_is_asked_for(tmp_path, capsys):
    from steu_core.errors import SteuError

    ledger = Ledger()
    _fill(ledger, 4)
    ledger.path.unlink()
    for suffix in ("-wal", "-shm"):
        ledger.path.with_name(ledger.path.name + suffix).unlink(missing_ok=True)
    with pytest.raises(SteuError, match="holds 0 entries but its head record covers 4"):
        Ledger().append("request", {"request_id": "R-after-the-loss"})
    assert len(Ledger()) == 0, "nothing was written"
    code, out, _ = run(capsys, "start-new")
    assert code == 0 and "was kept as" in out
    assert [p.name for p in ledger.path.parent.glob("ledger.sqlite.head.retired-*")]
    assert Ledger().append("request", {"request_id": "R-new"})["seq"] == 1
    code, _, err = run(capsys, "start-new")
    assert code == 2 and "nothing to start anew" in err


def _tampered(sql: str) -> Ledger:
    """A ledger of 3 entries changed behind the tool's back by ``sql``."""
    ledger = Ledger()
    _fill(ledger, 3)
    con = sqlite3.connect(str(ledger.path))
    con.executescript(sql)
    con.close()
    return ledger


def test_an_emptied_ledger_stops_a_run_before_it_writes(tmp_path):
    _tampered("DROP TRIGGER entries_no_delete; DELETE FROM entries;")
    from steu_core.errors import SteuError

    with pytest.raises(SteuError, match="it was deleted, emptied or rolled back"):
        Ledger().append("run", {"run_id": "r"})


def test_dropped_append_only_triggers_are_reported(capsys):
    _tampered("DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete;")
    code, out, _ = run(capsys, "verify")
    assert code == 1 and "entries_no_update, entries_no_delete were dropped" in out
    code, out, _ = run(capsys, "verify", "--json")
    assert code == 1 and json.loads(out)["missing_triggers"] == ["entries_no_update", "entries_no_delete"]


def test_a_head_record_that_never_ends_is_read_bounded(capsys):
    ledger = Ledger()
    _fill(ledger, 2)
    head = ledger.path.with_name(ledger.path.name + ".head")
    head.unlink()
    head.symlink_to("/dev/zero")
    code, out, _ = run(capsys, "verify")
    assert code == 1 and "is not readable" in out


@pytest.mark.parametrize("last", ["0", "-1"])
def test_show_last_needs_a_positive_count(capsys, last):
    _fill(Ledger(), 2)
    code, out, err = run(capsys, "show", "--last", last)
    assert code == 2 and "--last must be a whole number of at least 1" in err and "empty" not in out
