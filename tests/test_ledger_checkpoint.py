"""Signed checkpoints catch what the hash chain alone cannot: a consistently rewritten chain, a dropped
tail, reordered entries, a rolled-back or rebuilt database. Every forgery here passes ``verify()``.
"""
from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from steu_core.ledger import (GENESIS_HASH, Ledger, LedgerError, SignerKey, canonical_json, compute_entry_hash,
                              verify_consistency_between, verify_inclusion)
from steu_core.ledger.checkpoint import Checkpoint
from steu_core.ledger.note import parse_note, sign_note

N = 8


def _fill(ledger: Ledger, n: int, tag: str = "") -> None:
    for i in range(n):
        ledger.append("request" if i % 2 == 0 else "run",
                      {"request_id": f"REQ{tag}-{i // 2}", "run_id": f"run{tag}-{i // 2}", "rows": 10 + i})


def _contents(ledger: Ledger) -> list[list]:
    """[ts_utc, kind, payload] of every entry, as a forger would start from."""
    con = sqlite3.connect(str(ledger.path))
    try:
        return [list(r) for r in con.execute("SELECT ts_utc, kind, payload FROM entries ORDER BY seq")]
    finally:
        con.close()


def _forge(ledger: Ledger, contents: list[list]) -> None:
    """Write ``contents`` as a brand-new, internally consistent chain straight into SQLite: what someone
    with write access to the database (and this source code) can always do."""
    con = sqlite3.connect(str(ledger.path), isolation_level=None)
    con.execute("DROP TRIGGER IF EXISTS entries_no_update")
    con.execute("DROP TRIGGER IF EXISTS entries_no_delete")
    con.execute("DELETE FROM entries")
    prev = GENESIS_HASH
    for seq, (ts, kind, payload) in enumerate(contents, start=1):
        h = compute_entry_hash(seq, ts, kind, payload, prev)
        con.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)", (seq, ts, kind, payload, prev, h))
        prev = h
    con.close()


