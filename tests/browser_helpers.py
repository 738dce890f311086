"""What the browser tests share: the Streamlit server on a fresh data directory (with the demo-model
substitute), Chromium, screenshots, and waits for the page's own state instead of fixed sleeps.

Which model: by default a *demo-model substitute* goes into the fresh data directory - a tiny
2-layer BERT fine-tuned for a few seconds on data_samples/train.csv, saved exactly where
``steu_core.demo.ensure_demo_model`` looks - so the app takes its normal "default model" path but the
tests stay within about a minute each. It is built once per test process and copied into each data
directory. ``STEU_BROWSER_REAL_MODEL=1`` uses the real MiniLM demo model instead (prepared by the app
on first use: minutes on a CPU); with ``STEU_BROWSER_HOME=DIR`` the data directory is kept between
invocations, so a second invocation measures the warm start.

Screenshots go to test-artifacts/ (gitignored), or to the folder ``STEU_SCREENSHOTS`` names.
"""
from __future__ import annotations

import os
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
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REAL = os.environ.get("STEU_BROWSER_REAL_MODEL") == "1"
BROWSER_MARKS = [pytest.mark.browser, pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)")]

# What the page is waiting for, if anything: Streamlit still running its script, elements of an earlier
# run or placeholders still shown, or a visible Plotly chart not (yet) drawn at its box's width (a chart
# re-draws some time after the viewport changes; a screenshot before that shows it cut or stretched).
_UNSETTLED_JS = """(script) => {
    const app = document.querySelector('[data-testid=stApp]');
    const state = app && app.getAttribute('data-test-script-state');
    if (script && state !== 'notRunning') return 'script ' + state;
    const shown = e => e.getClientRects().length > 0;
    const waiting = Array.from(document.querySelectorAll('[data-stale=true]:not([data-retained]), '
                                                         + '[data-testid=stSkeleton]')).filter(shown);
    if (waiting.length) return 'shown stale elements or placeholders: ' + waiting.map(e => (e.dataset.testid
        + '/' + (e.firstElementChild && e.firstElementChild.dataset.testid))).join(', ');
    const boxes = Array.from(document.querySelectorAll('[data-testid=stPlotlyChart]'))
        .filter(box => shown(box) && box.getBoundingClientRect().width > 0);
    const off = boxes.map(box => {
        const svg = box.querySelector('.js-plotly-plot .main-svg');
        const want = Math.round(box.getBoundingClientRect().width);
        return svg ? [Math.round(svg.getBoundingClientRect().width), want] : ['none', want];
    }).filter(([got, want]) => got === 'none' || Math.abs(got - want) > 2);
    return off.length ? 'charts (drawn, box) ' + JSON.stringify(off) : '';
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SUBSTITUTE: dict[str, Path] = {}


def _build_substitute(folder: Path) -> Path:
    """A tiny classifier trained briefly on the sample notes, saved in ``folder``."""
    from tiny_models import make_tiny_classifier

    from steu_core import demo
    from steu_core.data import load_notes
    from steu_core.model import load_classifier, save_model_atomically
    from steu_core.train import TrainConfig, fine_tune

    notes = load_notes(demo.DEMO_TRAIN)
    base = make_tiny_classifier("bert", folder / "tiny-base", sorted(set(notes.labels)))
    clf = load_classifier(base, device="cpu")
    # 2 epochs at 96 tokens: the sample's class words come late in a note; at 48 tokens for 1 epoch the
    # substitute never recognised the class, so every run had "nothing to forget"
    fine_tune(clf, notes, TrainConfig(epochs=2, batch_size=32, lr=5e-3, max_length=96, seed=0))
    save_model_atomically(clf, folder / "model")
    shutil.rmtree(folder / "tiny-base", ignore_errors=True)
    return folder / "model"


def demo_substitute(home: Path, tmp_path_factory) -> Path:
    """The substitute stored as the demo model of ``home`` (built once per test process, then copied)."""
    from steu_core import demo

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STEU_HOME", str(home))
        target = demo.demo_model_dir()
    if (target / "config.json").is_file():
        return target
    if "model" not in _SUBSTITUTE:
        _SUBSTITUTE["model"] = _build_substitute(tmp_path_factory.mktemp("demo_substitute"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(_SUBSTITUTE["model"], target)
    return target


def _wait_healthy(proc, url: str, log: Path) -> None:
    for _ in range(240):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.5)
    raise RuntimeError("streamlit did not answer on /_stcore/health within 2 minutes")


@pytest.fixture
def server(tmp_path, tmp_path_factory, monkeypatch):
    home = Path(os.environ["STEU_BROWSER_HOME"]) if os.environ.get("STEU_BROWSER_HOME") else tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("STEU_HOME", str(home))
    t0 = time.perf_counter()
    if not REAL:
        demo_substitute(home, tmp_path_factory)
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
        _wait_healthy(proc, url, tmp_path / "streamlit.log")
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


def settle(page, timeout_s: float, script: bool = True) -> None:
    """Wait until the page has drawn (see _UNSETTLED_JS), at most ``timeout_s`` (the fixed pause this
    replaces: a page that keeps running, such as a run in progress, is shot as before). After a change
    of the viewport only (``script=False``) the charts' re-layout is waited for, not the script (a
    page with a run in its address reruns its status every 2 s). It is a wait for screenshots, not a
    check: what the page still waited for is printed."""
    deadline = time.monotonic() + timeout_s
    while (waiting := page.evaluate(_UNSETTLED_JS, script)) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    if waiting:
        print(f"[browser] {page.url}: shot after {timeout_s:g} s, still waiting for {waiting}")


def shoot(page, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main block, so the viewport is
    stretched to the content's height first."""
    size = page.viewport_size
    height = page.evaluate("Math.max(...Array.from(document.querySelectorAll('[data-testid=stMain], "
                           "[data-testid=stMainBlockContainer], section')).map(e => e.scrollHeight), 0)")
    page.set_viewport_size({"width": size["width"], "height": int(min(max(height + 80, size["height"]), 14000))})
    settle(page, 1.5, script=False)  # charts re-layout to the new size
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.set_viewport_size(size)


def launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"])


def cut_texts(page) -> list[str]:
    """Texts shown cut short: metric labels and values whose content is wider than their box."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '[data-testid=stMetricLabel], [data-testid=stMetricLabel] *, [data-testid=stMetricValue], '
        + '[data-testid=stMetricValue] *'))
        .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)""")
