"""One report per deletion request (PDF, signed, with its proof file and packet; and HTML): the request's
facts, its state and what that answers, what is still owed and by when, the verdicts per attacker of its
containment and erasure, the erasure's absence proof, the model to serve, and every state with its time,
person and ledger entry; the inclusion proof of each of those entries is attached to the PDF
(``steu-evidence.json``) so that ``verify-report`` checks them offline."""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..ledger import Ledger
from .anchors import EVIDENCE_NAME, REQUEST_EVIDENCE_FORMAT, entries_evidence, sidecar_path, write_sidecar
from .document import GREY, TEAL, ReportDocument
from .signing import report_signer, sign_pdf
from ..model import file_sha256
from ..threat_models import THREAT_MODELS
from ..deletion import verify as erasure_check
from ..deletion.book import RequestStatus, find_request
from ..deletion.deploy import model_entries, serving, stale_model_warnings
from ..deletion.states import ERASED, MEANING
from ..deletion.summary import history_rows, state_label, threat_model_line, verdict_rows


def request_content(request_id: str, organisation: str | None = None) -> dict:
    """Everything the request's report prints (no note text: counts, hashes, names, times)."""
    status = find_request(request_id)
    f, serve = status.facts, serving(status)
    forget = f.get("forget_set") or {}
    return {"title": f"Deletion request {request_id}", "organisation": organisation or "",
            "request_id": request_id, "state": state_label(status.state), "answers": threat_model_line(status.state),
            "meaning": MEANING.get(status.state or "", ""), "owed": status.owed, "due": status.erasure_due(),
            "generated_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "facts": [("Requester", f.get("requester") or "-", False), ("Reason", f.get("reason") or "-", False),
                      ("Class", f.get("forget_class") or "-", False),
                      ("Forget notes", f"{forget.get('count', '?')} training notes, by SHA-256", False),
                      ("Their Merkle root", forget.get("merkle_root") or "-", True),
                      ("Original model", f.get("model_sha256") or "-", True)],
            "serve": serve, "warnings": stale_model_warnings(status, model_entries()),
            "verdicts": verdict_rows(status), "history": history_rows(status), "erasure": erasure_proof(status),
            "entry_hashes": [e.entry_hash for e in status.events], "tool_version": __version__}


def erasure_proof(status: RequestStatus) -> dict | None:
    """The erased model's manifest checked against the request's forget-note hashes, now (None: not erased)."""
    erased = status.latest(ERASED)
    if erased is None:
        return None
    d = erased.detail
    rows = [("Erasure", str(d.get("erasure")), False), ("Erased model", str(d.get("model_sha256")), True),
            ("Training manifest", str(d.get("manifest_sha256")), True),
            ("Manifest root", str(d.get("merkle_root")), True),
            ("Trained on", f"{d.get('trained')} notes; {d.get('removed')} forget notes of {len(d.get('batch') or [])} "
                           f"request(s) left out; settings from {d.get('settings_source')}", False)]
    try:
        check = erasure_check.check_request(status.request_id, d["erasure"])
        lines = [f"{s.upper()}: {w}: {t}" for s, w, t in check.lines]
    except Exception as exc:  # the erasure's folder is not on this machine: the ledger's record still stands
        lines = [f"NOT CHECKED: {type(exc).__name__}: {str(exc)[:200]}"]
    return {"rows": rows, "checks": lines}


class RequestDocument(ReportDocument):
    """The report document with the request's running header and footer."""

    def subject(self) -> str:
        return f"Deletion request {self.content['request_id']}"

    def headline_cell(self, w: float, h: float, size: float, align: str = "C") -> None:
        self.pdf.set_font(self.sans, "B", size)
        self.pdf.set_text_color(*TEAL)
        self.pdf.cell(w, h, self.printable(f"State: {self.content['state']}"), align=align)
        self.pdf.set_text_color(0, 0, 0)

    def draw_header(self) -> None:
        pdf = self.pdf
        if pdf.page_no() == 1:
            return
        pdf.set_font(self.sans, "", 8)
        pdf.set_text_color(*GREY)
        pdf.cell(pdf.epw * 0.5, 6, self.printable(f"STEU Audit deletion request {self.content['request_id']}"))
        self.headline_cell(pdf.epw * 0.5, 6, 8, align="R")
        pdf.ln(8)

    def draw_footer(self) -> None:
        pdf = self.pdf
        pdf.set_y(-14)
        pdf.set_font(self.sans, "", 8)
        pdf.set_text_color(*GREY)
        pdf.cell(pdf.epw, 6, f"Page {pdf.page_no()} of {{nb}}", align="R")
        pdf.set_text_color(0, 0, 0)


def write_sections(doc: RequestDocument, c: dict, evidence: dict) -> None:
    pdf = doc.pdf
    pdf.add_page()
    if c["organisation"]:
        doc.para(c["organisation"], size=13, style="B", color=GREY)
    doc.h1(c["title"], keep=20)
    doc.headline_cell(0, 8, 14, align="L")
    pdf.ln(9)
    doc.para(f"{c['meaning']} {c['answers'].capitalize() + '.' if c['answers'] else ''}")
    doc.para(f"Still owed: {c['owed']}" + (f" (due by {c['due']})" if c.get("due") else ""), style="B")
    doc.kv(c["facts"] + [("Report generated", c["generated_utc"], False)], key_w=45)
    serve = c["serve"]
    doc.h2("The model to serve")
    doc.para(f"The {serve['serve']} model, SHA-256 {serve['sha256'] or '?'} ({serve['why']})."
             + (f" Never the original ({serve['retire']}) again." if serve.get("retire") else ""))
    for w in c["warnings"]:
        doc.para(f"Warning: {w}", style="B", color=(178, 34, 34))
    verdict_section(doc, c)
    if c["erasure"]:
        doc.h2("Erasure: the notes are absent from the model's training")
        doc.kv(c["erasure"]["rows"], key_w=45)
        for line in c["erasure"]["checks"]:
            doc.para(line, size=9.5)
    history_section(doc, c, evidence)


