"""The dashboard, page by page, with Streamlit's AppTest (no browser): a tiny model stands in for the
demo model (STEU_DASHBOARD_MODEL) and the tiny corpus for the sample files."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from steu_core import worker
from steu_core.ledger import Ledger
from steu_core.paths import precomputed_dir, runs_dir, steu_home
from steu_core.runs import UnlearnRequest, run_unlearning, staging_dir
from steu_core.verdicts import QUESTIONS, headline

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


# --- fixtures -----------------------------------------------------------------------------------


def _serve_on(address: str | None):
    """Streamlit's ``server.address`` for the duration of a test, restored afterwards."""
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", address)
    try:
        yield
    finally:
        config.set_option("server.address", before)


@pytest.fixture(autouse=True)
def served_on_loopback():
    """127.0.0.1, as the shipped .streamlit/config.toml says - set here because Streamlit reads its
    config once per process, from whatever directory was current then."""
    yield from _serve_on("127.0.0.1")


@pytest.fixture
def dash_env(monkeypatch, tiny_bert, tiny_data):
    monkeypatch.setenv("STEU_DASHBOARD_MODEL", str(tiny_bert))
    monkeypatch.setenv("STEU_DASHBOARD_TRAIN", str(tiny_data["train"]))
    monkeypatch.setenv("STEU_DASHBOARD_EVAL", str(tiny_data["eval"]))
    monkeypatch.setenv("STEU_DASHBOARD_FORGET", str(tiny_data["forget"]))
    return tiny_data


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_bert, tiny_data) -> Path:
    """One real finished run of the tiny model (made once, copied into each test's data directory)."""
    home = tmp_path_factory.mktemp("run_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STEU_HOME", str(home))
        out = run_unlearning(UnlearnRequest(
            model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"], forget=tiny_data["forget"],
            forget_class="substance", out=home / "runs" / "run-fixture", device="cpu", max_length=48, min_forget=5,
            settings={"max_steps": 30, "lr_rows": 0.05, "lr_head": 0.02, "min_df": 2}, request_id="REQ-7",
            requester="Privacy office", record_ledger=False))
    return out


def _install_run(src: Path, run_id: str, created: str | None = None) -> Path:
    dst = runs_dir() / run_id
    shutil.copytree(src, dst)
    r = json.loads((dst / "results.json").read_text())
    r["run_id"] = run_id
    if created:
        r["created_utc"] = created
    (dst / "results.json").write_text(json.dumps(r))
    return dst


def _app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def _page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"views/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _csv(rows, header=("text", "label")) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def _rows(path) -> list[tuple[str, str]]:
    with open(path, newline="") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f)]


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _box_of(at: AppTest, key: str):
    """The innermost bordered container holding the widget with ``key``."""
    best = None
    for node in _walk(at.main):
        if getattr(node, "type", None) in ("vertical", "container", "flex_container") or node.__class__.__name__ == "Block":
            if any(getattr(n, "key", None) == key for n in _walk(node)):
                best = node
    uploaders = [n for n in _walk(best) if getattr(n, "type", None) == "file_uploader"]
    assert len(uploaders) == 1, "the box must hold that one input only"
    return best


def _errors(at: AppTest) -> list[str]:
    """Error texts as the user reads them (Markdown escapes removed)."""
    return [e.value.replace("\\", "") for e in at.error]


def _errors_in(node) -> list[str]:
    return [n.value.replace("\\", "") for n in _walk(node) if getattr(n, "type", None) == "error" or n.__class__.__name__ == "Error"]


