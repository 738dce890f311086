"""Step 6: several methods on the same request, side by side (comparisons made by `steu_core compare`)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import common, compare_job
from steu_core import format as fmt
from steu_core.charts import layer_probe_caption
from steu_core.compare import (comparison_figures, list_comparisons, load_comparison_dir, relearn_verdict_lines,
                               table_rows, verdict_lines)
from steu_core.errors import SteuError
from steu_core.verdicts import QUESTIONS, RELEARN_QUESTION

ss = st.session_state
st.title("6 · Compare methods")
st.markdown("STEU against its controls and baselines on the **same** request: the head alone, random rows "
            "instead of PMI-selected ones, full-model methods and the retrain-from-scratch oracle (the gold "
            "standard), with the deeper audits (reference-model membership inference, a representation probe, "
            "a relearning test and a KS test against the oracle). Every figure carries a 95 % bootstrap "
            "interval; differences inside it are not findings.")


current = compare_job.followed()
if current is not None and current.active:
    compare_job.monitor(current.run_id)
finished_now = compare_job.outcome(current) if current is None or not current.active else None
found = list_comparisons()
if current is None or not current.active:
    compare_job.start_form(expanded=not found)

other = st.text_input("Or open a comparison directory elsewhere", key="cmp_other_dir",
                      placeholder="/path/to/the --out directory of a compare run")
choices = {c["path"]: c for c in found}
if other.strip():
    choices = {str(Path(other.strip()).expanduser()): {"id": other.strip()}, **choices}
if not choices:
    st.info("No comparison yet.", icon=":material/hourglass_empty:")
    st.stop()
if finished_now and ss.get("_cmp_shown") != finished_now:  # the comparison just followed to its end, once
    ss["_cmp_shown"] = finished_now
    ss["cmp_pick"] = next((p for p in choices if Path(p).resolve() == Path(finished_now).resolve()),
                          ss.get("cmp_pick"))


def _label(path: str) -> str:
    c = choices[path]
    if "methods" not in c:
        return path
    return (f"{fmt.when(c.get('created_utc'), missing='')} · forget '{c.get('forget_class')}' · {len(c['methods'])} methods · "
            f"{c['id']}")


path = st.selectbox("Comparison", list(choices), format_func=_label, key="cmp_pick")
try:
    comparison = load_comparison_dir(path)
    figures = comparison_figures(comparison)
except SteuError as exc:
    common.show_error(exc)
    st.stop()

# the class in a line of text: as a metric value, a long class name was cut at 1280x720
st.markdown(f"**Class forgotten:** {common.md(comparison.get('forget_class'))}")
b, c = st.columns(2)
b.metric("Methods", len(comparison.get("methods") or []))
c.metric("Total time", fmt.duration(comparison.get("total_seconds")))

st.subheader(":material/rule: What differs beyond the noise")
lines = comparison.get("findings") or []
if lines:
    st.markdown("\n".join(f"- {common.md(x)}" for x in lines))
else:
    st.markdown("No difference between methods lies outside the 95 % intervals: on this data they are "
                "**statistically indistinguishable**.")
st.caption(common.md(comparison.get("definitions", {}).get("noise", "")))

st.subheader(":material/table: The table")
headers, rows = table_rows(comparison)
st.dataframe(pd.DataFrame(rows, columns=headers), hide_index=True, width="stretch")
st.caption("Each figure with its 95 % bootstrap interval. 'original' is the model before unlearning; "
           "'x oracle' is the method's time over the oracle's training time. Relearning: median steps an attacker "
           "with a few notes of the class needs to bring it back (head only, or every parameter), with an "
           "order-statistic interval; 'never within N' = not within the bound; the strongest attacker is the "
           "faster of the two.")
headlines = verdict_lines(comparison)
if headlines:
    st.markdown(f"**{QUESTIONS['overall']}**\n" + "\n".join(f"- {common.md(x)}" for x in headlines))
relearn_lines = relearn_verdict_lines(comparison)
if relearn_lines:
    st.markdown(f"**{RELEARN_QUESTION}**\n" + "\n".join(f"- {common.md(x)}" for x in relearn_lines))
csv_path = Path(path) / "comparison.csv"
if csv_path.is_file():
    st.download_button("Download the table (CSV)", csv_path.read_bytes(), file_name=f"{Path(path).name}.csv",
                       mime="text/csv", icon=":material/download:")

st.subheader(":material/scatter_plot: Forgetting against utility")
st.plotly_chart(figures["pareto"], theme=None, config={"displaylogo": False}, key="cmp_pareto")
st.caption("Each method is a point: lower = more forgotten, further right = more of the other classes' utility "
           "kept; the point's size is the share of parameters it changed and its colour the time it took. The "
           "dashed line joins the methods no other method beats on both.")
if "layer_probe" in figures:
    st.subheader(":material/stacked_line_chart: Where the class is still readable")
    st.plotly_chart(figures["layer_probe"], theme=None, config={"displaylogo": False}, key="cmp_layer_probe")
    st.caption(common.md(layer_probe_caption(comparison)))
