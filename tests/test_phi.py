"""No note text leaves the data files: not in logs, the ledger, reports, error messages or temporary
files. A unique marker (a made-up patient name and record number) is planted in the notes; after
unlearn + report + ledger, every byte under STEU_HOME, the run directory, the report, the temporary
directory and everything printed is searched for it (binary-safe: raw bytes in UTF-8 and UTF-16,
case-insensitive, plus the text of the PDF's compressed streams)."""
from __future__ import annotations

import csv
import json
import os
import sys
import uuid
import zlib
from pathlib import Path

import pytest
from conftest import CLASS_WORDS, make_notes, write_csv
from proc_helpers import logs, spawn
from tiny_models import make_tiny_classifier

from steu_core.cli import main

MARKER = "Qzyx" + uuid.uuid4().hex[:12].upper()   # a "patient name" no tokenizer vocabulary holds
MRN = "MRN" + str(uuid.uuid4().int)[:10]


def _needles() -> list[bytes]:
    out = []
    for s in (MARKER, MARKER.lower(), MRN):
        out += [s.encode("utf-8"), s.encode("utf-16-le")]
    return out


def _pdf_streams(raw: bytes) -> list[bytes]:
    """Every FlateDecode stream of a PDF, inflated (the text of a PDF page is compressed)."""
    out, pos = [], 0
    while (start := raw.find(b"stream", pos)) != -1:
        body_start = start + len(b"stream") + (2 if raw[start + 6:start + 8] == b"\r\n" else 1)
        end = raw.find(b"endstream", body_start)
        if end == -1:
            break
        try:
            out.append(zlib.decompress(raw[body_start:end].rstrip(b"\r\n")))
        except zlib.error:
            pass
        pos = end
    return out


def leaks_in(paths: list[Path], texts: list[str] = ()) -> list[str]:
    """Where the marker appears (file paths and 'printed output #i'); empty when nowhere."""
    found = []
    needles = _needles()

    def hit(blob: bytes) -> bool:
        low = blob.lower()
        return any(n in blob or n.lower() in low for n in needles)

    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for f in files:
            raw = f.read_bytes()
            blobs = [raw] + (_pdf_streams(raw) if raw.startswith(b"%PDF") else [])
            if any(hit(b) for b in blobs) or hit(str(f).encode()):
                found.append(str(f))
    for i, t in enumerate(texts):
        if hit(t.encode("utf-8")):
            found.append(f"printed output #{i}")
    return found


def _planted_note(words: str) -> str:
    return f"Patient {MARKER} ({MRN}) {words}, lives alone, sister is the contact"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    d = tmp_path_factory.mktemp("phi")
    rows = make_notes(12, seed=1)
    forget = [r for r in rows if r[1] == "substance"]
    # the marker in one forget note (and the same note in the training file, as in real data), and in a
    # retained note and an evaluation note
    i = rows.index(forget[0])
    rows[i] = (_planted_note(rows[i][0]), "substance")
    forget[0] = rows[i]
    j = next(k for k, r in enumerate(rows) if r[1] == "cardiac")
    rows[j] = (_planted_note(rows[j][0]), "cardiac")
    ev = make_notes(6, seed=2)
    ev[0] = (_planted_note(ev[0][0]), ev[0][1])
    return {"dir": d, "model": make_tiny_classifier("bert", d / "model", sorted(CLASS_WORDS)),
            "train": write_csv(d / "train.csv", rows), "eval": write_csv(d / "eval.csv", ev),
            "forget": write_csv(d / "forget.csv", forget), "rows": rows}


def test_planted_marker_is_found_by_the_search(planted, tmp_path):
    """The search itself works: it finds the marker in the input files, in a PDF stream, in UTF-16."""
    assert leaks_in([planted["train"], planted["forget"]])
    f = tmp_path / "x.bin"
    f.write_bytes(b"%PDF-1.4\n1 0 obj\nstream\n" + zlib.compress(MARKER.encode()) + b"\nendstream\n")
    assert leaks_in([f])
    f.write_bytes(("note: " + MARKER.lower()).encode("utf-16-le"))
    assert leaks_in([f])
    assert leaks_in([], texts=[f"... {MRN} ..."])
    f.write_bytes(b"nothing here")
    assert not leaks_in([f], texts=["clean"])


