"""Try a note: one text scored by the original model and by a finished run's new model version, and the
character spans of the run's selected tokens in it (for highlighting).

Nothing here writes anything: the text lives only in the caller's memory. The original model is the
one the run's manifest names; the new model version is ``<run>/model``.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import torch

from .errors import ConfigError, DataError
from .model import Classifier
from .phi import selected_ids

DEFAULT_MAX_LENGTH = 128
MAX_CHARS = 20_000  # a pasted note longer than this is refused: it would be cut at max_length anyway


def original_model_dir(run_dir: str | Path) -> Path:
    """The original checkpoint of a finished run, as its manifest.json recorded it."""
    manifest = Path(run_dir) / "manifest.json"
    try:
        path = Path(json.loads(manifest.read_text(encoding="utf-8"))["original_model"]["path"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"'{manifest}' does not name the original model.",
                          hint="Choose a run written by this version of STEU Audit.") from None
    if not (path / "config.json").is_file():
        raise ConfigError(f"the original model of this run, '{path}', is no longer there.",
                          hint="Restore the checkpoint at that path to compare the two models.")
    return path


def new_model_dir(run_dir: str | Path) -> Path:
    """The new model version a finished run wrote."""
    path = Path(run_dir) / "model"
    if not (path / "config.json").is_file():
        raise ConfigError(f"'{run_dir}' has no new model version (no model/config.json).",
                          hint="Choose a finished run.")
    return path


def run_max_length(results: dict) -> int:
    """The tokens per note the run read (the same cut applies here)."""
    truncated = ((results.get("data") or {}).get("truncated_notes") or {})
    try:
        return int(truncated.get("max_length") or DEFAULT_MAX_LENGTH)
    except (TypeError, ValueError):
        return DEFAULT_MAX_LENGTH


def check_text(text: str) -> str:
    """The note as given, or a DataError that says what to fix."""
    text = str(text or "")
    if not text.strip():
        raise DataError("the note is empty.", hint="Pick an evaluation note or paste a note's text.")
    if len(text) > MAX_CHARS:
        raise DataError(f"the note has {len(text):,} characters; at most {MAX_CHARS:,} can be tried.",
                        hint="Paste the part of the note you want to see scored.")
    return text


def class_probabilities(clf: Classifier, text: str, max_length: int) -> list[float]:
    """Softmax probabilities of every class (label order) for one text."""
    enc = clf.tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
    clf.model.eval()
    with torch.no_grad():
        logits = clf.model(input_ids=enc["input_ids"].to(clf.device),
                           attention_mask=enc["attention_mask"].to(clf.device)).logits.float().cpu()
    return [float(p) for p in torch.softmax(logits[0], dim=-1)]


def token_spans(tokenizer, text: str, token_ids, max_length: int) -> list[dict]:
    """Where the tokens with the given ids occur in ``text``: ``{start, end, token, id}`` character spans
    (within the first ``max_length`` tokens, as the model reads it). Empty if the tokenizer cannot map
    tokens back to characters (a slow tokenizer)."""
    wanted = {int(i) for i in token_ids}
    if not getattr(tokenizer, "is_fast", False) or not wanted:
        return []
    enc = tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True,
                    add_special_tokens=True)
    spans = []
    for tid, (start, end) in zip(enc["input_ids"], enc["offset_mapping"]):
        if tid in wanted and end > start:
            spans.append({"start": int(start), "end": int(end), "token": text[start:end], "id": int(tid)})
    return spans


def compare_note(original: Classifier, new: Classifier, text: str, results: dict,
                 run_dir: str | Path | None = None) -> dict:
    """The note scored by both models, and the run's selected tokens found in it (the masked ones too
    when ``run_dir``, whose patch holds their ids, is given)."""
    text = check_text(text)
    if list(original.labels) != list(new.labels):
        raise ConfigError("the original model and the new model version have different classes.",
                          hint="Choose a run of this original model.")
    max_length = run_max_length(results)
    before = class_probabilities(original, text, max_length)
    after = class_probabilities(new, text, max_length)
    ids = selected_ids(results, run_dir)  # the masked tokens' ids come from the run's patch (phi)
    n_tokens = len(original.tokenizer(text, truncation=False, add_special_tokens=True)["input_ids"])
    return {"labels": list(original.labels), "forget_class": results.get("forget_class"),
            "before": before, "after": after,
            "predicted_before": original.labels[max(range(len(before)), key=before.__getitem__)],
            "predicted_after": new.labels[max(range(len(after)), key=after.__getitem__)],
            "spans": token_spans(original.tokenizer, text, ids, max_length),
            "max_length": max_length, "truncated": n_tokens > max_length}


def highlight_html(text: str, spans: list[dict]) -> str:
    """The note as HTML: every character escaped, the spans wrapped in ``<mark>`` (overlaps merged)."""
    out, pos = [], 0
    for start, end in _merged(spans):
        if start < pos:
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def _merged(spans: list[dict]) -> list[tuple[int, int]]:
    """Character ranges sorted, touching or overlapping ones joined."""
    merged: list[list[int]] = []
    for s in sorted((int(x["start"]), int(x["end"])) for x in spans):
        if merged and s[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], s[1])
        else:
            merged.append([s[0], s[1]])
    return [(a, b) for a, b in merged]
