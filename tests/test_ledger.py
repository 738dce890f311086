"""The hash-chained ledger: appends, verification, tampering, text refusal, concurrent writers, CLI."""
from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

from steu_core.cli.ledger import register as register_cli
from steu_core.ledger import GENESIS_HASH, Ledger, VerifyResult, canonical_json, compute_entry_hash
from steu_core.ledger.head import check_head


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))


def _fill(ledger: Ledger, n: int) -> list[dict]:
    out = []
    for i in range(n):
        kind = "request" if i % 2 == 0 else "run"
        out.append(ledger.append(kind, {"request_id": f"REQ-{i // 2}", "run_id": f"run-{i // 2}", "i": i,
                                        "hashes": {"forget_set": "ab" * 32}, "rows": 10 + i}))
    return out


def _raw(ledger: Ledger) -> sqlite3.Connection:
    """A raw connection as a tamperer would use it: the append-only triggers dropped first."""
    con = sqlite3.connect(str(ledger.path), isolation_level=None)
    con.execute("DROP TRIGGER IF EXISTS entries_no_update")
    con.execute("DROP TRIGGER IF EXISTS entries_no_delete")
    return con


def test_default_path_is_in_steu_home(tmp_path):
    assert Ledger().path == tmp_path / "home" / "ledger.sqlite"


def test_append_returns_stored_entry_and_chain_links():
    ledger = Ledger()
    entries = _fill(ledger, 5)
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == GENESIS_HASH
    for a, b in zip(entries, entries[1:]):
        assert b["prev_hash"] == a["entry_hash"]
    e = entries[2]
    assert e["entry_hash"] == compute_entry_hash(e["seq"], e["ts_utc"], e["kind"], canonical_json(e["payload"]),
                                                 e["prev_hash"])
    assert ledger.entries() == entries
    assert len(ledger) == 5
    res = ledger.verify()
    assert isinstance(res, VerifyResult)
    assert (res.ok, res.n_entries, res.first_broken_seq) == (True, 5, None)


def test_payload_is_stored_canonically():
    ledger = Ledger()
    ledger.append("request", {"b": 1, "a": {"z": 2, "y": [1, 2]}, "c": "é"})
    con = sqlite3.connect(str(ledger.path))
    stored = con.execute("SELECT payload FROM entries").fetchone()[0]
    assert stored == '{"a":{"y":[1,2],"z":2},"b":1,"c":"é"}'


def test_empty_ledger_verifies_and_reading_creates_nothing(tmp_path):
    ledger = Ledger(tmp_path / "none" / "ledger.sqlite")
    assert ledger.entries() == []
    assert ledger.verify().ok and ledger.verify().n_entries == 0
    assert not ledger.path.exists()


@pytest.mark.parametrize("payload", [
    {"text": "patient has ..."},
    {"note": "x"},
    {"notes": ["a", "b"]},
    {"Text": "x"},
    {"settings": {"nested": {"clinical_text": "x"}}},
    {"rows": [{"ok": 1}, {"notes": "x"}]},
])
def test_text_like_keys_are_refused(payload):
    ledger = Ledger()
    with pytest.raises(ValueError, match="never text"):
        ledger.append("request", payload)
    assert ledger.entries() == []


def test_text_column_name_and_reason_are_metadata_not_text():
    Ledger().append("request", {"text_column": "text", "reason": "patient request", "forget_rows": 3})


@pytest.mark.parametrize("kind,payload", [("", {}), ("Run Now", {}), ("run", ["not", "a", "dict"]),
                                          ("run", {"x": float("nan")}), ("run", {"x": object()})])
def test_bad_kind_or_payload_refused(kind, payload):
    with pytest.raises(ValueError):
        Ledger().append(kind, payload)


def test_numpy_and_path_values_are_normalised():
    np = pytest.importorskip("numpy")
    e = Ledger().append("run", {"f1": np.float64(0.25), "n": np.int64(3), "p": Path("/a/b")})
    assert e["payload"] == {"f1": 0.25, "n": 3, "p": "/a/b"}
    assert Ledger().verify().ok


def test_update_and_delete_blocked_by_triggers():
    ledger = Ledger()
    _fill(ledger, 2)
    con = sqlite3.connect(str(ledger.path))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE entries SET kind = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM entries WHERE seq = 1")


def test_edited_payload_is_named():
    ledger = Ledger()
    _fill(ledger, 6)
    con = _raw(ledger)
    payload = json.loads(con.execute("SELECT payload FROM entries WHERE seq = 4").fetchone()[0])
    payload["rows"] = 999
    con.execute("UPDATE entries SET payload = ? WHERE seq = 4", (canonical_json(payload),))
    res = ledger.verify()
    assert not res.ok and res.first_broken_seq == 4 and res.n_entries == 6
    assert "entry 4" in res.reason


def test_edited_payload_with_recomputed_hash_breaks_next_link():
    ledger = Ledger()
    _fill(ledger, 6)
    con = _raw(ledger)
    seq, ts, kind, payload, prev = con.execute("SELECT seq, ts_utc, kind, payload, prev_hash FROM entries "
                                               "WHERE seq = 3").fetchone()
    forged = canonical_json({**json.loads(payload), "rows": 1})
    con.execute("UPDATE entries SET payload = ?, entry_hash = ? WHERE seq = 3",
                (forged, compute_entry_hash(seq, ts, kind, forged, prev)))
    res = ledger.verify()
    assert not res.ok and res.first_broken_seq == 4
    assert "prev_hash" in res.reason