def _texts(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "success", "info", "warning", "error", "caption", "title", "header", "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts).replace("\\", "")


# --- 0 Access -----------------------------------------------------------------------------------


def test_off_loopback_without_a_password_the_app_refuses_to_serve(dash_env, monkeypatch):
    monkeypatch.delenv("STEU_DASHBOARD_PASSWORD", raising=False)
    for _ in _serve_on("0.0.0.0"):
        at = _app()
        assert "refusing to serve the dashboard" in _texts(at)
        assert not at.metric and not at.file_uploader, "nothing of the app is shown"


def test_off_loopback_the_password_prompt_guards_the_pages(dash_env, monkeypatch):
    monkeypatch.setenv("STEU_DASHBOARD_PASSWORD", "correct horse battery staple")
    for _ in _serve_on("0.0.0.0"):
        at = _app()
        prompt = at.text_input[0]
        assert prompt.label == "Password" and not at.metric
        prompt.set_value("correct horse battery stapl").run()
        assert "Wrong password." in _errors(at) and not at.metric
        at.text_input[0].set_value("correct horse battery staple").run()
        assert not at.exception
        assert {m.label: m.value for m in at.metric}["Architecture"] == "BERT"


# --- 1 Model ------------------------------------------------------------------------------------


def test_model_page_shows_the_configured_model(dash_env):
    at = _app()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Architecture"] == "BERT"
    assert metrics["Classes"] == "3"
    assert metrics["Parameters"].endswith(" M")
    assert metrics["Runs will use"] in ("CPU", "MPS") or metrics["Runs will use"].startswith("cuda")
    text = _texts(at)
    for label in dash_env["labels"]:
        assert label in text


def test_model_page_explains_a_bad_checkpoint(dash_env, tmp_path):
    at = _app()
    at.radio(key="model_kind").set_value("local").run()
    at.text_input(key="model_path_value").input(str(tmp_path / "nope")).run()
    assert not at.exception
    assert any("does not exist" in e for e in _errors(at))
    (tmp_path / "empty").mkdir()
    at.text_input(key="model_path_value").input(str(tmp_path / "empty")).run()
    assert any("no config.json" in e for e in _errors(at))
    assert not at.metric  # no model card for a model that did not load


# --- 2 Deletion request -------------------------------------------------------------------------


def test_request_upload_is_saved_in_the_data_dir_and_prefills_the_class(dash_env):
    at = _page(_app(), "request")
    assert at.selectbox(key="forget_class").value is None
    data = Path(dash_env["forget"]).read_bytes()
    at.file_uploader(key="up_forget").set_value(("my forget set.csv", data, "text/csv")).run()
    assert not at.exception
    assert at.selectbox(key="forget_class").value == "substance"
    assert not at.error
    saved = list((steu_home() / "uploads").rglob("*.csv"))
    assert [p.name for p in saved] == ["my_forget_set.csv"] and saved[0].read_bytes() == data
    assert any(t.startswith("Ready") for t in (s.value.replace("\\", "") for s in at.success))
    # the request survives a trip to another page and back
    _page(at, "model")
    _page(at, "request")
    assert at.selectbox(key="forget_class").value == "substance"
    assert any("my_forget_set.csv" in s.value.replace("\\", "") for s in at.success)


def test_request_forget_file_with_a_row_of_another_class_is_refused_next_to_it(dash_env):
    rows = [r for r in _rows(dash_env["forget"])][:12]
    rows[4] = (rows[4][0], "cardiac")
    at = _page(_app(), "request")
    at.file_uploader(key="up_forget").set_value(("forget.csv", _csv(rows), "text/csv")).run()
    assert not at.exception
    at.selectbox(key="forget_class").set_value("substance").run()
    errs = _errors_in(_box_of(at, "up_forget"))
    assert len(errs) == 1, errs
    msg = errs[0].replace("\\", "")
    assert "row 5" in msg and "'cardiac'" in msg and "not the forget class" in msg
    assert "What to do" in msg and "Traceback" not in msg
    assert rows[4][0] not in msg  # the note text is never repeated
    assert not any(b.label == "Next: run the unlearning" for b in at.button)


def test_request_file_without_a_text_column_is_refused(dash_env):
    at = _page(_app(), "request")
    at.file_uploader(key="up_forget").set_value(
        ("forget.csv", _csv([("a", "substance")] * 12, header=("words", "label")), "text/csv")).run()
    errs = _errors_in(_box_of(at, "up_forget"))
    assert any("no text column found" in e for e in errs), errs


def test_request_training_file_with_an_unknown_label_is_refused_next_to_it(dash_env):
    rows = _rows(dash_env["train"])
    rows[2] = (rows[2][0], "oncology")
    at = _page(_app(), "request")
    at.file_uploader(key="up_train").set_value(("train.csv", _csv(rows), "text/csv")).run()
    errs = _errors_in(_box_of(at, "up_train"))
    assert any("is not one of the model's labels" in e and "row 3" in e for e in errs), errs
    assert not any("oncology" in e for e in errs), errs  # a value from the file is not repeated
    assert not _errors_in(_box_of(at, "up_eval"))  # the evaluation file is fine


def test_request_binary_file_is_refused(dash_env):
    at = _page(_app(), "request")
    at.file_uploader(key="up_forget").set_value(("forget.parquet", b"not parquet at all", "application/octet-stream")).run()
    errs = _errors_in(_box_of(at, "up_forget"))
    assert any("cannot be read as Parquet" in e for e in errs), errs


# --- 3 Run --------------------------------------------------------------------------------------


def _ready_run_page(dash_env, max_steps: int) -> AppTest:
    at = _page(_app(), "request")
    at.file_uploader(key="up_forget").set_value(("forget.csv", Path(dash_env["forget"]).read_bytes(), "text/csv")).run()
    _page(at, "run")
    at.number_input(key="max_steps").set_value(max_steps)
    at.number_input(key="min_forget").set_value(5)
    at.selectbox(key="device").set_value("cpu")
    return at


def _run_button(at):
    return next(b for b in at.button if b.label == "Run STEU")


def test_the_original_is_scored_in_the_background_once_the_files_are_known_and_the_run_reads_it(dash_env,
                                                                                                  monkeypatch):
    monkeypatch.setenv("STEU_DASHBOARD_PRECOMPUTE", "1")
    at = _page(_app(), "request")
    assert not list(precomputed_dir().iterdir())  # no forget set yet: nothing to score
    at.file_uploader(key="up_forget").set_value(("forget.csv", Path(dash_env["forget"]).read_bytes(), "text/csv")).run()
    job = at.session_state["_precompute"]["id"]
    assert "In the background, so that the run starts from them" in "".join(m.value for m in at.markdown)
    _page(at, "run")  # the Run page's own settings (another seed): the first one finishes, then one for them
    at.number_input(key="seed").set_value(1).run()
    assert at.session_state["_precompute"]["id"] == job
    assert worker.jobs.wait(worker.PRECOMPUTES, precomputed_dir() / job, timeout=300).state == "finished"
    at.run()
    second = at.session_state["_precompute"]["id"]
    assert second != job
    assert worker.jobs.wait(worker.PRECOMPUTES, precomputed_dir() / second, timeout=300).state == "finished"
    at.run()
    assert "scores for this request are ready" in _texts(at)
    _run_button(at).click().run()
    run_id = at.query_params["run"]
    end = worker.wait(run_id[0] if isinstance(run_id, list) else run_id, timeout=400)
    assert end.state == "finished", end.message
    assert worker.precompute_status(second).state == "finished"  # nothing started while the run ran


def test_run_starts_off_thread_survives_a_refresh_and_shows_results(dash_env):
    at = _ready_run_page(dash_env, max_steps=15)
    assert not _run_button(at).disabled
    _run_button(at).click().run()
    assert not at.exception
    run_id = at.query_params["run"]
    run_id = run_id[0] if isinstance(run_id, list) else run_id
    assert worker.status(run_id).active
    assert "is in progress" in _texts(at)
    assert any('role="progressbar"' in m.value for m in at.markdown)

    # a browser refresh: a new session that only has the URL finds the same run, and cannot start another
    again = _app(run=run_id)
    _page(again, "run")
    if worker.status(run_id).active:
        assert run_id in _texts(again) and "in progress" in _texts(again)
    fresh = _page(_app(), "run")  # no run id at all: discovered from the data directory
    if worker.status(run_id).active:
        assert run_id in _texts(fresh)

    end = worker.wait(run_id, timeout=400)
    assert end.state == "finished", end.message
    assert [p.name for p in runs_dir().iterdir() if not p.name.startswith(".")] == [run_id]
    at.run()  # the page that watched the run moves on to its results
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Forget F1" in labels and "Encoder intact" in labels


def test_cancel_stops_the_run_cleanly(dash_env, monkeypatch):
    # The tiny model forgets in a few steps; the worker waits after its first training step (the
    # runs' test hook) so that Cancel is pressed while the run is certainly in progress.
    monkeypatch.setenv("STEU_TEST_PAUSE_AT", "unlearn")
    at = _ready_run_page(dash_env, max_steps=100000)
    _run_button(at).click().run()
    run_id = at.query_params["run"]
    run_id = run_id[0] if isinstance(run_id, list) else run_id
    stage = staging_dir(runs_dir() / run_id)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        st = worker.status(run_id)
        assert st.active, st
        try:
            if json.loads((stage / "progress.json").read_text()).get("paused_at") == "unlearn":
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    at.run()
    assert worker.status(run_id).stage == "unlearn"
    next(b for b in at.button if b.label == "Cancel run").click().run()
    (stage / "RESUME").touch()
    end = worker.wait(run_id, timeout=120)
    assert end.state == "cancelled"
    assert not (runs_dir() / run_id).exists()
    assert sorted(p.name for p in staging_dir(runs_dir() / run_id).iterdir()) == ["progress.json"]
    at.run()
    assert "was cancelled" in _texts(at)


def test_a_failed_run_shows_its_message(dash_env):
    out = runs_dir() / "run-broken"
    staging_dir(out).mkdir(parents=True)
    (staging_dir(out) / "progress.json").write_text(json.dumps(
        {"state": "failed", "stage": "failed", "message": "file 'forget.csv', row 3: the label is missing", "pid": 1}))
    at = _page(_app(run="run-broken"), "run")
    msg = " ".join(e.value for e in at.error).replace("\\", "")
    assert "run-broken" in msg and "row 3: the label is missing" in msg


# --- 4 Results ----------------------------------------------------------------------------------


def test_results_page_shows_the_evidence(dash_env, finished_run):
    _install_run(finished_run, "run-a")
    r = json.loads((runs_dir() / "run-a" / "results.json").read_text())
    at = _page(_app(run="run-a"), "results")
    metrics = {m.label: m for m in at.metric}
    assert metrics["Forget F1"].value == f"{r['forget_f1_after']:.3f}"
    assert metrics["Retain F1"].value == f"{r['retain_f1_after']:.3f}"
    assert metrics["Encoder intact"].value == "Yes"
    outputs = r["verdicts"]["threat_models"]["outputs"]["evidence"]
    assert metrics["Attack AUC"].value == f"{outputs['after_auc']:.3f}"
    # collateral damage: retained-notes F1 with intervals, where the notes went, all-notes F1 with intervals
    assert len(at.get("plotly_chart")) == 8
    assert "Is the forgetting shown?" in _texts(at)
    text = _texts(at)
    for question in (QUESTIONS["outputs"], QUESTIONS["model_file"]):
        assert question in text
    assert "Against an attacker who has the model file" in text
    if r["verdicts"]["overall"]["verdict"] != "yes":
        assert "What you can do next" in text
    attacks = next(d for d in at.dataframe if "AUC on the original (power)" in d.value.columns)
    assert "learned (outputs)" in list(attacks.value["Attack"])
    assert "Parameter check: PASS" in text and "REQ-7" in text
    assert not any("{" in str(m.value) and "}" in str(m.value) for m in at.markdown)  # no raw dicts

    tokens = [t["token"] for t in r["selected_tokens"]]
    table = next(d for d in at.dataframe if "Token" in d.value.columns)
    assert len(table.value) == len(tokens)
    at.text_input(key="token_filter").input(tokens[0]).run()
    table = next(d for d in at.dataframe if "Token" in d.value.columns)
    assert 1 <= len(table.value) < len(tokens) or len(tokens) == 1
    assert all(tokens[0].lower() in str(t).lower() for t in table.value["Token"])


def test_results_page_builds_the_pdf_in_the_run_dir(dash_env, finished_run):
    pytest.importorskip("steu_core.report")
    run = _install_run(finished_run, "run-pdf")
    at = _page(_app(run="run-pdf"), "results")
    assert not any(b.label == "Download the PDF report" for b in at.get("download_button"))
    next(b for b in at.button if b.label == "Create the PDF report").click().run(timeout=300)
    assert not at.exception and not at.error
    pdf = run / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert any(b.label == "Download the PDF report" for b in at.get("download_button"))


def test_results_page_without_runs_says_so(dash_env):
    at = _page(_app(), "results")
    assert "No finished run yet" in _texts(at)


# --- 5 History ----------------------------------------------------------------------------------


def test_history_lists_opens_and_compares_runs(dash_env, finished_run):
    _install_run(finished_run, "run-old", created="2030-01-01T10:00:00+00:00")
    _install_run(finished_run, "run-new", created="2030-01-02T10:00:00+00:00")
    out = runs_dir() / "run-crashed"
    staging_dir(out).mkdir()
    (staging_dir(out) / "progress.json").write_text(json.dumps({"state": "cancelled", "message": "the run was cancelled"}))

    at = _page(_app(), "history")
    table = at.dataframe[0].value
    assert list(table["Run id"]) == ["run-old", "run-new"][::-1] or set(table["Run id"]) == {"run-old", "run-new"}
    recorded = json.loads((runs_dir() / "run-new" / "results.json").read_text())["verdicts"]
    assert set(table["Verdict"]) == {headline(recorded)}  # the verdict beside the outcome, not only "success"
    compare = next(d.value for d in at.dataframe if "B − A" in d.value.columns)
    assert set(compare["Figure"]) >= {"Forget F1 after", "Retain F1 after", "Parameters changed"}
    assert len(at.get("plotly_chart")) == 6  # three charts per run, side by side
    assert "run-crashed" in _texts(at)

    next(b for b in at.button if b.label == "Remove").click().run()
    assert not staging_dir(out).exists()

    at.selectbox(key="cmp_a").set_value("run-new").run()
    assert not at.exception
    at.session_state["view_run"] = "run-old"
    _page(at, "results")
    assert at.selectbox(key="results_run").value == "run-old"


def test_runs_written_elsewhere_are_found_through_the_ledger_and_a_gone_one_says_so(dash_env, finished_run, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "sud-request-17"
    shutil.copytree(finished_run, elsewhere)
    r = json.loads((elsewhere / "results.json").read_text())
    r["run_id"] = "sud-request-17"
    (elsewhere / "results.json").write_text(json.dumps(r))
    for run_id, where in (("sud-request-17", elsewhere), ("run-gone", tmp_path / "deleted")):
        Ledger().append("run", {"run_id": run_id, "run_dir": str(where), "outcome": "success", "verdict": "No"})

    at = _page(_app(), "history")
    table = at.dataframe[0].value
    assert set(table["Run id"]) == {"sud-request-17", "run-gone"}
    where = dict(zip(table["Run id"], table["Where"]))
    assert where["sud-request-17"] == str(elsewhere) and "is gone (moved or deleted)" in where["run-gone"]

    at = _page(_app(run="sud-request-17"), "results")
    assert len(at.get("plotly_chart")) == 8 and "REQ-7" in _texts(at)
    at = _page(_app(run="run-gone"), "results")
    assert not at.error and "is gone (moved or deleted)" in _texts(at) and not at.get("plotly_chart")


# --- 3 Run: another method ----------------------------------------------------------------------


def test_run_page_runs_the_chosen_method_with_only_its_settings(dash_env):
    at = _ready_run_page(dash_env, max_steps=10)
    at.selectbox(key="method").set_value("head_only").run()
    assert not at.exception
    assert not at.get("radio") or all(r.key != "sel_mode" for r in at.radio), "head_only edits no rows: no k/budget"
    button = next(b for b in at.button if b.label == "Run head_only")
    button.click().run()
    run_id = at.query_params["run"]
    run_id = run_id[0] if isinstance(run_id, list) else run_id
    end = worker.wait(run_id, timeout=400)
    assert end.state == "finished", end.message
    r = json.loads((runs_dir() / run_id / "results.json").read_text())
    assert r["method"] == "head_only" and r["k"] == 0
    assert r["method_settings"]["max_steps"] == 10
    assert r["param_diff_verdict"] == "pass" and not r["selected_tokens"]


def test_run_page_settings_start_from_each_methods_own_defaults(dash_env):
    # grad_ascent's own max_steps default is 40; the page used to send STEU's 60 to every method
    from steu_core.methods import setting_fields

    at = _page(_app(), "request")
    at.file_uploader(key="up_forget").set_value(("forget.csv", Path(dash_env["forget"]).read_bytes(), "text/csv")).run()
    _page(at, "run")
    assert at.number_input(key="max_steps").value == 60
    for method in ("grad_ascent", "finetune_retain", "retrain_oracle"):
        at.selectbox(key="method").set_value(method).run()
        assert not at.exception
        for f in setting_fields(method):
            widget = (at.checkbox if f.kind == "bool" else at.text_input if f.kind == "str" else at.number_input)
            assert widget(key=f.name).value == f.default, (method, f.name)


# --- 6 Compare methods --------------------------------------------------------------------------


def test_compare_page_shows_a_comparison_made_by_the_cli(dash_env):
    at = _page(_app(), "compare")
    assert "No comparison yet" in _texts(at)
    assert "steu_core compare" in at.code[0].value and "--train" in at.code[0].value

    from steu_core.cli import main
    from steu_core.compare import list_comparisons

    rc = main(["compare", "--quiet", "--model", os.environ["STEU_DASHBOARD_MODEL"],
               "--train", str(dash_env["train"]), "--eval", str(dash_env["eval"]),
               "--forget-class", dash_env["forget_class"], "--methods", "steu,head_only",
               "--settings", json.dumps({"steu": {"max_steps": 15}, "head_only": {"max_steps": 15}}),
               "--audits", "utility_ci,probe,layer_probe", "--device", "cpu", "--max-length", "48", "--min-forget", "5",
               "--bootstrap", "50", "--retain-sample", "30"])
    assert rc == 0
    found = list_comparisons()
    assert len(found) == 1 and found[0]["methods"] == ["steu", "head_only"], "saved in the data directory"

    at = _page(_app(), "compare")
    table = at.dataframe[0].value
    assert list(table["method"]) == ["original", "steu", "head_only"]
    assert table["forget F1 [95% CI]"].str.contains(r"\[").all(), "figures carry their intervals"
    assert len(at.get("plotly_chart")) == 2, "the Pareto chart and the layer-wise probe"
    assert any("Where the class is still readable" in h.value for h in at.subheader)
    findings = json.loads((Path(found[0]["path"]) / "comparison.json").read_text())["findings"]
    shown = _texts(at)
    assert all(line in shown for line in findings) if findings else "statistically indistinguishable" in shown
    assert any(b.label == "Download the table (CSV)" for b in at.get("download_button"))


def test_history_flags_removed_newest_entries_the_chain_cannot_see(dash_env):
    import sqlite3

    from steu_core.ledger import Ledger

    ledger = Ledger()
    for i in range(3):
        ledger.append("request", {"request_id": f"REQ-{i}", "forget_rows": 12})
    assert "Head record check FAILED" not in _texts(_page(_app(), "history"))
    con = sqlite3.connect(ledger.path)  # the newest entry dropped: the chain that is left is still intact
    con.execute("DROP TRIGGER IF EXISTS entries_no_delete")
    con.execute("DELETE FROM entries WHERE seq = 3")
    con.commit()
    con.close()
    texts = _texts(_page(_app(), "history"))
    assert "Chain intact" in texts and "Head record check FAILED" in texts


def test_history_shows_the_ledger_and_a_broken_chain(dash_env):
    import sqlite3

    from steu_core.ledger import Ledger

    ledger = Ledger()
    ledger.append("request", {"request_id": "REQ-1", "forget_rows": 12})
    ledger.append("run", {"request_id": "REQ-1", "run_id": "run-x", "outcome": "success"})
    at = _page(_app(), "history")
    assert "Chain intact" in _texts(at)
    table = next(d.value for d in at.dataframe if "Entry hash" in d.value.columns)
    assert list(table["#"]) == [2, 1] and "run_id=run-x" in table["What"].iloc[0]
    ledger.append("report", {"run_id": "run-x", "pdf_sha256": "a" * 64, "file_name": "report.pdf"})
    ledger.append("report", {"run_id": "run-x", "pdf_sha256": "b" * 64, "file_name": "report-v2.pdf"})
    at = _page(_app(), "history")
    versions = next(d.value for d in at.dataframe if "SHA-256 of the PDF" in d.value.columns)
    assert list(versions["File"]) == ["report-v2.pdf", "report.pdf"] and versions["SHA-256 of the PDF"][0] == "b" * 64

    con = sqlite3.connect(ledger.path)  # someone with file access drops the append-only triggers and edits
    con.execute("DROP TRIGGER IF EXISTS entries_no_update")
    con.execute("UPDATE entries SET payload = ? WHERE seq = 1", ('{"forget_rows": 13, "request_id": "REQ-1"}',))
    con.commit()
    con.close()
    at = _page(_app(), "history")
    assert "Chain BROKEN at entry 1" in _texts(at)


# --- 2 Deletion request: the forget set by ids, columns, hints, and a request that survives a refresh --


def _train_with_ids(dash_env, column="record_no") -> tuple[bytes, list[str]]:
    """The tiny training file with an id column, and the ids of its forget-class notes."""
    rows = _rows(dash_env["train"])
    data = _csv([(f"R{i}", t, y) for i, (t, y) in enumerate(rows)], header=(column, "text", "label"))
    return data, [f"R{i}" for i, (_, y) in enumerate(rows) if y == "substance"]


def test_request_forget_set_by_ids_with_an_id_column_pick(dash_env):
    train, wanted = _train_with_ids(dash_env)
    at = _page(_app(), "request")
    at.file_uploader(key="up_train").set_value(("train.csv", train, "text/csv")).run()
    at.radio(key="forget_kind").set_value("ids").run()
    at.file_uploader(key="up_forget").set_value(("ids.csv", _csv([(i,) for i in wanted], header=("record_no",)),
                                                 "text/csv")).run()
    at.selectbox(key="forget_class").set_value("substance").run()
    assert not at.exception
    # 'record_no' is no usual id name: nothing is pre-selected, and the error names the picker, not a flag
    assert at.selectbox(key="col_id").value is None
    errs = _errors_in(_box_of(at, "up_forget"))
    assert any("no id column found" in e for e in errs), errs
    assert any("\u201cId column of the training notes\u201d picker" in e for e in errs), errs
    assert not any("--" in e for e in errs), errs
    at.selectbox(key="col_id").set_value("record_no").run()
    assert not _errors_in(_box_of(at, "up_forget"))
    ids_bytes = _csv([(i,) for i in wanted], header=("record_no",))
    digest = __import__("hashlib").sha256(ids_bytes if isinstance(ids_bytes, bytes) else ids_bytes.encode()).hexdigest()
    assert any(f"SHA-256 of the ids file (its bytes, as sha256sum gives it) {digest}" in s.value.replace("`", "")
               for s in at.success)  # the hash of the file the requester sent, not of the matched notes
    assert any(t.startswith(f"Ready: forget substance using {len(wanted)} forget notes")
               for t in (s.value.replace("\\", "").replace("*", "") for s in at.success))


def test_request_unknown_ids_are_counted_and_shown(dash_env):
    train, wanted = _train_with_ids(dash_env, column="note_id")  # a usual name: detected
    at = _page(_app(), "request")
    at.file_uploader(key="up_train").set_value(("train.csv", train, "text/csv")).run()
    at.radio(key="forget_kind").set_value("ids").run()
    at.file_uploader(key="up_forget").set_value(("ids.txt", "\n".join(wanted + ["Z1", "Z2"]).encode(),
                                                 "text/plain")).run()
    assert at.selectbox(key="col_id").value == "note_id"
    errs = _errors_in(_box_of(at, "up_forget"))
    assert any(f"2 of {len(wanted) + 2} id(s) are not in the training file" in e and "'Z1', 'Z2'" in e
               for e in errs), errs


def test_request_forget_file_without_a_label_column_takes_the_chosen_class(dash_env):
    texts = [t for t, _ in _rows(dash_env["forget"])]
    at = _page(_app(), "request")
    at.file_uploader(key="up_forget").set_value(("forget.csv", _csv([(t,) for t in texts], header=("note",)),
                                                 "text/csv")).run()
    assert at.selectbox(key="col_forget_text").value == "note"
    assert at.selectbox(key="col_forget_label").value == "-"  # none: the class below applies
    assert not at.error, _errors(at)
    at.selectbox(key="forget_class").set_value("substance").run()
    assert not at.error, _errors(at)
    assert any(t.startswith("Ready") for t in (s.value.replace("\\", "") for s in at.success))


def test_request_hints_name_the_dashboard_controls(dash_env):
    at = _page(_app(), "request")
    rows = _rows(dash_env["forget"])[:3]
    at.file_uploader(key="up_forget").set_value(("forget.csv", _csv(rows, header=("words", "label")),
                                                 "text/csv")).run()
    at.selectbox(key="forget_class").set_value("substance").run()
    errs = _errors_in(_box_of(at, "up_forget"))
    assert any("\u201cText column\u201d picker under the forget set" in e for e in errs), errs
    at.selectbox(key="col_forget_text").set_value("words").run()
    errs = _errors_in(_box_of(at, "up_forget"))
    assert any("fewer than the minimum of 10" in e and "\u201cMinimum forget notes\u201d" in e for e in errs), errs
    assert not any(flag in _texts(at) for flag in ("--text-column", "--label-column", "--min-forget"))


def test_request_metadata_and_id_survive_a_refresh_and_a_second_tab(dash_env):
    at = _page(_app(), "request")
    at.file_uploader(key="up_forget").set_value(("forget.csv", Path(dash_env["forget"]).read_bytes(),
                                                 "text/csv")).run()
    at.text_input(key="requester").input("Patient services").run()
    at.text_input(key="reason").input("GDPR art. 17").run()
    at.text_input(key="operator").input("ana").run()
    request_id = at.text_input(key="request_id").value
    draft = at.query_params["draft"]
    draft = draft[0] if isinstance(draft, list) else draft
    stored = (steu_home() / "drafts" / f"{draft}.json").read_text()
    assert not any(t in stored for t, _ in _rows(dash_env["forget"]))  # metadata only, never note text

    again = _page(_app(draft=draft), "request")  # a refresh (or a second tab): only the URL is left
    assert again.text_input(key="request_id").value == request_id
    assert [again.text_input(key=k).value for k in ("requester", "reason", "operator")] == [
        "Patient services", "GDPR art. 17", "ana"]
    assert again.selectbox(key="forget_class").value == "substance"
    assert any("forget.csv" in s.value.replace("\\", "") and s.value.replace("\\", "").count("Ready") == 0
               for s in again.success)
    assert any(t.startswith("Ready") for t in (s.value.replace("\\", "") for s in again.success))
    kept = [m.value.replace("\\", "") for m in again.markdown if "In use:" in m.value]  # the upload box is empty
    assert kept and "forget.csv" in kept[0] and "kept for this request" in kept[0]
    assert any(b.key == "drop_forget" for b in again.button)
    run_page = _page(_app(draft=draft), "run")  # the Run page's summary says why, too
    table = next(d for d in run_page.dataframe if "Request id" in d.value.iloc[:, 0].tolist())
    assert dict(zip(table.value.iloc[:, 0], table.value.iloc[:, 1]))["Reason"] == "GDPR art. 17"
    fresh = _page(_app(), "request")  # no draft in the URL: a new request, with a new id
    assert fresh.text_input(key="request_id").value != request_id


def test_a_draft_gets_a_new_request_id_once_its_run_has_finished(dash_env, finished_run):
    from steu_core import drafts

    _install_run(finished_run, "run-drafted")
    at = _page(_app(), "request")
    draft = at.query_params["draft"]
    draft = draft[0] if isinstance(draft, list) else draft
    record = drafts.load_draft(draft)
    drafts.save_draft(draft, {**record, "request_id": "REQ-USED", drafts.RUN_KEY: "run-drafted"})  # as Run does
    again = _page(_app(draft=draft), "request")  # the tab after the run finished
    new_id = again.text_input(key="request_id").value
    assert new_id != "REQ-USED" and new_id.startswith("REQ-")
    assert drafts.load_draft(draft)["request_id"] == new_id and drafts.load_draft(draft)[drafts.RUN_KEY] is None


def test_a_finished_run_shows_the_request_it_was_made_for(dash_env, finished_run):
    _install_run(finished_run, "run-done")
    at = _page(_app(run="run-done"), "run")
    table = next(d for d in at.dataframe if "Request id" in d.value.iloc[:, 0].tolist())
    values = dict(zip(table.value.iloc[:, 0], table.value.iloc[:, 1]))
    assert values["Request id"] == "REQ-7" and values["Requester"] == "Privacy office"
    assert values["Forget set"].startswith(Path(dash_env["forget"]).name) and values["Class to forget"] == "substance"
    assert "(missing or invalid)" not in values.values()
# --- Try a note and the presentation --------------------------------------------------------------


def test_try_a_note_scores_an_evaluation_note_and_a_pasted_one(dash_env, finished_run):
    _install_run(finished_run, "run-try")
    at = _page(_app(run="run-try"), "try_note")
    assert {m.label for m in at.metric} == {"Original model predicts", "New model version predicts"}
    assert len(at.get("plotly_chart")) == 1
    at.segmented_control(key="try_source").set_value("Paste a note").run()
    pasted = "<i>heroin</i> withdrawal, methadone clinic $5"
    at.text_area(key="try_text").input(pasted).run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    shown = " ".join(str(h.proto.body) for h in at.get("html"))
    assert "&lt;i&gt;" in shown and "<i>heroin" not in shown and "<mark>" in shown
    address = dict(at.query_params)  # the run and the request draft's id; the text is never put in the address
    assert address["run"] == "run-try" and set(address) <= {"run", "draft"}
    assert not any(pasted in str(v) or "heroin" in str(v) for v in address.values())
    assert not any(pasted in p.read_text(errors="ignore") for p in steu_home().rglob("*") if p.is_file()
                   and p.stat().st_size < 1_000_000)


def test_presentation_walks_the_slides_and_offers_the_html_export(dash_env, finished_run):
    _install_run(finished_run, "run-present")
    at = _page(_app(run="run-present"), "present")
    assert "Forgetting the class" in _texts(at)  # the first slide
    at.query_params["slide"] = "verdicts"  # as a link to /present?run=...&slide=verdicts gives it
    at.run()
    assert "The verdicts" in _texts(at) and dict(at.query_params)["slide"] == "verdicts"
    next(b for b in at.button if b.label == "Next").click().run()
    assert "Forgetting and utility" in _texts(at) and len(at.get("plotly_chart")) == 1
    next(b for b in at.button if b.label == "Last").click().run()
    assert "The evidence on file" in _texts(at)
    assert dict(at.query_params)["slide"] == "evidence"
    assert any(link.proto.label == "Back to the app" for link in at.get("page_link"))  # no sidebar here
    html_dl = next(d for d in at.get("download_button") if "HTML" in d.proto.label)
    assert html_dl is not None and "SHA-256" in _texts(at)


def test_every_page_has_its_own_address(dash_env):
    at = _app()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Architecture"] == "BERT"  # the root opens step 1
    app = Path(APP).read_text()
    for path in ("model", "request", "run", "results", "history", "compare", "try-a-note", "present"):
        assert f'url_path="{path}"' in app
    assert "default=True" not in app.replace('url_path="start", default=True', "")
