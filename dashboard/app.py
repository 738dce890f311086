"""STEU Audit dashboard: ``streamlit run dashboard/app.py``.

Five steps, one page each: the model, the deletion request, the run, the results, the history.
Every figure and check comes from ``steu_core``; this file only lays the pages out.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import common  # noqa: E402
from steu_core import __version__, uploads, worker  # noqa: E402
from steu_core import format as fmt  # noqa: E402
from steu_core.access import AccessError, AttemptLimiter, server_address, startup_policy  # noqa: E402
from steu_core.paths import steu_home  # noqa: E402
from steu_core.runs import stages  # noqa: E402

# the tab's icon is a file of this app: a ":material/...:" page icon is fetched from an outside font host
st.set_page_config(page_title="STEU Audit", page_icon=str(Path(__file__).resolve().parent / "static" / "favicon.png"),
                   layout="wide",
                   initial_sidebar_state="expanded",
                   menu_items={"About": f"STEU Audit {__version__}: make a clinical text classifier forget one "
                                        "class, prove it, and report it. Runs offline."})

@st.cache_resource
def _attempt_limiter() -> AttemptLimiter:
    """One per server process: slows down password guessing."""
    return AttemptLimiter()


def _require_access() -> None:
    """On 127.0.0.1 the app is open to this machine's users; on any other address it needs the
    password of steu_core.access (or refuses to start). See docs/DEPLOYMENT.md."""
    try:
        policy = startup_policy(server_address())
    except AccessError as exc:
        st.error(str(exc))
        st.stop()
    if not policy.password_required or st.session_state.get("steu_authenticated"):
        return
    # uvicorn may already have replaced the peer with a forwarded address: the key is steu_core.access's
    client = policy.client_key(st.context.ip_address, st.context.headers.get_all("X-Forwarded-For"))
    given = st.text_input("Password", type="password")
    wait = _attempt_limiter().wait_s(client)
    if wait > 0:
        st.warning(f"Too many wrong passwords; try again in {wait:.0f} s.")
        st.stop()
    if not given:
        st.stop()
    if not _attempt_limiter().attempt(policy, given, key=client):
        st.error("Wrong password.")
        st.stop()
    st.session_state["steu_authenticated"] = True


def _release_ended_runs() -> None:
    """Runs that ended while no page watched them (browser closed): seeing them end deletes their uploads."""
    for run_id in uploads.runs_holding_uploads(worker.launch_dir()):
        worker.status(run_id)


@st.cache_resource(show_spinner=False)
def _clean_uploads_at_startup(home: str) -> str | None:
    """Once per server process and data directory: delete uploads no open request can need (see
    steu_core.uploads): earlier versions' permanent copies, and folders of sessions that ended
    before this server started, except files of a run still in progress. Returns the notice."""
    started = time.time()
    _release_ended_runs()
    held = uploads.held_files(worker.read_launch(s.run_id) for s in worker.active_runs())
    return uploads.startup_cleanup(started, keep=held)


_uploads_notice = _clean_uploads_at_startup(str(steu_home()))
if "upload_session" not in st.session_state:  # a new browser session: once, not on every rerun
    _release_ended_runs()
_require_access()
worker.warm_up()  # so that the next run finds torch and the CLI already imported

HERE = Path(__file__).resolve().parent


def _start() -> None:
    """The app's root URL: opens step 1. Step 1 is not the default page itself, because Streamlit serves
    the default page only at the root, and a deep link to /model would then find no page."""
    st.switch_page(pages["model"])


pages = {
    "model": st.Page(HERE / "views" / "model.py", title="1 · Model", icon=":material/neurology:",
                     url_path="model"),
    "request": st.Page(HERE / "views" / "request.py", title="2 · Deletion request",
                       icon=":material/contract_delete:", url_path="request"),
    "run": st.Page(HERE / "views" / "run.py", title="3 · Run", icon=":material/play_circle:", url_path="run"),
    "results": st.Page(HERE / "views" / "results.py", title="4 · Results", icon=":material/fact_check:",
                       url_path="results"),
    "history": st.Page(HERE / "views" / "history.py", title="5 · History", icon=":material/history:",
                       url_path="history"),
    "compare": st.Page(HERE / "views" / "compare.py", title="6 · Compare methods", icon=":material/compare:",
                       url_path="compare"),
    "requests": st.Page(HERE / "views" / "requests.py", title="7 · Deletion requests", icon=":material/assignment:",
                        url_path="requests"),
    "try_note": st.Page(HERE / "views" / "try_note.py", title="Try a note", icon=":material/edit_note:",
                        url_path="try-a-note"),
    "present": st.Page(HERE / "views" / "present.py", title="Presentation", icon=":material/slideshow:",
                       url_path="present"),
}
common.PAGES.update(pages)
common.init_request_state()

# A run id in the URL (?run=...) survives a browser refresh: adopt it as the run this session follows.
qp_run = st.query_params.get("run")
if qp_run and qp_run != st.session_state.get("run_id"):
    st.session_state["run_id"] = qp_run


@st.fragment(run_every=2.0)
def _run_badge(run_id: str) -> None:
    """A small live status of the run in progress, on every page but the Run page itself."""
    s = worker.status(run_id)
    if s.active:
        st.info(f"**Run in progress**  \n{common.md(stages.progress_text(s.stage, s.step, s.total, s.activity))} · "
                f"{fmt.duration(s.elapsed_s)}", icon=":material/hourglass_top:")
        st.page_link(pages["run"], label="Follow the run", icon=":material/arrow_forward:",
                     query_params={"run": run_id})
    elif s.state == "finished":
        st.success("**The run finished.**", icon=":material/task_alt:")
        st.page_link(pages["results"], label="See the results", icon=":material/fact_check:",
                     query_params={"run": run_id})
    else:
        st.warning(f"**The run {s.state}.**", icon=":material/report:")
        st.page_link(pages["run"], label="Details", icon=":material/arrow_forward:", query_params={"run": run_id})


start = st.Page(_start, title="Start", url_path="start", default=True, visibility="hidden")
steps = [p for k, p in pages.items() if k not in ("try_note", "present")]
page = st.navigation({"Steps": [start, *steps], "For a meeting": [pages["try_note"], pages["present"]]},
                     position="sidebar", expanded=True)

# not on the hidden start page: it switches to step 1 at once, and the notice would be lost with it
if page is not start and _uploads_notice and not st.session_state.get("uploads_notice_seen"):
    st.session_state["uploads_notice_seen"] = True
    st.info(_uploads_notice, icon=":material/delete_sweep:")

if page.url_path != "present":  # the meeting page has no sidebar
    with st.sidebar:
        st.markdown("### :material/shield_lock: STEU Audit")
        st.caption("Make a clinical text classifier forget one class, prove it, and report it. Everything "
                   "stays on this machine.")
        active = worker.active_runs()
        if active and page.url_path != "run":
            _run_badge(active[0].run_id)
        st.divider()
        st.caption(f"Data directory: `{steu_home()}`  \nVersion {__version__}")

page.run()
