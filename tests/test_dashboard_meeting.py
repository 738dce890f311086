"""The pages for a meeting in a real browser (see browser_helpers for the server and its model):
every page at its own address, Results, Try a note and the presentation shot at both screen sizes,
a pasted note shown escaped, slides walked by keyboard, and the HTML export opened offline.

Its own file, apart from test_dashboard_browser's full flow, so that the two xdist workers can share
the browser tests.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from browser_helpers import ARTIFACTS, BROWSER_MARKS, SIZES, cut_texts, launch, server, settle, shoot  # noqa: F401

pytestmark = BROWSER_MARKS
PAGES = ("model", "request", "run", "results", "history", "compare", "try-a-note", "present")


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
    settle(page, 3)


def _shoot_both(page, url: str, name: str, ready: str) -> None:
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        page.goto(url)
        _settle(page, ready)
        assert "Page not found" not in page.inner_text("body"), url
        assert not cut_texts(page), (url, w, cut_texts(page))
        assert "\\" not in page.inner_text("[data-testid=stMain]"), url  # no literal escape characters
        page.screenshot(path=str(ARTIFACTS / f"{name}-{w}x{h}.png"))
        shoot(page, f"{name}-{w}x{h}-full.png")


def test_meeting_pages_deep_links_and_screen_sizes(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run = _finished_run(server["home"])
    base = server["url"]
    with sync_playwright() as p:
        browser = launch(p)
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
            shoot(page, "try-a-note-pasted.png")

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
