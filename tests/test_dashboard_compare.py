"""The Compare page starts, follows and cancels a comparison through the worker (AppTest, tiny model)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from test_dashboard_apptest import APP, _app, _page, _texts, dash_env, served_on_loopback  # noqa: F401 (fixtures)
from streamlit.testing.v1 import AppTest

from steu_core import worker
from steu_core.compare import list_comparisons
from steu_core.paths import comparisons_dir
from steu_core.runs import staging_dir

QUICK = {"steu": {"max_steps": 15}, "head_only": {"max_steps": 15}}


def _ready_compare_page(dash_env, settings: dict) -> AppTest:  # noqa: F811
    at = AppTest.from_file(APP, default_timeout=120).run()
    _page(at, "request")
    at.file_uploader(key="up_forget").set_value(("forget.csv", Path(dash_env["forget"]).read_bytes(),
                                                 "text/csv")).run()
    at.session_state["min_forget"] = 5
    at.session_state["max_length"] = 48
    at.session_state["device"] = "cpu"
    _page(at, "compare")
    at.multiselect(key="cmp_methods_pick").set_value(["steu", "head_only"])
    at.multiselect(key="cmp_audits").set_value(["utility_ci", "probe"])
    at.number_input(key="cmp_n_boot").set_value(50)
    at.number_input(key="cmp_retain_sample").set_value(30)
    at.text_area(key="cmp_settings").input(json.dumps(settings)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _job_id(at: AppTest) -> str:
    job = at.query_params["cmp"]
    return job[0] if isinstance(job, list) else job


def test_a_comparison_started_from_the_page_runs_to_its_table(dash_env):  # noqa: F811
    at = _ready_compare_page(dash_env, QUICK)
    hint = at.code[0].value
    assert "steu_core compare" in hint and "--methods steu,head_only" in hint
    assert str(Path(dash_env["dir"])) not in hint and "/" not in hint.split("--train ")[1].split()[0], \
        "the terminal hint names files, not this machine's paths"
    estimate = next(c.value for c in at.caption if "Estimated time" in c.value)
    assert "at most" in estimate and "full set" in estimate, "the time is said before the start, for either set"
    at.button(key="cmp_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = _job_id(at)
    assert job_id.startswith("cmp-") and worker.comparison_status(job_id).active
    assert "is in progress" in _texts(at)
    again = _page(AppTest.from_file(APP, default_timeout=120).run(), "compare")
    if worker.comparison_status(job_id).active:
        assert job_id in _texts(again), "a fresh session finds the comparison in progress"
        assert not any(b.key == "cmp_start" for b in again.button), "and cannot start another"

    end = worker.wait_comparison(job_id, timeout=600)
    assert end.state == "finished", end.message
    assert [c["methods"] for c in list_comparisons()] == [["steu", "head_only"]]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "finished" in _texts(at)
    assert list(at.dataframe[-1].value["method"]) == ["original", "steu", "head_only"]


def test_cancel_from_the_page_leaves_nothing_that_looks_finished(dash_env, monkeypatch):  # noqa: F811
    # the first method's run waits after its first training step (the runs' test hook), so Cancel is
    # pressed while the comparison is certainly in progress
    monkeypatch.setenv("STEU_TEST_PAUSE_AT", "unlearn")
    at = _ready_compare_page(dash_env, {"steu": {"max_steps": 100000}, "head_only": {"max_steps": 15}})
    at.button(key="cmp_start").click().run()
    job_id = _job_id(at)
    out = comparisons_dir() / job_id
    inner = staging_dir(staging_dir(out) / "steu")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert worker.comparison_status(job_id).active
        try:
            if json.loads((inner / "progress.json").read_text()).get("paused_at") == "unlearn":
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    at.run()
    status = worker.comparison_status(job_id)
    assert status.stage == "method" and status.detail["method"] == "steu"
    table = at.dataframe[0].value
    assert list(table["Method"]) == ["steu", "head_only"] and list(table["State"]) == ["running", "waiting"]
    next(b for b in at.button if b.label == "Cancel comparison").click().run()
    (inner / "RESUME").touch()
    end = worker.wait_comparison(job_id, timeout=120)
    assert end.state == "cancelled", end.message
    assert not out.exists() and list_comparisons() == []
    assert not staging_dir(out).exists(), "a cancelled comparison leaves no .partial folder behind"
    at.run()
    assert "was cancelled" in _texts(at)


def test_the_method_choice_and_the_relearning_set_survive_a_reload(dash_env):  # noqa: F811
    at = _page(_app(), "compare")
    at.multiselect(key="cmp_methods_pick").set_value(["steu", "head_only"]).run()
    at.toggle(key="cmp_full_pick").set_value(True).run()
    assert "--full-relearning" in at.code[0].value
    draft = at.query_params["draft"]
    draft = draft[0] if isinstance(draft, list) else draft
    _page(at, "history")  # another page, whose run does not draw the Compare page's widgets
    again = _page(_app(draft=draft), "compare")  # a browser reload: only the URL is left
    assert not again.exception, [e.value for e in again.exception]
    assert again.multiselect(key="cmp_methods_pick").value == ["steu", "head_only"]
    assert again.toggle(key="cmp_full_pick").value is True


def test_a_comparison_after_a_run_takes_its_forget_set_without_a_second_upload(dash_env, tiny_bert):  # noqa: F811
    from steu_core.paths import runs_dir
    from steu_core.request import UnlearnRequest
    from steu_core.runs import run_unlearning

    run = run_unlearning(UnlearnRequest(train=str(dash_env["train"]), eval=str(dash_env["eval"]),
                                        forget=str(dash_env["forget"]), forget_class="substance",
                                        out=runs_dir() / "run-earlier", model=str(tiny_bert), device="cpu",
                                        max_length=48, min_forget=5, settings={"max_steps": 3, "min_df": 2},
                                        record_ledger=False))
    at = _app()
    at.session_state["forget_class"] = "substance"
    at.session_state["min_forget"] = 5
    at.session_state["run_id"] = run.name  # the run this session followed; its forget upload is gone
    _page(at, "compare")
    assert "found again in the training file" in _texts(at)
    assert "--forget-from-run run-earlier" in at.code[0].value
    assert not at.button(key="cmp_start").disabled, "no forget file to upload again"
