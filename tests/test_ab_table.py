"""steu_core.runs.ab_table: two runs side by side, as the History page shows them."""
from __future__ import annotations

from fixtures_results import make_results

from steu_core.runs.ab_table import COLUMNS, ab_rows, difference
from steu_core.verdicts import compute_verdicts, headline


def test_two_runs_side_by_side_with_their_verdicts_and_differences():
    a, b = make_results(), make_results()
    b["forget_f1_after"], b["params_changed_fraction"] = a["forget_f1_after"] + 0.25, 0.004
    b["wall_seconds"] = {**(a.get("wall_seconds") or {}), "total": 30.0}
    a["wall_seconds"] = {**(a.get("wall_seconds") or {}), "total": 10.0}
    rows = {row["Figure"]: row for row in ab_rows(a, b)}
    assert all(tuple(row) == COLUMNS for row in rows.values())
    assert rows["Is the forgetting shown?"]["Run A"] == headline(compute_verdicts(a))
    assert rows["Forget F1 after"]["B − A"] == "+0.250"
    assert rows["Total time"]["B − A"] == "+20 s"
    assert rows["Method"]["B − A"] == ""  # no number, no difference


def test_differences_are_in_the_figures_units():
    assert difference(0.001, 0.002, "pct") == "+0.100 pp"
    assert difference(3, 5, "int") == "+2"
    assert difference(None, 5, "f") == ""
