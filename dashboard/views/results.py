"""Step 4: the evidence of one finished run - did the class disappear, did the rest keep working, can
an attacker still find the forgotten notes, exactly what changed - and the PDF for the file."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import common, downloads
from steu_core.deletion.summary import erasure_owed_note
from steu_core import charts
from steu_core import format as fmt
from steu_core.errors import SteuError
from steu_core.phi import RARE_NOTES, mask_tokens, masked_count, revealed_results
from steu_core.report.content import collateral_specs, limitations, method_text
from steu_core.report.summary import ATTACK_COLUMNS, attack_table, deciding_attack, measurement_notes, summary
from steu_core.result_keys import FORGET_F1_AFTER, FORGET_F1_BEFORE, RETAIN_F1_AFTER, RETAIN_F1_BEFORE
from steu_core.runs import list_runs, load_results

ss = st.session_state
PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}

st.title("4 · Results")

runs = list_runs()
if not runs:
    st.info("No finished run yet. Prepare a request (step 2) and run it (step 3).", icon=":material/hourglass_empty:")
    st.page_link(common.PAGES.get("run", "views/run.py"), label="Go to 3 · Run", icon=":material/play_circle:")
    st.stop()

ids = [r["run_id"] for r in runs]
by_id = {r["run_id"]: r for r in runs}
wanted = st.query_params.get("run") or ss.get("view_run") or ss.get("run_id")
if ss.get("results_run") not in ids:
    ss["results_run"] = wanted if wanted in ids else next((i for i in ids if not by_id[i]["missing"]), ids[0])


def _picked() -> None:
    st.query_params["run"] = ss["results_run"]


def _run_label(run_id: str) -> str:
    r = by_id[run_id]
    req = f" · {fmt.printable(r['request_id'], 40)}" if r.get("request_id") else ""
    gone = " · directory not found" if r["missing"] else ""
    return (f"{fmt.when(r.get('created_utc'), missing='')} · forget '{fmt.label(r.get('forget_class'))}'{req} · "
            f"{run_id}{gone}")


run_id = st.selectbox("Run", ids, key="results_run", format_func=_run_label, on_change=_picked)
st.query_params["run"] = run_id
ss["view_run"] = run_id
if by_id[run_id]["missing"]:  # in the ledger, but its directory cannot be read
    st.warning(f"Run {common.code(run_id)} is recorded in the ledger as finished, but "
               f"{common.md(by_id[run_id]['missing'])}. Put the run directory back where it was written to see "
               "its results; the ledger keeps its hashes and verdict either way.", icon=":material/folder_off:")
    st.stop()
run_dir = Path(by_id[run_id]["path"])
try:
    r = load_results(run_dir)
except SteuError as exc:
    common.show_error(exc)
    st.stop()


# free text as printable (a newline or ESC shows as its escape); results.json keeps it as given
req = {k: fmt.printable(v, fmt.FIELD_CHARS) for k, v in (r.get("request") or {}).items()}
fc = fmt.label(r.get("forget_class", ""))
st.caption(" · ".join(x for x in [
    f"Request **{common.md(req['request_id'])}**" if req.get("request_id") else "",
    f"forget class **{common.md(fc)}**", f"method {common.md(r.get('method', ''))}",
    f"k = {r.get('k')} rows", f"device {common.md(r.get('device', ''))}",
    f"total time {fmt.duration((r.get('wall_seconds') or {}).get('total'))}",
    fmt.when(r.get("created_utc"), missing="")] if x))

# --- headline figures -------------------------------------------------------------------------
mia = r.get("mia") or {}


def _delta(a, b):
    try:
        return f"{float(a) - float(b):+.3f}"
    except (TypeError, ValueError):
        return None


about = method_text(r)
items = {item["key"]: item for item in summary(r, about["edits"])}
outputs_attack = deciding_attack(r, "outputs")
m = st.columns(5)
m[0].metric("Forget F1", fmt.number(r.get(FORGET_F1_AFTER), 3),
            _delta(r.get(FORGET_F1_AFTER), r.get(FORGET_F1_BEFORE)), delta_color="inverse",
            border=True, height="stretch",
            help=f"F1 of the forgotten class ({fc}) on the held-out evaluation notes, after unlearning (change from before). "
                 "0 means the model never predicts the class correctly any more.")
m[1].metric("Retain F1", fmt.number(r.get(RETAIN_F1_AFTER), 3),
            _delta(r.get(RETAIN_F1_AFTER), r.get(RETAIN_F1_BEFORE)), border=True,
            height="stretch",
            help="Macro F1 over the retained classes, on the evaluation notes of those classes: how well the model "
                 "still does its job.")
m[2].metric("Attack AUC", fmt.number(outputs_attack.get("after_auc"), 3),
            _delta(outputs_attack.get("after_auc"), outputs_attack.get("before_auc")), delta_color="off",
            border=True, height="stretch",
            help=f"Membership-inference AUC of the deciding attack of someone who sees the predictions "
                 f"({outputs_attack.get('attack') or 'n/a'}): how well it tells forget-set notes from unseen notes "
                 "of the class. 0.5 = guessing.")
m[3].metric("Changed", fmt.percent(r.get("params_changed_fraction"), 2), border=True, height="stretch",
            help=f"Parameters changed: {r.get('params_changed', 0):,} of {r.get('params_total', 0):,}, "
                 f"{fmt.percent(r.get('params_changed_fraction'))}: "
                 f"{r.get('changed_embedding_rows', 0)} embedding rows and the classification head.")
enc_ok = bool(r.get("encoder_unchanged"))
m[4].metric("Encoder intact", "Yes" if enc_ok else "NO", border=True, height="stretch",
            help="Encoder bit-identical: every encoder tensor compared with the original, bit for bit.")

VERDICT_COLOUR = {"yes": "green", "no": "red", "inconclusive": "orange"}
overall = items["overall"]
with st.container(border=True):  # a verdict, not an app error: coloured words rather than an alert box
    st.markdown(f"#### :material/gavel: {common.md(overall['question'])} "
                f":{VERDICT_COLOUR.get(overall['value'], 'gray')}[{common.md(overall['verdict'])}]")
    st.markdown(common.md(overall["text"]))
    if overall.get("next_steps"):
        st.markdown("**What you can do next**\n" + "\n".join(f"- {common.md(step)}" for step in overall["next_steps"]))
owed = erasure_owed_note(str((r.get("request") or {}).get("request_id") or ""), r.get("method"))
if owed:
    st.warning(common.md(owed), icon=":material/pending_actions:")
    st.page_link(common.PAGES["requests"], label="Open the request", icon=":material/assignment:",
                 query_params={"request": (r.get("request") or {}).get("request_id")})


def verdict_card(col, item: dict) -> None:
    with col.container(border=True, height="stretch"):
        if item.get("attacker"):
            st.caption(common.md(f"Against {item['attacker']}"))
        st.markdown(f"**{common.md(item['question'])}**")
        colour = VERDICT_COLOUR.get(item.get("value"), "gray")
        st.markdown(f"### :{colour}[{common.md(item['verdict'])}]")
        st.caption(common.md(item["text"]))


for col, key in zip(st.columns(3), ("forgotten", "utility_kept", "changed")):
    verdict_card(col, items[key])
for col, key in zip(st.columns(2), ("outputs", "model_file")):
    verdict_card(col, items[key])
for note in measurement_notes(r):
    st.caption(common.md(note))
seeds = r.get("seeds") or {}
if seeds.get("spread"):
    st.dataframe(pd.DataFrame([{"Figure after unlearning": key.replace("_after", "").replace("_", " "),
                                "Lowest": v["min"], "Highest": v["max"], "Mean": v["mean"], "SD": v["sd"]}
                               for key, v in seeds["spread"].items()]), hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(format="%.3f")
                                for k in ("Lowest", "Highest", "Mean", "SD")})

# --- forgetting vs utility --------------------------------------------------------------------
st.header("Forgetting and utility", divider="gray")
st.plotly_chart(charts.forget_retain_f1(r), theme=None, config=PLOT_CONFIG, key="c_headline")
st.caption("F1 on the held-out evaluation notes before (grey) and after (teal): the forgotten class should fall "
           "towards 0 while the other classes stay where they were.")

# --- collateral damage --------------------------------------------------------------------------
st.header("Collateral damage", divider="gray")
if (r.get("collateral") or {}).get("per_class"):
    for spec in collateral_specs(r):
        st.plotly_chart(spec["build"](r), theme=None, config=PLOT_CONFIG, key=f"c_{spec['id']}")
        st.caption(spec["caption"])
else:
    st.plotly_chart(charts.per_class_f1(r), theme=None, config=PLOT_CONFIG, key="c_perclass")
    st.caption("This run predates the per-class intervals: each class before and after, without them.")
confusion = charts.confusion_matrices(r)
confusion.update_layout(height=max(480, 150 + 55 * len(r.get("labels", []))))
confusion.update_yaxes(showticklabels=False, title_text=None, row=1, col=2)  # same rows as on the left
st.plotly_chart(confusion, theme=None, config=PLOT_CONFIG, key="c_confusion")
st.caption("Where the evaluation notes are predicted (rows: true class; colour: share of the row, numbers: notes). "
           "After unlearning, notes of the forgotten class go to other classes.")

# --- membership inference ---------------------------------------------------------------------
st.header("Membership inference", divider="gray")
left, right = st.columns([1, 1])
with left:
    st.plotly_chart(charts.mia_roc(r), theme=None, config=PLOT_CONFIG, key="c_mia")
with right:
    st.markdown("Each attack tries to tell the **forget-set notes** (members) from **unseen notes of the same "
                "class**, once against the original model (its power: an attack that cannot tell them apart there "
                "proves nothing afterwards) and once against the new one. A curve on the diagonal, AUC 0.5, means "
                "guessing. One verdict per attacker: someone who sees the predictions, and someone who has the "
                "model file.")
    if mia.get("skipped"):
        st.warning(common.md(mia["skipped"]), icon=":material/info:")
    st.markdown("**How to read it.** AUC is the chance that the attacker ranks a random forget-set note above a "
                "random unseen note: 1.0 = always tells them apart, 0.5 = coin toss; the brackets hold its 95 % "
                "interval. A learned attack is fit on one half of the notes and scored on the other.")
    st.caption(f"{mia.get('n_members', 'n/a')} member notes, {mia.get('n_nonmembers', 'n/a')} unseen notes.")
attacks = attack_table(r)
if attacks:
    st.dataframe(pd.DataFrame(attacks).rename(columns=ATTACK_COLUMNS), hide_index=True, width="stretch")
    st.caption("Every attack by the weakest attacker who can run it (an attacker who has the model file can run "
               "them all). Power: the attack told members from non-members on the original model; only such an "
               "attack shows anything by failing afterwards.")

def _sentence(text: str) -> str:
    text = str(text or "").strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else ""


# --- what this does not prove --------------------------------------------------------------------
with st.expander("What this evidence does not prove (the same limitations as the PDF)", icon=":material/report:"):
    for item in limitations(about):
        st.markdown(f"**{common.md(item['title'])}.** {common.md(item['text'])}")

# --- what changed in the model ----------------------------------------------------------------
st.header("What changed in the model", divider="gray")
verdict_text = (f"**Parameter check: {common.md(str(r.get('param_diff_verdict', 'n/a')).upper())}.** "
                f"Encoder bit-identical: **{'yes' if enc_ok else 'NO'}**. "
                f"{common.md(_sentence(r.get('param_diff_message', '')))}")
if r.get("param_diff_verdict") == "pass" and enc_ok:
    st.success(verdict_text, icon=":material/verified_user:")
else:
    st.error(verdict_text, icon=":material/gpp_bad:")
with st.expander(f"Tensors that changed ({len(r.get('changed_tensors', []))})"):
    st.dataframe(pd.DataFrame({"Tensor": r.get("changed_tensors", [])}), hide_index=True, width="stretch")

n_masked = masked_count(r.get("selected_tokens", []))
shown = r
if n_masked and st.toggle(f"Reveal the {n_masked} masked token(s) on this computer", key="reveal_tokens",
                          help=f"Tokens that contain a digit or occur in fewer than {RARE_NOTES} forget notes may be "
                               "part of a name or record number, so they are masked. Revealing reads them from the "
                               "run's own tokenizer; results.json and the PDF stay masked."):
    try:
        shown = revealed_results(r, run_dir)
    except SteuError as exc:
        common.show_error(exc)
left, right = st.columns([1, 1])
with left:
    st.plotly_chart(charts.changed_rows(shown, top=25), theme=None, config=PLOT_CONFIG, key="c_rows")
    st.caption("The selected tokens whose embedding rows moved most (L2 norm of the change). Hover for the PMI "
               "and how many notes contain the token.")
with right:
    st.markdown(f"**All {len(r.get('selected_tokens', []))} selected tokens**")
    query = st.text_input("Filter tokens", key="token_filter", placeholder="Type part of a token",
                          label_visibility="collapsed", icon=":material/search:")
    toks = pd.DataFrame(mask_tokens(shown.get("selected_tokens", [])),
                        columns=["token", "id", "pmi", "df_forget", "df_total", "l2_change"])
    toks = toks.sort_values("l2_change", ascending=False, kind="stable")
    if query:
        toks = toks[toks["token"].astype(str).str.contains(query, case=False, regex=False)]
    st.dataframe(
        toks.rename(columns={"token": "Token", "id": "Row", "pmi": "PMI", "df_forget": "Forget notes",
                             "df_total": "All notes", "l2_change": "L2 change"}),
        hide_index=True, width="stretch", height=520,
        column_config={"PMI": st.column_config.NumberColumn(format="%.3f"),
                       "L2 change": st.column_config.NumberColumn(format="%.4f", help="L2 norm of the row's change"),
                       "Forget notes": st.column_config.NumberColumn(help="forget notes containing the token"),
                       "All notes": st.column_config.NumberColumn(help="notes containing the token, all classes")})
    st.caption(f"{len(toks)} shown. PMI: how much more often the token appears in the forgotten class than overall."
               + (f" {n_masked} token(s) that look like identifiers are masked; they were edited like the others."
                  if n_masked and shown is r else ""))

st.plotly_chart(charts.changed_fraction(r), theme=None, config=PLOT_CONFIG, key="c_fraction")
st.caption("Changed parameters against the whole model, on a log scale: everything outside these bars is "
           "bit-identical to the original.")

# --- provenance ---------------------------------------------------------------------------------
with st.expander("Provenance: request, data files and hashes", icon=":material/fingerprint:"):
    data = r.get("data") or {}
    hashes = r.get("hashes") or {}
    st.markdown(f"**Request** {common.md(req.get('request_id') or '-')} · requester "
                f"{common.md(req.get('requester') or '-')} · reason {common.md(req.get('reason') or '-')} · "
                f"operator {common.md(req.get('operator') or '-')}")
    files = [{"Role": role, "File": (data.get(key) or {}).get("name", ""), "Notes": (data.get(key) or {}).get("rows"),
              "SHA-256 of the content": (data.get(key) or {}).get("sha256", "")}
             for role, key in (("Forget set", "forget"), ("Training notes", "train"), ("Evaluation notes", "eval"))]
    st.dataframe(pd.DataFrame(files), hide_index=True, width="stretch")
    st.dataframe(pd.DataFrame([{"Item": k.replace("_", " "), "SHA-256": v} for k, v in hashes.items()]),
                 hide_index=True, width="stretch")
    st.caption(f"Run directory `{run_dir}` · method settings: " +
               ", ".join(f"{k} = {v}" for k, v in sorted((r.get("method_settings") or {}).items())))

downloads.show_downloads(run_dir)

# --- the report ---------------------------------------------------------------------------------
st.header("Report", divider="gray")
pdf = run_dir / "report.pdf"
a, b = st.columns([2, 3], vertical_alignment="bottom")
org = a.text_input("Organisation printed on the report (optional)", key="organisation", persist_state="session")
if b.button("Create the PDF report", icon=":material/picture_as_pdf:", key="make_pdf"):
    with st.spinner("Rendering the charts and writing the PDF…"):
        try:
            from steu_core.report import build_report

            build_report(run_dir, pdf, organisation=org or None)
        except SteuError as exc:
            common.show_error(exc)
        except ImportError:
            st.error("The report module is not available in this installation.")
c1, c2 = st.columns(2)
downloads.show_report_downloads(c1, pdf, run_id)
c2.download_button("Download results.json", data=json.dumps(r, indent=2), file_name=f"{run_id}-results.json",
                   mime="application/json", icon=":material/data_object:", key="dl_json")
