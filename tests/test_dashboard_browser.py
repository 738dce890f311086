"""The dashboard in a real browser: `streamlit run dashboard/app.py` as a subprocess, Debian chromium
driven by Playwright, through the whole flow a privacy officer follows (model -> upload the sample
forget set -> run -> results), with a refresh in the middle of the run.

Which model: by default the test puts a *demo-model substitute* into the fresh data directory - a tiny
2-layer BERT fine-tuned for a few seconds on data_samples/train.csv, saved exactly where
``steu_core.demo.ensure_demo_model`` looks - so the app takes its normal "default model" path but the
test stays within about a minute. ``STEU_BROWSER_REAL_MODEL=1`` uses the real MiniLM demo model
instead (prepared by the app on first use: minutes on a CPU); with ``STEU_BROWSER_HOME=DIR`` the
data directory is kept between invocations, so a second invocation measures the warm start. The
test prints the wall times of each phase either way.

Screenshots go to test-artifacts/ (gitignored), or to the folder ``STEU_SCREENSHOTS`` names.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("STEU_SCREENSHOTS") or ROOT / "test-artifacts")
SIZES = ((1280, 720), (1920, 1080))
PAGES = ("model", "request", "run", "results", "history", "compare", "try-a-note", "present")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REAL = os.environ.get("STEU_BROWSER_REAL_MODEL") == "1"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _demo_substitute(home: Path) -> Path:
    """A tiny classifier trained briefly on the sample notes, stored as the demo model of ``home``."""
    from tiny_models import make_tiny_classifier

    from steu_core import demo
    from steu_core.data import load_notes
    from steu_core.model import load_classifier, save_model_atomically
    from steu_core.train import TrainConfig, fine_tune

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STEU_HOME", str(home))
        target = demo.demo_model_dir()
        if (target / "config.json").is_file():
            return target
        notes = load_notes(demo.DEMO_TRAIN)
        base = make_tiny_classifier("bert", home / "tiny-base", sorted(set(notes.labels)))
        clf = load_classifier(base, device="cpu")
        fine_tune(clf, notes, TrainConfig(epochs=1, batch_size=32, lr=5e-3, max_length=48, seed=0))
        save_model_atomically(clf, target)
        shutil.rmtree(home / "tiny-base", ignore_errors=True)
        return target


@pytest.fixture
def server(tmp_path, monkeypatch):
    home = Path(os.environ["STEU_BROWSER_HOME"]) if os.environ.get("STEU_BROWSER_HOME") else tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("STEU_HOME", str(home))
    t0 = time.perf_counter()
    if not REAL:
        _demo_substitute(home)
    t_model = time.perf_counter() - t0
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEU_DASHBOARD_")}
    env["STEU_HOME"] = str(home)
    log = open(tmp_path / "streamlit.log", "wb")
    t_start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / "streamlit.log").read_text()[-3000:])
            time.sleep(0.5)
        else:
            raise RuntimeError("streamlit did not answer on /_stcore/health within 2 minutes")
        yield {"url": url, "home": home, "t_start": t_start, "substitute_s": t_model, "log": tmp_path / "streamlit.log"}
    finally:
        from steu_core import worker

        for run in worker.active_runs():
            worker.cancel(run.run_dir, force=True)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _shoot(page, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main block, so the viewport is
    stretched to the content's height first."""
    size = page.viewport_size
    height = page.evaluate("Math.max(...Array.from(document.querySelectorAll('[data-testid=stMain], "
                           "[data-testid=stMainBlockContainer], section')).map(e => e.scrollHeight), 0)")
    page.set_viewport_size({"width": size["width"], "height": int(min(max(height + 80, size["height"]), 14000))})
    page.wait_for_timeout(1500)  # charts re-layout to the new size
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.set_viewport_size(size)


def _launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"])