def test_no_note_text_anywhere_after_unlearn_report_and_ledger(planted, tmp_path, monkeypatch, capsys):
    home, out, tmp = tmp_path / "home", tmp_path / "run", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {"TMPDIR": str(tmp), "STEU_ORG": "Test Hospital"}
    printed = []

    def run(argv):
        proc = spawn(argv, home, log_dir=tmp_path / "logs", **env)
        proc.wait(timeout=600)
        o, e = logs(proc)
        printed.extend([o, e])
        assert proc.returncode == 0, f"{argv[3:5]}:\n{o}\n{e}"
        return o

    (tmp_path / "logs").mkdir()
    py = [sys.executable, "-m", "steu_core"]
    run(py + ["unlearn", "--model", str(planted["model"]), "--train", str(planted["train"]), "--eval",
              str(planted["eval"]), "--forget", str(planted["forget"]), "--forget-class", "substance", "--out",
              str(out), "--device", "cpu", "--k", "4", "--settings", '{"max_steps": 4, "min_df": 2}',
              "--min-forget", "5", "--max-length", "48", "--request-id", "DR-1", "--requester", "privacy office",
              "--reason", "patient request"])
    report_pdf, report_json = tmp_path / "report.pdf", tmp_path / "report.json"
    run(py + ["report", "--run", str(out), "--out", str(report_pdf), "--json", str(report_json)])
    # the read-only commands in this process (same code, no process start-up each)
    monkeypatch.setenv("STEU_HOME", str(home))
    for argv in (["ledger", "show", "--json"], ["ledger", "verify"], ["runs"],
                 ["verify", "--original", str(planted["model"]), "--unlearned", str(out)]):
        assert main(argv) == 0, argv
        captured = capsys.readouterr()
        printed.extend([captured.out, captured.err])
    assert f'"run_id": "{out.name}"' in printed[-8], "ledger show printed the run's entries"

    assert (out / "results.json").is_file() and report_pdf.stat().st_size > 1000
    # the search covers a real report: its streams inflate and hold the run's text
    assert any(b"substance" in s or b"s\x00u\x00b" in s for s in _pdf_streams(report_pdf.read_bytes())) or \
        b"substance" in report_json.read_bytes()
    leaks = leaks_in([home, out, tmp, report_pdf, report_json, tmp_path / "logs"], printed)
    assert not leaks, f"note text found in: {leaks}"


@pytest.mark.parametrize("case", ["headerless", "label_is_note", "forget_row_other_class", "unknown_label",
                                  "mixed_types", "duplicate_header", "forget_in_retain"])
def test_error_messages_never_carry_note_text(case, planted, tmp_path, capsys):
    """Errors that point at a row name the file, row and column - never the note."""
    rows = planted["rows"]
    marked = [r for r in rows if MARKER in r[0]]
    bad = tmp_path / "bad.csv"
    args = {"--train": str(planted["train"]), "--eval": str(planted["eval"]), "--forget": str(planted["forget"])}

    def write(rows_, header=("text", "label")):
        with open(bad, "w", newline="") as f:
            w = csv.writer(f)
            if header:
                w.writerow(header)
            w.writerows(rows_)
        return str(bad)

    if case == "headerless":
        args["--train"] = write(marked + rows, header=None)
    elif case == "label_is_note":
        args["--train"] = write([(l, t) for t, l in rows])
    elif case == "forget_row_other_class":
        args["--forget"] = write([r for r in rows if r[1] == "substance"] + [r for r in marked if r[1] == "cardiac"])
    elif case == "unknown_label":
        args["--train"] = write(rows + [("x", marked[0][0])])
    elif case == "mixed_types":
        bad = tmp_path / "bad.jsonl"
        bad.write_text("\n".join(json.dumps({"text": t, "label": l if k else 1}) for k, (t, l) in enumerate(rows)))
        args["--train"] = str(bad)
    elif case == "duplicate_header":
        args["--train"] = write(rows, header=(marked[0][0], marked[0][0]))
    elif case == "forget_in_retain":
        args["--forget"] = write([r for r in rows if r[1] == "substance"] + [(next(r for r in marked if r[1] == "cardiac")[0], "substance")])
    argv = ["unlearn", "--quiet", "--model", str(planted["model"]), "--forget-class", "substance",
            "--out", str(tmp_path / "run"), "--device", "cpu", "--k", "4", "--min-forget", "5",
            "--max-length", "48"]
    for k, v in args.items():
        argv += [k, v]
    code = main(argv)
    captured = capsys.readouterr()
    if case == "forget_in_retain":
        # Real corpora hold the same text under two labels: a warning naming rows, not a refusal.
        assert code == 0, captured.err
        assert "also appear, with another label" in captured.out + captured.err
        assert not leaks_in([], [captured.out, captured.err]), captured.out + captured.err
        assert not leaks_in([tmp_path / "run", Path(os.environ["STEU_HOME"])])
        return
    assert code == 2, captured.err
    assert captured.err.startswith("error: ")
    assert not leaks_in([], [captured.out, captured.err]), captured.err
    assert not leaks_in([Path(os.environ["STEU_HOME"])])


