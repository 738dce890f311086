"""The interactive HTML export and the presentation's slides: self-contained (no network), the same
verdicts, hashes and limitations as the PDF's owners, escaped text, a CLI option, and it opens offline."""
from __future__ import annotations

import argparse
import hashlib
import re
import shutil

import pytest

from fixtures_results import FORGET_MARKER, make_results, make_run_dir
from steu_core.cli import main
from steu_core.cli import report as report_cli
from steu_core.report import build_html
from steu_core.report.content import limitations, method_text
from steu_core.report.slides import build_slides, latest_report
from steu_core.report.summary import summary

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("html")
    results = make_results()
    results["request"]["requester"] = "<b>Dr. O'Neil & co</b>"
    run = make_run_dir(root, results=results)
    (run / "report.pdf").write_bytes(b"%PDF-1.7 first")
    (run / "report-v2.pdf").write_bytes(b"%PDF-1.7 second")
    out = build_html(run, root / "out" / "present.html")
    return {"run": run, "results": results, "path": out, "text": out.read_text(encoding="utf-8")}


def _outside_plotlyjs(text: str) -> str:
    """The file without its inline <script> bodies (plotly.js carries URLs in its string literals)."""
    return re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S)


def test_the_export_loads_nothing_from_a_network(exported):
    text = exported["text"]
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs() in text  # the library's bundled plotly.js, inline
    rest = _outside_plotlyjs(text)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", rest)
    assert "@import" not in rest and "url(" not in rest and "cdn.plot.ly/plotly" not in rest
    assert rest.count("class='chart'") >= 6


def test_the_export_says_what_the_pdf_says(exported):
    r, text = exported["results"], exported["text"]
    about = method_text(r)
    for item in summary(r, about["edits"]):
        assert _escaped(item["verdict"]) in text and _escaped(item["text"]) in text
    for item in limitations(about):
        assert _escaped(item["title"]) in text
    assert r["hashes"]["patch"] in text.replace("\n", "")
    assert hashlib.sha256(b"%PDF-1.7 second").hexdigest() in text
    assert "report-v2.pdf" in text and "version 2" in text


def test_text_is_escaped_and_no_note_text_is_included(exported):
    text = exported["text"]
    assert "<b>Dr. O'Neil" not in text and "&lt;b&gt;Dr. O&#x27;Neil &amp; co&lt;/b&gt;" in text
    assert FORGET_MARKER not in text


def test_the_export_is_deterministic(exported, tmp_path):
    again = build_html(exported["run"], tmp_path / "again.html")
    assert again.read_bytes() == exported["path"].read_bytes()


def _escaped(s: str) -> str:
    import html

    return html.escape(s)


def test_slides_cover_the_meeting(exported):
    slides = build_slides(exported["results"], latest_report(exported["run"]))
    assert [s["id"] for s in slides] == ["title", "verdicts", "utility", "collateral", "membership", "share", "proof",
                                         "limitations", "evidence"]
    proof = next(s for s in slides if s["id"] == "proof")
    assert dict((k, v) for k, v, _ in proof["blocks"][0]["rows"])["Parameter check"] == "PASS"
    no_report = build_slides(make_results(), None)
    assert ("PDF report", "not made yet", False) in no_report[-1]["blocks"][0]["rows"]
    assert latest_report(exported["run"].parent / "nothing") is None


def test_cli_writes_the_html_with_or_without_the_pdf(tmp_path, capsys):
    run = make_run_dir(tmp_path)
    assert main(["report", "--run", str(run), "--html", str(tmp_path / "p.html")]) == 0
    out = capsys.readouterr().out
    digest = hashlib.sha256((tmp_path / "p.html").read_bytes()).hexdigest()
    assert digest in out and not list(tmp_path.glob("*.pdf"))
    assert main(["report", "--run", str(run)]) == 2
    assert "--html" in capsys.readouterr().err
    # an existing HTML is replaced only with --overwrite, which names the replaced file's hash
    (tmp_path / "p.html").write_text("<p>an earlier export</p>")
    old = hashlib.sha256((tmp_path / "p.html").read_bytes()).hexdigest()
    assert main(["report", "--run", str(run), "--html", str(tmp_path / "p.html")]) == 2
    assert "already exists" in capsys.readouterr().err and (tmp_path / "p.html").read_text() == "<p>an earlier export</p>"
    assert main(["report", "--run", str(run), "--html", str(tmp_path / "p.html"), "--overwrite"]) == 0
    assert f"replaced a file (--overwrite) whose SHA-256 was {old}" in capsys.readouterr().out
    assert hashlib.sha256((tmp_path / "p.html").read_bytes()).hexdigest() == digest
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file is left"


def test_cli_option_is_registered():
    parser = argparse.ArgumentParser()
    report_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "--run", "r", "--html", "x.html"])
    assert args.html == "x.html" and args.out is None


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
def test_the_export_opens_offline_in_chromium_with_its_charts(exported):
    from playwright.sync_api import sync_playwright

    blocked = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 720})

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(exported["path"].as_uri())
        page.wait_for_function("window.Plotly !== undefined")
        assert page.locator("section.slide.active").get_attribute("id") == "title"
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert page.locator("section.slide.active").get_attribute("id") == "utility"
        assert page.locator("section.slide.active .js-plotly-plot .main-svg").count() >= 1
        assert page.locator("section.slide.active .bars path").count() >= 6
        page.keyboard.press("End")
        assert page.locator("section.slide.active").get_attribute("id") == "evidence"
        browser.close()
    assert blocked == []


def test_slides_fit_a_1280x720_screen(exported):
    """Every slide chart is low enough for a 1280x720 screen with its caption; the ROC's legend stands beside
    the plot, and the slides with two blocks show them side by side."""
    from steu_core.report.slides import SIDE_BY_SIDE_HEIGHT, SLIDE_CHART_HEIGHT

    slides = {s["id"]: s for s in build_slides(exported["results"], latest_report(exported["run"]))}
    for s in slides.values():
        for b in s["blocks"]:
            if b["kind"] == "chart":
                assert b["figure"].layout.height <= SLIDE_CHART_HEIGHT, (s["id"], b["id"])
    roc = next(b for b in slides["membership"]["blocks"] if b["kind"] == "chart")["figure"]
    assert roc.layout.legend.x >= roc.layout.xaxis.domain[1] and roc.layout.height <= SLIDE_CHART_HEIGHT  # beside the plot
    for sid in ("collateral", "proof"):  # every block in one column
        assert sorted(i for column in slides[sid]["columns"] for i in column) == list(range(len(slides[sid]["blocks"])))
        assert len(slides[sid]["columns"]) == 2
    assert all(b["figure"].layout.height <= SIDE_BY_SIDE_HEIGHT for b in slides["collateral"]["blocks"])
