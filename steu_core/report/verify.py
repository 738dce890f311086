"""Checking a report offline, as a regulator does: the PDF's hash, its ledger proofs, the checkpoint
signatures and the PDF's own digital signature. Used by ``python -m steu_core verify-report``.

The input is the packet (.zip) or the PDF; the proof file and the public key are found with it
(:mod:`.received`). A failed check is a result (``ok`` False, with what failed and what to ask the
sender for); unusable input (no such file, not a PDF, a damaged packet, an unreadable key) is a
:class:`~steu_core.errors.ConfigError`. Only light modules are imported: no torch, no numpy.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..ledger import Ledger, LedgerError, VerifierKey, load_verifier, verify_inclusion
from ..ledger.figures import LEDGER_FIGURES
from ..ledger.keys import local_verifier, parse_verifier
from .anchors import EVIDENCE_NAME, REQUEST_EVIDENCE_FORMAT
from .packet import ASK_PACKET, KEY_FILE
from .received import Received, proof_pdf_sha256, receive
from .signing import check_pdf_signature, self_signed_path

# What each check asks, in plain words (the CLI prints it beside the check's name, PASS or FAIL)
CHECK_WORDS = {
    "proof file": "did a proof file for this PDF come with it?",
    "PDF hash": "is the PDF byte for byte the file the sender recorded in their log?",
    "report entry in the signed log": "does the sender's signed log hold that record of this PDF?",
    "run entry in the signed log": "does the sender's signed log hold the run this report describes?",
    "figures as pinned": "are the figures printed in the report the ones the log recorded for that run?",
    "report names its run": "does the log's record of this PDF name that same run?",
    "PDF signature": "is the PDF's digital signature intact, and does it cover the whole file?",
    "ledger holds the PDF": "does your copy of the sender's log record this PDF?",
    "request states in the signed log": "does the sender's signed log hold every state of the request this report "
                                        "shows?",
    "report names the request states": "does the log's record of this PDF name those same states?",
    "ledger extends the checkpoint": "is your copy of the log the signed one, grown since but unchanged?"}
ASK_PROOF = (f"the report's proof file (a .proof.json file made with the PDF; it shows their signed log recorded "
             f"exactly this PDF), or {ASK_PACKET}")
ASK_KEY = (f"the public key of their ledger ({KEY_FILE}, printed by `python -m steu_core ledger key`), best sent "
           "apart from the report (by letter, e-mail or their website) so that you know it is theirs")
ASK_ORIGINAL = ("the PDF exactly as STEU Audit wrote it: this file is not that one (it was changed, re-saved or "
                "printed to PDF), or the proof file belongs to another report")
ASK_CERT = "the certificate they sign reports with (a PEM file), to pass as --trust-cert"
ASK_NEW_REPORT = "a report made again with the current STEU Audit (this PDF does not carry the proof of its run)"


@dataclass
class ReportCheck:
    """Every check made on one report: ``(name, ok, detail)``; ``ok`` when all of them passed. ``sources``:
    where the PDF, proof file and key came from; ``asks``: what to ask the sender for (set when a check failed
    for want of something)."""

    pdf: str
    sha256: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    asks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)

    def add(self, name: str, ok: bool, detail: str, ask: str | None = None) -> None:
        self.checks.append((name, ok, detail))
        if not ok and ask and ask not in self.asks:
            self.asks.append(ask)


def verify_report(pdf: str | Path, public_key: str | Path | None = None, ledger_path: str | Path | None = None,
                  proof: str | Path | None = None, trust_cert: str | Path | None = None) -> ReportCheck:
    """Check the report ``pdf`` (a PDF or a packet .zip): see the module docstring. ``public_key``: the ledger's
    public key file (default: the one in the packet or beside the PDF, else this machine's); ``proof``: the
    proof file (default: found by the PDF's hash, see :mod:`.received`); ``trust_cert``: a PEM certificate to
    trust for the PDF signature (default: the local self-signed one if there is one)."""
    got = receive(pdf, proof)
    res = ReportCheck(got.pdf_name, got.sha256)
    res.sources.append(("report", f"{got.pdf_name} ({got.where})"))
    if got.proof is not None:
        res.sources.append(("proof file", f"{got.proof_name} ({got.where})" if proof is None else got.proof_name))
    key = _verifier(public_key, got, res)
    if got.proof is None:
        res.add("proof file", False, f"no proof file {got.where} records this PDF's SHA-256 (looked at {got.looked} "
                                     ".proof.json file(s)), so whether the sender recorded this PDF is unknown",
                ASK_PROOF)
    else:
        _check_sidecar(got.proof, res, key)
    _check_embedded(got.pdf, got.proof, res, key)
    _check_signature(got.pdf, res, trust_cert)
    if ledger_path is not None:
        _check_ledger(Path(ledger_path), got.proof, res, key)
    return res


def _verifier(public_key, got: Received, res: ReportCheck) -> VerifierKey | None:
    """The key the checkpoints are checked with: the one given, else the one that came with the report,
    else this machine's ledger key; None (and what to ask for) when there is none."""
    if public_key is not None:
        key = load_verifier(public_key)
        res.sources.append(("public key", f"{public_key} (given), key ID {key.key_id.hex()}"))
        if got.key_text and _parse(got.key_text, got.key_name) not in (None, key):
            res.notes.append(f"the public key that came with the report ({got.key_name}) is not the one given; "
                             "the checks used the one given")
        return key
    if got.key_text:
        key = _parse(got.key_text, got.key_name)
        if key is not None:
            res.sources.append(("public key", f"{got.key_name}, key ID {key.key_id.hex()}"))
            res.notes.append(f"the public key came with the report itself: the checks show the report is complete "
                             f"and unchanged since it was recorded, not who recorded it. Compare key ID "
                             f"{key.key_id.hex()} with the one the sender gave you by another route, or run again "
                             "with --public-key FILE")
            return key
    try:
        key = local_verifier()
    except LedgerError:
        res.asks.append(ASK_KEY)
        return None
    res.sources.append(("public key", f"this machine's own ledger key, key ID {key.key_id.hex()}"))
    res.notes.append("no public key came with the report or was given: the checks used this machine's own ledger key, "
                     "which proves nothing to an outsider; a regulator passes --public-key with the key they were given")
    return key


def _parse(text: str, name: str | None) -> VerifierKey | None:
    try:
        return parse_verifier(text, f"the public key file {name}")
    except LedgerError:
        return None


def _inclusion(entry: dict, proof: dict, checkpoint: str, key: VerifierKey | None) -> tuple[bool, str]:
    if key is None:
        return False, "not checked: no public key of the sender's ledger was given or came with the report"
    return verify_inclusion(entry, proof, checkpoint, key)


def _check_sidecar(sc: dict, res: ReportCheck, key: VerifierKey | None) -> None:
    """The PDF's hash is the recorded one, and the report entry is in the signed log."""
    entry = sc.get("entry") if isinstance(sc.get("entry"), dict) else {}
    recorded = proof_pdf_sha256(sc)
    if sc.get("error") or not entry:
        res.add("report entry in the signed log", False,
                f"the proof file holds no proof ({sc.get('error') or 'no entry'})", ASK_PROOF)
        return
    res.add("PDF hash", recorded == res.sha256,
            f"SHA-256 {res.sha256} is the one recorded in ledger entry #{entry.get('seq')}" if recorded == res.sha256
            else f"the PDF's SHA-256 {res.sha256[:16]}... differs from the recorded {str(recorded)[:16]}...: the file "
                 "was changed after it was recorded, or the proof is for another file", ASK_ORIGINAL)
    ok, why = _inclusion(entry, sc.get("inclusion_proof") or {}, str(sc.get("checkpoint", "")), key)
    res.add("report entry in the signed log", ok, why)


def _check_embedded(data: bytes, sc: dict | None, res: ReportCheck, key: VerifierKey | None) -> None:
    """The run entry's proof attached to the PDF, and that the report entry names that run entry."""
    ev = embedded_evidence(data)
    if (ev or {}).get("format") == REQUEST_EVIDENCE_FORMAT:
        _check_request_states(ev, sc, res, key)
        return
    run_ev = (ev or {}).get("run_entry")
    if not isinstance(run_ev, dict) or run_ev.get("error"):
        why = "no evidence is attached" if ev is None else (run_ev or {}).get("error", "the run was not recorded")
        res.add("run entry in the signed log", False, f"the PDF carries no proof of its run ({why})", ASK_NEW_REPORT)
        return
    ok, why = _inclusion(run_ev.get("entry") or {}, run_ev.get("inclusion_proof") or {},
                         str(run_ev.get("checkpoint", "")), key)
    res.add("run entry in the signed log", ok, why)
    _check_figures(ev.get("figures"), run_ev.get("entry") or {}, res)
    if sc and isinstance(sc.get("entry"), dict):
        named = (sc["entry"].get("payload") or {}).get("run_entry_hash")
        same = named == (run_ev.get("entry") or {}).get("entry_hash")
        res.add("report names its run", same, "the report entry names the run entry proven inside the PDF" if same
                else "the report entry names another run entry than the one proven inside the PDF")


def _check_request_states(ev: dict, sc: dict | None, res: ReportCheck, key: VerifierKey | None) -> None:
    """A deletion request's report: every state it prints is an entry of the signed log, and the log's record of
    the PDF names exactly those entries."""
    states = ev.get("request_entries") or {}
    if states.get("error") or not states.get("entries"):
        res.add("request states in the signed log", False, f"the PDF carries no proof of the request's states "
                                                            f"({states.get('error') or 'none'})", ASK_NEW_REPORT)
        return
    results = [_inclusion(e.get("entry") or {}, e.get("inclusion_proof") or {}, str(states.get("checkpoint", "")), key)
               for e in states["entries"]]
    bad = [why for ok, why in results if not ok]
    res.add("request states in the signed log", not bad, f"all {len(results)} state entries of request "
            f"{ev.get('request_id')} are in the signed log" if not bad else f"{len(bad)} of {len(results)}: {bad[0]}")
    if sc and isinstance(sc.get("entry"), dict):
        named = (sc["entry"].get("payload") or {}).get("request_entry_hashes")
        same = named == [(e.get("entry") or {}).get("entry_hash") for e in states["entries"]]
        res.add("report names the request states", same, "the log's record of this PDF names the states proven "
                "inside it" if same else "the log's record of this PDF names other state entries")


def _check_figures(figures, entry: dict, res: ReportCheck) -> None:
    """The figures the report prints are the ones the proven run entry pinned, from a results.json whose
    hash that entry pinned (``report`` refuses any other)."""
    payload = entry.get("payload") if isinstance(entry.get("payload"), dict) else {}
    if not isinstance(figures, dict):
        res.add("figures as pinned", False, "the PDF carries no figures to compare with its run entry (it was made "
                                            "by an earlier version, which did not check them before signing)",
                ASK_NEW_REPORT)
        return
    if "results" not in (payload.get("hashes") or {}):
        res.add("figures as pinned", False, "the run entry pins no results.json hash, so the report's figures are "
                                            "not the ledger's")
        return
    differ = [k for k in LEDGER_FIGURES if figures.get(k) != payload.get(k)]
    res.add("figures as pinned", not differ,
            f"the report's figures differ from the ones its run entry pinned: {', '.join(differ)}" if differ else
            "the report's figures (F1 before and after, parameters changed, parameter-diff verdict) are the ones "
            "its run entry pinned, with results.json's hash")


def embedded_evidence(data: bytes) -> dict | None:
    """The JSON attached to the PDF as ``steu-evidence.json``, or None."""
    from pyhanko.pdf_utils.reader import PdfFileReader  # only reading attachments needs pyHanko

    try:
        root = PdfFileReader(io.BytesIO(data), strict=False).root
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
        for i in range(0, len(names) - 1, 2):
            if str(names[i]) == EVIDENCE_NAME:
                return json.loads(names[i + 1]["/EF"]["/F"].data.decode("utf-8"))
    except Exception:  # a damaged or foreign PDF simply has no evidence we can read
        return None
    return None


def _check_signature(data: bytes, res: ReportCheck, trust_cert) -> None:
    if trust_cert is not None:
        pem = Path(trust_cert).expanduser().read_bytes()
        how = f"trusted the certificate given ({trust_cert})"
    elif self_signed_path().is_file():
        pem = self_signed_path().read_bytes()
        how = f"trusted this machine's self-signed report certificate explicitly ({self_signed_path()})"
    else:
        pem, how = None, ""
    sig = check_pdf_signature(data, pem)
    res.add("PDF signature", sig.ok, sig.reason, ASK_CERT if sig.untrusted else ASK_ORIGINAL)
    res.notes.append(how or sig.trust)


def _check_ledger(path: Path, sc: dict | None, res: ReportCheck, key: VerifierKey | None) -> None:
    """With a copy of the ledger: it still holds the report entry and extends the proof's checkpoint."""
    if not path.is_file():
        raise ConfigError(f"the ledger '{path}' does not exist.", hint="Give a copy of ledger.sqlite.")
    ledger = Ledger(path)
    hits = [e for e in ledger.find("report") if e["payload"].get("pdf_sha256") == res.sha256]
    res.add("ledger holds the PDF", bool(hits), f"ledger entry #{hits[-1]['seq']} records this PDF's SHA-256" if hits
            else "no report entry in this ledger records this PDF's SHA-256")
    if sc and sc.get("checkpoint") and key is not None:
        cp = ledger.verify_checkpoint(str(sc["checkpoint"]), key)
        res.add("ledger extends the checkpoint", cp.ok, cp.reason)
