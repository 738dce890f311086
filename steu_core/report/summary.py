"""The executive summary: the questions a reader of the report asks, each with a one-word verdict and
plain words built from the run's numbers."""
from __future__ import annotations

from ..format import MISSING, count, interval, number, percent, when
from ..verdicts import (MODEL_FILE, OUTPUTS, QUESTIONS, THREAT_MODEL_SHORT, THREAT_MODELS, VERDICT_WORDS, attack_rows,
                        headline, next_steps, run_verdicts, verdict_items)
from ..runs.record import ORACLE_METHOD

# What changed, by what the method edits (steu_core.methods.describe(name)["edits"]); {rows}: embedding rows
EDITED = {"rows+head": "{rows} rows of the input token-embedding matrix and the classification head",
          "rows": "{rows} rows of the input token-embedding matrix; the classification head is unchanged",
          "head": "the classification head only; no row of the input token-embedding matrix",
          "everything": "parameters throughout the model, the encoder included ({rows} rows of the input "
                        "token-embedding matrix among them)"}


def summary(r: dict, edits: str | None) -> list[dict]:
    """The run's verdicts (steu_core.verdicts, as results.json records them) in the order a reader
    asks, with how much of the model changed (``edits``: what the method edits, see :data:`EDITED`) before
    the two threat models' verdicts. The overall item's verdict is the headline, naming the attacker."""
    v = run_verdicts(r)
    items = [verdict_item(key, value) for key, value in verdict_items(v).items()]
    items[0]["verdict"] = headline(v)
    items[0]["next_steps"] = next_steps(v, reference_missing=not r.get("reference") and r.get("method") != ORACLE_METHOD)
    return items[:3] + [_how_much_changed(r, edits)] + items[3:]


def verdict_item(key: str, v: dict) -> dict:
    reason = str(v.get("reason", ""))
    text = reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")
    return {"question": QUESTIONS[key], "verdict": VERDICT_WORDS.get(v.get("verdict"), "n/a"), "text": text,
            "key": key, "value": v.get("verdict"), "attacker": THREAT_MODELS.get(key)}


ATTACK_COLUMNS = {"attacker": "Attacker", "attack": "Attack", "original": "AUC on the original (power)",
                  "after": "AUC after", "retrain": "AUC against the retrain", "power": "Power"}


def attack_table(r: dict) -> list[dict]:
    """Every membership attack of the run, once each under the weakest attacker who can run it: its AUC on
    the original model (the test's power), after, and against the retrain without the forget notes where the
    run recorded one, each with its 95 % interval (3 decimals); "power" says whether it told members from
    non-members on the original."""
    reference = (r.get("reference") or {}).get("attacks_after") or {}
    seen, rows = set(), []
    for threat in (OUTPUTS, MODEL_FILE):
        for a in attack_rows(r, threat):
            if a["attack"] in seen:
                continue
            seen.add(a["attack"])
            ref = reference.get(a["attack"]) or {}
            rows.append({"attacker": THREAT_MODEL_SHORT[threat], "attack": a["attack"],
                         "original": _auc(a["before_auc"], a["before_ci"]), "after": _auc(a["after_auc"], a["after_ci"]),
                         "retrain": _auc(ref.get("auc"), ref.get("auc_ci")) if ref else MISSING,
                         "power": "yes" if a["before_ci"][0] > 0.5 else "no"})
    return rows


def deciding_attack(r: dict, threat: str) -> dict:
    """The attack that decided a threat model's verdict (its name, AUC on the original and after)."""
    ev = run_verdicts(r)["threat_models"][threat]["evidence"]
    return next((a for a in ev.get("attacks") or [] if a["attack"] == ev.get("attack")), {})


def _auc(value, ci) -> str:
    return f"{number(value, 3)} {interval(ci, 3)}" if value is not None else MISSING


