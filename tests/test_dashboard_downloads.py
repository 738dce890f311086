"""The Results page offers the new model version and the patch, each beside the SHA-256 of its bytes."""
from __future__ import annotations

import hashlib
import json

from test_dashboard_apptest import _app, _install_run, _page, _texts, dash_env, finished_run, served_on_loopback  # noqa: F401

from steu_core.model.export import model_download
from steu_core.paths import runs_dir


def test_results_page_shows_both_downloads_with_the_hashes_of_their_bytes(dash_env, finished_run):  # noqa: F811
    run_dir = _install_run(finished_run, "run-dl")
    at = _page(_app(run="run-dl"), "results")
    labels = [b.label for b in at.get("download_button")]
    assert "Download the new model version (zip)" in labels and "Download the patch (patch.safetensors)" in labels
    text = _texts(at)
    patch_sha = hashlib.sha256((run_dir / "patch.safetensors").read_bytes()).hexdigest()
    manifest = json.loads((runs_dir() / "run-dl" / "manifest.json").read_text())
    assert manifest["patch"]["sha256"] == patch_sha and patch_sha in text
    assert "as recorded in manifest.json" in text
    zip_sha = hashlib.sha256(model_download(run_dir).read()).hexdigest()
    assert zip_sha in text


def test_a_patch_changed_after_the_run_is_flagged(dash_env, finished_run):  # noqa: F811
    run_dir = _install_run(finished_run, "run-dl2")
    with open(run_dir / "patch.safetensors", "ab") as f:
        f.write(b"\0")
    at = _page(_app(run="run-dl2"), "results")
    assert any("differs from the one recorded" in e.value for e in at.error)
