"""Error messages in the words of the front end that shows them.

steu_core writes each message and hint once, for the command line: it names the options that
:mod:`steu_core.request` owns (``--text-column``, ``--min-forget`` ...). The dashboard sets the same
request fields with its own controls, so :func:`for_surface` with ``"dashboard"`` names the control
instead of the flag; a browser user is never told to pass an option they cannot type anywhere. The flag
of each field comes from the request (its one owner); the words for each dashboard control live here.
"""
from __future__ import annotations

import re
from dataclasses import fields
from functools import lru_cache

from .request import CompareRequest, UnlearnRequest, cli_option

SURFACES = ("cli", "dashboard")
RUN_SETTINGS = "3 · Run, Advanced settings"

# request field -> the dashboard control that sets it (a noun phrase: it replaces the flag in a sentence)
DASHBOARD_CONTROLS = {
    "model": "the model choice (1 · Model)",
    "forget": "the forget-set upload (2 · Deletion request)",
    "forget_ids": "the forget-set upload with \u201cNote ids\u201d chosen (2 · Deletion request)",
    "id_column": "the \u201cId column of the training notes\u201d picker under the forget set",
    "forget_text_column": "the \u201cText column\u201d picker under the forget set",
    "forget_label_column": "the \u201cLabel column\u201d picker under the forget set",
    "forget_class": "the \u201cClass to forget\u201d dropdown",
    "train": "the training-notes upload (2 · Deletion request)",
    "eval": "the evaluation-notes upload (2 · Deletion request)",
    "text_column": "the \u201cText column\u201d picker under the training and evaluation notes",
    "label_column": "the \u201cLabel column\u201d picker under the training and evaluation notes",
    "request_id": "\u201cRequest id\u201d (2 · Deletion request)",
    "requester": "\u201cRequester\u201d (2 · Deletion request)",
    "reason": "\u201cReason\u201d (2 · Deletion request)",
    "operator": "\u201cOperator\u201d (2 · Deletion request)",
    "method": f"\u201cMethod\u201d ({RUN_SETTINGS})",
    "settings": f"the method's settings ({RUN_SETTINGS})",
    "seed": f"\u201cSeed\u201d ({RUN_SETTINGS})",
    "seeds": f"\u201cSeeds to run\u201d ({RUN_SETTINGS})",
    "max_length": f"\u201cTokens per note\u201d ({RUN_SETTINGS})",
    "device": f"\u201cDevice\u201d ({RUN_SETTINGS})",
    "min_forget": f"\u201cMinimum forget notes\u201d ({RUN_SETTINGS})",
    "forget_from_run": "the finished run's forget set, which 6 · Compare methods takes when the forget file is gone",
    "full_relearning": "the \u201cFull relearning set\u201d switch (6 · Compare methods)",
}
NOT_IN_DASHBOARD = "a setting of the command-line tool (not offered in the dashboard)"


@lru_cache(maxsize=1)
def _flag_words() -> dict[str, str]:
    """Every request option's flag -> its dashboard wording (longest flags first, so a flag that
    begins another, like --forget and --forget-ids, never cuts it)."""
    words = {}
    for cls in (UnlearnRequest, CompareRequest):
        for f in fields(cls):
            o = cli_option(f)
            if o is not None:
                words[o.flag] = DASHBOARD_CONTROLS.get(f.name, NOT_IN_DASHBOARD)
    return dict(sorted(words.items(), key=lambda kv: -len(kv[0])))


@lru_cache(maxsize=1)
def _flag_pattern() -> re.Pattern:
    return re.compile("|".join(rf"(?<![\w-]){re.escape(flag)}(?![\w-])" for flag in _flag_words()))


def for_surface(text: str | None, surface: str) -> str | None:
    """``text`` (a message or hint written for the command line) in the words of ``surface``."""
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}")
    if not text or surface == "cli":
        return text
    return _flag_pattern().sub(lambda m: _flag_words()[m.group(0)], text)


def for_dashboard(text: str | None) -> str | None:
    return for_surface(text, "dashboard")
