"""The report's pages, one function per section, in the order they are printed. Each prints strings
from the report's content (already formatted) and never computes a figure of its own."""
from __future__ import annotations

from pathlib import Path

from ..format import when
from .anchors import proof_rows
from .summary import ATTACK_COLUMNS
from .document import GREY, TEAL, VERDICT_RGB, ReportDocument

NUMERIC = ["LEFT", "RIGHT", "RIGHT", "RIGHT"]


def write_pdf(doc: ReportDocument, c: dict, images: dict, sizes: dict) -> None:
    """Every page of the report. ``images`` maps chart ids to PNG paths (or why there is none), ``sizes``
    maps them to pixel sizes. Sections after the limitations are numbered as they appear."""
    title_page(doc, c)
    executive_summary(doc, c)
    model_identity(doc, c)
    data(doc, c)
    method(doc, c)
    results(doc, c)
    charts(doc, c, images, sizes)
    param_diff(doc, c, images, sizes)
    limitations(doc, c)
    n = 9
    if c["comparison"]:
        comparison(doc, c, n)
        n += 1
    ledger(doc, c, n)
    sign_off(doc, c, n + 1)
    changed_tensors_appendix(doc, c)
    changed_rows_appendix(doc, c)


def title_page(doc: ReportDocument, c: dict) -> None:
    pdf = doc.pdf
    req, run = c["request"], c["run"]
    pdf.add_page()
    pdf.set_fill_color(*TEAL)
    pdf.rect(0, 0, pdf.w, 8, style="F")
    pdf.set_fill_color(255, 255, 255)
    pdf.set_y(45)
    if c["organisation"]:
        doc.para(c["organisation"], size=14, style="B", color=GREY)
    pdf.set_font(doc.sans, "B", 24)
    pdf.set_text_color(*TEAL)
    pdf.multi_cell(0, 11, doc.printable(c["title"]), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    doc.para(c["subtitle"], size=13, color=GREY)
    pdf.ln(10)
    doc.kv([
        ("Request ID", req["request_id"], False),
        ("Requester", req["requester"], False),
        ("Reason", req["reason"], False),
        ("Date of run", run["date"], False),
        ("Report generated", when(c["generated_utc"]), False),
        ("Operator", req["operator"], False),
        ("Forgotten class", c["method"]["forget_class"], False),
        ("Run ID", run["run_id"], False),
        ("Tool version", f"STEU Audit {c['generator']['version']} (run written by {run['tool_version'] or 'n/a'})",
         False),
    ], key_w=45, size=11)
    pdf.ln(6)
    doc.headline_cell(0, 9, 14, align="L")
    pdf.ln(10)
    doc.para(c["summary"][0]["text"], size=10.5, h=5.4)  # what the verdict rests on, for a reader of the cover alone
    pdf.set_y(max(pdf.get_y() + 8, 235))
    doc.para("This report is generated from the run's results file and the tool's hash-chained ledger. It contains "
             "no note text: data sets appear only as file names, row counts and SHA-256 hashes.",
             size=9, style="I", color=GREY, h=4.6)


def executive_summary(doc: ReportDocument, c: dict) -> None:
    pdf = doc.pdf
    pdf.add_page()
    doc.h1("1. Executive summary")
    for item in c["summary"]:
        doc.space_for(28)
        if item.get("attacker"):
            doc.para(f"Against {item['attacker']}", size=9, color=GREY, h=4.6)
        pdf.set_font(doc.sans, "B", 11)
        pdf.set_text_color(*TEAL)
        # a question can be longer than the line: it wraps, and the verdict stays on the page
        pdf.multi_cell(0, 6.5, doc.printable(item["question"]), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*VERDICT_RGB.get(item.get("value"), TEAL))
        pdf.multi_cell(0, 6.5, doc.printable(item["verdict"]), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        doc.para(item["text"], size=10.5, h=5.6)
        if item.get("next_steps"):
            doc.para("What you can do next:", size=10, style="B", h=5.4)
            for step in item["next_steps"]:
                doc.para(f"- {step}", size=10, h=5.4)
        pdf.ln(1.5)
    if c.get("erasure_owed"):
        doc.para(c["erasure_owed"], size=10.5, style="B", h=5.6)
    for note in c.get("measurement_notes") or []:
        doc.para(note, size=9.5, style="I", color=GREY, h=5)


def model_identity(doc: ReportDocument, c: dict) -> None:
    m = c["model"]
    doc.h1("2. Model identity")
    doc.kv([("Architecture", m["architecture"], False), ("Model type", m["model_type"], False),
            ("Source", m["source"], False), ("Parameters", m["params_total"], False),
            ("Classes", ", ".join(m["labels"]), False),
            ("SHA-256 before", m["sha256_before"], True), ("SHA-256 after", m["sha256_after"], True),
            ("SHA-256 of the patch", m["patch_sha256"], True)])
    doc.note("Model hashes are SHA-256 over the sorted list of the checkpoint's files and their own SHA-256; the "
             "original checkpoint is only read, the unlearned model is a new version.")


def data(doc: ReportDocument, c: dict) -> None:
    d = c["data"]
    doc.h1("3. Data")
    rows = []
    if d.get("ids_file"):
        ids = d["ids_file"]
        rows += [("Forget set given by ids", f"{ids['name']}: {ids['ids']} ids of the training file's column "
                                             f"'{ids['column']}'", False),
                 ("Ids file SHA-256 (of its bytes)", ids["sha256"], True)]
    if d["forget"]:
        rows += [("Forget set", f"{d['forget']['name']}: {d['forget']['rows']} rows", False),
                 ("Forget set SHA-256", d["forget"]["sha256"] or d["forget_set_sha256"], True)]
    if d["eval"]:
        rows += [("Evaluation set", f"{d['eval']['name']}: {d['eval']['rows']} rows", False),
                 ("Evaluation SHA-256", d["eval"]["sha256"], True)]
    if d["train"]:
        training = f"{d['train']['name']}: {d['train']['rows']} rows ({d['retain_rows']} of them in the retain set)"
        rows.append(("Training set", training, False))
    membership = (f"{d['mia_members']} forget-set notes (members) vs {d['mia_nonmembers']} held-out notes of the "
                  "forgotten class (non-members)")
    rows += [("Selected-token coverage", d["coverage"], False), ("Membership test", membership, False)]
    if d["calibration_notes"]:
        rows.append(("Calibration notes", f"{d['calibration_notes']} held-out notes of the forgotten class, split off "
                                          "the evaluation set before the run to calibrate when the edit stops; no "
                                          "audit scores them (their evaluation-file rows are in results.json)", False))
    doc.kv(rows)
    doc.note("No note text is stored in, or printed by, this report. Content hashes are SHA-256 over the "
             "[text, label] lines of the notes in file order.")


def method(doc: ReportDocument, c: dict) -> None:
    me = c["method"]
    doc.h1("4. Method")
    doc.para(me["how"])  # the method's own words (steu_core.methods.describe)
    doc.kv([("Method", me["name"], False),
            ("Forgotten class", f"{me['forget_class']} (id {me['forget_class_id']})", False),
            ("Rows edited (k)", me["k"], False), ("Parameter budget", me["budget"], False),
            ("Seed", me["seed"], False), ("Device", me["device"], False), ("Precision", me["precision"], False),
            ("Training", me["training"], False),
            ("Durations", ", ".join(f"{k} {v}" for k, v in me["durations"].items()) or "n/a", False)])
    if me["settings"]:
        _settings_table(doc, me["settings"])
    if me["remarks"]:
        doc.h2("Remarks from the method")
        for remark in me["remarks"]:
            doc.para(f"- {remark}", size=9.5)


def membership_attacks(doc: ReportDocument, attacks: list[dict]) -> None:
    """Every membership attack by attacker: on the original (the test's power), after, and against the
    retrain without the forget notes, each with its 95 % interval."""
    doc.space_for(24 + 7 * (len(attacks) + 1))  # the heading stays with its table
    doc.h2("Membership attacks, by attacker")
    w = doc.pdf.epw
    keys = ("attacker", "attack", "original", "after", "retrain", "power")
    rows = [[a[k] for k in keys] for a in attacks]
    doc.grid([ATTACK_COLUMNS[k] for k in keys], rows, [w * 0.2, w * 0.16, w * 0.19, w * 0.19, w * 0.17, w * 0.09], size=8.5)
    doc.note("An attack has power when its AUC on the original model is above 0.5 beyond its interval: only then "
             "can chance afterwards show that the notes were forgotten. A learned attack is a logistic regression fit "
             "on one half of the members and non-members and scored on the other half, fit afresh for each model.")


def _settings_table(doc: ReportDocument, settings: dict) -> None:
    """The method's settings in two columns of setting / value pairs."""
    items = list(settings.items())
    half = (len(items) + 1) // 2
    doc.space_for(20 + 6.5 * (half + 1))  # the heading stays with its table
    doc.h2("Settings")
    left, right = items[:half], items[half:]
    rows = [[lk, lv, *(right[i] if i < len(right) else ("", ""))] for i, (lk, lv) in enumerate(left)]
    w = doc.pdf.epw
    doc.grid(["Setting", "Value", "Setting", "Value"], rows, [w * 0.3, w * 0.2, w * 0.3, w * 0.2], size=9)


def results(doc: ReportDocument, c: dict) -> None:
    doc.h1("5. Results", keep=20 + 7.5 * (len(c["results_table"]) + 1))  # the heading stays with its table
    w = doc.pdf.epw
    widths = [w * 0.37, w * 0.22, w * 0.22, w * 0.19]
    table = [[r["metric"], r["before"], r["after"], r["change"]] for r in c["results_table"]]
    doc.grid(["Metric", "Before", "After", "Change"], table, widths, align=NUMERIC, size=9.5, bold_rows={0})
    if c["mia_note"]:
        doc.para(f"Membership inference was not run: {c['mia_note']}.", size=9, style="I", color=GREY)
    if c.get("attacks"):
        membership_attacks(doc, c["attacks"])
    doc.note("Forget F1: one-vs-rest F1 of the forgotten class on the evaluation set. Retain F1: macro F1 over the "
             "other classes. MIA: a loss-threshold attack separating forget-set notes (members) from held-out notes "
             "of the same class; AUC 0.5 is guessing, the 95 % CI is from a bootstrap. TPR at 1 % FPR: the share "
             "of members found while flagging 1 % of non-members.")
    per_class = c["per_class_f1"]
    doc.grid(["Class", "Before", "After", "Change"],
             [[f"{p['label']} (forgotten)" if p["forgotten"] else p["label"], p["before"], p["after"], p["change"]]
              for p in per_class], widths, align=NUMERIC, size=9.5,
             bold_rows={i for i, p in enumerate(per_class) if p["forgotten"]}, title="F1 per class")


# A chart is at most this high (mm), so that two charts with their headings and captions share a page.
CHART_MAX_H = 96


def charts(doc: ReportDocument, c: dict, images: dict, sizes: dict) -> None:
    shown = [spec for spec in c["charts"] if spec["id"] != "changed_fraction"]  # that one: with the param diff
    first = images.get(shown[0]["id"]) if shown else None
    keep = doc.image_height(*sizes[shown[0]["id"]], max_h=CHART_MAX_H) + 36 if isinstance(first, Path) else 45
    doc.h1("6. Charts", keep=keep)  # the heading stays with the first chart
    for spec in shown:
        img = images.get(spec["id"])
        if isinstance(img, Path):
            wpx, hpx = sizes[spec["id"]]
            doc.space_for(doc.image_height(wpx, hpx, max_h=CHART_MAX_H) + 24)  # the heading stays with its chart
            doc.h2(spec["title"])
            doc.image(img, wpx, hpx, spec["caption"], max_h=CHART_MAX_H)
        else:
            doc.h2(spec["title"])
            doc.para(str(img or "chart unavailable"), size=9, style="I", color=GREY)


def param_diff(doc: ReportDocument, c: dict, images: dict, sizes: dict) -> None:
    p = c["param_diff"]
    doc.h1("7. Parameter-diff verification", keep=95)
    doc.para(f"Result: {p['verdict']}. The original and the unlearned model were compared tensor by tensor. "
             f"{p['n_changed_tensors']} tensor(s) changed; the encoder is bit-identical: {p['encoder_bit_identical']}. "
             f"{p['changed_embedding_rows']} embedding rows changed; {p['params_changed']} of {p['params_total']} "
             f"parameters changed ({p['fraction_changed']}).", size=10.5, h=5.6)
    doc.kv([("Verdict", p["verdict"], False), ("Encoder bit-identical", p["encoder_bit_identical"], False),
            ("Fraction changed", p["fraction_changed"], False),
            ("Tensors changed", tensors_changed_text(p["changed_tensors"]), False),
            ("Check", p["message"], False)])
    img = images.get("changed_fraction")
    if isinstance(img, Path):
        wpx, hpx = sizes["changed_fraction"]
        spec = next(s for s in c["charts"] if s["id"] == "changed_fraction")
        doc.image(img, wpx, hpx, spec["caption"])
    selected_tokens(doc, c)


def selected_tokens(doc: ReportDocument, c: dict) -> None:
    """The tokens whose rows moved most; identifier-like ones masked unless revealed on purpose."""
    t = c.get("tokens") or {}
    if not t.get("rows"):
        return
    doc.h2(f"Selected tokens: the {len(t['rows'])} rows that moved most, of {t['total']}")
    w = doc.pdf.epw
    doc.grid(["Token", "Row id", "PMI", "Forget notes", "All notes", "L2 change"],
             [[r["token"], r["id"], r["pmi"], r["df_forget"], r["df_total"], r["l2_change"]] for r in t["rows"]],
             [w * 0.3, w * 0.13, w * 0.12, w * 0.15, w * 0.13, w * 0.17], size=8.5,
             align=["LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"])
    doc.note(t["note"])


def limitations(doc: ReportDocument, c: dict) -> None:
    doc.h1("8. Limitations")
    for item in c["limitations"]:
        doc.h2(item["title"])
        doc.para(item["text"])


def comparison(doc: ReportDocument, c: dict, n: int) -> None:
    rows = c["comparison"]
    doc.h1(f"{n}. Comparison with other methods", keep=30 + 7 * len(rows))
    w = doc.pdf.epw
    doc.grid(["Method", "Forget F1", "Retain F1", "Parameters changed", "Time", "Relearn steps*"],
             [[r["method"], r["forget_f1"], r["retain_f1"], r["params_changed_fraction"], r["wall_seconds"],
               r.get("relearn", "n/a")] for r in rows], [w * 0.22, w * 0.12, w * 0.12, w * 0.18, w * 0.14, w * 0.22],
             align=["LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"])
    doc.note("* Median steps of fine-tuning that bring the forgotten class back, for the strongest relearning "
             "attacker measured (head only or every parameter, whichever was faster).")


def ledger(doc: ReportDocument, c: dict, n: int) -> None:
    lg = c["ledger"]
    doc.h1(f"{n}. Ledger entry")
    if not lg["recorded"]:
        doc.kv([("Run entry hash", "not recorded", False)] +
               ([("Ledger chain", lg["chain"], False)] if lg.get("chain") else []))
        return
    doc.kv([("Run entry hash", lg["entry_hash"], True), ("Entry", f"#{lg['seq']}, {lg['ts_utc']}", False),
            ("Outcome", lg["outcome"], False), ("Previous hash", lg["prev_hash"], True),
            ("Ledger chain", lg.get("chain", "n/a"), False)])
    doc.note("Keep this hash with the report: 'python -m steu_core ledger verify' checks the chain, and the "
             "entry with this hash must still be in it.")
    proof_of_run(doc, c)


def proof_of_run(doc: ReportDocument, c: dict) -> None:
    """The run entry's inclusion proof and checkpoint in words (the same JSON is attached to the file)."""
    doc.kv(proof_rows(c["ledger"].get("proof")), size=8.5, title="Inclusion proof of the run entry")
    doc.note("The checkpoint was signed when this report was made and covers the run's entry; the audit path leads "
             "from the entry to the checkpoint's Merkle root (RFC 9162). The same evidence is attached to this PDF "
             "as steu-evidence.json. This file's own SHA-256 cannot be inside it: it is recorded in the ledger after "
             "signing, and its proof is in the proof file (.proof.json) that comes with it in the packet (.zip). "
             "Check both with 'python -m steu_core verify-report PACKET.zip --public-key steu-ledger.pub'.")


def signature_statement(doc: ReportDocument, c: dict) -> None:
    sig = c.get("signature")
    if sig:
        doc.para(f"Electronic signature: this PDF is {sig['statement']}. The handwritten sign-off below is "
                 "separate from it.", size=9.5, style="I", color=GREY)


def sign_off(doc: ReportDocument, c: dict, n: int) -> None:
    pdf = doc.pdf
    doc.h1(f"{n}. Sign-off", keep=120)
    signature_statement(doc, c)
    for role in ("Prepared by (operator)", "Reviewed and approved by (privacy officer)"):
        doc.h2(role)
        pdf.set_font(doc.sans, "", 10)
        for label in ("Name", "Role", "Signature", "Date"):
            y = pdf.get_y() + (12 if label == "Signature" else 8)  # room to sign by hand
            pdf.set_xy(pdf.l_margin, y - 4.5)
            pdf.cell(28, 5, doc.printable(label))
            pdf.set_draw_color(120, 120, 120)
            pdf.line(pdf.l_margin + 28, y + 0.8, pdf.l_margin + 128, y + 0.8)
            pdf.set_y(y + 2)
        pdf.ln(6)


TENSORS_INLINE = 12  # more changed tensors (grad_ascent: every one of a real model) go to an appendix


def tensors_changed_text(names: list[str]) -> str:
    if len(names) > TENSORS_INLINE:
        return f"{len(names)} tensors: listed in the appendix 'Changed tensors'"
    return "\n".join(names) or "none"


def changed_tensors_appendix(doc: ReportDocument, c: dict) -> None:
    """Every changed tensor, one table row each, where there are too many for the verification's table."""
    names = c["param_diff"]["changed_tensors"]
    if len(names) <= TENSORS_INLINE:
        return
    doc.pdf.add_page()
    doc.h1(f"Appendix: Changed tensors ({len(names)})")
    w = doc.pdf.epw
    doc.grid(["#", "Tensor"], [[str(i), name] for i, name in enumerate(names, 1)], [w * 0.08, w * 0.92],
             align=["RIGHT", "LEFT"], size=8.5)


def changed_rows_appendix(doc: ReportDocument, c: dict) -> None:
    """Every changed embedding row, largest change first (the chart shows the top 30 only)."""
    rows = c.get("changed_rows") or []
    if not rows:
        return
    doc.pdf.add_page()
    doc.h1(f"Appendix: every changed embedding row ({len(rows)})")
    doc.para("Each row of the input token-embedding matrix that the method changed: the token, its row (token id), "
             "its PMI with the forgotten class, in how many forget notes and how many notes in all it occurs, and "
             "the L2 norm of the row's change.", size=9.5)
    w = doc.pdf.epw
    doc.grid(["Token", "Row", "PMI", "Forget notes", "All notes", "L2 change"],
             [[t["token"], t["row"], t["pmi"], t["forget_notes"], t["all_notes"], t["l2_change"]] for t in rows],
             [w * 0.26, w * 0.12, w * 0.14, w * 0.16, w * 0.14, w * 0.18],
             align=["LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"], size=9)
