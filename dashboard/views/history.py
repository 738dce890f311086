"""Step 5: every past run in the data directory, openable, and two runs side by side."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import common
from steu_core.deletion.book import open_requests as open_requests_of
from steu_core.deletion.states import ERASED, can_move
from steu_core import charts, worker
from steu_core import format as fmt
from steu_core.errors import SteuError
from steu_core.ledger.signed_state import last_checkpoint_path, sign_checkpoint
from steu_core.ledger import (Checkpoint, Ledger, LedgerError, check_ledger_file, default_key_path, entry_summary,
                              signer_for)
from steu_core.ledger.head import check_head
from steu_core.ledger.keys import local_verifier
from steu_core.ledger.note import parse_note
from steu_core.result_keys import FORGET_F1_AFTER, FORGET_F1_BEFORE, RETAIN_F1_AFTER, RETAIN_F1_BEFORE
from steu_core.runs import list_runs, load_results, location
from steu_core.runs.ab_table import ab_rows

ss = st.session_state
PLOT_CONFIG = {"displaylogo": False}

st.title("5 · History")
open_requests = open_requests_of()
if open_requests:
    owed = sum(1 for s in open_requests if can_move(s.state, ERASED))
    st.page_link(common.PAGES["requests"], icon=":material/assignment:",
                 label=f"{len(open_requests)} open deletion request(s), {owed} still owing erasure: their states, "
                       "what is owed and the model to serve")
runs = list_runs()
if not runs:
    st.info("No finished run yet.", icon=":material/hourglass_empty:")
else:
    st.markdown(f"**{len(runs)} finished run(s)**: the data directory's and those its ledger records elsewhere, "
                "newest first. Select one to open it.")
    def arrow(before, after) -> str:
        return f"{fmt.number(before, 3)} → {fmt.number(after, 3)}"

    table = pd.DataFrame([{
        "Date": fmt.when(r.get("created_utc"), missing=""), "Request": r.get("request_id") or "",
        "Forgotten class": r.get("forget_class"), "Method": r.get("method"), "Verdict": r.get("verdict"),
        "Forget F1": arrow(r.get(FORGET_F1_BEFORE), r.get(FORGET_F1_AFTER)),
        "Retain F1": arrow(r.get(RETAIN_F1_BEFORE), r.get(RETAIN_F1_AFTER)),
        "Changed": fmt.percent(r.get("params_changed_fraction"), 3), "Run id": r["run_id"], "Where": location(r),
    } for r in runs])
    picked = st.dataframe(
        table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="history_table",
        column_config={"Verdict": st.column_config.TextColumn(help="Is the forgetting shown? The run's headline "
                                                                   "verdict, naming the attacker it holds against"),
                       "Forget F1": st.column_config.TextColumn(help="on the evaluation notes, before → after"),
                       "Retain F1": st.column_config.TextColumn(help="other classes, before → after"),
                       "Changed": st.column_config.TextColumn(help="share of the model's parameters changed"),
                       "Where": st.column_config.TextColumn(help="the run's directory, as the ledger records it; "
                                                                 "'not found' when it was moved or deleted")})
    rows = list(getattr(getattr(picked, "selection", None), "rows", []) or [])
    if st.button("Open the selected run", icon=":material/open_in_new:", disabled=not rows, type="primary"):
        chosen = runs[rows[0]]["run_id"]
        ss["view_run"] = chosen
        common.goto("results", run=chosen)

    # --- comparison ---------------------------------------------------------------------------
    st.header("Compare two runs", divider="gray")
    ids = [r["run_id"] for r in runs if not r["missing"]]  # side by side needs both runs' results
    label = {r["run_id"]: f"{fmt.when(r.get('created_utc'), missing='')} · {r.get('forget_class')} · {r['run_id']}" for r in runs}
    if len(ids) < 2:
        st.caption("Two finished runs whose directories are at hand are needed for a comparison.")
    else:
        a, b = st.columns(2)
        ra_id = a.selectbox("Run A", ids, index=1, key="cmp_a", format_func=label.get)
        rb_id = b.selectbox("Run B", ids, index=0, key="cmp_b", format_func=label.get)
        by_id = {r["run_id"]: r for r in runs}
        try:
            ra, rb = load_results(by_id[ra_id]["path"]), load_results(by_id[rb_id]["path"])
        except SteuError as exc:
            common.show_error(exc)
            st.stop()

        rows = ab_rows(ra, rb)
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=36 * (len(rows) + 1) + 4)
        ca, cb = st.columns(2)
        for col, r, tag in ((ca, ra, "A"), (cb, rb, "B")):
            with col:
                st.markdown(f"**Run {tag}** · `{r.get('run_id')}`")
                st.plotly_chart(charts.forget_retain_f1(r), theme=None, config=PLOT_CONFIG, key=f"cmp_f1_{tag}")
                st.plotly_chart(charts.mia_roc(r), theme=None, config=PLOT_CONFIG, key=f"cmp_mia_{tag}")
                st.plotly_chart(charts.changed_fraction(r), theme=None, config=PLOT_CONFIG, key=f"cmp_frac_{tag}")
        st.caption("Same charts as on the Results page, for each run: F1 before and after, membership-inference "
                   "curves, and the share of the model that changed.")

# --- runs that did not finish -------------------------------------------------------------------
problems = worker.unfinished_runs()
if problems:
    with st.expander(f"Runs that did not finish ({len(problems)})", icon=":material/report:"):
        for p in problems:
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            c1.markdown(f"`{p.run_id}` · **{p.state}** · {common.md(p.message or 'no message')}")
            if c2.button("Remove", key=f"discard_{p.run_id}", icon=":material/delete:",
                         help="Delete what the run left behind (its staging directory)."):
                worker.discard(p.run_dir)
                st.rerun()

# --- the ledger -------------------------------------------------------------------------------
st.header("Audit ledger", divider="gray")
try:
    ledger = Ledger()
    check = ledger.verify()
    entries = ledger.entries()
    head = check_head(ledger, check.n_entries)
except Exception as exc:  # an unreadable ledger is shown, never hidden
    st.error(f"The ledger cannot be read ({type(exc).__name__}). Run `python -m steu_core ledger verify`.",
             icon=":material/gpp_bad:")
else:
    if check.ok:
        st.success(f"**Chain intact**: {check.n_entries} entries, each holding the SHA-256 of the one before.",
                   icon=":material/verified_user:")
    else:
        st.error(f"**Chain BROKEN at entry {check.first_broken_seq}** of {check.n_entries}: "
                 f"{common.md(check.reason)}. An entry was edited, deleted or reordered.", icon=":material/gpp_bad:")
    if not head.ok:  # the chain alone cannot see its newest entries removed; the head record can
        st.error(f"**Head record check FAILED**: {common.md(head.reason)}", icon=":material/gpp_bad:")
    if entries:
        st.dataframe(pd.DataFrame([{"#": e["seq"], "When (UTC)": e["ts_utc"], "Kind": e["kind"],
                                    "What": entry_summary(e["payload"] or {}, limit=200),
                                    "Entry hash": e["entry_hash"]} for e in reversed(entries)]),
                     hide_index=True, width="stretch", height=min(400, 36 * (len(entries) + 1) + 4))
    reports = [e for e in entries if e["kind"] == "report"]
    if reports:
        st.markdown(f"**Every report version made ({len(reports)})**, newest first: a regenerated report keeps its "
                    "own file (report-v2.pdf ...), so every copy handed out can still be checked.")
        st.dataframe(pd.DataFrame([{"When (UTC)": e["ts_utc"], "Run": (e["payload"] or {}).get("run_id", ""),
                                    "File": (e["payload"] or {}).get("file_name", ""),
                                    "SHA-256 of the PDF": (e["payload"] or {}).get("pdf_sha256", "")}
                                   for e in reversed(reports)]), hide_index=True, width="stretch")
    st.caption(f"Every deletion request, run and PDF report, newest first: identifiers, hashes and counts only, "
               f"never note text. {common.code(ledger.path)} · check it from a terminal with "
               "`python -m steu_core ledger verify`.")

# --- the signed checkpoint: the witness that makes a rewrite detectable ---------------------------
st.subheader("Signed checkpoint", divider="gray")
st.markdown("A checkpoint is the ledger's size and Merkle root, signed with this data directory's key. Give it "
            "and the public key to someone outside your control (a DPO, a regulator): later, `python -m steu_core "
            "ledger verify --checkpoint FILE --public-key KEY` shows whether any entry up to it was changed.")


def sign_now(book: Ledger) -> None:
    """What `ledger checkpoint` does: never sign a state that forks the last one, then keep it."""
    try:
        check_ledger_file(book.path)
        signer, _ = signer_for()
        sign_checkpoint(book, signer)
    except LedgerError as exc:
        common.show_error(exc)


def show_checkpoint(book: Ledger) -> None:
    """The last checkpoint signed here: tree size, root, whether today's ledger extends it, download."""
    last = last_checkpoint_path(book)
    if not last.is_file():
        st.caption("No checkpoint signed yet.")
        return
    text = last.read_text(encoding="utf-8")
    try:
        cp = Checkpoint.parse(parse_note(text)[0])
        extends = book.verify_checkpoint(text, local_verifier())
    except LedgerError as exc:
        common.show_error(exc)
        return
    a, b = st.columns([1, 3])
    a.metric("Tree size", f"{cp.size:,}", help="entries the checkpoint covers")
    b.markdown(f"**Root** (SHA-256 Merkle root)  \n`{cp.root.hex()}`")
    (st.success if extends.ok else st.error)(f"Today's ledger {'extends' if extends.ok else 'does NOT extend'} "
                                             f"this checkpoint: {common.md(extends.reason)}")
    st.code(text, language=None)
    st.download_button("Download the checkpoint", text, file_name=f"steu-checkpoint-{cp.size}.txt",
                       mime="text/plain", icon=":material/download:")


def show_public_key() -> None:
    if not default_key_path().exists():
        st.caption("No signing key yet: signing the first checkpoint makes one (owner-only; back it up).")
        return
    public = local_verifier().text()
    st.markdown("**Public key** (checks this data directory's checkpoints)")
    st.code(public, language=None)
    st.download_button("Download the public key", public + "\n", file_name="steu-ledger.pub", mime="text/plain",
                       icon=":material/key:")


try:
    book, n_entries = Ledger(), len(Ledger().entries())
except Exception:  # an unreadable ledger is reported above
    book = None
if book is not None:
    if st.button("Sign a checkpoint now", icon=":material/verified:", disabled=not n_entries,
                 help="Signs the ledger's current size and root with this data directory's key."):
        sign_now(book)
    show_checkpoint(book)
    show_public_key()
