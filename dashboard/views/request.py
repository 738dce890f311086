"""Step 2: the deletion request - what must be forgotten, the data to check it with, and who asked."""
from __future__ import annotations

import streamlit as st

from dashboard import background, common
from steu_core import forget_ids, uploads, worker
from steu_core.forget_ids import NO_LABEL_COLUMN
from steu_core.hints import for_dashboard
from steu_core.runs import checks

ss = st.session_state
files: dict = ss["files"]

st.title("2 · Deletion request")
st.markdown("Upload the notes that must be forgotten and choose their class. The training notes of the other "
            "classes keep the model useful; the evaluation notes are used only to measure the result. Files "
            "may be CSV, TSV, JSONL or Parquet with a text column and a label column.")

clf, model_dir, model_error = common.current_model(prepare=True)
if clf is None:
    st.warning("Choose and load a model first (step 1).", icon=":material/neurology:")
    if model_error is not None:
        common.show_error(model_error)
    st.page_link(common.PAGES.get("model", "views/model.py"), label="Go to 1 · Model", icon=":material/arrow_back:")
    st.stop()
labels = list(clf.labels)


def _drop_upload(role: str) -> None:
    """The request stops using its upload for ``role`` (replaced or removed): delete the file at
    once, unless a run in progress still reads it (the worker deletes it when that run ends)."""
    old = files.get(role) or {}
    if old.get("source") == "upload":
        files.pop(role, None)
        held = uploads.held_files(worker.read_launch(s.run_id) for s in worker.active_runs())
        uploads.remove([old["path"]], keep=held)


def _on_upload(role: str) -> None:
    """Store a new upload, owner-only, for as long as the request needs it (or drop the old one)."""
    up = ss.get(f"up_{role}")
    _drop_upload(role)
    if up is None:
        return
    path = uploads.save_upload(ss["upload_session"], up.name, up.getvalue())
    files[role] = {"path": str(path), "name": path.name, "source": "upload"}
    if role == "forget":
        ss["_prefill_class"] = True


def _use_sample(role: str) -> None:
    _drop_upload(role)
    p = common.sample_file(role)
    if role == "forget":
        ss["forget_kind"] = "notes"  # the sample request is a file of notes
        files[role] = {"path": str(p), "name": p.name, "source": "sample"}
        ss["_prefill_class"] = True
    else:
        files.pop(role, None)  # train / eval fall back to the sample file


def _kept_upload(role: str) -> None:
    """Under an upload box that looks empty (after a browser refresh, or on coming back to this page), the
    file the request kept from an earlier upload: its name, and a way to remove it."""
    kept = files.get(role) or {}
    if kept.get("source") != "upload" or ss.get(f"up_{role}") is not None:
        return
    name, remove = st.columns([4, 1], vertical_alignment="center")
    name.markdown(f":material/attach_file: In use: **{common.md(kept['name'])}** (uploaded earlier; kept for this "
                  "request). Upload another file to replace it.")
    remove.button("Remove", key=f"drop_{role}", on_click=_drop_upload, args=(role,), icon=":material/close:",
                  type="tertiary")