def test_full_flow_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    times = {}
    forget_file = ROOT / "data_samples" / "forget_substance_use.csv"
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            # 1 - the model: the default demo model, prepared on first use
            page.goto(server["url"])
            expect(page.get_by_text("Architecture", exact=True)).to_be_visible(timeout=900_000)
            times["model ready"] = time.perf_counter() - server["t_start"]
            expect(page.get_by_text("substance_use_disorder").first).to_be_visible()
            _shoot(page, "dashboard-1-model.png")

            # 2 - the deletion request: upload the sample forget set; the class is pre-filled
            page.get_by_role("button", name="Next: the deletion request").click()
            uploader = page.get_by_test_id("stFileUploader").filter(has_text="Forget set")
            uploader.locator("input[type=file]").set_input_files(str(forget_file))
            expect(page.get_by_text(re.compile(r"^Ready: forget"))).to_be_visible(timeout=120_000)
            _shoot(page, "dashboard-2-request.png")

            # 3 - the run: a small configuration in the Advanced settings, then Run
            page.get_by_role("button", name="Next: run the unlearning").click()
            if not REAL:
                page.get_by_text("Advanced settings").click()
                steps = page.get_by_role("spinbutton", name="Max steps")
                steps.fill("20")
                steps.press("Enter")
            run_button = page.get_by_role("button", name="Run STEU")
            expect(run_button).to_be_enabled()
            time.sleep(1.0)  # let the settings reach the server
            run_button.click()
            t_run = time.perf_counter()
            expect(page.get_by_text(re.compile(r"is in progress"))).to_be_visible(timeout=60_000)
            assert "run=run-" in page.url
            _shoot(page, "dashboard-3-run.png")

            # a browser refresh while it runs: the run is found again, not lost, not started twice
            page.reload()
            in_progress = page.get_by_text(re.compile(r"is in progress"))
            see_results = page.get_by_role("button", name="See the results")
            expect(in_progress.or_(see_results)).to_be_visible(timeout=60_000)
            if in_progress.is_visible():
                expect(page.get_by_role("button", name="Cancel run")).to_be_visible()
            expect(see_results).to_be_visible(timeout=900_000)
            times["run (click to finished)"] = time.perf_counter() - t_run
            see_results.click()

            # 4 - the results: headline charts and numbers
            charts = page.locator(".js-plotly-plot")
            expect(charts.first).to_be_visible(timeout=120_000)
            expect(charts).to_have_count(7, timeout=120_000)  # with the two collateral-damage charts
            times["start command to results"] = time.perf_counter() - server["t_start"]
            metric = page.get_by_test_id("stMetric").filter(has_text="Forget F1")
            value = metric.get_by_test_id("stMetricValue").inner_text()
            assert re.fullmatch(r"\d\.\d{3}", value.strip()), value
            expect(page.get_by_text("Encoder intact").first).to_be_visible()
            expect(page.get_by_text(re.compile(r"Parameter check: PASS"))).to_be_visible()
            _shoot(page, "dashboard-4-results.png")

            # 5 - history lists the run
            page.get_by_role("link", name="5 · History").click()
            expect(page.get_by_text(re.compile(r"\d+ finished run"))).to_be_visible(timeout=60_000)
            _shoot(page, "dashboard-5-history.png")
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "dashboard-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    runs = [d for d in (server["home"] / "runs").iterdir() if not d.name.startswith(".")]
    assert len(runs) >= 1 and all((d / "results.json").is_file() for d in runs)
    mode = "real MiniLM demo model" if REAL else f"demo-model substitute (built in {server['substitute_s']:.0f} s)"
    print(f"\n[browser] {mode}: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))


# --- the pages for a meeting, deep links and both screen sizes ------------------------------------


def _finished_run(home: Path) -> Path:
    """A short real run of the demo-model substitute on the sample files (the meeting pages need one)."""
    from steu_core import demo
    from steu_core.runs import UnlearnRequest, run_unlearning

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STEU_HOME", str(home))
        return run_unlearning(UnlearnRequest(
            model=str(demo.demo_model_dir()), train=demo.DEMO_TRAIN, eval=demo.DEMO_TEST, forget=demo.DEMO_FORGET,
            forget_class="substance_use_disorder", out=home / "runs" / "run-meeting", device="cpu", max_length=48,
            settings={"max_steps": 20}, request_id="REQ-MEETING", requester="Privacy office", record_ledger=True))


def _settle(page, ready: str | None = None) -> None:
    """Wait until the page shows ``ready`` (Streamlit draws skeletons first), then for charts to draw."""
    if ready:
        page.get_by_text(ready).first.wait_for(timeout=180_000)
    else:
        page.get_by_test_id("stMainBlockContainer").wait_for(timeout=180_000)
    page.wait_for_timeout(3000)


def _cut_texts(page) -> list[str]:
    """Texts shown cut short: metric labels and values whose content is wider than their box."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '[data-testid=stMetricLabel], [data-testid=stMetricLabel] *, [data-testid=stMetricValue], '
        + '[data-testid=stMetricValue] *'))
        .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)""")


