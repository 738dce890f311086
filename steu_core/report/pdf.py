"""Writing the report PDF of a finished run: charts rendered to PNG, every section written, the ledger
evidence attached, the file signed (PAdES) and given its name, then the signed bytes' SHA-256 recorded in
the ledger and proven in a sidecar (see :mod:`.anchors` for why the proof comes in two parts)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from struct import unpack

from .. import __version__, charts
from ..errors import ConfigError
from ..ledger import Ledger
from ..ledger.figures import LEDGER_FIGURES
from ..model import file_sha256
from ..outputs import check_output_file
from .anchors import EVIDENCE_FORMAT, EVIDENCE_NAME, run_evidence, sidecar_path, write_sidecar
from .content import build_json, chart_specs, report_content
from .document import ReportDocument
from .evidence import check_pinned_evidence
from .sections import write_pdf
from .signing import report_signer, sign_pdf
from .versions import target_path


def build_report(run_dir: str | Path, out_pdf: str | Path, organisation: str | None = None,
                 json_out: str | Path | None = None, record_ledger: bool = True, if_exists: str = "version",
                 reveal_tokens: bool = False) -> Path:
    """Write the signed PDF report of the finished run in ``run_dir`` (and the JSON, if asked); returns its path.

    ``if_exists``: when ``out_pdf`` exists, "version" writes the next free name (``report-v2.pdf`` ...),
    "refuse" raises a ConfigError, "overwrite" replaces it (and says so in the ledger entry).
    The PDF embeds the run entry's inclusion proof against a checkpoint signed now, and is signed
    (PAdES). With ``record_ledger`` (the default) the SHA-256 of the final signed bytes is appended to
    the ledger (kind "report") once the file has its name (never for a PDF that is not there), and
    ``<name>.proof.json`` holds that entry's inclusion proof against a checkpoint covering it; if
    recording fails, the PDF is removed again (a file it overwrote is restored).
    ``reveal_tokens`` prints identifier-like tokens in clear (steu_core.phi): a report for local use.
    """
    out_pdf = target_path(Path(out_pdf), if_exists)
    if json_out:
        check_output_file(json_out, "--json", overwrite=if_exists == "overwrite")
    content = report_content(run_dir, organisation, reveal_tokens=reveal_tokens)
    check_pinned_evidence(run_dir, content["_results"])  # nothing is signed that the ledger did not pin
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    signer = report_signer()  # first: the report states who signs it, and a bad certificate stops here
    content["signature"] = signer.as_dict()
    evidence = run_evidence(content) if record_ledger else None
    content["ledger"]["proof"] = evidence
    workdir = Path(tempfile.mkdtemp(prefix="steu-report-"))
    try:
        images = _render_charts(content, workdir)
        doc = ReportDocument(content)
        write_pdf(doc, content, images, _image_sizes(content, images))
        _attach_evidence(doc, content)
        signed = sign_pdf(bytes(doc.pdf.output()), signer, reason=f"STEU Audit report of run {content['run']['run_id']}")
        _save(signed, content, out_pdf, record_ledger, replace=if_exists == "overwrite")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if json_out:
        build_json(run_dir, json_out, organisation, content=content, overwrite=if_exists == "overwrite")
    return out_pdf


def _attach_evidence(doc: ReportDocument, content: dict) -> None:
    """The machine-readable evidence as a file attached to the PDF (what verify-report reads)."""
    r = content["_results"]
    data = {"format": EVIDENCE_FORMAT, "run_id": content["run"]["run_id"], "run_entry": content["ledger"].get("proof"),
            "figures": {k: r.get(k) for k in LEDGER_FIGURES}, "signature": content["signature"]}
    doc.pdf.embed_file(bytes=json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8"), basename=EVIDENCE_NAME,
                       desc="STEU Audit: the run entry's inclusion proof, the signed checkpoint and the figures the "
                            "report prints that the entry pins (JSON)")


def _save(signed: bytes, content: dict, out_pdf: Path, record_ledger: bool, replace: bool) -> None:
    """Write the signed PDF next to ``out_pdf``, give it its name, then record it and write its proof:
    nothing is recorded for a PDF that is not there. If recording fails the PDF is taken back (a file
    it replaced is restored), so no unrecorded PDF is left either; an existing file is replaced only
    with ``replace`` (overwriting asked for)."""
    check_output_file(out_pdf, "--out", overwrite=True)  # still a regular file or nothing, after the work
    tmp = out_pdf.with_name(f".{out_pdf.name}.tmp")
    try:
        tmp.write_bytes(signed)
        kept = _place(tmp, out_pdf, replace)
    finally:
        tmp.unlink(missing_ok=True)  # also a half-written one (full disk)
    try:
        entry = None
        if record_ledger:
            entry = record_report(content, out_pdf, file_name=out_pdf.name,
                                  replaced_sha256=file_sha256(kept) if kept else None)
    except BaseException:
        os.replace(kept, out_pdf) if kept else out_pdf.unlink(missing_ok=True)
        raise
    if kept:
        kept.unlink(missing_ok=True)
    if entry is not None:
        write_sidecar(sidecar_path(out_pdf), entry, (content.get("ledger") or {}).get("entry_hash"))


def _place(tmp: Path, out_pdf: Path, replace: bool) -> Path | None:
    """Give the written PDF its name; returns where the file it replaced is kept until the replacement
    is recorded (None when there was none)."""
    if not (replace and out_pdf.exists()):
        try:
            os.link(tmp, out_pdf)  # fails rather than clobber a file another process wrote meanwhile
        except FileExistsError:
            raise ConfigError(f"'{out_pdf}' was written by another process meanwhile; it was left as it is and "
                              "nothing was recorded.", hint="Choose another --out, or pass --new-version.") from None
        return None
    kept = out_pdf.with_name(f".{out_pdf.name}.replaced")
    kept.unlink(missing_ok=True)
    os.link(out_pdf, kept)
    os.replace(tmp, out_pdf)
    return kept


def record_report(content: dict, pdf: Path, file_name: str | None = None, replaced_sha256: str | None = None) -> dict:
    """Append a "report" entry to the ledger: the run, its own ledger entry and the PDF's SHA-256.

    ``replaced_sha256``: the hash of the file this report overwrote (asked for explicitly), so that the
    replacement is on record."""
    r = content["_results"]
    payload = {"run_id": str(r.get("run_id", "")), "request_id": str((r.get("request") or {}).get("request_id", "")),
               "pdf_sha256": file_sha256(pdf), "pdf_bytes": pdf.stat().st_size,
               "run_entry_hash": (content.get("ledger") or {}).get("entry_hash"), "tool_version": __version__}
    if file_name:
        payload["file_name"] = file_name
    if replaced_sha256:
        payload["overwrote_sha256"] = replaced_sha256
    try:
        return Ledger().append("report", payload)
    except Exception as exc:
        raise ConfigError(f"the report could not be recorded in the ledger ({type(exc).__name__}: {exc}); "
                          "no PDF was written.", hint="Check that the data directory (STEU_HOME) is writable, or "
                                                      "run 'python -m steu_core ledger verify'.") from None


def _render_charts(content: dict, workdir: Path) -> dict[str, Path | str]:
    """PNG files of every chart, keyed by chart id; an error message instead where rendering failed."""
    items, out = _build_figures(content, workdir)
    try:
        charts.to_pngs(items, scale=2.0)
        for _, path, _, _ in items:  # the renderer may skip a figure it cannot draw without raising
            out[path.stem] = path if path.is_file() else "chart could not be rendered"
    except Exception as exc:  # no Chromium for kaleido: the report still comes out, without images
        for _, path, _, _ in items:
            out[path.stem] = f"chart could not be rendered ({type(exc).__name__}: {str(exc)[:160]})"
    return out


def _build_figures(content: dict, workdir: Path) -> tuple[list[tuple], dict[str, str]]:
    """(figure, PNG path, width, height) of every chart that builds, and why the others did not."""
    items, failed = [], {}
    for spec in chart_specs(content["_results"]):
        try:
            fig = spec["build"](content["_results"])
        except Exception as exc:  # a malformed field must not lose the whole report
            failed[spec["id"]] = f"chart could not be built ({type(exc).__name__}: {str(exc)[:120]})"
            continue
        w, h = spec["size"]
        if fig.layout.height:  # figures that size themselves to their content
            h = int(fig.layout.height)
        items.append((fig, workdir / f"{spec['id']}.png", w, h))
    return items, failed


def _image_sizes(content: dict, images: dict) -> dict[str, tuple[int, int]]:
    """Pixel size of every chart: read from the PNG where there is one, else the size it was asked for."""
    sizes = {s["id"]: s["size"] for s in chart_specs(content["_results"])}
    for cid, img in images.items():
        if isinstance(img, Path):
            with open(img, "rb") as f:
                f.seek(16)  # width and height in the IHDR chunk
                sizes[cid] = unpack(">II", f.read(8))
    return sizes
