"""The Results page's downloads: the new model version and the patch, each beside the SHA-256 of exactly
the bytes it hands out (computed by steu_core.model.export; the model's bytes are built only when the button
is clicked), and every version of the report, each as the packet for the regulator (steu_core.report.packet)
and as the PDF alone."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import streamlit as st

from dashboard import common
from steu_core.errors import SteuError
from steu_core.model.export import model_download, patch_download
from steu_core.report.packet import INSTALL_LINE, KEY_FILE, packet_for
from steu_core.report.signing import P12_ENV, SELF_SIGNED_WORDS
from steu_core.report.versions import report_versions

REGULATOR_LABEL = "Download for the regulator (zip)"


@st.cache_data(show_spinner="Hashing the model archive…", max_entries=8)
def _model_zip_sha256(run_dir: str, stamp: int) -> str:
    return model_download(Path(run_dir)).sha256


def show_downloads(run_dir: Path) -> None:
    st.subheader(":material/download: The new model version and the patch")
    a, b = st.columns(2)
    try:
        stamp = (run_dir / "manifest.json").stat().st_mtime_ns  # a finished run never changes: once per run
        model = model_download(run_dir, sha256=_model_zip_sha256(str(run_dir), stamp))
        patch = patch_download(run_dir)
    except (SteuError, OSError) as exc:
        common.show_error(exc)
        return
    a.download_button("Download the new model version (zip)", data=model.read, file_name=model.file_name,
                      mime="application/zip", icon=":material/download:", key="dl_model_zip",
                      on_click="ignore")  # a rerun on click dropped the deferred bytes before the browser asked
    a.caption(f"SHA-256 of the zip: `{model.sha256}`. The same bytes every time it is built; the model files "
              "inside carry the hashes recorded in manifest.json.")
    b.download_button("Download the patch (patch.safetensors)", data=patch.read, file_name=patch.file_name,
                      mime="application/octet-stream", icon=":material/download:", key="dl_patch",
                      on_click="ignore")
    if patch.matches_record:
        b.caption(f"SHA-256 `{patch.sha256}`, as recorded in manifest.json and the ledger. It turns the original "
                  "model into the new one, and back.")
    else:
        b.error(f"The patch file's SHA-256 `{patch.sha256}` differs from the one recorded for this run "
                f"(`{patch.recorded_sha256}`): the file was changed after the run.", icon=":material/gpp_bad:")


def show_report_downloads(col, first_pdf: Path, run_id: str) -> None:
    """Every version of the run's report, newest first: the packet (PDF, proof file, public key) and the PDF."""
    versions = report_versions(first_pdf)
    if not versions:
        col.caption("Create the PDF to download it: a signed summary for the compliance file, with the charts, "
                    "hashes and the ledger entry.")
        return
    for n, path in reversed(list(enumerate(versions, start=1))):  # an earlier version can still be checked
        newest, name = n == len(versions), f"steu-report-{run_id}" + (f"-v{n}" if n > 1 else "")
        try:
            packet = packet_for(path, name=name)
        except (SteuError, OSError, ValueError) as exc:  # a proof file missing or damaged since
            common.show_error(exc, where=col)
            packet = None
        if packet is not None:
            col.download_button(REGULATOR_LABEL if newest else f"Version {n} for the regulator (zip)",
                                data=packet.data, file_name=packet.file_name, mime="application/zip",
                                icon=":material/verified:", type="primary" if newest else "secondary", key=f"dl_pack_{n}")
        pdf_bytes = path.read_bytes()
        col.download_button("Download the PDF report" if newest else f"Version {n}: the PDF only", data=pdf_bytes,
                            file_name=f"{name}.pdf", mime="application/pdf", icon=":material/download:",
                            key=f"dl_pdf_{n}")
        col.caption(f"Version {n} · `{path.name}` · PDF SHA-256 `{hashlib.sha256(pdf_bytes).hexdigest()}`, recorded "
                    "in the ledger when the PDF was made" + (f" · zip SHA-256 `{packet.sha256}`" if packet else "") + ".")
    if not os.environ.get(P12_ENV):
        col.caption(f"The PDFs are {SELF_SIGNED_WORDS}. Set {P12_ENV} to sign with the organisation's certificate.")
    col.caption(f"Send the regulator the zip: it holds the PDF, its proof file and the ledger's public key. Send the "
                f"public key ({KEY_FILE}, on the History page) apart from it as well, so they know it is yours. They "
                f"check the zip, without torch or a GPU, with `{INSTALL_LINE}` and then "
                f"`python -m steu_core verify-report steu-report-{run_id}.zip --public-key {KEY_FILE}`.")