# --- identifier-like selected tokens (steu_core.phi) ---------------------------------------------
# Canary identifiers in 3 forget notes: their word pieces occur only there, so PMI selects them (ties on
# PMI go to the token in more forget notes, so they come right after the class's own words).
CANARY = "Patient Zyqwarth, MRN 4471993"
CANARY_PIECES = ["z", "##y", "##q", "##wart", "##h", "mr", "44", "##7", "##19", "##9", "##3"]
# pieces that no ordinary text of the report or page holds (the one-letter ones could come from anywhere)
DISTINCT_PIECES = ["##wart", "##q", "##19", "##y"]


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("canary")
    rows = make_notes(12, seed=1)
    for i in [k for k, r in enumerate(rows) if r[1] == "substance"][:3]:
        rows[i] = (f"{CANARY}, {rows[i][0]}", "substance")
    model = make_tiny_classifier("bert", d / "model", sorted(CLASS_WORDS))
    files = {"train": write_csv(d / "train.csv", rows), "eval": write_csv(d / "eval.csv", make_notes(6, seed=2)),
             "forget": write_csv(d / "forget.csv", [r for r in rows if r[1] == "substance"])}
    home = d / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STEU_HOME", str(home))
        argv = ["unlearn", "--quiet", "--model", str(model), "--forget-class", "substance", "--out", str(d / "run"),
                "--device", "cpu", "--k", "40", "--settings", '{"max_steps": 2, "min_df": 2}', "--min-forget", "5",
                "--max-length", "48", "--request-id", "DR-9"]
        assert main(argv + [a for k, v in files.items() for a in (f"--{k}", str(v))]) == 0
    from transformers import AutoTokenizer

    ids = AutoTokenizer.from_pretrained(str(model), local_files_only=True).convert_tokens_to_ids(CANARY_PIECES)
    return {"run": d / "run", "home": home, "canary_ids": dict(zip(CANARY_PIECES, ids)), "model": model, **files}


def test_canary_pieces_are_edited_but_stored_masked_without_their_ids(canary_run):
    from steu_core.phi import masked_ids, run_tokenizer

    raw = (canary_run["run"] / "results.json").read_text()
    tokens = json.loads(raw)["selected_tokens"]
    canary_ids = set(canary_run["canary_ids"].values())
    masked = [t for t in tokens if t["masked"]]
    assert masked and all(t["id"] is None for t in masked), "a masked token's vocabulary id is stored"
    assert not {t["id"] for t in tokens} & canary_ids, "a canary piece's vocabulary id is stored"
    for t in masked:
        assert t["mask_reason"] and t["token"].startswith(("[rare token #", "[number token #"))
        assert t["l2_change"] > 0, "a masked token's row is edited like any other"
    assert not {t["token"] for t in tokens} & set(CANARY_PIECES)
    assert not [p for p in CANARY_PIECES if json.dumps(p) in raw], "a canary piece is stored as text"
    assert any(not t["masked"] and t["token"] == "withdrawal" for t in tokens), "common class words stay readable"
    # the run's own patch gives the ids back, each to the entry it belongs to (its forget-note count)
    hidden = masked_ids(tokens, canary_run["run"])
    assert len(canary_ids & set(hidden)) >= 6, "the canary's pieces are among the selected tokens"
    tok = run_tokenizer(canary_run["run"])
    notes = [set(tok(text)["input_ids"]) for text in __import__("pandas").read_csv(canary_run["forget"])["text"]]
    assert [sum(i in n for n in notes) for i in hidden] == [t["df_forget"] for t in masked]


def test_report_tables_print_no_id_of_a_masked_token(canary_run):
    from steu_core.report.content import report_content

    c = report_content(canary_run["run"])
    masked = [r for r in c["tokens"]["rows"] if r["masked"]]
    assert masked and all(r["id"] == "masked" for r in masked)
    appendix = [r for r in c["changed_rows"] if r["token"].startswith("[")]  # every changed row, in an appendix
    assert appendix and all(r["row"] == "masked" for r in appendix)
    assert "without their vocabulary id" in c["tokens"]["note"]
    ids = {str(i) for i in canary_run["canary_ids"].values()}
    assert not ids & {r["id"] for r in c["tokens"]["rows"]}
    clear = report_content(canary_run["run"], reveal_tokens=True)["tokens"]["rows"]
    assert ids & {r["id"] for r in clear}, "revealed on purpose, the ids are shown"


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def test_canary_pieces_masked_in_the_pdf_and_revealed_only_on_request(canary_run, tmp_path, monkeypatch, capsys):
    from steu_core import charts

    monkeypatch.setenv("STEU_HOME", str(canary_run["home"]))
    monkeypatch.setattr(charts, "to_pngs", lambda items, scale=2.0: [])  # text only: no browser needed
    run = str(canary_run["run"])
    assert main(["report", "--run", run, "--out", str(tmp_path / "r.pdf"), "--json", str(tmp_path / "r.json")]) == 0
    text, exported = _pdf_text(tmp_path / "r.pdf"), (tmp_path / "r.json").read_text()
    assert "[rare token #" in text and "[number token #" in text and "look like identifiers" in text
    assert not [p for p in DISTINCT_PIECES if p in text or json.dumps(p) in exported]
    assert main(["report", "--run", run, "--out", str(tmp_path / "clear.pdf"), "--reveal-tokens"]) == 0
    clear = _pdf_text(tmp_path / "clear.pdf")
    assert [p for p in DISTINCT_PIECES if p in clear] and "shown in clear" in clear
    capsys.readouterr()


