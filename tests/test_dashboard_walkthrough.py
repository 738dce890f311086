"""A privacy officer's day in a real browser (Debian chromium via Playwright, on the tiny demo-model
substitute of browser_helpers): a forget set given as note ids with the id column picked, a
browser refresh in the middle of the request, the run, both downloads checked against the SHA-256 the
page shows, and a comparison of two quick methods started, followed and finished from the Compare
page. Every page visited is saved at 1280x720 and 1920x1080 (``STEU_SCREENSHOTS`` or test-artifacts/).
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from browser_helpers import (ARTIFACTS, BROWSER_MARKS, REAL, ROOT, SIZES, cut_texts, launch, server,  # noqa: F401
                             settle, shoot)

pytestmark = BROWSER_MARKS

FORGET_CLASS = "substance_use_disorder"
REQUESTER, REASON = "Patient services", "GDPR art. 17 request"
QUICK_SETTINGS = {"steu": {"max_steps": 15}, "head_only": {"max_steps": 15}}


def _ids_file(folder: Path, n: int = 24) -> Path:
    """The deletion request as records: the first ``n`` note ids of the class in the sample training file."""
    with open(ROOT / "data_samples" / "train.csv", newline="", encoding="utf-8") as f:
        ids = [row["note_id"] for row in csv.DictReader(f) if row["label"] == FORGET_CLASS][:n]
    path = folder / "deletion-request-ids.csv"
    path.write_text("record\n" + "\n".join(ids) + "\n", encoding="utf-8")
    return path


class Walk:
    """The browser page with the walk's timings, screenshots and any text found cut."""

    def __init__(self, page):
        self.page, self.times, self.cut = page, {}, {}
        self.t = time.perf_counter()

    def phase(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = now - self.t
        self.t = now

    def shoot(self, name: str) -> None:
        """The page as it is now (no reload: the state stays) at both sizes, the viewport and in full."""
        page, size = self.page, self.page.viewport_size
        for w, h in SIZES:
            page.set_viewport_size({"width": w, "height": h})
            settle(page, 1.5, script=False)  # charts and columns re-layout to the new width
            cut = cut_texts(page)
            if cut:
                self.cut[f"{name} {w}x{h}"] = cut
            page.screenshot(path=str(ARTIFACTS / f"walk-{name}-{w}x{h}.png"))
            shoot(page, f"walk-{name}-{w}x{h}-full.png")
        page.set_viewport_size(size)


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label`` (again if a rerun closed its list first)."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label)
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(5):
        page.wait_for_timeout(500)
        box.locator("input").click()
        try:
            choice.click(timeout=5000)
            break
        except Exception:  # noqa: BLE001 - Playwright's timeout: the list was closed by a rerun
            page.keyboard.press("Escape")
    else:
        raise AssertionError(f"could not choose {option!r} in {label!r}")
    page.wait_for_timeout(500)
    shown = box.inner_text() + " " + box.locator("input").input_value()  # the value is text or the input's
    assert option in shown, (label, option, shown)


def _multi(page, label: str, options: list[str]) -> None:
    """Make ``options`` the whole choice of the multiselect labelled ``label``."""
    box = page.get_by_test_id("stMultiSelect").filter(has_text=label)
    box.get_by_role("button", name="Clear all").click()
    settle(page, 10)  # clearing reruns the page: text typed during the rerun is lost with the old widget
    for option in options:
        _choose_option(page, box, option)
        page.wait_for_timeout(300)
    page.keyboard.press("Escape")


def _choose_option(page, box, option: str, tries: int = 3) -> None:
    """Type ``option`` into the multiselect and click it in the list; again if a rerun swallowed the typing."""
    for attempt in range(tries):
        box.locator("input").click()
        box.locator("input").fill(option)
        try:
            page.get_by_role("option", name=re.compile(rf"^{re.escape(option)}\b")).first.click(timeout=15_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
            settle(page, 10)


def _fill(page, role: str, label: str, value: str) -> None:
    field = page.get_by_role(role, name=label)
    field.fill(value)
    field.press("Tab" if role == "textbox" else "Enter")
    page.wait_for_timeout(400)


def _request_by_ids(walk: Walk, base: str, ids_file: Path) -> str:
    """Steps 1-2: ids uploaded, id column and class picked, people filled in, a refresh; the request id."""
    from playwright.sync_api import expect

    page = walk.page
    page.goto(f"{base}/request")
    page.get_by_text("Note ids (of the training notes)").click()
    expect(page.get_by_role("radio", name="Note ids (of the training notes)")).to_be_checked()
    page.wait_for_timeout(2000)  # the rerun the choice starts redraws the uploader: upload after it
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Forget set")
    uploader.locator("input[type=file]").set_input_files(str(ids_file))
    page.get_by_text(re.compile(rf"{re.escape(ids_file.name)}.*24 notes")).first.wait_for(timeout=120_000)
    _pick(page, "Id column of the training notes", "note_id")
    _pick(page, "Class to forget", FORGET_CLASS)
    _fill(page, "textbox", "Requester", REQUESTER)
    _fill(page, "textbox", "Reason", REASON)
    page.get_by_text(re.compile(r"^Ready: forget")).wait_for(timeout=60_000)
    request_id = page.get_by_role("textbox", name="Request id").input_value()
    assert re.fullmatch(r"REQ-\d{8}-[0-9A-F]{4}", request_id), request_id
    assert "draft=" in page.url
    url = page.url
    walk.shoot("request")

    page.reload()  # mid-request: the same request comes back from the draft the URL names
    page.get_by_text(re.compile(r"^Ready: forget")).wait_for(timeout=120_000)
    assert page.url == url
    for label, value in (("Request id", request_id), ("Requester", REQUESTER), ("Reason", REASON)):
        expect(page.get_by_role("textbox", name=label)).to_have_value(value)  # filled in once the page has drawn
    expect(page.get_by_text(re.compile(rf"{re.escape(ids_file.name)}.*\(uploaded\): 24 notes")).first).to_be_visible()
    expect(page.get_by_role("radio", name="Note ids (of the training notes)")).to_be_checked()
    walk.phase("request by ids, refresh")
    walk.shoot("request-after-refresh")
    return request_id


def _run(walk: Walk) -> None:
    """Step 3a: the run with a small step budget, followed to its end, then the results."""
    page = walk.page
    page.get_by_role("button", name="Next: run the unlearning").click()
    if not REAL:
        page.get_by_text("Advanced settings").click()
        _fill(page, "spinbutton", "Max steps", "20")
        walk.shoot("run-settings")  # the method's settings form: numbers, switches and select boxes (stop_at)
    run_button = page.get_by_role("button", name="Run STEU")
    run_button.wait_for()
    page.wait_for_timeout(1000)  # let the settings reach the server
    run_button.click()
    page.get_by_text(re.compile(r"is in progress")).wait_for(timeout=60_000)
    walk.shoot("run")
    # the page that started the run opens the results when it ends; "See the results" where it did not
    see_results = page.get_by_role("button", name="See the results")
    results = page.get_by_text("Attack AUC").first
    see_results.or_(results).wait_for(timeout=900_000)
    walk.phase("run")
    if see_results.is_visible():
        see_results.click()
    results.wait_for(timeout=180_000)
    settle(page, 2)


def _shown_sha(page, caption: str) -> str:
    """The 64-hex SHA-256 in the caption that holds ``caption``."""
    text = page.get_by_test_id("stCaptionContainer").filter(has_text=caption).first.inner_text()
    found = re.search(r"\b[0-9a-f]{64}\b", text)
    assert found, f"no SHA-256 in the caption {text!r}"
    return found.group(0)


def _download(page, button: str, folder: Path) -> Path:
    with page.expect_download(timeout=180_000) as info:
        page.get_by_role("button", name=button).click()
    path = folder / info.value.suggested_filename
    info.value.save_as(str(path))
    return path


def _results_and_downloads(walk: Walk, request_id: str, folder: Path) -> dict:
    """Step 3b: the run shows its request; the model zip and the patch hash to what the page says."""
    from playwright.sync_api import expect

    page = walk.page
    assert request_id in page.inner_text("[data-testid=stMain]")
    page.get_by_text("Provenance: request, data files and hashes").click()
    provenance = page.get_by_test_id("stExpander").filter(has_text="Provenance")
    for value in (request_id, REQUESTER, REASON):  # the finished run shows the request it was made for
        expect(provenance.get_by_text(re.compile(re.escape(value))).first).to_be_visible()
    page.get_by_role("button", name="Download the patch (patch.safetensors)").wait_for(timeout=180_000)
    shown = {"zip": _shown_sha(page, "SHA-256 of the zip:"), "patch": _shown_sha(page, "as recorded in manifest.json")}
    got = {"zip": _download(page, "Download the new model version (zip)", folder),
           "patch": _download(page, "Download the patch (patch.safetensors)", folder)}
    for kind, path in got.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shown[kind], kind
    assert got["zip"].suffix == ".zip" and got["patch"].name.endswith(".safetensors")
    walk.phase("results, two downloads")
    walk.shoot("results")
    return {k: p.stat().st_size for k, p in got.items()}


def _comparison(walk: Walk, ids_file: Path) -> None:
    """Step 4: steu against head_only, one light audit, started and followed on the Compare page."""
    page = walk.page
    # the run deleted the uploaded ids file when it ended (no copy is kept): upload it again; the
    # request keeps its kind, id column and class
    page.get_by_role("link", name="2 · Deletion request").click()
    page.get_by_text(re.compile(r"were deleted when the run that read them ended")).wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Forget set")
    uploader.locator("input[type=file]").set_input_files(str(ids_file))
    page.get_by_text(re.compile(r"^Ready: forget")).wait_for(timeout=120_000)
    page.get_by_role("link", name="6 · Compare methods").click()
    page.get_by_text("Make a comparison").first.wait_for(timeout=60_000)
    _multi(page, "Methods", ["steu", "head_only"])
    page.get_by_text("Advanced settings").click()
    _multi(page, "Deep audits", ["utility_ci"])
    _fill(page, "spinbutton", "Bootstrap resamples per interval", "50")
    _fill(page, "spinbutton", "Retain notes scored per model", "30")
    settings = page.get_by_role("textbox", name="Method settings")
    settings.fill(json.dumps(QUICK_SETTINGS))
    settings.press("Control+Enter")
    page.wait_for_timeout(1000)
    walk.shoot("compare-form")
    page.get_by_role("button", name="Start the comparison").click()
    page.get_by_text(re.compile(r"Comparison `?cmp-.*is in progress")).first.wait_for(timeout=60_000)
    assert "cmp=cmp-" in page.url
    walk.shoot("compare-progress")
    page.get_by_text(re.compile(r"finished; its table is below")).wait_for(timeout=900_000)
    walk.phase("comparison (start to table)")
    table = page.get_by_test_id("stDataFrame").last
    table.wait_for(timeout=60_000)
    page.get_by_text("What differs beyond the noise").wait_for()
    settle(page, 2)
    walk.shoot("compare-table")


def test_walkthrough_ids_refresh_downloads_and_comparison(server, tmp_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ids_file = _ids_file(tmp_path)
    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1280, "height": 720}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        walk = Walk(page)
        try:
            page.goto(server["url"])
            page.get_by_text("Architecture", exact=True).wait_for(timeout=900_000)
            walk.phase("model ready")
            walk.shoot("model")
            request_id = _request_by_ids(walk, server["url"], ids_file)
            _run(walk)
            sizes = _results_and_downloads(walk, request_id, tmp_path)
            _comparison(walk, ids_file)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "walk-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    runs = [d for d in (server["home"] / "runs").iterdir() if not d.name.startswith(".")]
    recorded = json.loads((runs[0] / "results.json").read_text())["request"]
    assert recorded.get("request_id") == request_id
    print(f"\n[walkthrough] downloads: model zip {sizes['zip']:,} B, patch {sizes['patch']:,} B; phases: "
          + ", ".join(f"{k} {v:.0f} s" for k, v in walk.times.items()))
    assert not walk.cut, f"text cut short: {walk.cut}"
