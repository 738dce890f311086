"""Checking a report PDF offline: its hash, its ledger proofs, the checkpoint signatures and its PAdES
signature. Used by ``python -m steu_core verify-report``.

A failed check is a result (``ok`` False, with what failed); unusable input (no such file, not a PDF,
an unreadable sidecar or key) is a :class:`~steu_core.errors.ConfigError`.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..ledger import Ledger, VerifierKey, load_verifier, verify_inclusion
from ..ledger.keys import local_verifier
from ..runs.record import LEDGER_FIGURES
from .anchors import EVIDENCE_NAME, sidecar_path
from .signing import check_pdf_signature, self_signed_path

MAX_PDF_BYTES = 512 * 1024 * 1024


@dataclass
class ReportCheck:
    """Every check made on one report: ``(name, ok, detail)``; ``ok`` when all of them passed."""

    pdf: str
    sha256: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, ok, detail))


def read_pdf(path: str | Path) -> bytes:
    """The bytes of a PDF file, or a ConfigError saying why it is not usable."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"'{path}' does not exist or is not a file.", hint="Give the report PDF you received.")
    if path.stat().st_size > MAX_PDF_BYTES:
        raise ConfigError(f"'{path}' is too large to be a STEU Audit report.")
    data = path.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise ConfigError(f"'{path}' is not a PDF file.", hint="Give the report PDF you received.")
    return data


def verify_report(pdf: str | Path, public_key: str | Path | None = None, ledger_path: str | Path | None = None,
                  proof: str | Path | None = None, trust_cert: str | Path | None = None) -> ReportCheck:
    """Check the report ``pdf``: see the module docstring. ``public_key``: the ledger's public key file
    (default: the local key, which proves nothing to an outsider); ``proof``: the sidecar (default:
    ``<report>.proof.json`` next to it); ``trust_cert``: a PEM certificate to trust for the PDF signature
    (default: the local self-signed one if there is one)."""
    data = read_pdf(pdf)
    res = ReportCheck(str(pdf), hashlib.sha256(data).hexdigest())
    key = _verifier(public_key, res)
    sidecar = _read_sidecar(Path(proof) if proof else sidecar_path(pdf))
    if sidecar is None:
        res.add("sidecar", False, f"no proof file '{Path(proof) if proof else sidecar_path(pdf)}': the report "
                                  "entry's inclusion proof is missing (ask for the .proof.json sent with the PDF)")
    else:
        _check_sidecar(sidecar, res, key)
    _check_embedded(data, sidecar, res, key)
    _check_signature(data, res, trust_cert)
    if ledger_path is not None:
        _check_ledger(Path(ledger_path), sidecar, res, key)
    return res


def _verifier(public_key, res: ReportCheck) -> VerifierKey:
    if public_key is not None:
        return load_verifier(public_key)
    res.notes.append("no --public-key given: the checkpoints were checked with this machine's own ledger key, which "
                     "proves nothing to an outsider; a regulator should pass the public key they were given")
    return local_verifier()


def _read_sidecar(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"the proof file '{path}' cannot be read ({type(exc).__name__}).",
                          hint="Give the .proof.json delivered with the report.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"the proof file '{path}' does not hold a proof object.")
    return data


def _check_sidecar(sc: dict, res: ReportCheck, key: VerifierKey) -> None:
    """The PDF's hash is the recorded one, and the report entry is in the signed log."""
    entry = sc.get("entry") if isinstance(sc.get("entry"), dict) else {}
    recorded = (entry.get("payload") or {}).get("pdf_sha256") if isinstance(entry.get("payload"), dict) else None
    if sc.get("error") or not entry:
        res.add("report entry", False, f"the proof file holds no proof ({sc.get('error') or 'no entry'})")
        return
    res.add("PDF hash", recorded == res.sha256,
            f"SHA-256 {res.sha256} is the one recorded in ledger entry #{entry.get('seq')}" if recorded == res.sha256
            else f"the PDF's SHA-256 {res.sha256[:16]}... differs from the recorded {str(recorded)[:16]}...: the file "
                 "was changed after it was recorded, or the proof is for another file")
    ok, why = verify_inclusion(entry, sc.get("inclusion_proof") or {}, str(sc.get("checkpoint", "")), key)
    res.add("report entry in the signed log", ok, why)


def _check_embedded(data: bytes, sc: dict | None, res: ReportCheck, key: VerifierKey) -> None:
    """The run entry's proof attached to the PDF, and that the report entry names that run entry."""
    ev = embedded_evidence(data)
    run_ev = (ev or {}).get("run_entry")
    if not isinstance(run_ev, dict) or run_ev.get("error"):
        why = "no evidence is attached" if ev is None else (run_ev or {}).get("error", "the run was not recorded")
        res.add("run entry in the signed log", False, f"the PDF carries no run-entry proof ({why})")
        return
    ok, why = verify_inclusion(run_ev.get("entry") or {}, run_ev.get("inclusion_proof") or {},
                               str(run_ev.get("checkpoint", "")), key)
    res.add("run entry in the signed log", ok, why)
    _check_figures(ev.get("figures"), run_ev.get("entry") or {}, res)
    if sc and isinstance(sc.get("entry"), dict):
        named = (sc["entry"].get("payload") or {}).get("run_entry_hash")
        same = named == (run_ev.get("entry") or {}).get("entry_hash")
        res.add("report names its run", same, "the report entry names the run entry proven inside the PDF" if same
                else "the report entry names another run entry than the one proven inside the PDF")


def _check_figures(figures, entry: dict, res: ReportCheck) -> None:
    """The figures the report prints are the ones the proven run entry pinned, from a results.json whose
    hash that entry pinned (``report`` refuses any other)."""
    payload = entry.get("payload") if isinstance(entry.get("payload"), dict) else {}
    if not isinstance(figures, dict):
        res.add("figures as pinned", False, "the PDF carries no figures to compare with its run entry (it was made "
                                            "by an earlier version, which did not check them before signing)")
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
    res.add("PDF signature", sig.ok, sig.reason)
    res.notes.append(how or sig.trust)


def _check_ledger(path: Path, sc: dict | None, res: ReportCheck, key: VerifierKey) -> None:
    """With a copy of the ledger: it still holds the report entry and extends the proof's checkpoint."""
    if not path.is_file():
        raise ConfigError(f"the ledger '{path}' does not exist.", hint="Give a copy of ledger.sqlite.")
    ledger = Ledger(path)
    hits = [e for e in ledger.find("report") if e["payload"].get("pdf_sha256") == res.sha256]
    res.add("ledger holds the PDF", bool(hits), f"ledger entry #{hits[-1]['seq']} records this PDF's SHA-256" if hits
            else "no report entry in this ledger records this PDF's SHA-256")
    if sc and sc.get("checkpoint"):
        cp = ledger.verify_checkpoint(str(sc["checkpoint"]), key)
        res.add("ledger extends the checkpoint", cp.ok, cp.reason)