def verdict_section(doc: RequestDocument, c: dict) -> None:
    if not c["verdicts"]:
        doc.note("No containment or erasure run yet: no verdict.")
        return
    heads = ["Step", "Run", *[THREAT_MODELS[t].capitalize() for t in THREAT_MODELS]]
    doc.grid(heads, [[str(r.get(h, "")) for h in heads] for r in c["verdicts"]], [28, 52, 45, 45],
             title="Verdicts per attacker (from each run's audits)")


def history_section(doc: RequestDocument, c: dict, evidence: dict) -> None:
    proofs = {e["entry"]["entry_hash"]: e["inclusion_proof"] for e in evidence.get("entries") or []}
    rows = [[h["When (UTC)"], h["State"], h["By"], h["Ledger entry"], proof_text(proofs, c["entry_hashes"][i])]
            for i, h in enumerate(c["history"])]
    doc.grid(["When (UTC)", "State", "By", "Ledger entry", "Inclusion proof"], rows, [34, 30, 28, 36, 42],
             title="History: every state, its time, person and ledger entry")
    cp = evidence.get("checkpoint_summary") or {}
    doc.note(f"Each entry's inclusion proof is against the checkpoint signed when this report was made (size "
             f"{cp.get('tree_size', '?')}, root {cp.get('root_hash', '?')}); the proofs and the checkpoint are "
             f"attached to this PDF as {EVIDENCE_NAME}. Check them with: python -m steu_core verify-report <this "
             "PDF or its packet> --public-key <the ledger's public key>." if not evidence.get("error") else
             f"No inclusion proofs: {evidence['error']}")


def proof_text(proofs: dict, entry_hash: str) -> str:
    p = proofs.get(entry_hash)
    return f"entry #{p['seq']}, leaf {p['leaf_index']} of {p['tree_size']}" if p else "not proven"


def build_request_report(request_id: str, out_pdf: str | Path, organisation: str | None = None,
                         content: dict | None = None) -> Path:
    """The signed PDF of the request, recorded in the ledger, with its proof file beside it; ``content``: the
    request's :func:`request_content`, when the caller has it already (the HTML is made of the same)."""
    out_pdf = Path(out_pdf)
    c = content or request_content(request_id, organisation)
    ledger = Ledger()
    by_hash = {e["entry_hash"]: e for e in ledger.entries()}
    evidence = entries_evidence([by_hash[h] for h in c["entry_hashes"]], ledger)
    signer = report_signer()
    doc = RequestDocument(c)
    write_sections(doc, c, evidence)
    attached = {"format": REQUEST_EVIDENCE_FORMAT, "request_id": request_id, "request_entries": evidence,
                "signature": signer.as_dict()}
    doc.pdf.embed_file(bytes=json.dumps(attached, indent=1).encode("utf-8"), basename=EVIDENCE_NAME,
                       desc="STEU Audit: the inclusion proof of every state of this deletion request (JSON)")
    signed = sign_pdf(bytes(doc.pdf.output()), signer, reason=f"STEU Audit report of deletion request {request_id}")
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    out_pdf.write_bytes(signed)
    entry = ledger.append("report", {"request_id": request_id, "pdf_sha256": file_sha256(out_pdf),
                                     "pdf_bytes": out_pdf.stat().st_size, "file_name": out_pdf.name,
                                     "request_entry_hashes": c["entry_hashes"], "tool_version": __version__})
    write_sidecar(sidecar_path(out_pdf), entry, None)
    return out_pdf


def request_html(c: dict) -> str:
    """The same report as one self-contained HTML page (no script, no outside resource)."""
    e = lambda x: html.escape(str(x if x is not None else ""))  # noqa: E731
    table = lambda rows: ("<table>" + "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in r) + "</tr>" for r in rows)
                          + "</table>")
    heads = lambda rows: [list(rows[0])] + [list(r.values()) for r in rows] if rows else []  # noqa: E731
    parts = [f"<h1>{e(c['title'])}: {e(c['state'])}</h1>", f"<p>{e(c['meaning'])} {e(c['answers'])}</p>",
             f"<p><b>Still owed:</b> {e(c['owed'])}{' (due by ' + e(c['due']) + ')' if c.get('due') else ''}</p>",
             table([(k, v) for k, v, _ in c["facts"]]),
             f"<h2>The model to serve</h2><p>{e(c['serve']['serve'])} model {e(c['serve']['sha256'])} "
             f"({e(c['serve']['why'])})</p>", *[f"<p class=warn>{e(w)}</p>" for w in c["warnings"]],
             "<h2>Verdicts per attacker</h2>", table(heads(c["verdicts"])),
             *(["<h2>Erasure</h2>", table([(k, v) for k, v, _ in c["erasure"]["rows"]]),
                *[f"<p>{e(x)}</p>" for x in c["erasure"]["checks"]]] if c["erasure"] else []),
             "<h2>History</h2>", table(heads(c["history"]))]
    style = ("body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1100px;margin:24px auto;color:#202124}"
             "h1,h2{color:#0f7c8c}td{border-bottom:1px solid #d0d5d8;padding:4px 8px;vertical-align:top}"
             "table{border-collapse:collapse;margin:8px 0}.warn{color:#b22222;font-weight:bold}")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(c['title'])}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}<footer>STEU Audit {e(c['tool_version'])}, "
            f"generated {e(c['generated_utc'])}</footer></body></html>\n")
