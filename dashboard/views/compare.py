"""Step 6: several methods on the same request, side by side (comparisons made by `steu_core compare`)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import common
from steu_core import format as fmt
from steu_core.compare import (
    compare_command,
    comparison_figures,
    list_comparisons,
    load_comparison_dir,
    table_rows,
)
from steu_core.errors import SteuError
from steu_core.paths import comparisons_dir

st.title("6 · Compare methods")
st.markdown("STEU against its controls and baselines on the **same** request: the head alone, random rows "
            "instead of PMI-selected ones, full-model methods and the retrain-from-scratch oracle (the gold "
            "standard), with the deeper audits (reference-model membership inference, a representation probe, "
            "a relearning test and a KS test against the oracle). Every figure carries a 95 % bootstrap "
            "interval; differences inside it are not findings.")


def _command() -> str:
    """`python -m steu_core compare` for the request being prepared on pages 1-2."""
    kind, text = common.model_choice()
    forget = common.file_for("forget")
    return compare_command("default" if kind == "demo" else text, common.file_for("train")["path"],
                           common.file_for("eval")["path"], st.session_state.get("forget_class") or "CLASS",
                           forget["path"] if forget else None)


found = list_comparisons()
with st.expander("Make a comparison", icon=":material/terminal:", expanded=not found):
    st.markdown("A comparison retrains the model from its pretrained start (the oracle) and trains reference "
                "models, so it takes as long as training the original - minutes on a GPU, up to hours on a "
                "laptop CPU. Start it from a terminal on this machine; it is saved in the data directory "
                f"(`{common.md(comparisons_dir())}`) and appears here when finished. For the request of pages 1-2:")
    st.code(_command(), language="bash", wrap_lines=True)
    st.caption("Fewer methods (--methods steu,head_only,random_tokens) finish in seconds to minutes; the oracle "
               "is what makes the KS test and the reference-model audit possible.")

other = st.text_input("Or open a comparison directory elsewhere", key="cmp_other_dir",
                      placeholder="/path/to/the --out directory of a compare run")
choices = {c["path"]: c for c in found}
if other.strip():
    choices = {str(Path(other.strip()).expanduser()): {"id": other.strip()}, **choices}
if not choices:
    st.info("No comparison yet.", icon=":material/hourglass_empty:")
    st.stop()


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

a, b, c = st.columns(3)
a.metric("Class forgotten", str(comparison.get("forget_class")))
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
    st.caption("A linear probe on held-out notes at each depth of the network: how well the forgotten class can "
               "still be told from the others. The retrain oracle (dashed) is the honest floor: a curve above it "
               "leaves more of the class there than retraining would.")
