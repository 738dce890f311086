"""The PDF/JSON audit report: built from a CONTRACTS.md results.json, every page renders, the printed
figures are the exported ones, no note text leaks, and bad run directories give clear errors."""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from pypdf import PdfReader

from fixtures_results import FORGET_MARKER, make_comparison, make_results, make_run_dir, record_run
from steu_core import report
from steu_core.cli import report as report_cli
from steu_core.errors import ConfigError, SteuError
from steu_core.ledger import Ledger
from steu_core.phi import mask_reason, mask_tokens
from steu_core.report import content

ORG = "St. Example Hospital NHS Trust"


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _tiny_png(path: Path, w: int = 40, h: int = 20) -> None:
    raw = b"".join(b"\x00" + b"\xff\xff\xff" * w for _ in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def fast_charts(monkeypatch):
    """Skip the browser: every chart becomes a small blank PNG (for tests about text, not images)."""
    from steu_core import charts

    def fake(items, scale=2.0):
        for _, path, w, h in items:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _tiny_png(Path(path), w // 10, h // 10)
        return [Path(p) for _, p, _, _ in items]

    monkeypatch.setattr(charts, "to_pngs", fake)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One full report with real charts (kaleido), a ledger entry and a comparison table."""
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STEU_HOME", str(root / "home"))
        mp.delenv("STEU_ORG", raising=False)
        results = make_results()
        run = make_run_dir(root, results=results)
        (run / "comparison.json").write_text(json.dumps(make_comparison(results)))
        entry = record_run(run, results)
        pdf = report.build_report(run, root / "out" / "report.pdf", organisation=ORG, json_out=root / "report.json")
    return {"root": root, "run": run, "pdf": pdf, "json": json.loads((root / "report.json").read_text()),
            "results": results, "entry": entry, "text": _pdf_text(pdf)}


def test_every_page_renders(built, tmp_path):
    n_pages = len(PdfReader(str(built["pdf"])).pages)
    assert n_pages >= 6
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm not installed")
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(built["pdf"]), str(tmp_path / "page")], check=True,
                   capture_output=True, timeout=120)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == n_pages
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_charts_are_embedded_as_images(built):
    reader = PdfReader(str(built["pdf"]))
    n_images = sum(len(page.images) for page in reader.pages)
    assert n_images == 6  # F1, F1 per class, confusion matrices, MIA ROC, changed rows, changed fraction


def test_pdf_prints_the_exported_numbers(built):
    text, exported = built["text"], built["json"]
    for row in exported["results_table"]:
        for key in ("before", "after", "change"):
            if row[key]:
                assert row[key] in text, (row["metric"], key, row[key])
    for row in exported["per_class_f1"]:
        assert row["before"] in text and row["after"] in text
    assert exported["param_diff"]["fraction_changed"] in text
    for row in exported["comparison"]:
        assert row["forget_f1"] in text and row["retain_f1"] in text and row["params_changed_fraction"] in text


def test_exported_numbers_are_the_results_with_4_decimals(built):
    r, rows = built["results"], {row["metric"]: row for row in built["json"]["results_table"]}
    forget = rows[f"Forget F1 ('{r['forget_class']}')"]
    assert (forget["before"], forget["after"]) == (f"{r['forget_f1_before']:.4f}", f"{r['forget_f1_after']:.4f}")
    assert forget["change"] == f"{r['forget_f1_after'] - r['forget_f1_before']:+.4f}"
    assert rows["Retain F1 (other classes)"]["after"] == f"{r['retain_f1_after']:.4f}"
    assert rows["Macro F1 (all classes)"]["before"] == f"{r['macro_f1_before']:.4f}"
    mia = r["mia"]
    assert rows["MIA loss AUC"]["after"] == f"{mia['loss_auc_after']:.4f}"
    lo, hi = mia["loss_auc_ci_after"]
    assert rows["MIA loss AUC, 95 % CI"]["after"] == f"[{lo:.4f}, {hi:.4f}]"
    assert rows["MIA TPR at 1 % FPR"]["before"] == f"{mia['tpr_at_1pct_fpr_before']:.4f}"
    assert forget["before_value"] == pytest.approx(r["forget_f1_before"])
    assert built["json"]["param_diff"]["fraction_changed"] == f"{100 * r['params_changed_fraction']:.4f} %"


def test_title_page_and_identity(built):
    text, r = built["text"], built["results"]
    first = PdfReader(str(built["pdf"])).pages[0].extract_text()
    for value in (ORG, r["request"]["request_id"], r["request"]["requester"], r["request"]["reason"],
                  r["request"]["operator"], "2025-03-01", "STEU Audit 0.1.0"):
        assert value in first, value
    squashed = _squash(text)
    for h in (r["model"]["sha256_before"], r["model"]["sha256_after"], r["data"]["forget"]["sha256"]):
        assert h in squashed
    assert r["model"]["architecture"] in text
    assert "22,714,756" in text


def test_sections_appear_in_order(built):
    text = built["text"]
    order = ["Executive summary", "Model identity", "Data", "Method", "Results", "Charts",
             "Parameter-diff verification", "Limitations", "Comparison with other methods", "Ledger entry",
             "Sign-off"]
    positions = [text.index(f"{i + 1}. {name}") for i, name in enumerate(order)]
    assert positions == sorted(positions)
    for line in ("Name", "Role", "Signature", "Date"):
        assert line in text[positions[-1]:]


def test_summary_and_limitations_in_plain_words(built):
    text = built["text"]
    assert "Was the class forgotten?" in text and "Was the model's usefulness kept?" in text
    assert "How much of the model changed?" in text
    assert "behavioural suppression" in text
    assert "encoder" in text.lower() and "bit-identical" in text
    assert "Encoder bit-identical" in text


def test_ledger_entry_hash_is_printed(built):
    assert built["entry"]["entry_hash"] in _squash(built["text"])
    assert built["json"]["ledger"]["entry_hash"] == built["entry"]["entry_hash"]
    assert "intact" in built["json"]["ledger"]["chain"]


def test_no_note_text_reaches_the_report(built):
    assert FORGET_MARKER in (built["root"] / "data" / "forget.csv").read_text()
    assert FORGET_MARKER in (built["run"] / "forget.csv").read_text()
    assert FORGET_MARKER not in built["text"]
    assert FORGET_MARKER not in json.dumps(built["json"])
    assert FORGET_MARKER.encode() not in built["pdf"].read_bytes()
    assert "methadone, withdrawal symptoms" not in built["text"]


def test_json_export_is_valid_and_private(built):
    exported = built["json"]
    assert exported["report_schema"] == 1 and "_results" not in exported
    assert exported["run"]["run_id"] == built["results"]["run_id"]
    assert exported["organisation"] == ORG


def test_not_recorded_without_ledger_entry_and_org_from_env(tmp_path, monkeypatch, fast_charts):
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STEU_ORG", "Hôpital Łódź – Unité naïve")
    run = make_run_dir(tmp_path)
    out = report.build_report(run, tmp_path / "r.pdf")
    text = _pdf_text(out)
    assert "not recorded" in text
    assert "Hôpital Łódź – Unité naïve" in text
    assert "Comparison with other methods" not in text  # no comparison.json: section skipped
    exported = json.loads(report.build_json(run, tmp_path / "r.json").read_text())
    assert exported["ledger"]["recorded"] is False and exported["ledger"]["text"] == "not recorded"
    assert exported["comparison"] is None


def test_every_pdf_is_recorded_in_the_ledger_by_its_hash(tmp_path, monkeypatch, fast_charts):
    import hashlib

    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    run = make_run_dir(tmp_path)
    pdf = report.build_report(run, tmp_path / "r.pdf")
    entries = Ledger().find("report")
    assert len(entries) == 1
    p = entries[0]["payload"]
    assert p["pdf_sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest() and p["pdf_bytes"] == pdf.stat().st_size
    assert p["run_id"] == json.loads((run / "results.json").read_text())["run_id"]
    assert Ledger().verify().ok

    # a ledger that cannot be written: no PDF appears (it would be evidence nobody can check)
    def broken(self, kind, payload):
        raise OSError("disk full")
    monkeypatch.setattr(Ledger, "append", broken)
    with pytest.raises(ConfigError, match="could not be recorded in the ledger"):
        report.build_report(run, tmp_path / "second.pdf")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".pdf" or p.name.endswith(".tmp")) == ["r.pdf"]


def test_explicit_organisation_wins_over_env(tmp_path, monkeypatch):
    monkeypatch.setenv("STEU_ORG", "From env")
    run = make_run_dir(tmp_path)
    assert report.report_content(run, organisation="Given")["organisation"] == "Given"
    assert report.report_content(run)["organisation"] == "From env"


def test_report_without_mia_curves(tmp_path, monkeypatch, fast_charts):
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    results = make_results(mia={"n_members": 1, "n_nonmembers": 0, "members": "forget-set notes",
                                "nonmembers": "evaluation notes of the forget class",
                                "skipped": "membership inference needs at least 2 members"})
    run = make_run_dir(tmp_path, results=results)
    text = _pdf_text(report.build_report(run, tmp_path / "r.pdf"))
    assert "Membership inference was not run" in text
    assert "0.9367" in text


def test_report_survives_failed_chart_rendering(tmp_path, monkeypatch):
    from steu_core import charts

    def broken(items, scale=2.0):
        raise RuntimeError("no Chromium here")

    monkeypatch.setattr(charts, "to_pngs", broken)
    text = _pdf_text(report.build_report(make_run_dir(tmp_path), tmp_path / "r.pdf"))
    assert "could not be rendered" in text and "no Chromium here" in text
    assert "Executive summary" in text


def test_utility_verdicts(tmp_path):
    # a results file without per-class intervals (from before they were recorded): the report computes
    # the verdicts from its figures, and cannot call usefulness kept without the intervals
    kept = make_results(retain_f1_after=0.9200)
    summary = {s["question"]: s for s in report.report_content(make_run_dir(tmp_path, results=kept))["summary"]}
    assert summary["Was the model's usefulness kept?"]["verdict"] == "Inconclusive"
    assert summary["Was the class forgotten?"]["verdict"] == "Yes"
    partly = make_results(forget_f1_after=0.4, run_id="run-partly")
    summary = {s["question"]: s for s in report.report_content(make_run_dir(tmp_path, results=partly))["summary"]}
    assert summary["Was the class forgotten?"]["verdict"] == "No"
    assert summary["Is the forgetting shown?"]["verdict"] == "No"


def test_not_a_finished_run_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        report.build_report(tmp_path / "missing", tmp_path / "r.pdf")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a finished run"):
        report.build_report(tmp_path / "empty", tmp_path / "r.pdf")
    partial = tmp_path / ".busy.partial"
    partial.mkdir()
    (partial / "progress.json").write_text(json.dumps({"state": "running", "stage": "unlearn",
                                                             "pid": os.getpid()}))
    with pytest.raises(ConfigError, match="still running"):
        report.build_report(tmp_path / "busy", tmp_path / "r.pdf")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text(json.dumps({"schema_version": 1, "run_id": "x"}))
    with pytest.raises(ConfigError, match="lacks"):
        report.build_json(bad, tmp_path / "r.json")
    assert not (tmp_path / "r.pdf").exists() and not (tmp_path / "r.json").exists()


def test_cli_report(tmp_path, monkeypatch, fast_charts, capsys):
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    report_cli.register(sub)
    run = make_run_dir(tmp_path)
    args = parser.parse_args(["report", "--run", str(run), "--out", str(tmp_path / "o.pdf"), "--json",
                              str(tmp_path / "o.json"), "--organisation", "Org X"])
    assert args.func(args) == 0
    assert (tmp_path / "o.pdf").stat().st_size > 1000
    assert json.loads((tmp_path / "o.json").read_text())["organisation"] == "Org X"
    args = parser.parse_args(["report", "--run", str(tmp_path / "nope"), "--out", str(tmp_path / "n.pdf")])
    with pytest.raises(SteuError):
        args.func(args)


def test_main_cli_reports_user_error(tmp_path, capsys):
    from steu_core.cli import main

    assert main(["report", "--run", str(tmp_path / "nope"), "--out", str(tmp_path / "n.pdf")]) == 2
    assert "not exist" in capsys.readouterr().err


def test_report_of_a_real_tiny_run(tiny_bert, tiny_data, tmp_path, fast_charts):
    """The report reads what the runner really writes, and finds the runner's ledger entry."""
    import csv

    from steu_core import charts
    from steu_core.runs import UnlearnRequest, run_unlearning

    req = UnlearnRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                         forget_class=tiny_data["forget_class"], out=tmp_path / "run",
                         settings={"max_steps": 20, "lr_rows": 0.05, "lr_head": 0.02, "min_df": 2, "k": 6},
                         device="cpu", max_length=48, min_forget=5, request_id="REQ-7", requester="DPO",
                         reason="test", operator="tester")
    run = run_unlearning(req)
    results = json.loads((run / "results.json").read_text())
    for builder in (charts.forget_retain_f1, charts.per_class_f1, charts.confusion_matrices, charts.mia_roc,
                    charts.changed_rows, charts.changed_fraction):
        builder(results).to_json()
    pdf = report.build_report(run, tmp_path / "r.pdf", json_out=tmp_path / "r.json")
    text = _pdf_text(pdf)
    exported = json.loads((tmp_path / "r.json").read_text())
    assert exported["ledger"]["recorded"] is True
    assert exported["ledger"]["entry_hash"] == Ledger().find_run(results["run_id"])["entry_hash"]
    assert exported["ledger"]["entry_hash"] in _squash(text)
    for row in exported["results_table"][:3]:
        assert row["before"] in text and row["after"] in text
    with open(tiny_data["forget"], newline="") as f:
        notes = [row["text"] for row in csv.DictReader(f)]
    assert notes and not any(note in text for note in notes)


STEU_ONLY_CLAIMS = ["pointwise mutual information", "PMI", "What STEU changes", "Every encoder parameter stays frozen",
                    "rows of the input token-embedding matrix and the classification head",
                    "only these rows and the head changed", "WARNING: encoder parameters changed", "(STEU)"]


def _grad_ascent_results() -> dict:
    """What a grad_ascent run writes: every parameter may change, the encoder with them; no token selection."""
    r = make_results(run_id="run-grad-ascent", method="grad_ascent", k=0, budget=None, selected_tokens=[],
                     coverage={"forget_examples": 120, "forget_examples_with_selected_token": 0, "fraction": 0.0},
                     encoder_unchanged=False, changed_embedding_rows=4211,
                     method_settings={"lr": 2e-5, "forget_weight": 1.0, "retain_weight": 1.0, "batch_size": 16,
                                      "max_steps": 40, "check_every": 5, "forget_f1_target": 0.01,
                                      "max_grad_norm": 1.0},
                     changed_tensors=["bert.embeddings.word_embeddings.weight",
                                      "bert.encoder.layer.0.attention.self.query.weight", "classifier.weight"])
    r["params_changed"] = r["params_total"]
    r["params_changed_fraction"] = 1.0
    return r


def test_a_grad_ascent_report_describes_grad_ascent_not_steu(tmp_path, monkeypatch, fast_charts):
    from steu_core.methods import describe

    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    run = make_run_dir(tmp_path, results=_grad_ascent_results())
    own = describe("grad_ascent")
    content = report.report_content(run)
    assert content["method"]["how"] == own["how"] and content["method"]["description"] == own["description"]
    assert content["method"]["limitations"] == own["limitations"]
    assert [x for x in content["limitations"] if x in own["limitations"]] == own["limitations"]
    text = _pdf_text(report.build_report(run, tmp_path / "r.pdf", json_out=tmp_path / "r.json"))
    squashed = _squash(text)
    for words in [own["how"]] + [x["text"] for x in own["limitations"]]:
        assert _squash(words) in squashed, words[:60]
    exported = (tmp_path / "r.json").read_text()
    for claim in STEU_ONLY_CLAIMS:
        assert claim not in text and claim not in exported, claim


def test_every_method_describes_itself():
    from steu_core.methods import METHODS, describe

    steu = describe("steu")
    assert any("PMI" in x["text"] for x in steu["limitations"]) is False and "PMI" in steu["how"]
    for name, cls in METHODS.items():
        own = {k for k in ("label", "description", "how", "edits", "limitations") if k in vars(cls)}
        assert own == {"label", "description", "how", "edits", "limitations"}, name  # none inherited from STEU
        about = describe(name)
        assert about["edits"] in ("rows+head", "rows", "head", "everything"), name
        assert about["how"] and about["limitations"] and all(x["title"] and x["text"] for x in about["limitations"])
        if name != "steu":
            assert about["how"] != steu["how"] and about["limitations"] != steu["limitations"], name


def test_the_steu_report_keeps_its_method_words(built):
    from steu_core.methods import describe

    steu, squashed = describe("steu"), _squash(built["text"])
    assert built["json"]["method"]["how"] == steu["how"] and _squash(steu["how"]) in squashed
    assert [x["title"] for x in built["json"]["limitations"]] == [
        "What STEU changes", "What that means", "What the figures show", "What it does not do"]
    assert "Removal of one class from a clinical text classifier (STEU)" in built["text"]


def test_limitations_are_the_methods_own_then_the_general_ones(tmp_path):
    oracle = make_results(method="retrain_oracle", run_id="run-oracle", encoder_unchanged=False)
    content = report.report_content(make_run_dir(tmp_path, results=oracle))
    assert [x["title"] for x in content["limitations"]] == [
        "What this reference changes", "What that means", "What the figures show", "What it does not do"]
    assert "not the same as retraining" not in json.dumps(content["limitations"])  # it is retraining
    assert "WARNING" not in json.dumps(content["summary"])  # a retrained encoder is expected to change

    future = report.report_content(make_run_dir(tmp_path, results=make_results(method="future_x", run_id="run-x")))
    assert "future_x" in future["method"]["how"] and "STEU" not in future["subtitle"]
    assert [x["title"] for x in future["limitations"]] == ["What the figures show", "What it does not do"]


def _relabel(value, old: str, new: str):
    """``value`` (a results dict) with the class name ``old`` renamed everywhere, keys included."""
    if isinstance(value, dict):
        return {(new if k == old else k): _relabel(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_relabel(v, old, new) for v in value]
    return new if value == old else value


HOSTILE = "x\n\x1b[31mFAKE"


def _hostile_run(root: Path) -> tuple[Path, dict]:
    """A run whose request fields hold a newline and ANSI codes and whose class names are hostile: the
    forgotten one holds ESC, the others markup and a spreadsheet formula; one is 500 characters long."""
    r = make_results()
    names = ["sub\x1b[31mstance", "<b>x</b>", "=cmd|' /C calc'!A0" + "y" * 500]
    old = [r["forget_class"]] + [lab for lab in r["labels"] if lab != r["forget_class"]][:2]
    for a, b in zip(old, names):
        r = _relabel(r, a, b)
    r["request"] = {"request_id": "R-1" + HOSTILE, "requester": HOSTILE, "reason": HOSTILE, "operator": "op\x1b[0m"}
    return make_run_dir(root, results=r), r


def _unprintable(text: str) -> list[str]:
    import unicodedata

    return [c for c in text if c != "\n" and unicodedata.category(c).startswith("C")]


def test_hostile_request_fields_and_class_names_print_escaped(tmp_path, monkeypatch, fast_charts):
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    run, r = _hostile_run(tmp_path)
    pdf = report.build_report(run, tmp_path / "r.pdf", record_ledger=False)
    pages = [p.extract_text() or "" for p in PdfReader(str(pdf)).pages]
    text = "\n".join(pages)
    assert not _unprintable(text), "a control character reached the PDF"
    for page in pages[1:]:  # the running header: one line, the request id escaped and cut to 40 characters
        assert page.splitlines()[0].endswith("Request R-1x\\n\\x1b[31mFAKE")
    assert "x\\n\\x1b[31mFAKE" in text and "sub\\x1b[31mstance" in text
    assert "<b>x</b>" in text and "=cmd|'/Ccalc'!A0" in _squash(text)  # literally, not as markup
    assert "y" * 100 not in _squash(text) and "(518characters)" in _squash(text)
    assert json.loads((run / "results.json").read_text())["request"]["requester"] == HOSTILE  # stored as given


def test_escape_in_a_class_name_neither_crashes_report_nor_loses_a_chart(tmp_path, monkeypatch, capsys):
    """The PNG renderer silently skipped a figure whose text held ESC, and `report` then crashed on the
    missing file: every chart must now be drawn (real rendering, kaleido)."""
    from steu_core.cli import main

    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    run, r = _hostile_run(tmp_path)
    record_run(run, r)
    assert main(["report", "--run", str(run), "--out", str(tmp_path / "r.pdf")]) == 0, capsys.readouterr().err
    text = _pdf_text(tmp_path / "r.pdf")
    assert "could not be" not in text and not _unprintable(text)


def test_a_chart_the_renderer_skips_is_named_not_fatal(tmp_path, monkeypatch):
    from steu_core import charts

    monkeypatch.setattr(charts, "to_pngs", lambda items, scale=2.0: [])  # "succeeds" but writes nothing
    text = _pdf_text(report.build_report(make_run_dir(tmp_path), tmp_path / "r.pdf", record_ledger=False))
    assert "chart could not be rendered" in text and "Executive summary" in text
def _page_texts(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def test_the_pdf_shows_the_confusion_matrices_and_the_per_class_chart(built):
    ids = [c["id"] for c in built["json"]["charts"]]
    assert "confusion_matrices" in ids and "per_class_f1" in ids
    assert "Confusion matrices" in built["text"] and "F1 per class" in built["text"]


def test_every_changed_row_is_listed(built):
    tokens = built["results"]["selected_tokens"]
    assert len(built["json"]["changed_rows"]) == len(tokens) > 30
    appendix = built["text"][built["text"].index("Appendix: every changed embedding row"):]
    shown = mask_tokens(tokens)  # identifier-like tokens appear masked, without their row id (issue 30)
    assert any(t["masked"] for t in shown) and any(not t["masked"] for t in shown)
    for t in shown:
        assert (f"{t['id']}" if not t["masked"] else "masked") in appendix and t["token"] in appendix
    lines = {line.split(" masked ")[0] for line in appendix.splitlines() if " masked " in line}
    assert len(lines) == sum(t["masked"] for t in shown), "every masked row printed as 'masked'"
    assert not any(t["token"] in appendix for t in tokens if mask_reason(t["token"], t.get("df_forget")))


def test_the_per_class_table_stays_on_one_page(built):
    pages = _page_texts(built["pdf"])
    page = next(p for p in pages if "F1 per class" in p and "Class" in p)
    for label in built["results"]["labels"]:
        assert label in page


def test_a_long_table_repeats_its_heading_on_every_page(tmp_path, monkeypatch, fast_charts):
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    pdf = report.build_report(make_run_dir(tmp_path, results=make_results()), tmp_path / "long.pdf")  # 108 rows
    pages = _page_texts(pdf)
    start = next(i for i, p in enumerate(pages) if "Appendix: every changed embedding row" in p)
    last_row = content.changed_rows(make_results())[-1]  # the smallest change is listed last
    end = next(i for i in range(start, len(pages)) if f"{last_row['token']} {last_row['row']}" in pages[i])
    appendix = pages[start:end + 1]
    assert len(appendix) >= 3
    for page in appendix:
        assert "Forget notes" in page and "L2 change" in page


def test_limitations_quote_the_strongest_relearning_attacker_against_the_oracle(tmp_path):
    run = make_run_dir(tmp_path, results=make_results())
    rows = make_comparison(make_results())
    strongest = {"steu": ("4", "[3, 6]", "full-model, n = 8", 4, [3, 6]),
                 "retrain_oracle": ("never within 20", "[never within 20, never within 20]", "full-model, n = 8",
                                    21, [21, 21])}
    for row in rows:
        if row["method"] in strongest:
            text, ci, attack, steps, steps_ci = strongest[row["method"]]
            row.update(relearn_strongest_text=text, relearn_strongest_ci_text=ci, relearn_strongest_attack=attack,
                       relearn_strongest_steps=steps, relearn_strongest_steps_ci=steps_ci)
    (run / "comparison.json").write_text(json.dumps({"rows": rows}))
    content = report.report_content(run)
    relearn = [x for x in content["limitations"] if x["title"] == "Relearning"]
    assert len(relearn) == 1
    assert "median of 4 steps" in relearn[0]["text"] and "full-model, n = 8" in relearn[0]["text"]
    # a comparison.json from before the relearning verdict: the verdict is computed from its rows
    assert "never within 20" in relearn[0]["text"] and "No: hidden, not removed" in relearn[0]["text"]
    assert [r["relearn"] for r in content["comparison"]][:2] == ["4", "n/a"]
    # no relearning figures in the comparison: no such limitation
    (run / "comparison.json").write_text(json.dumps({"rows": make_comparison(make_results())}))
    assert "Relearning" not in [x["title"] for x in report.report_content(run)["limitations"]]


def _grad_ascent_like(n: int = 200) -> dict:
    """A method that changed every tensor of a real model: long lists, long names, a long check message."""
    names = [f"bert.encoder.layer.{i // 16}.attention.self.{'query' if i % 2 else 'key'}_{i}.very_long_sub_module"
             f".with_a_name_longer_than_a_table_cell_{'x' * 40}.weight" for i in range(n)]
    return make_results(method="grad_ascent", changed_tensors=names, encoder_unchanged=False,
                        param_diff_verdict="pass", param_diff_message="every tensor may change: " + "; ".join(names))


def test_a_pdf_with_hundreds_of_changed_tensors_and_long_names_builds(tmp_path, monkeypatch, fast_charts):
    """grad_ascent on a real MiniLM changes ~100 tensors: the list once made a table row taller than a page
    (ValueError in fpdf); the tensors now go to an appendix, one row each, and long cells wrap."""
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    results = _grad_ascent_like()
    run = make_run_dir(tmp_path, results=results)
    text = _pdf_text(report.build_report(run, tmp_path / "r.pdf"))
    flat = re.sub(r"\s+", " ", text)
    assert "200 tensor(s) changed" in flat and "200 tensors: listed in the appendix" in flat
    assert "Appendix: Changed tensors (200)" in flat
    assert "query_199" in flat.replace(" ", "")  # the last tensor is listed


def test_charts_share_pages_and_headings_stay_with_their_tables(built):
    """No page holds one lone chart when the next page starts with another (two fit a page), and the
    inclusion proof's heading stands on the page of its first rows, never alone at a page foot."""
    pages = PdfReader(str(built["pdf"])).pages
    texts = [p.extract_text() or "" for p in pages]
    first = next(i for i, t in enumerate(texts) if "6. Charts" in t)
    last = next(i for i, t in enumerate(texts) if "7. Parameter-diff verification" in t)  # the next section
    images = [len(p.images) for p in pages]
    assert images[first] >= 1, "the charts' heading stands with the first chart"
    lone = [i + 1 for i in range(first, last) if images[i] == 1 and images[i + 1] >= 1]
    assert not lone, f"pages {lone} hold one chart while the next page holds more: {images}"
    results_page = next(t for t in texts if "5. Results" in t)
    assert "Forget F1" in results_page, "the results heading stands with its table"
    heading = [t for t in texts if "Inclusion proof of the run entry" in t]
    assert heading and "Proven entry" in heading[0]


def test_a_calibrated_runs_held_out_notes_are_named_beside_the_membership_test(tmp_path, monkeypatch, fast_charts):
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    results = make_results()
    results["data"]["calibration"] = {"notes": 26, "eval_file_rows": list(range(1, 27)), "rule": "a seeded share"}
    text = _squash(_pdf_text(report.build_report(make_run_dir(tmp_path, results=results), tmp_path / "r.pdf")))
    assert _squash("26 held-out notes of the forgotten class, split off the evaluation set before the run") in text
    assert _squash("no audit scores them") in text