@pytest.fixture
def signed(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    _fill(ledger, N)
    signer = SignerKey.generate("hospital.example/steu-ledger")
    return ledger, signer, ledger.checkpoint(signer), signer.verifier()


def _fails(ledger, cp, key, *words) -> str:
    assert ledger.verify().ok, "the forgery must pass the chain check on its own"
    res = ledger.verify_checkpoint(cp, key)
    assert not res.ok, res.reason
    for w in words:
        assert w in res.reason
    return res.reason


def test_checkpoint_format(signed):
    ledger, signer, cp, key = signed
    text, sigs = parse_note(cp)
    origin, size, root = text.splitlines()
    assert (origin, size) == ("hospital.example/steu-ledger", str(N))
    assert Checkpoint.parse(text).root.hex() == ledger.tree_head()["root"]
    assert [(s.name, s.key_id) for s in sigs] == [(signer.name, key.key_id)]


def test_intact_and_grown_ledgers_extend_the_checkpoint(signed):
    ledger, signer, cp, key = signed
    res = ledger.verify_checkpoint(cp, key)
    assert res.ok and res.ledger_size == N and "exactly" in res.reason
    _fill(ledger, 5, tag="b")
    res = ledger.verify_checkpoint(cp, key.text())
    assert res.ok and res.ledger_size == N + 5 and res.consistency_path
    later = ledger.checkpoint(signer)
    ok, why = verify_consistency_between(cp, later, ledger.consistency_proof(N), key)
    assert ok, why


def test_rewritten_payload_with_recomputed_chain_is_caught(signed):
    ledger, _, cp, key = signed
    contents = _contents(ledger)
    contents[2][2] = canonical_json({**json.loads(contents[2][2]), "rows": 1})
    _forge(ledger, contents)
    reason = _fails(ledger, cp, key, f"first {N} entries", "rewritten")
    assert "changed" in reason


def test_dropped_last_entry_is_caught(signed):
    ledger, _, cp, key = signed
    _forge(ledger, _contents(ledger)[:-1])
    _fails(ledger, cp, key, f"has {N - 1} entries", f"covers {N}", "rolled back")


def _drop_head(ledger) -> None:
    """A forger who rewrites the database removes the head record too (the tool's writers refuse otherwise)."""
    from steu_core.ledger.head import head_path

    head_path(ledger.path).unlink(missing_ok=True)


def test_dropped_last_entry_replaced_by_another_is_caught(signed):
    ledger, _, cp, key = signed
    _forge(ledger, _contents(ledger)[:-1])
    _drop_head(ledger)  # the tool refuses to append to a ledger that lost entries: this forger rewrites both files
    ledger.append("run", {"run_id": "replacement"})
    _fails(ledger, cp, key, "do not hash to the checkpoint's root")


def test_reordered_entries_are_caught(signed):
    ledger, _, cp, key = signed
    contents = _contents(ledger)
    contents[1], contents[4] = contents[4], contents[1]
    _forge(ledger, contents)
    _fails(ledger, cp, key, "reordered")


def test_rollback_to_an_older_copy_is_caught(signed, tmp_path):
    ledger, signer, _, key = signed
    backup = tmp_path / "backup.sqlite"
    src, dst = sqlite3.connect(str(ledger.path)), sqlite3.connect(str(backup))
    src.backup(dst)
    src.close(), dst.close()
    _fill(ledger, 3, tag="c")
    cp = ledger.checkpoint(signer)
    shutil.copyfile(backup, ledger.path)
    _fails(ledger, cp, key, f"has {N} entries", f"covers {N + 3}", "rolled back")
    _drop_head(ledger)
    _fill(ledger, 4, tag="d")  # ... and grown past the checkpoint's size again
    _fails(ledger, cp, key, f"first {N + 3} entries")


def test_rebuilt_ledger_is_caught(signed):
    ledger, _, cp, key = signed
    ledger.path.unlink()
    _drop_head(ledger)
    _fill(ledger, N + 2, tag="new")
    _fails(ledger, cp, key, "rebuilt")


def test_checkpoint_signed_by_another_key_fails(signed):
    ledger, _, cp, key = signed
    impostor = SignerKey.generate(key.name)  # same name, different key
    res = ledger.verify_checkpoint(ledger.checkpoint(impostor), key)
    assert not res.ok and "not signed by" in res.reason
    res = ledger.verify_checkpoint(cp, impostor.verifier())
    assert not res.ok and "not signed by" in res.reason


@pytest.mark.parametrize("edit", ["size", "root", "origin", "extension"])
def test_edited_checkpoint_text_fails(signed, edit):
    ledger, _, cp, key = signed
    text, _ = parse_note(cp)
    lines = text.splitlines()
    if edit == "size":
        lines[1] = str(N - 1)
    elif edit == "root":
        lines[2] = ("B" if lines[2][0] == "A" else "A") + lines[2][1:]  # another valid 32-byte root
    elif edit == "origin":
        lines[0] = "other.example/log"
    else:
        lines.append("extra line")
    edited = "\n".join(lines) + "\n" + cp[len(text):]
    res = ledger.verify_checkpoint(edited, key)
    assert not res.ok and "does not verify" in res.reason


def test_origin_must_be_the_key_name(signed):
    ledger, signer, _, key = signed
    body = Checkpoint("other.example/log", N, bytes.fromhex(ledger.tree_head()["root"])).body()
    res = ledger.verify_checkpoint(sign_note(body, signer), key)
    assert not res.ok and "other.example/log" in res.reason


def test_nothing_is_signed_over_an_empty_or_broken_ledger(tmp_path):
    signer = SignerKey.generate("hospital.example/steu-ledger")
    with pytest.raises(LedgerError, match="empty"):
        Ledger(tmp_path / "empty.sqlite").checkpoint(signer)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    _fill(ledger, 3)
    con = sqlite3.connect(str(ledger.path), isolation_level=None)
    con.execute("DROP TRIGGER entries_no_update")
    con.execute("UPDATE entries SET payload = '{}' WHERE seq = 2")
    con.close()
    with pytest.raises(LedgerError, match="broken at entry 2"):
        ledger.checkpoint(signer)
    with pytest.raises(LedgerError, match="broken at entry 2"):
        ledger.inclusion_proof(1)


def test_inclusion_proofs_check_offline(signed):
    ledger, _, cp, key = signed
    entries = ledger.entries()
    for e in entries:
        proof = ledger.inclusion_proof(e["seq"])
        assert proof["leaf_index"] == e["seq"] - 1 and proof["entry_hash"] == e["entry_hash"]
        ok, why = verify_inclusion(e, json.loads(json.dumps(proof)), cp, key.text())
        assert ok and f"entry {e['seq']}" in why, why
        assert verify_inclusion(e["entry_hash"], proof, cp, key)[0]


def test_inclusion_proof_failures_are_reasons_not_exceptions(signed):
    ledger, _, cp, key = signed
    e = ledger.entries()[3]
    proof = ledger.inclusion_proof(4)
    changed = {**e, "payload": {**e["payload"], "rows": 0}, "entry_hash": None}
    cases = {
        "changed entry": (changed, proof, cp, key),
        "entry hash mismatch": ({**e, "payload": {"x": 1}}, proof, cp, key),
        "other entry": (ledger.entries()[4], proof, cp, key),
        "tampered path": (e, {**proof, "audit_path": [proof["audit_path"][0][::-1]] + proof["audit_path"][1:]}, cp, key),
        "garbage path": (e, {**proof, "audit_path": ["zz"]}, cp, key),
        "missing field": (e, {"leaf_index": 3}, cp, key),
        "other key": (e, proof, cp, SignerKey.generate(key.name).verifier()),
        "bad key": (e, proof, cp, "not a key"),
        "not a checkpoint": (e, proof, "hello\n", key),
    }
    for name, args in cases.items():
        ok, why = verify_inclusion(*args)
        assert not ok and why, name
    _fill(ledger, 2, tag="e")
    ok, why = verify_inclusion(e, ledger.inclusion_proof(4), cp, key)
    assert not ok and "tree_size=8" in why
    assert verify_inclusion(e, ledger.inclusion_proof(4, tree_size=N), cp, key)[0]


def test_consistency_between_checkpoints_of_a_rewritten_log_fails(signed):
    ledger, signer, cp, key = signed
    contents = _contents(ledger)
    contents[0][2] = canonical_json({"request_id": "forged"})
    _forge(ledger, contents + [["2030-01-01T00:00:00.000000Z", "run", "{}"]])
    later = ledger.checkpoint(signer)  # the API signs what it is given; the CLI refuses (test_ledger_cli)
    ok, why = verify_consistency_between(cp, later, ledger.consistency_proof(N), key)
    assert not ok and "does not extend" in why


@pytest.mark.parametrize("seq,size", [(0, None), (9, None), (1, 0), (1, 99)])
def test_proof_arguments_out_of_range(signed, seq, size):
    ledger = signed[0]
    with pytest.raises(LedgerError):
        ledger.inclusion_proof(seq, tree_size=size)
