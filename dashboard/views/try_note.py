"""Try a note: pick an evaluation note or paste one, and see what the original model and the run's new
model version predict for it, with the run's selected tokens highlighted. Nothing typed here is stored:
the text stays in this browser session's memory and never reaches a file or the URL."""
from __future__ import annotations

import streamlit as st

from dashboard import common, run_choice
from steu_core import charts
from steu_core.errors import SteuError
from steu_core.try_note import compare_note, highlight_html, new_model_dir, original_model_dir

PLOT_CONFIG = {"displaylogo": False}
PICK, PASTE = "An evaluation note", "Paste a note"

st.title("Try a note")
st.caption("What the original model and the new model version predict for one note. What you paste stays in "
           "this browser session only: it is not saved and not put in the address.")

chosen = run_choice.pick_run("try_run")
if chosen is None:
    st.stop()
run_id, run_dir, r = chosen


def _eval_notes():
    """The evaluation notes of the current request (the sample file unless another was uploaded)."""
    f = common.file_for("eval")
    try:
        return common.read_notes(f["path"]) if f else None
    except SteuError as exc:
        common.show_error(exc)
        return None


def _note_text() -> str:
    source = st.segmented_control("Note", [PICK, PASTE], default=PICK, key="try_source")
    if source == PASTE:
        return st.text_area("Note text", key="try_text", height=160, placeholder="Paste the text of a note")
    notes = _eval_notes()
    if notes is None or not len(notes):
        st.info("No evaluation notes to pick from; paste a note instead.", icon=":material/info:")
        return ""
    def label(i: int) -> str:
        flat = " ".join(notes.texts[i].split())  # line breaks would glue words together in one line
        return f"#{notes.row_numbers[i]} · {notes.labels[i]} · {flat[:70]}{'…' if len(flat) > 70 else ''}"

    i = st.selectbox(f"Evaluation note from {notes.name}", range(len(notes)), key="try_pick", format_func=label)
    return notes.texts[i] if i is not None else ""


def _models():
    return common.load_model(original_model_dir(run_dir)), common.load_model(new_model_dir(run_dir))


text = _note_text()
if not text.strip():
    st.stop()
try:
    with st.spinner("Scoring the note with both models…"):
        original, new = _models()
        scored = compare_note(original, new, text, r, run_dir)
except SteuError as exc:
    common.show_error(exc)
    st.stop()

a, b = st.columns(2)
a.metric("Original model predicts", scored["predicted_before"], border=True)
b.metric("New model version predicts", scored["predicted_after"], border=True)
st.plotly_chart(charts.note_probabilities(scored), theme=None, config=PLOT_CONFIG, key="c_note")
found = sorted({s["token"].lower() for s in scored["spans"]})
st.markdown(f"**The note, with the run's selected tokens highlighted** ({len(found)} of the "
            f"{len(r.get('selected_tokens', []))} selected tokens occur in it)")
with st.container(border=True):
    st.html(f"<div style='line-height:1.7;white-space:normal;overflow-wrap:anywhere'>"
            f"{highlight_html(text, scored['spans'])}</div>")
if scored["truncated"]:
    st.caption(f"The models read the first {scored['max_length']} tokens of a note, as in the run; the rest of "
               "this note played no part and is not highlighted.")
