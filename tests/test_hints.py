"""Messages in the words of the front end: the CLI keeps its flags, the dashboard names its controls."""
from __future__ import annotations

from dataclasses import fields

import pytest

from steu_core.hints import DASHBOARD_CONTROLS, for_dashboard, for_surface
from steu_core.request import CompareRequest, UnlearnRequest, cli_option


def test_the_cli_keeps_its_flags():
    hint = "Name the text column with --text-column, or lower the minimum (--min-forget)."
    assert for_surface(hint, "cli") == hint


def test_the_dashboard_names_its_controls_never_a_flag():
    text = for_dashboard("Name it with --text-column or --label-column; lower the minimum (--min-forget); "
                         "give --forget-ids with --id-column, or --forget.")
    assert "--" not in text
    assert "\u201cText column\u201d picker" in text and "\u201cMinimum forget notes\u201d" in text
    assert "with \u201cNote ids\u201d chosen" in text  # --forget-ids is not read as --forget + "-ids"
    assert text.endswith("or the forget-set upload (2 · Deletion request).")


def test_every_control_names_a_request_field():
    names = {f.name for cls in (UnlearnRequest, CompareRequest) for f in fields(cls) if cli_option(f)}
    assert set(DASHBOARD_CONTROLS) <= names


def test_words_that_only_look_like_flags_are_left_alone():
    assert for_dashboard("column 'x--seed' and ---seed") == "column 'x--seed' and ---seed"
    with pytest.raises(ValueError):
        for_surface("x", "tv")


def test_the_compare_options_have_dashboard_words():
    text = for_dashboard("Leave out --forget-from-run, or turn on --full-relearning.")
    assert "--" not in text and "\u201cFull relearning set\u201d switch" in text
