"""The Results page's downloads of the new model version and of the patch, each beside the SHA-256
of exactly the bytes it hands out (computed by steu_core.model.export); the bytes are built only
when the button is clicked."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import common
from steu_core.errors import SteuError
from steu_core.model.export import model_download, patch_download


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
