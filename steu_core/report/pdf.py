"""Writing the report PDF of a finished run: charts rendered to PNG, every section written, the file's
SHA-256 recorded in the ledger before the PDF takes its name."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from struct import unpack

from .. import __version__, charts
from ..errors import ConfigError
from ..ledger import Ledger
from ..model import file_sha256
from .content import build_json, chart_specs, report_content
from .document import ReportDocument
from .sections import write_pdf


def build_report(run_dir: str | Path, out_pdf: str | Path, organisation: str | None = None,
                 json_out: str | Path | None = None, record_ledger: bool = True) -> Path:
    """Write the PDF report of the finished run in ``run_dir`` to ``out_pdf`` (and the JSON, if asked).

    With ``record_ledger`` (the default) the PDF's SHA-256 is appended to the ledger (kind "report")
    before the file takes its name, so whoever receives the PDF can check it against the ledger; if
    that fails, no PDF is left behind.
    """
    content = report_content(run_dir, organisation)
    out_pdf = Path(out_pdf)
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="steu-report-"))
    try:
        images = _render_charts(content, workdir)
        doc = ReportDocument(content)
        write_pdf(doc, content, images, _image_sizes(content, images))
        _save(doc, content, out_pdf, record_ledger)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if json_out:
        build_json(run_dir, json_out, organisation, content=content)
    return out_pdf


def _save(doc: ReportDocument, content: dict, out_pdf: Path, record_ledger: bool) -> None:
    """Write the PDF next to ``out_pdf``, record it, then give it its name (no unrecorded PDF is left)."""
    tmp = out_pdf.with_name(f".{out_pdf.name}.tmp")
    doc.pdf.output(str(tmp))
    try:
        if record_ledger:
            record_report(content, tmp)
        os.replace(tmp, out_pdf)
    finally:
        tmp.unlink(missing_ok=True)


def record_report(content: dict, pdf: Path) -> dict:
    """Append a "report" entry to the ledger: the run, its own ledger entry and the PDF's SHA-256."""
    r = content["_results"]
    payload = {"run_id": str(r.get("run_id", "")), "request_id": str((r.get("request") or {}).get("request_id", "")),
               "pdf_sha256": file_sha256(pdf), "pdf_bytes": pdf.stat().st_size,
               "run_entry_hash": (content.get("ledger") or {}).get("entry_hash"), "tool_version": __version__}
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
        for _, path, _, _ in items:
            out[path.stem] = path
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