def _how_much_changed(r: dict, edits: str | None) -> dict:
    frac, rows = r.get("params_changed_fraction"), count(r.get("changed_embedding_rows"))
    what = EDITED.get(edits, "{rows} rows of the input token-embedding matrix among them").format(rows=rows)
    return {"question": "How much of the model changed?", "verdict": percent(frac), "key": "changed", "text": (
        f"{count(r.get('params_changed'))} of {count(r.get('params_total'))} parameters ({percent(frac)}): "
        f"{what}. {_encoder_text(r.get('encoder_unchanged'), edits)}")}


def _encoder_text(unchanged: bool, edits: str | None) -> str:
    if unchanged:
        return "Every encoder parameter is bit-identical to the original, checked tensor by tensor."
    if edits == "everything":
        return "The encoder changed as well, as this method trains it (see the verification section)."
    return "WARNING: encoder parameters changed (see the verification section)."


def measurement_notes(r: dict) -> list[str]:
    """How the figures were measured, in plain sentences: the token limit and how many notes it cut,
    the seeds, and which forget notes counted as members."""
    return [n for n in (reference_note(r), truncation_note(r), seeds_note(r), members_note(r)) if n]


def reference_note(r: dict) -> str:
    """Which retrain without the forget notes the verdicts were read against, or that none exists."""
    if r.get("method") == ORACLE_METHOD:
        return "This run is itself a retrain without the forget notes: the reference other runs are read against."
    ref = r.get("reference")
    if not ref:
        return ("No retrain without the forget notes exists yet for this model, class and data, so the figures are "
                "read against chance and the original alone; a comparison with retrain_oracle (or a run of it) "
                "makes one, and later runs on the same data reuse it.")
    return (f"Read against the retrain without the forget notes of run {ref.get('run_id') or 'n/a'} "
            f"({when(ref.get('created_utc'))}): the same original model, class, training notes and evaluation notes "
            "(by SHA-256).")


def truncation_note(r: dict) -> str:
    data = r.get("data") or {}
    trunc = data.get("truncated_notes") or {}
    rows = {"forget": (data.get("forget") or {}).get("rows"), "retain": data.get("retain_rows"),
            "eval": data.get("eval_rows")}
    known = {k: n for k, n in rows.items() if trunc.get(k) is not None and n}
    if not known:
        return ""
    limit = trunc.get("max_length", "n/a")
    if not any(trunc.get(k) for k in known):
        return f"Each note was read up to {limit} tokens; no note was longer."
    cut = ", ".join(f"{count(trunc.get(k))} of {count(n)} {k} notes" for k, n in known.items())
    return (f"Each note was read up to {limit} tokens; longer notes were cut: {cut}. Text beyond the limit took "
            f"no part in training, unlearning or the audits.{beyond_limit_text(r)}")


def beyond_limit_text(r: dict) -> str:
    """The sentence on the selected tokens' occurrences in the forget notes that lie beyond the token limit
    (empty where the method selected no tokens, or a run recorded no such count)."""
    beyond = (r.get("coverage") or {}).get("beyond_limit") or {}
    if not beyond.get("occurrences"):
        return ""
    return (f" Of the forget notes' {count(beyond['occurrences'])} occurrences of the selected tokens, "
            f"{count(beyond.get('beyond_limit'))} ({percent(beyond.get('fraction'), 3)}) lie beyond the limit, "
            "in text the model never read.")


def seeds_note(r: dict) -> str:
    seeds = r.get("seeds") or {}
    if int(seeds.get("n", 1) or 1) <= 1:
        return ""
    return (f"The method ran with {seeds['n']} seeds ({', '.join(str(s) for s in seeds.get('seeds', []))}); every "
            f"verdict holds for the least favourable one. The model version kept is seed "
            f"{seeds.get('kept_model_seed')}'s.")


def members_note(r: dict) -> str:
    members = r.get("members") or {}
    if not members.get("total"):
        return ""
    return (f"Membership inference counts as members the {count(members.get('found'))} of "
            f"{count(members.get('total'))} forget notes found in the training file.")
