"""Everything stays on this machine: every page of the dashboard, loaded in chromium with every request
routed, asks nothing of any host but the dashboard's own (an outside request is blocked and fails the
test). The tab's icon is the app's own file, not a font host's. The server and browser: browser_helpers."""
from __future__ import annotations

from urllib.parse import urlsplit

from browser_helpers import BROWSER_MARKS, launch, server, settle  # noqa: F401

pytestmark = BROWSER_MARKS

PAGES = ("model", "request", "run", "results", "history", "compare", "try-a-note", "present")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
INLINE_SCHEMES = {"data", "blob", "about"}


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in INLINE_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS


def test_is_local_tells_this_machine_from_others():
    assert is_local("http://127.0.0.1:8501/static/x.js") and is_local("data:image/svg+xml,<svg/>")
    assert not is_local("https://fonts.gstatic.com/s/i/short-term/release/materialsymbolsrounded/x/24px.svg")
    assert not is_local("http://127.0.0.2.example.org/")


def test_no_page_fetches_anything_from_outside(server):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    seen: list[str] = []

    def route(r) -> None:
        url = r.request.url
        seen.append(url)
        if is_local(url):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        context.route("**/*", route)
        context.on("request", lambda req: None if is_local(req.url) else outside.append(req.url))
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            for name in PAGES:
                page.goto(f"{server['url']}/{name}")
                page.wait_for_selector("[data-testid=stApp]")
                settle(page, 30)
                icon = page.evaluate("() => { const l = document.querySelector(\"link[rel~='icon']\"); "
                                     "return l ? l.href : ''; }")
                assert not icon or is_local(icon), f"{name}: the tab's icon comes from {icon}"
        finally:
            browser.close()
    assert seen, "the requests were routed through the check"
    assert not outside, f"requests to other hosts: {sorted(set(outside))}"
