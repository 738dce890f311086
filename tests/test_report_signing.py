"""Reports that cannot be quietly rewritten: signed PDFs, embedded and sidecar ledger proofs, verify-report,
and versions that never overwrite each other."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures_results import make_results, make_run_dir, record_run
from steu_core import report
from steu_core.cli import main
from steu_core.errors import ConfigError
from steu_core.ledger import Ledger, signer_for
from steu_core.report.signing import SELF_SIGNED_WORDS, check_pdf_signature, self_signed_path


@pytest.fixture
def no_charts(monkeypatch):
    """Charts are not what these tests are about: every chart fails to render (the report still comes out)."""
    from steu_core import charts

    def none(items, scale=2.0):
        raise RuntimeError("charts skipped in this test")

    monkeypatch.setattr(charts, "to_pngs", none)


@pytest.fixture
def made(tmp_path, monkeypatch, no_charts):
    """A recorded run and its report (self-signed: no organisation certificate configured)."""
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STEU_SIGNING_P12", raising=False)
    results = make_results()
    run = make_run_dir(tmp_path, results=results)
    record_run(run, results, request_entry=False)
    pdf = report.build_report(run, tmp_path / "out" / "report.pdf")
    pub = tmp_path / "steu-ledger.pub"
    pub.write_text(signer_for(None)[0].verifier().text() + "\n")
    return {"run": run, "pdf": pdf, "pub": pub, "tmp": tmp_path}


def _verify(*args: str) -> int:
    return main(["verify-report", *map(str, args)])


def test_a_valid_report_passes(made, capsys):
    assert _verify(made["pdf"], "--public-key", made["pub"]) == 0
    out = capsys.readouterr().out
    for check in ("PDF hash", "report entry in the signed log", "run entry in the signed log", "figures as pinned",
                  "PDF signature"):
        assert f"PASS  {check}" in out
    assert "Verified: every check passed." in out and "FAIL" not in out


def test_one_changed_byte_fails(made, capsys):
    data = bytearray(made["pdf"].read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = made["tmp"] / "out" / "changed.pdf"
    bad.write_bytes(bytes(data))
    assert _verify(bad, "--public-key", made["pub"], "--proof", report.sidecar_path(made["pdf"])) == 1
    out = capsys.readouterr().out
    assert "FAIL  PDF hash" in out and "NOT verified" in out


def test_a_wrong_public_key_fails(made, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "elsewhere"))  # another installation's key
    wrong = tmp_path / "wrong.pub"
    wrong.write_text(signer_for(None)[0].verifier().text() + "\n")
    assert _verify(made["pdf"], "--public-key", wrong) == 1
    out = capsys.readouterr().out
    assert "FAIL  report entry in the signed log" in out and "FAIL  run entry in the signed log" in out


def test_unusable_input_exits_2(made, capsys):
    assert _verify(made["tmp"] / "missing.pdf") == 2
    assert _verify(report.sidecar_path(made["pdf"])) == 2  # a JSON file, not a PDF
    assert "not a PDF" in capsys.readouterr().err


def test_pdf_signature_is_present_and_valid(made):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    path = self_signed_path()
    assert path.stat().st_mode & 0o777 == 0o600
    with open(made["pdf"], "rb") as f:
        sigs = PdfFileReader(f).embedded_signatures
        assert len(sigs) == 1
        status = validate_pdf_signature(sigs[0], ValidationContext(trust_roots=[sigs[0].signer_cert],
                                                                   allow_fetching=False))
    assert status.intact and status.valid and status.coverage.name == "ENTIRE_FILE"
    assert check_pdf_signature(made["pdf"].read_bytes(), path.read_bytes()).ok


def test_report_says_it_is_self_signed_and_embeds_the_proof(made):
    from pypdf import PdfReader

    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(str(made["pdf"])).pages)
    assert SELF_SIGNED_WORDS in text
    assert "Inclusion proof of the run entry" in text and "Sign-off" in text
    ev = report.verify.embedded_evidence(made["pdf"].read_bytes())
    run_entry = Ledger().find("run")[0]
    assert ev["run_entry"]["entry"]["entry_hash"] == run_entry["entry_hash"]
    assert ev["signature"]["self_signed"] is True


def test_the_recorded_hash_is_the_final_signed_file(made):
    import hashlib

    entry = Ledger().find("report")[-1]
    assert entry["payload"]["pdf_sha256"] == hashlib.sha256(made["pdf"].read_bytes()).hexdigest()
    sidecar = json.loads(report.sidecar_path(made["pdf"]).read_text())
    assert sidecar["entry"]["entry_hash"] == entry["entry_hash"]
    assert sidecar["inclusion_proof"]["tree_size"] >= entry["seq"]


def test_versions_never_overwrite(made):
    first = made["pdf"].read_bytes()
    second = report.build_report(made["run"], made["pdf"])
    third = report.build_report(made["run"], made["pdf"])
    assert [p.name for p in (second, third)] == ["report-v2.pdf", "report-v3.pdf"]
    assert made["pdf"].read_bytes() == first
    assert [p.name for p in report.report_versions(made["pdf"])] == ["report.pdf", "report-v2.pdf", "report-v3.pdf"]
    assert len(Ledger().find("report")) == 3
    for p in (second, third):
        assert _verify(p, "--public-key", made["pub"]) == 0


def test_an_explicit_out_is_refused_unless_overwrite_which_is_recorded(made, capsys):
    out = made["pdf"]
    old_sha = Ledger().find("report")[-1]["payload"]["pdf_sha256"]
    with pytest.raises(ConfigError, match="already exists"):
        report.build_report(made["run"], out, if_exists="refuse")
    assert main(["report", "--run", str(made["run"]), "--out", str(out)]) == 2
    assert main(["report", "--run", str(made["run"]), "--out", str(out), "--overwrite"]) == 0
    assert Ledger().find("report")[-1]["payload"]["overwrote_sha256"] == old_sha
    assert _verify(out, "--public-key", made["pub"]) == 0


def test_no_pdf_is_recorded_or_left_when_writing_fails(made, monkeypatch):
    before = len(Ledger().find("report"))

    def broken(self, data):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", broken)  # the signed PDF cannot be written
    with pytest.raises(OSError, match="disk full"):
        report.build_report(made["run"], made["tmp"] / "out" / "new.pdf")
    assert len(Ledger().find("report")) == before
    assert not (made["tmp"] / "out" / "new.pdf").exists()


def test_organisation_certificate_from_pkcs12(made, tmp_path, monkeypatch):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID
    import datetime as dt

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "St. Example Hospital")])
    now = dt.datetime.now(dt.timezone.utc)
    ca = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example CA")])
    ca_key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=9))
            .sign(ca_key, hashes.SHA256()))
    p12 = tmp_path / "org.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"org", key, cert, None,
                                                          serialization.BestAvailableEncryption(b"pw")))
    monkeypatch.setenv("STEU_SIGNING_P12", str(p12))
    monkeypatch.setenv("STEU_SIGNING_P12_PASSWORD", "wrong")
    with pytest.raises(ConfigError, match="cannot be opened"):
        report.build_report(made["run"], made["pdf"])
    monkeypatch.setenv("STEU_SIGNING_P12_PASSWORD", "pw")
    pdf = report.build_report(made["run"], made["pdf"])
    sig = check_pdf_signature(pdf.read_bytes())
    assert sig.ok and not sig.self_signed and "St. Example Hospital" in sig.reason


def _edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _tamper(run: Path, how: str) -> None:
    import shutil

    if how == "figures":  # the forgery: a better retain F1 and a verdict to match
        _edit_json(run / "results.json", retain_f1_after=0.99)
    elif how == "run id":
        _edit_json(run / "results.json", run_id="run-never-recorded")
    elif how == "manifest":
        _edit_json(run / "manifest.json", tool_version="9.9")
    elif how == "encoder":
        (run / "model" / "model.safetensors").write_bytes(b"an edited encoder tensor")
    else:
        shutil.rmtree(run / "model")


@pytest.mark.parametrize("how, message", [("figures", "results hash"), ("run id", "names run 'run-never-recorded'"),
                                          ("manifest", "manifest hash"), ("encoder", "unlearned model hash"),
                                          ("no model", "no model/ directory")])
def test_report_refuses_evidence_its_ledger_entry_did_not_pin(made, capsys, how, message):
    before = len(Ledger().find("report"))
    _tamper(made["run"], how)
    out = made["tmp"] / "out" / "forged.pdf"
    assert main(["report", "--run", str(made["run"]), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "internal error" not in err, err
    assert not out.exists() and len(Ledger().find("report")) == before


def test_verify_report_fails_figures_the_run_entry_did_not_pin(made, monkeypatch, capsys):
    """A report made by a tool that did not check (older, or altered) fails offline: its embedded figures are
    compared with the ones the proven run entry pinned."""
    from steu_core.report import pdf as report_pdf

    monkeypatch.setattr(report_pdf, "check_pinned_evidence", lambda run_dir, results: None)
    _tamper(made["run"], "figures")
    forged = report.build_report(made["run"], made["tmp"] / "out" / "forged.pdf")
    assert _verify(forged, "--public-key", made["pub"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  figures as pinned" in out and "retain_f1_after" in out, out