def test_edited_timestamp_and_kind_are_named():
    ledger = Ledger()
    _fill(ledger, 4)
    con = _raw(ledger)
    con.execute("UPDATE entries SET ts_utc = '2000-01-01T00:00:00.000000Z' WHERE seq = 2")
    assert Ledger().verify().first_broken_seq == 2
    ledger2 = Ledger(Path(ledger.path).with_name("other.sqlite"))
    _fill(ledger2, 4)
    _raw(ledger2).execute("UPDATE entries SET kind = 'request' WHERE seq = 4")
    assert ledger2.verify().first_broken_seq == 4


def test_non_canonical_payload_is_named():
    ledger = Ledger()
    _fill(ledger, 3)
    con = _raw(ledger)
    payload = con.execute("SELECT payload FROM entries WHERE seq = 2").fetchone()[0]
    con.execute("UPDATE entries SET payload = ? WHERE seq = 2", (json.dumps(json.loads(payload), indent=1),))
    res = ledger.verify()
    assert (res.ok, res.first_broken_seq) == (False, 2)


@pytest.mark.parametrize("deleted,expected", [(1, 1), (3, 3), (5, 5)])
def test_deleted_row_is_named(deleted, expected):
    ledger = Ledger()
    _fill(ledger, 6)
    _raw(ledger).execute("DELETE FROM entries WHERE seq = ?", (deleted,))
    res = ledger.verify()
    assert not res.ok and res.first_broken_seq == expected
    assert res.n_entries == 5
    assert "missing" in res.reason


def test_deleted_row_with_renumbering_is_named():
    """A careful tamperer closes the seq gap; the broken prev_hash link still shows it."""
    ledger = Ledger()
    _fill(ledger, 6)
    con = _raw(ledger)
    con.execute("DELETE FROM entries WHERE seq = 3")
    con.execute("UPDATE entries SET seq = seq - 1 WHERE seq > 3")
    res = ledger.verify()
    assert not res.ok and res.first_broken_seq == 3


def test_swapped_rows_are_named():
    ledger = Ledger()
    _fill(ledger, 6)
    con = _raw(ledger)
    cols = "ts_utc, kind, payload, prev_hash, entry_hash"
    r2 = con.execute(f"SELECT {cols} FROM entries WHERE seq = 2").fetchone()
    r5 = con.execute(f"SELECT {cols} FROM entries WHERE seq = 5").fetchone()
    upd = "UPDATE entries SET ts_utc = ?, kind = ?, payload = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?"
    con.execute(upd, (*r5, 2))
    con.execute(upd, (*r2, 5))
    res = ledger.verify()
    assert not res.ok and res.first_broken_seq == 2


def test_truncation_is_exposed_by_an_external_anchor():
    ledger = Ledger()
    entries = _fill(ledger, 4)
    anchor = entries[-1]["entry_hash"]
    assert ledger.find_hash(anchor.upper())["seq"] == 4
    _raw(ledger).execute("DELETE FROM entries WHERE seq = 4")
    assert ledger.verify().ok  # the chain alone cannot see a removed tail ...
    assert ledger.find_hash(anchor) is None  # ... the hash printed in a report can


def test_find_and_find_run():
    ledger = Ledger()
    _fill(ledger, 6)
    ledger.append("run", {"run_id": "run-1", "outcome": "failed"})
    assert [e["seq"] for e in ledger.find("request")] == [1, 3, 5]
    assert ledger.find_run("run-1")["payload"]["outcome"] == "failed"
    assert ledger.find_run("nope") is None


def _worker(path: str, tag: str, n: int) -> None:
    ledger = Ledger(path)
    for i in range(n):
        ledger.append("run", {"run_id": f"{tag}-{i}", "worker": tag, "i": i})


def test_concurrent_appends_from_two_processes_keep_one_chain(tmp_path):
    path = str(tmp_path / "shared" / "ledger.sqlite")
    Ledger(path).append("request", {"request_id": "start"})
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(path, tag, 50)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ledger = Ledger(path)
    entries = ledger.entries()
    assert len(entries) == 101
    assert [e["seq"] for e in entries] == list(range(1, 102))
    for tag in ("a", "b"):
        assert sorted(e["payload"]["i"] for e in entries if e["payload"].get("worker") == tag) == list(range(50))
    res = ledger.verify()
    assert res.ok and res.n_entries == 101
    assert check_head(ledger, 101).ok and check_head(ledger, 101).head_size == 101, "the newest state won"


def _cli(argv):
    import argparse

    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    register_cli(sub)
    args = p.parse_args(argv)
    return args.func(args)


def test_cli_verify_and_show(capsys):
    ledger = Ledger()
    _fill(ledger, 5)
    assert _cli(["ledger", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK") and "5 entries" in out
    assert _cli(["ledger", "show", "--last", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].split()[0] == "4" and lines[1].split()[0] == "5"
    assert _cli(["ledger", "show", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 5
    _raw(ledger).execute("UPDATE entries SET payload = '{}' WHERE seq = 3")
    assert _cli(["ledger", "verify"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "entry 3" in out


def test_cli_show_empty(capsys):
    assert _cli(["ledger", "show"]) == 0
    assert "empty" in capsys.readouterr().out
