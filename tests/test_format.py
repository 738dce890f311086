"""steu_core.format: the one set of number, time and hash formats of the dashboard, report and CLI."""
from __future__ import annotations

import math

import pytest

from steu_core import format as fmt

NOT_NUMBERS = [None, float("nan"), float("inf"), -math.inf, "", "abc", [], {}]


@pytest.mark.parametrize("bad", NOT_NUMBERS, ids=repr)
def test_anything_but_a_finite_number_prints_as_missing(bad):
    assert fmt.number(bad) == fmt.number(bad, 3) == "n/a"
    assert fmt.percent(bad) == "n/a"
    assert fmt.change(bad, 0.5) == fmt.change(0.5, bad) == "n/a"
    assert fmt.interval([bad, 0.5]) == fmt.interval([0.5, bad]) == "n/a"
    assert fmt.count(bad) == "n/a"
    assert fmt.wall_time(bad) == fmt.duration(bad) == "n/a"
    assert fmt.to_number(bad) is None


def test_scores_round_to_the_digits_asked_for():
    assert fmt.number(2 / 3) == "0.6667"
    assert fmt.number(2 / 3, 3) == "0.667"
    assert fmt.number("0.5") == "0.5000"
    assert fmt.number(0) == "0.0000"
    assert fmt.number(0.99996) == "1.0000"


def test_change_is_signed():
    assert fmt.change(0.9, 0.85) == "-0.0500"
    assert fmt.change(0.85, 0.9) == "+0.0500"
    assert fmt.change(0.5, 0.5) == "+0.0000"
    assert fmt.change(0.1, 0.35, 2) == "+0.25"


def test_percent_interval_and_count():
    assert fmt.percent(0.001894) == "0.1894 %"
    assert fmt.percent(0.001894, 2) == "0.19 %"
    assert fmt.percent(231 / 240) == "96.25 %"  # significant digits, not "96.2500 %"
    assert fmt.percent(0.5, 3) == "50 %"
    assert fmt.percent(1) == "100 %"
    assert fmt.percent(0) == "0 %"
    # a share that is not all (or not none) never prints as all (or none)
    assert fmt.percent(0.9999999) == "99.99999 %"
    assert fmt.percent(1e-9) == "0.0000001 %"
    assert fmt.interval([0.48124, 0.539]) == "[0.4812, 0.5390]"
    assert fmt.interval((0.4, 0.6), 2) == "[0.40, 0.60]"
    assert fmt.interval([0.4]) == fmt.interval(None) == fmt.interval("0.4, 0.6") == "n/a"
    assert fmt.count(22_714_756) == "22,714,756"
    assert fmt.count("42") == "42" and fmt.count(3.9) == "3"


def test_wall_time_switches_to_minutes_at_two_minutes():
    assert fmt.wall_time(0.5) == "0.50 s"
    assert fmt.wall_time(119.994) == "119.99 s"
    assert fmt.wall_time(120) == "2.0 min"
    assert fmt.wall_time(754) == "12.6 min"


def test_duration_reads_like_a_clock_over_a_minute():
    assert fmt.duration(42.4) == "42 s"
    assert fmt.duration(59.6) == "1:00"
    assert fmt.duration(65) == "1:05"
    assert fmt.duration(3725) == "62:05"


def test_when_is_utc_to_the_minute():
    assert fmt.when("2025-03-01T14:05:09+00:00") == "2025-03-01 14:05 UTC"
    assert fmt.when("2025-03-01T14:05:09Z") == "2025-03-01 14:05 UTC"
    assert fmt.when("2025-03-01T14:05:09+02:00") == "2025-03-01 12:05 UTC"
    assert fmt.when("2025-03-01T14:05:09") == "2025-03-01 14:05 UTC"
    assert fmt.when(None) == fmt.when("") == "n/a"
    assert fmt.when(None, missing="") == ""
    assert fmt.when("last Tuesday") == "last Tuesday"


def test_settings_read_as_plain_values():
    assert fmt.setting(None) == "default"
    assert (fmt.setting(True), fmt.setting(False)) == ("yes", "no")
    assert fmt.setting(0.0050) == "0.005" and fmt.setting(2e-5) == "2e-05"
    assert fmt.setting([1, "ä"]) == '[1, "ä"]' and fmt.setting({"a": 1}) == '{"a": 1}'
    assert fmt.setting(16) == "16" and fmt.setting("vocab") == "vocab"


def test_hashes_wrap_into_lines_of_32():
    digest = "0123456789abcdef" * 4
    assert fmt.wrap_hash(digest) == f"{digest[:32]}\n{digest[32:]}"
    assert fmt.wrap_hash(f"  {digest}\n") == f"{digest[:32]}\n{digest[32:]}"
    assert fmt.wrap_hash("abc") == "abc"
    assert fmt.wrap_hash(digest, width=16).count("\n") == 3
    assert fmt.wrap_hash(None) == fmt.wrap_hash("") == fmt.wrap_hash("   ") == "n/a"


def _control_characters(text: str) -> list[str]:
    import unicodedata

    return [c for c in text if unicodedata.category(c) in fmt.UNPRINTABLE_CATEGORIES]


def test_printable_shows_control_characters_as_escapes():
    assert fmt.printable("x\n\x1b[31mFAKE") == "x\\n\\x1b[31mFAKE"
    hostile = "a\tb\r\x00\x7f\x9b[2J\u202ecba\u2028\u200b\ud800"
    shown = fmt.printable(hostile)
    assert shown == "a\\tb\\r\\x00\\x7f\\x9b[2J\\u202ecba\\u2028\\u200b\\ud800"
    assert not _control_characters(shown)
    shown.encode("utf-8")  # a lone surrogate would not even encode
    for fine in ("Zoë Ångström 中文", "<b>x</b>", "=cmd|' /C calc'!A0", "C:\\dir"):
        assert fmt.printable(fine) == fine  # markup is the printer's to escape; this keeps the text as typed
    assert fmt.printable(None) == "" and fmt.printable(42) == "42"


def test_printable_bounds_the_length_and_says_so():
    assert fmt.printable("x" * 100, 10) == "x" * 10 + "\u2026 (100 characters)"
    assert fmt.printable("x" * 10, 10) == "x" * 10
    assert fmt.label("y" * 5000) == "y" * fmt.LABEL_CHARS + "\u2026 (5000 characters)"
    assert fmt.label("sub\x1bstance") == "sub\\x1bstance"


def test_cli_summaries_print_class_names_and_request_fields_escaped(tmp_path, monkeypatch, capsys):
    """`unlearn`'s summary and `runs` print each line through printable: an ESC or newline in a class
    name cannot forge a line or drive the terminal."""
    import json

    from fixtures_results import make_results

    from steu_core.cli import main
    from steu_core.cli.unlearn import summary_text
    from steu_core.paths import runs_dir

    r = make_results(forget_class="sub\x1b[31mstance\nFAKE: PASS")
    text = summary_text(r, tmp_path)
    assert "sub\\x1b[31mstance\\nFAKE: PASS" in text and not _control_characters(text.replace("\n", ""))
    assert not any(line.startswith("FAKE") for line in text.splitlines())
    (runs_dir() / "run-x").mkdir(parents=True)
    (runs_dir() / "run-x" / "results.json").write_text(json.dumps(r))
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and "sub\\x1b[31mstance\\nFAKE" in out
