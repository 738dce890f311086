"""Which selected tokens may be shown as text: the one owner of the masking rule that results.json, the
PDF report, the charts and the dashboard share.

A token selected by PMI is typical of the forget notes - and a patient's surname, a street or the digits
of a record number are typical of that patient's notes. Such a token is still used by the method (its
embedding row is edited like any other); only its text is not shown. A selected token is masked when

* it contains a digit (record numbers, dates, phone numbers, ages: identifiers are mostly digits), or
* it occurs in fewer than :data:`RARE_NOTES` forget notes (see there why 5).

results.json stores a masked token as a label such as ``[rare token #3]`` without its vocabulary id (the
public vocabulary would map the id straight back to the word piece). The text can be recovered only on the
machine that holds the run directory, by :func:`reveal_tokens` (``report --reveal-tokens``, the dashboard's
"Reveal masked tokens" switch): the run's own patch holds the edited rows' ids, and each masked token is
the patch row (not one of the clear tokens) whose change has its recorded size (``l2_change``); the run's
own tokenizer gives its text.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from .errors import ConfigError
from .patch import load_patch

# A word piece in fewer than 5 of the forget notes can come from a single patient's few notes (a name, a
# place). 5 is the small-cell threshold that health statistics commonly suppress below, so a token shown
# in clear stands for at least 5 notes.
RARE_NOTES = 5
REASON_DIGIT = "contains a digit"
REASON_RARE = f"occurs in fewer than {RARE_NOTES} forget notes"
KIND = {REASON_DIGIT: "number token", REASON_RARE: "rare token"}

__all__ = ["RARE_NOTES", "mask_reason", "mask_tokens", "masked_count", "masked_ids", "reveal_tokens",
           "revealed_results", "run_tokenizer", "selected_ids"]


def mask_reason(token: Any, df_forget: Any) -> str | None:
    """Why ``token`` (seen in ``df_forget`` forget notes) must not be shown, or None when it may be.

    An unknown count is treated as rare: a record that does not say how common a token is cannot
    show that it is common."""
    if any(ch.isdigit() for ch in str(token)):
        return REASON_DIGIT
    try:
        common = int(df_forget) >= RARE_NOTES
    except (TypeError, ValueError):
        common = False
    return None if common else REASON_RARE


def mask_tokens(entries: Iterable[dict]) -> list[dict]:
    """Selected-token entries (``{token, id, df_forget, ...}``) as they may be stored or shown: each
    gets ``masked`` and ``mask_reason``; a masked one's text becomes ``[rare token #n]`` (n counts the
    masked tokens in rank order) and its ``id`` None. Entries already masked, or revealed on purpose, are kept as they are,
    so masking twice changes nothing."""
    out, n = [], 0
    for entry in entries:
        e = dict(entry)
        if e.get("masked"):
            n += 1
        elif not e.get("revealed"):
            reason = mask_reason(e.get("token", ""), e.get("df_forget"))
            if reason:
                n += 1
                e["token"] = f"[{KIND[reason]} #{n}]"
            e["masked"], e["mask_reason"] = reason is not None, reason
        if e.get("masked"):
            e["id"] = None  # the public vocabulary maps an id straight back to the word piece
        out.append(e)
    return out


def masked_count(entries: Iterable[dict]) -> int:
    return sum(1 for e in mask_tokens(entries) if e.get("masked"))


def run_tokenizer(run_dir: str | Path):
    """The tokenizer saved with the run's new model (local files only: revealing never downloads)."""
    model_dir = Path(run_dir) / "model"
    try:
        from transformers import AutoTokenizer  # slow to import: only revealing needs it

        return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the masked tokens cannot be revealed: no usable tokenizer in '{model_dir}' "
                          f"({type(exc).__name__}).",
                          hint="Reveal on the machine that holds the run directory with its model/ folder.") from None


def reveal_tokens(entries: Iterable[dict], tokenizer, hidden_ids: list[int | None]) -> list[dict]:
    """Entries with every masked token's text (and id) read back from ``tokenizer``; ``hidden_ids``: the
    masked tokens' ids in order (None: cannot be revealed, stays masked). ``revealed``: True on those.
    For local display only: never write the result into the run record."""
    out = mask_tokens(entries)
    pairs = [(e, i) for e, i in zip([e for e in out if e.get("masked")], hidden_ids) if i is not None]
    texts = tokenizer.convert_ids_to_tokens([i for _, i in pairs]) if pairs else []
    for (e, i), text in zip(pairs, texts):
        e.update(token=str(text), id=int(i), masked=False, revealed=True, masked_as=e["token"])
    return out


def masked_ids(entries: list[dict], run_dir: str | Path) -> list[int | None]:
    """The vocabulary ids of the masked entries (in order), read from the run's own patch at each entry's
    ``patch_row`` (its row's place among the patch's row ids); an earlier record's inline id where it has one.
    None where neither is there (a row that did not change is not in the patch)."""
    stored = [e for e, m in zip(entries, mask_tokens(entries)) if m.get("masked")]
    if not any(e.get("patch_row") is not None for e in stored):
        return [None if e.get("id") is None else int(e["id"]) for e in stored]
    row_ids = load_patch(Path(run_dir) / "patch.safetensors")["tensors"]["row_ids"].tolist()
    return [int(row_ids[e["patch_row"]]) if e.get("patch_row") is not None and e["patch_row"] < len(row_ids)
            else None if e.get("id") is None else int(e["id"]) for e in stored]


def revealed_results(results: dict, run_dir: str | Path) -> dict:
    """A copy of a run's results whose selected tokens are all in clear (for a local report or page)."""
    tokens = results.get("selected_tokens") or []
    if not masked_count(tokens):
        return dict(results)
    hidden = masked_ids(list(tokens), run_dir)
    return {**results, "selected_tokens": reveal_tokens(tokens, run_tokenizer(run_dir), hidden)}


def selected_ids(results: dict, run_dir: str | Path | None) -> list[int]:
    """Every selected token's id: the clear ones from results.json, the masked ones from the run's patch
    (none of these without ``run_dir``). For local use (highlighting the tokens in a note)."""
    tokens = list(results.get("selected_tokens") or [])
    clear = [int(t["id"]) for t in mask_tokens(tokens) if t.get("id") is not None]
    if run_dir is None or not masked_count(tokens):
        return clear
    return clear + [i for i in masked_ids(tokens, run_dir) if i is not None]
