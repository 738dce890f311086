"""Ledger proofs that travel with a report, so it can be checked offline against a signed checkpoint.

A PDF cannot hold the proof for its own hash (embedding it would change the hash), so the evidence
comes in two parts, made in this order:

1. before the PDF is written: a checkpoint is signed over the ledger as it stands (it covers the
   run's entry, which exists already) and the run entry's inclusion proof is computed at that
   checkpoint's size. Both are embedded in the PDF (an attached file, ``steu-evidence.json``) and
   printed on its ledger page. They prove *which run* the report is about.
2. after the final, signed PDF bytes are recorded as a "report" entry: a second checkpoint, covering
   that entry, and the report entry's inclusion proof go into the sidecar ``<report>.proof.json``.
   They prove *this file* (its SHA-256) was recorded in the signed log.

The public key is written along for convenience only: a verifier must use a key it holds itself.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..ledger import Ledger, LedgerError, signer_for
from ..ledger.checkpoint import open_checkpoint
from ..ledger.signed_state import sign_checkpoint

EVIDENCE_FORMAT = "steu-report-evidence/1"
REQUEST_EVIDENCE_FORMAT = "steu-request-report-evidence/1"  # a deletion request's report (steu_core.deletion.report)
EVIDENCE_NAME = "steu-evidence.json"
ENTRY_FIELDS = ("seq", "ts_utc", "kind", "payload", "prev_hash", "entry_hash")


def entry_evidence(entry: dict, ledger: Ledger | None = None) -> dict:
    """A checkpoint signed now (with the data directory's key) and ``entry``'s inclusion proof at its size.

    Never raises: a broken chain or an unusable key gives ``{"error": why}``, because the report must
    still say what it could not prove rather than not come out.
    """
    ledger = ledger or Ledger()
    try:
        signer = signer_for(None)[0]
        text = sign_checkpoint(ledger, signer)
        cp, _ = open_checkpoint(text, signer.verifier())
        proof = ledger.inclusion_proof(entry["seq"], tree_size=cp.size)
    except LedgerError as exc:
        return {"format": EVIDENCE_FORMAT, "error": exc.message}
    return {"format": EVIDENCE_FORMAT, "entry": {k: entry[k] for k in ENTRY_FIELDS}, "inclusion_proof": proof,
            "checkpoint": text, "checkpoint_summary": cp.as_dict(),
            "public_key": signer.verifier().text(), "key_id": signer.verifier().key_id.hex()}


def entries_evidence(entries: list[dict], ledger: Ledger | None = None) -> dict:
    """One checkpoint signed now and the inclusion proof of each of ``entries`` at its size (a request report
    proves every state of its request). Never raises; ``{"error": why}`` when no proof can be made."""
    ledger = ledger or Ledger()
    try:
        signer = signer_for(None)[0]
        text = sign_checkpoint(ledger, signer)
        cp, _ = open_checkpoint(text, signer.verifier())
        proofs = [ledger.inclusion_proof(e["seq"], tree_size=cp.size) for e in entries]
    except LedgerError as exc:
        return {"format": EVIDENCE_FORMAT, "error": exc.message}
    return {"format": EVIDENCE_FORMAT, "checkpoint": text, "checkpoint_summary": cp.as_dict(),
            "entries": [{"entry": {k: e[k] for k in ENTRY_FIELDS}, "inclusion_proof": p} for e, p in zip(entries, proofs)],
            "public_key": signer.verifier().text(), "key_id": signer.verifier().key_id.hex()}


def run_evidence(content: dict) -> dict | None:
    """The run entry's evidence for the PDF, or None when the run is not in the ledger."""
    lg = content.get("ledger") or {}
    if not lg.get("recorded"):
        return None
    ledger = Ledger()
    entry = ledger.find_hash(lg["entry_hash"])
    if entry is None:  # the ledger changed under us since the content was read
        return {"format": EVIDENCE_FORMAT, "error": "the run's entry is no longer in the ledger"}
    return entry_evidence(entry, ledger)


def sidecar_path(pdf: str | Path) -> Path:
    """``report.pdf`` -> ``report.proof.json`` (``report-v2.pdf`` -> ``report-v2.proof.json``)."""
    return Path(pdf).with_suffix(".proof.json")


def write_sidecar(path: Path, report_entry: dict, run_entry_hash: str | None) -> Path:
    """Write the report entry's evidence next to the PDF (atomically: a half-written proof misleads)."""
    data = entry_evidence(report_entry)
    data.update({"pdf_file": report_entry["payload"].get("file_name"),
                 "pdf_sha256": report_entry["payload"].get("pdf_sha256"), "run_entry_hash": run_entry_hash})
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def proof_rows(ev: dict | None) -> list[tuple[str, str, bool]]:
    """The embedded evidence as key / value rows for the ledger page (third item: a hash, in monospace)."""
    if not ev:
        return [("Inclusion proof", "none: the run is not recorded in the ledger", False)]
    if ev.get("error"):
        return [("Inclusion proof", f"not made: {ev['error']}", False)]
    proof, cp = ev["inclusion_proof"], ev["checkpoint_summary"]
    return [("Proven entry", f"#{proof['seq']} (leaf {proof['leaf_index']} of {proof['tree_size']})", False),
            ("Checkpoint log", cp["origin"], False),
            ("Checkpoint size", str(cp["tree_size"]), False),
            ("Checkpoint root", cp["root_hash"], True),
            ("Signing key", ev["public_key"], False),
            ("Audit path", "\n".join(proof["audit_path"]) or "(empty: the only entry)", False)]
