"""Signed notes (C2SP) and the ledger's signing key on disk."""
from __future__ import annotations

import os
import stat

import pytest

from steu_core.ledger import LedgerError, SignerKey, VerifierKey, load_verifier, signer_for
from steu_core.ledger.keys import default_key_path, rotate_signer
from steu_core.ledger.note import key_id, open_note, parse_note, sign_note

# The known-answer example of Go's golang.org/x/mod/sumdb/note (the reference implementation of
# the signed-note format): the same key must give the same key ID, key texts and signed note.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
POSIX = os.name != "nt"


def test_go_reference_vector_byte_for_byte():
    signer = SignerKey.from_text(GO_SKEY)
    assert signer.text() == GO_SKEY
    assert signer.verifier().text() == GO_VKEY
    assert signer.verifier().key_id.hex() == "c74f20a3" == key_id("PeterNeumann", signer.verifier().public_raw).hex()
    assert sign_note(GO_TEXT, signer) == GO_NOTE
    assert open_note(GO_NOTE, VerifierKey.from_text(GO_VKEY)) == (GO_TEXT, "")


def test_edited_text_and_other_keys_are_rejected():
    key = VerifierKey.from_text(GO_VKEY)
    text, reason = open_note(GO_NOTE.replace("answer", "Answer"), key)
    assert text is None and "does not verify" in reason
    other = SignerKey.generate("PeterNeumann").verifier()  # same name, another key: a different key ID
    text, reason = open_note(GO_NOTE, other)
    assert text is None and "not signed by" in reason and "c74f20a3" in reason


def test_unknown_cosignatures_are_ignored():
    witness = SignerKey.generate("witness.example/w1")
    cosigned = GO_NOTE + sign_note(GO_TEXT, witness).splitlines(keepends=True)[-1]
    assert len(parse_note(cosigned)[1]) == 2
    assert open_note(cosigned, VerifierKey.from_text(GO_VKEY))[0] == GO_TEXT
    assert open_note(cosigned, witness.verifier())[0] == GO_TEXT


@pytest.mark.parametrize("note,match", [
    (GO_TEXT, "no blank line"),
    (GO_NOTE.rstrip("\n"), "newline"),
    (GO_TEXT + "\nsigned by me\n", "not a signature line"),
    (GO_TEXT + "\n\u2014 PeterNeumann not*base64\n", "base64"),
    (GO_TEXT.replace("\n", "\r\n", 1) + GO_NOTE[len(GO_TEXT):], "control character"),
])
def test_malformed_notes_raise(note, match):
    with pytest.raises(LedgerError, match=match):
        parse_note(note)


@pytest.mark.parametrize("text,match", [
    (GO_SKEY, "private"),
    ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
    ("PeterNeumann+c74f20a3", "not a ledger public key"),
    ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "space"),
    ("PeterNeumann+c74f20a3+AhpQ2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not an Ed25519 key"),
])
def test_bad_public_keys_are_refused(text, match):
    with pytest.raises(LedgerError, match=match):
        VerifierKey.from_text(text)


def test_private_key_repr_hides_the_seed():
    signer = SignerKey.from_text(GO_SKEY)
    assert "AYEKF" not in repr(signer) and signer.seed.hex() not in repr(signer)


def test_key_is_made_on_first_use_owner_only_and_reused():
    signer, created = signer_for()
    path = default_key_path()
    assert created and path.is_file()
    if POSIX:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created_again = signer_for()
    assert not created_again and again == signer
    assert "/" in signer.name and "+" not in signer.name


def test_a_given_key_path_must_exist(tmp_path):
    with pytest.raises(LedgerError, match="does not exist"):
        signer_for(tmp_path / "typo.key")
    made, created = signer_for(tmp_path / "k" / "new.key", create=True, name="hospital.example/steu")
    assert created and made.name == "hospital.example/steu"
    with pytest.raises(LedgerError, match="--name applies only"):
        signer_for(tmp_path / "k" / "new.key", name="other.example/x")


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_a_key_readable_by_others_is_refused():
    signer_for()
    default_key_path().chmod(0o644)
    with pytest.raises(LedgerError, match="chmod 600"):
        signer_for()


def test_a_damaged_key_file_is_refused():
    signer_for()
    path = default_key_path()
    text = path.read_text()
    path.write_text(text.replace("PRIVATE+KEY+", "PRIVATE+KEY+x", 1))
    with pytest.raises(LedgerError, match="does not match"):
        signer_for()
    path.write_text("hello\n")
    with pytest.raises(LedgerError, match="not a ledger signing key"):
        signer_for()


def test_rotation_keeps_the_name_and_the_old_public_key():
    old, _ = signer_for()
    new, retired_pub = rotate_signer()
    assert new.name == old.name and new.verifier().key_id != old.verifier().key_id
    assert load_verifier(retired_pub) == old.verifier()
    assert signer_for()[0] == new
    retired = default_key_path().with_name(f"ledger-signing.{old.verifier().key_id.hex()}.retired.key")
    assert retired.is_file()
    if POSIX:
        assert stat.S_IMODE(retired.stat().st_mode) == 0o600


def test_public_key_file_forms(tmp_path):
    f = tmp_path / "steu.pub"
    f.write_text(f"# the ledger key of the demo hospital\n{GO_VKEY}\n\n")
    assert load_verifier(f).text() == GO_VKEY
    f.write_text(f"{GO_VKEY}\n{GO_VKEY}\n")
    with pytest.raises(LedgerError, match="exactly one key line"):
        load_verifier(f)
    with pytest.raises(LedgerError, match="does not exist"):
        load_verifier(tmp_path / "missing.pub")


def test_the_example_in_the_deployment_guide_verifies():
    from pathlib import Path

    from steu_core.ledger.checkpoint import open_checkpoint

    doc = (Path(__file__).resolve().parent.parent / "docs" / "DEPLOYMENT.md").read_text(encoding="utf-8")
    start = doc.index("```\nrad-ws-07.hospital.example/steu-ledger\n") + len("```\n")
    note = doc[start:doc.index("```", start)]
    key_line = next(w.strip("`.") for w in doc.split() if w.startswith("`rad-ws-07.hospital.example/steu-ledger+"))
    cp, reason = open_checkpoint(note, VerifierKey.from_text(key_line))
    assert cp is not None and cp.size == 12, reason