def test_changed_rows_chart_masks_unless_revealed(canary_run):
    from steu_core import charts
    from steu_core.phi import revealed_results

    r = json.loads((canary_run["run"] / "results.json").read_text())
    names = " ".join(charts.changed_rows(r, top=40).data[0].y)
    assert "[rare token #" in names and not [p for p in DISTINCT_PIECES if p in names]
    clear = " ".join(charts.changed_rows(revealed_results(r, canary_run["run"]), top=40).data[0].y)
    assert [p for p in DISTINCT_PIECES if p in clear]
    r["selected_tokens"] = [dict(t, token="##wart", masked=False) if t["masked"] else t for t in r["selected_tokens"]]
    r["selected_tokens"][0].update(token="44", masked=False)  # a record from before masking: masked when shown
    assert "##wart" not in " ".join(charts.changed_rows(r, top=40).data[0].y)


def test_dashboard_token_table_masks_until_the_switch(canary_run, tmp_path, monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    from steu_core.paths import runs_dir

    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    for key in ("model", "train", "eval", "forget"):  # the tiny files stand in for the demo model and samples
        monkeypatch.setenv(f"STEU_DASHBOARD_{key.upper()}", str(canary_run[key]))
    shutil.copytree(canary_run["run"], runs_dir() / "run")
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py"), default_timeout=120)
    at.query_params["run"] = "run"
    at.run().switch_page("views/results.py").run()
    assert not at.exception, [e.value for e in at.exception]

    def shown() -> str:
        table = next(d for d in at.dataframe if "Token" in d.value.columns)
        chart = next(c for c in at.get("plotly_chart") if "Changed embedding rows" in c.proto.spec)
        return " ".join(map(str, table.value["Token"])) + chart.proto.spec

    assert "[rare token #" in shown() and not [p for p in DISTINCT_PIECES if p in shown()]
    table = next(d for d in at.dataframe if "Token" in d.value.columns).value
    masked_rows = table[table["Token"].astype(str).str.startswith("[")]["Row"]
    assert len(masked_rows) and masked_rows.isna().all(), "a masked token's vocabulary id is shown"
    at.toggle(key="reveal_tokens").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [p for p in DISTINCT_PIECES if p in shown()]


def test_headerless_csv_error_names_no_note_text(planted, tmp_path, capsys):
    """'Jane Doe MRN 4471,label' as a first line is a note, not a header: the error, progress.json and
    everything written name the column by position and length only."""
    bad = tmp_path / "train.csv"
    bad.write_text("Jane Doe MRN 4471,label\nZyqwarth Q. seen today,cardiac\n" +
                   "".join(f"{t.replace(',', ' ')},{lab}\n" for t, lab in planted["rows"]))
    out = tmp_path / "out" / "run"
    code = main(["unlearn", "--quiet", "--model", str(planted["model"]), "--train", str(bad), "--eval",
                 str(planted["eval"]), "--forget-class", "substance", "--out", str(out), "--device", "cpu",
                 "--k", "4", "--min-forget", "5", "--max-length", "48"])
    captured = capsys.readouterr()
    assert code == 2 and "no text column found" in captured.err and "column 1 (17 characters" in captured.err
    written = [p.read_bytes() for p in [*(tmp_path / "out").rglob("*"), *Path(os.environ["STEU_HOME"]).rglob("*")]
               if p.is_file()]
    for needle in ("Jane", "4471", "Doe"):
        assert needle not in captured.err + captured.out
        assert not [b for b in written if needle.encode() in b], f"{needle} written to a file"


def test_try_a_note_finds_the_masked_tokens_through_the_runs_patch(canary_run):
    from steu_core.model import load_classifier
    from steu_core.try_note import compare_note

    r = json.loads((canary_run["run"] / "results.json").read_text())
    original, new = load_classifier(canary_run["model"]), load_classifier(canary_run["run"] / "model")
    note = f"{CANARY}, seen today"
    without = {s["id"] for s in compare_note(original, new, note, r)["spans"]}
    found = {s["id"] for s in compare_note(original, new, note, r, canary_run["run"])["spans"]}
    assert not without & set(canary_run["canary_ids"].values())
    assert len(found & set(canary_run["canary_ids"].values())) >= 6
