"""The dashboard in a real browser: `streamlit run dashboard/app.py` as a subprocess, Debian chromium
driven by Playwright, through the whole flow a privacy officer follows (model -> upload the sample
forget set -> run -> results), with a refresh in the middle of the run. The server, the model it
serves and the screenshots: see browser_helpers. The test prints the wall times of each phase.
"""
from __future__ import annotations

import re
import time

from browser_helpers import ARTIFACTS, BROWSER_MARKS, REAL, ROOT, launch, server, shoot  # noqa: F401

pytestmark = BROWSER_MARKS


def test_full_flow_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    times = {}
    forget_file = ROOT / "data_samples" / "forget_substance_use.csv"
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            # 1 - the model: the default demo model, prepared on first use
            page.goto(server["url"])
            expect(page.get_by_text("Architecture", exact=True)).to_be_visible(timeout=900_000)
            times["model ready"] = time.perf_counter() - server["t_start"]
            expect(page.get_by_text("substance_use_disorder").first).to_be_visible()
            shoot(page, "dashboard-1-model.png")

            # 2 - the deletion request: upload the sample forget set; the class is pre-filled
            page.get_by_role("button", name="Next: the deletion request").click()
            uploader = page.get_by_test_id("stFileUploader").filter(has_text="Forget set")
            uploader.locator("input[type=file]").set_input_files(str(forget_file))
            expect(page.get_by_text(re.compile(r"^Ready: forget"))).to_be_visible(timeout=120_000)
            shoot(page, "dashboard-2-request.png")

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
            shoot(page, "dashboard-3-run.png")

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
            expect(charts).to_have_count(8, timeout=120_000)  # with the three collateral-damage charts
            times["start command to results"] = time.perf_counter() - server["t_start"]
            metric = page.get_by_test_id("stMetric").filter(has_text="Forget F1")
            value = metric.get_by_test_id("stMetricValue").inner_text()
            assert re.fullmatch(r"\d\.\d{3}", value.strip()), value
            expect(page.get_by_text("Encoder intact").first).to_be_visible()
            expect(page.get_by_text(re.compile(r"Parameter check: PASS"))).to_be_visible()
            shoot(page, "dashboard-4-results.png")

            # 5 - history lists the run
            page.get_by_role("link", name="5 · History").click()
            expect(page.get_by_text(re.compile(r"\d+ finished run"))).to_be_visible(timeout=60_000)
            shoot(page, "dashboard-5-history.png")
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "dashboard-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    runs = [d for d in (server["home"] / "runs").iterdir() if not d.name.startswith(".")]
    assert len(runs) >= 1 and all((d / "results.json").is_file() for d in runs)
    mode = "real MiniLM demo model" if REAL else f"demo-model substitute (built in {server['substitute_s']:.0f} s)"
    print(f"\n[browser] {mode}: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
