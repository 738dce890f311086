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

Screenshots go to test-artifacts/ (gitignored).
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
ARTIFACTS = ROOT / "test-artifacts"
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

    ARTIFACTS.mkdir(exist_ok=True)
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
            expect(page.get_by_text("Encoder bit-identical").first).to_be_visible()
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