def _shoot_both(page, url: str, name: str, ready: str) -> None:
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        page.goto(url)
        _settle(page, ready)
        assert "Page not found" not in page.inner_text("body"), url
        assert not _cut_texts(page), (url, w, _cut_texts(page))
        assert "\\" not in page.inner_text("[data-testid=stMain]"), url  # no literal escape characters
        page.screenshot(path=str(ARTIFACTS / f"{name}-{w}x{h}.png"))
        _shoot(page, f"{name}-{w}x{h}-full.png")


def test_meeting_pages_deep_links_and_screen_sizes(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run = _finished_run(server["home"])
    base = server["url"]
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(60_000)
        try:
            for path in PAGES:  # every page answers at its own address
                page.goto(f"{base}/{path}?run={run.name}")
                _settle(page)
                assert "Page not found" not in page.inner_text("body"), path
            # each page is shot once its own text is drawn (the metrics draw last: wait for them)
            for path, ready in (("results", "Attack AUC"), ("try-a-note", "Original model predicts"),
                                ("present", "Slide 1 of")):
                _shoot_both(page, f"{base}/{path}?run={run.name}", path, ready)

            # try a note: an evaluation note, then a pasted one (escaped, highlighted, not in the address)
            page.set_viewport_size({"width": 1280, "height": 720})
            page.goto(f"{base}/try-a-note?run={run.name}")
            expect(page.get_by_text("Original model predicts")).to_be_visible(timeout=180_000)
            page.get_by_text("Paste a note", exact=True).click()
            note = "<b>heroin</b> relapse, started buprenorphine and naloxone"
            page.get_by_role("textbox", name="Note text").fill(note)
            page.get_by_role("textbox", name="Note text").press("Control+Enter")
            expect(page.locator("mark").first).to_be_visible(timeout=60_000)
            expect(page.get_by_test_id("stHtml").get_by_text("<b>heroin</b>", exact=False)).to_be_visible()  # escaped
            assert "heroin" not in page.url and "buprenorphine" not in page.url
            _shoot(page, "try-a-note-pasted.png")

            # the presentation: no sidebar, keyboard navigation, the HTML export
            page.goto(f"{base}/present?run={run.name}")
            expect(page.get_by_text("Slide 1 of")).to_be_visible(timeout=180_000)
            assert not page.get_by_test_id("stSidebar").is_visible()
            page.get_by_text("Slide 1 of").click()  # focus the page (not a text box), as a presenter would
            page.keyboard.press("ArrowRight")
            expect(page.get_by_text("Slide 2 of")).to_be_visible()
            assert "slide=verdicts" in page.url
            with page.expect_download() as info:
                page.get_by_role("button", name="Download the interactive HTML").click()
            export = ARTIFACTS / "presentation.html"
            info.value.save_as(str(export))
            _open_offline(browser, export)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "meeting-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _open_offline(browser, export: Path) -> None:
    """The HTML export from file:// with every other request refused: it must need none, and draw its charts."""
    refused = []
    page = browser.new_page(viewport={"width": 1280, "height": 720})

    def only_files(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_files)
    page.goto(export.as_uri())
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(800)
    assert page.locator("section.slide.active .js-plotly-plot .main-svg").count() >= 1
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / f"presentation-html-{w}x{h}.png"))
    assert refused == []
