"""The presentation of one run for a meeting: one slide at a time, in large type, without the sidebar,
navigable with the keyboard (Left / Right, Home / End). The slides and their HTML pieces come from
steu_core.report.slides and steu_core.report.html, the same as the interactive HTML export offered here."""
from __future__ import annotations

import hashlib

import streamlit as st

from dashboard import common, run_choice
from steu_core.report.html import PARTS_STYLE, facts_html, render_html, verdicts_html
from steu_core.report.slides import build_slides, latest_report
from steu_core.runs import load_results

PLOT_CONFIG = {"displaylogo": False}

# A meeting page: no sidebar, no navigation chrome, the slide uses the whole width.
st.html("<style>[data-testid=stSidebar],[data-testid=stSidebarCollapsedControl],[data-testid=stExpandSidebarButton]"
        "{display:none!important}[data-testid=stMainBlockContainer]{padding-top:2.2rem;max-width:1600px}</style>"
        f"<style>{PARTS_STYLE}</style>")

top = st.columns([3, 1, 1, 1, 1], vertical_alignment="bottom")  # wide enough for "Previous ←" at 1280 px
chosen = run_choice.pick_run("present_run", where=top[0], label="Run presented")
if chosen is None:
    st.stop()
run_id, run_dir, r = chosen


@st.cache_data(show_spinner=False, max_entries=4)
def _export(run: str, results_mtime_ns: int, report_sha: str | None) -> tuple[bytes, str]:
    """The HTML export of the run (bytes) and its SHA-256; cached until results or report change."""
    results = load_results(run)
    data = render_html(results, latest_report(run)).encode("utf-8")
    return data, hashlib.sha256(data).hexdigest()


report = latest_report(run_dir)
slides = build_slides(r, report)
ids = [s["id"] for s in slides]
# The slide shown is the one the address names (?slide=...): a link opens it, a refresh keeps it.
wanted = st.query_params.get("slide")
current = ids.index(wanted) if wanted in ids else 0


def _go(to: int) -> None:
    st.query_params["slide"] = ids[max(0, min(len(ids) - 1, to))]


top[1].button("Previous", icon=":material/arrow_back:", shortcut="Left", on_click=_go, args=(current - 1,),
              disabled=current == 0, width="stretch")
top[2].button("Next", icon=":material/arrow_forward:", shortcut="Right", on_click=_go, args=(current + 1,),
              disabled=current == len(ids) - 1, width="stretch", type="primary")
top[3].button("First", shortcut="Home", on_click=_go, args=(0,), width="stretch")
top[4].button("Last", shortcut="End", on_click=_go, args=(len(ids) - 1,), width="stretch")
slide = slides[current]
st.query_params["slide"] = slide["id"]

where_am_i, back = st.columns([3, 1], vertical_alignment="center")
where_am_i.caption(f"Slide {current + 1} of {len(slides)} · keys: ← → Home End")
# the meeting page has no sidebar: the way back to the app is here
back.page_link(common.PAGES.get("results", "views/results.py"), label="Back to the app", icon=":material/arrow_back:",
               query_params={"run": run_id})
st.markdown(f"## {slide['title']}".replace("$", "\\$"))
# a slide whose blocks stand in columns (steu_core.report.slides) gets them; the others, one block under another
slots = [st.container()] * len(slide["blocks"])
for column, indices in zip(st.columns(len(slide["columns"])) if slide.get("columns") else [], slide.get("columns", [])):
    for i in indices:
        slots[i] = column
for n, (where, block) in enumerate(zip(slots, slide["blocks"])):
    if block["kind"] == "verdicts":
        where.html(verdicts_html(block["items"]))
    elif block["kind"] == "facts":
        where.html(facts_html(block["rows"]))
    elif block["kind"] == "chart":
        where.plotly_chart(block["figure"], theme=None, config=PLOT_CONFIG, key=f"p_{slide['id']}_{n}")
        where.caption(block["caption"])
    else:
        where.markdown(f"**{block['title']}.**")
        where.text(block["text"])

st.divider()
data, digest = _export(str(run_dir), (run_dir / "results.json").stat().st_mtime_ns, (report or {}).get("sha256"))
a, b = st.columns([1, 3], vertical_alignment="center")
a.download_button("Download the interactive HTML", data=data, file_name=f"steu-presentation-{run_id}.html",
                  mime="text/html", icon=":material/download:", key="dl_html", on_click="ignore")
b.markdown(f"Self-contained (opens offline, charts included) · SHA-256 `{digest}`")
