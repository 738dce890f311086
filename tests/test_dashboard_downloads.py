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


def test_a_report_is_offered_as_one_packet_for_the_regulator_that_verifies(dash_env, finished_run, monkeypatch):  # noqa: F811
    from steu_core import charts
    from steu_core.ledger import signer_for
    from steu_core.report import build_report, verify_report
    from steu_core.report.packet import packet_for

    def no_charts(items, scale=2.0):  # charts are not what this test is about
        raise RuntimeError("charts skipped in this test")

    monkeypatch.setattr(charts, "to_pngs", no_charts)
    run_dir = _install_run(finished_run, "run-pack")
    build_report(run_dir, run_dir / "report.pdf")
    at = _page(_app(run="run-pack"), "results")
    labels = [b.label for b in at.get("download_button")]
    assert "Download for the regulator (zip)" in labels and "Download the PDF report" in labels
    packet = packet_for(run_dir / "report.pdf", name="steu-report-run-pack")
    text = _texts(at)
    assert packet.sha256 in text and "verify-report steu-report-run-pack.zip" in text
    sent = run_dir.parent / packet.file_name
    sent.write_bytes(packet.data)
    pub = run_dir.parent / "steu-ledger.pub"
    pub.write_text(signer_for(None)[0].verifier().text() + "\n")
    res = verify_report(sent, public_key=pub)
    failed = [(name, detail) for name, ok, detail in res.checks if not ok]
    # the fixture run was made without a ledger entry: only its run-entry proof is missing, the packet is complete
    assert [name for name, _ in failed] == ["run entry in the signed log"], failed
    assert any(name == "PDF hash" and ok for name, ok, _ in res.checks)