def _summary(chk: checks.FileCheck, where) -> None:
    """One line on the file in use: what it is, or what is wrong with it."""
    if chk.path is None:
        return
    source = "sample file" if (files.get(chk.role) or {}).get("source", "sample") == "sample" else "uploaded"
    if chk.error is not None:
        common.show_error(chk.error, where)
        return
    n = chk.notes
    counts = n.label_counts
    classes = ", ".join(f"{common.md(k)} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:6])
    more = f" and {len(counts) - 6} more" if len(counts) > 6 else ""
    ids = (f"  \nSHA-256 of the ids file (its bytes, as `sha256sum` gives it) `{chk.ids_file['sha256']}`; "
           f"{chk.ids_file['ids']:,} ids named these notes" if chk.ids_file else "")
    where.success(f"**{common.md(chk.name)}** ({source}): {len(n):,} notes · {classes}{more}  \n"
                  f"SHA-256 of the notes' content `{n.sha256[:16]}…`{ids}", icon=":material/task_alt:")


FORGET_KINDS = {"notes": "Note texts", "ids": "Note ids (of the training notes)"}
NO_LABEL = "(none: every note is of the class chosen below)"


def _column_picker(where, label: str, key: str, columns: list[str], detected: str | None,
                   none_option: bool = False, help: str | None = None) -> None:
    """A column of a chosen file, the detected one pre-selected (a choice that the file still has is kept)."""
    options = ([NO_LABEL_COLUMN] if none_option else []) + columns
    if ss.get(key) not in options:
        ss[key] = detected if detected in options else (NO_LABEL_COLUMN if none_option else None)
    where.selectbox(label, options, key=key, help=help, placeholder="Choose the column", persist_state="session",
                    format_func=lambda c: NO_LABEL if c == NO_LABEL_COLUMN else c)


def forget_columns(where) -> None:
    """The forget file's text and label columns, or, for ids, the training file's id column."""
    chosen = files.get("forget") or {}
    cols = where.columns(2)
    if common.forget_by_ids():
        train_columns = common.columns_of((common.file_for("train") or {}).get("path"))
        if chosen and train_columns:
            _column_picker(cols[0], "Id column of the training notes", "col_id", train_columns,
                           forget_ids.guess_columns(train_columns)["id"],
                           help="The training file's column that the ids in the forget file refer to.")
        return
    columns = common.columns_of(chosen.get("path"))
    if columns:
        guess = forget_ids.guess_columns(columns)
        _column_picker(cols[0], "Text column", "col_forget_text", columns, guess["text"],
                       help="The column of the forget file that holds the note text.")
        _column_picker(cols[1], "Label column", "col_forget_label", columns, guess["label"], none_option=True,
                       help="The column of the forget file that holds the class; with none, every note is of "
                            "the class chosen below.")


gone = ss.get("uploads_gone") or []
if gone:
    st.info(f"The uploaded file(s) {common.md(', '.join(gone))} were deleted when the run that read them ended "
            "(this tool keeps no copy of the notes). Upload them again for another run.", icon=":material/delete:")
    ss["uploads_gone"] = []

# --- the forget set and its class -------------------------------------------------------------
with st.container(border=True):
    st.subheader(":material/delete_sweep: Notes to forget")
    st.radio("The deletion request lists", ["notes", "ids"], key="forget_kind", horizontal=True, persist_state="session",
             format_func=FORGET_KINDS.get,
             help="Note ids: a file with one column of ids (or a .txt with one id per line) that name notes of "
                  "the training file by its id column; the forget set is those training notes.")
    st.file_uploader("Forget set (required)", type=uploads.UPLOAD_TYPES + ["txt"], key="up_forget",
                     on_change=_on_upload, args=("forget",),
                     help="Every note in this file (or named by it) must be of the class being forgotten.")
    _kept_upload("forget")
    st.caption("Uploaded files are kept, readable only by this account, just while this request needs them: "
               "they are deleted when its run ends or when you replace or remove them. Runs keep only hashes, "
               "row counts and file names, never note text.")
    sample_forget = common.sample_file("forget")
    if sample_forget.is_file():
        st.button(f"Use the sample request ({sample_forget.name})", on_click=_use_sample, args=("forget",),
                  icon=":material/science:", type="tertiary")
    forget_columns_slot = st.container()
    forget_slot = st.container()

    # Pre-fill the class from a newly chosen forget set (the user may still change it).
    if ss.pop("_prefill_class", False) and files.get("forget"):
        found = common.check_file("forget", labels).notes  # by ids: the labels of the training notes named
        guess = checks.detected_class(found, labels) if found is not None else None
        if guess:
            ss["forget_class"] = guess
    if ss.get("forget_class") not in labels:
        ss["forget_class"] = None
    st.selectbox("Class to forget", labels, key="forget_class", persist_state="session",
                 placeholder="Choose the class named in the request",
                 help="One of the model's label names. Its notes in the evaluation set measure the forgetting.")

forget_columns(forget_columns_slot)
req = common.evaluate_request(clf, model_dir)
_summary(req.checks["forget"], forget_slot)
if req.checks["forget"].path is None:
    forget_slot.info("No forget set yet: upload the file that came with the deletion request.",
                     icon=":material/upload_file:")

# --- training and evaluation notes ------------------------------------------------------------
left, right = st.columns(2)
for role, col, title, hint in (
        ("train", left, ":material/library_books: Training notes (retain set)",
         "The notes the model was trained on. Its other classes are the retain set that keeps the model useful."),
        ("eval", right, ":material/rule: Evaluation notes",
         "Held-out notes of every class, never trained on: they measure forgetting and utility, and their "
         "notes of the forgotten class are the unseen reference for the membership test.")):
    with col.container(border=True):
        st.subheader(title)
        st.file_uploader(f"Upload {checks.ROLES[role]} (optional)", type=uploads.UPLOAD_TYPES, key=f"up_{role}",
                         on_change=_on_upload, args=(role,), help=hint)
        _kept_upload(role)
        slot = st.container()
        if files.get(role):
            st.button(f"Use the sample {checks.ROLES[role]} instead", key=f"sample_{role}", on_click=_use_sample,
                      args=(role,), icon=":material/undo:", type="tertiary")
        chk = req.checks[role]
        if chk.path and not files.get(role) and not common.sample_file(role).is_file():
            slot.error(f"No {checks.ROLES[role]}: the sample file {common.md(chk.name)} is missing. Upload one.")
        else:
            _summary(chk, slot)

train_columns = common.columns_of((common.file_for("train") or {}).get("path"))
if train_columns:
    with st.expander("Columns of the training and evaluation notes", icon=":material/view_column:"):
        st.caption("Detected from the column names; both files use the columns chosen here.")
        guess = forget_ids.guess_columns(train_columns)
        a, b = st.columns(2)
        _column_picker(a, "Text column", "col_text", train_columns, guess["text"],
                       help="The column holding the note text.")
        _column_picker(b, "Label column", "col_label", train_columns, guess["label"],
                       help="The column holding the class of each note.")

# --- who asked, and why -----------------------------------------------------------------------
with st.container(border=True):
    st.subheader(":material/badge: Request details")
    st.caption("Recorded in the tamper-evident ledger and printed on the report.")
    a, b = st.columns(2)
    a.text_input("Request id", key="request_id", persist_state="session")
    b.text_input("Requester", key="requester", persist_state="session", placeholder="e.g. Patient services")
    a.text_input("Reason", key="reason", persist_state="session", placeholder="e.g. GDPR art. 17 request")
    b.text_input("Operator", key="operator", persist_state="session", help="Who runs the unlearning.")

# --- ready? ------------------------------------------------------------------------------------
if req.cross_error is not None:
    common.show_error(req.cross_error)
elif req.ok:
    f = req.checks["forget"].notes
    ev = req.checks["eval"].notes
    held = ev.label_counts.get(req.forget_class, 0)
    st.success(f"Ready: forget **{common.md(req.forget_class)}** using {len(f):,} forget notes; "
               f"{len(ev):,} evaluation notes ({held} of the forgotten class).", icon=":material/verified:")
    for text in req.warnings or []:
        st.warning(common.md(text[:1].upper() + text[1:]) + ".", icon=":material/warning:")
    background.keep_ready(model_dir)
    if st.button("Next: run the unlearning", type="primary", icon=":material/arrow_forward:"):
        common.goto("run")
else:
    st.info(f"To continue, {common.md(for_dashboard(req.first_problem()) or 'complete the request')}.",
            icon=":material/pending_actions:")
