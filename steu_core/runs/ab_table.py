"""Two finished runs side by side (the History page's "Compare two runs"): the figures a reader compares,
formatted as every other page formats them (steu_core.format), with the difference B - A where it is a number."""
from __future__ import annotations

from ..format import MISSING, duration, number, percent
from ..result_keys import FORGET_F1_AFTER, LOSS_AUC_AFTER, MACRO_F1_AFTER, MIA, RETAIN_F1_AFTER
from ..verdicts import MODEL_FILE, OUTPUTS, VERDICT_WORDS, headline, run_verdicts

COLUMNS = ("Figure", "Run A", "Run B", "B − A")


def ab_rows(ra: dict, rb: dict) -> list[dict]:
    """One row per figure of runs ``ra`` and ``rb`` (results.json dicts): the verdicts, then the numbers."""
    return [dict(zip(COLUMNS, (name, cell(x, kind), cell(y, kind), difference(x, y, kind))))
            for name, x, y, kind in verdict_rows(ra, rb) + figure_rows(ra, rb)]


def verdict_rows(ra: dict, rb: dict) -> list[tuple]:
    va, vb = run_verdicts(ra), run_verdicts(rb)

    def word(v: dict, threat: str) -> str:
        return VERDICT_WORDS.get(v["threat_models"][threat]["verdict"], MISSING)

    return [("Is the forgetting shown?", headline(va), headline(vb), None),
            ("Against an attacker who sees predictions", word(va, OUTPUTS), word(vb, OUTPUTS), None),
            ("Against an attacker who has the model file", word(va, MODEL_FILE), word(vb, MODEL_FILE), None)]


def figure_rows(ra: dict, rb: dict) -> list[tuple]:
    def both(get) -> tuple:
        return get(ra), get(rb)

    return [
        ("Forgotten class", *both(lambda r: r.get("forget_class")), None),
        ("Method", *both(lambda r: r.get("method")), None),
        ("Embedding rows (k)", *both(lambda r: r.get("k")), "int"),
        ("Forget F1 after", *both(lambda r: r.get(FORGET_F1_AFTER)), "f"),
        ("Retain F1 after", *both(lambda r: r.get(RETAIN_F1_AFTER)), "f"),
        ("Macro F1 after", *both(lambda r: r.get(MACRO_F1_AFTER)), "f"),
        ("Membership AUC after (loss)", *both(lambda r: (r.get(MIA) or {}).get(LOSS_AUC_AFTER)), "f"),
        ("Parameters changed", *both(lambda r: r.get("params_changed_fraction")), "pct"),
        ("Encoder bit-identical", *both(lambda r: "yes" if r.get("encoder_unchanged") else "NO"), None),
        ("Training steps", *both(lambda r: (r.get("training") or {}).get("steps")), "int"),
        ("Total time", *both(lambda r: (r.get("wall_seconds") or {}).get("total")), "s"),
    ]


def cell(v, kind: str | None) -> str:
    if v is None:
        return MISSING
    return {"f": lambda: number(v, 3), "pct": lambda: percent(v, 3), "s": lambda: duration(v)}.get(kind, lambda: str(v))()


def difference(x, y, kind: str | None) -> str:
    """B - A in the figure's unit ("+0.012", "+0.010 pp", "+3 s", "+2"); nothing where it is no number."""
    try:
        d = float(y) - float(x)
    except (TypeError, ValueError):
        return ""
    return {"f": f"{d:+.3f}", "pct": f"{100 * d:+.3f} pp", "s": f"{d:+.0f} s", "int": f"{d:+.0f}"}.get(kind, "")
