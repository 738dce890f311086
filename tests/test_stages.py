"""The stage table is the one owner of stage names: every stage the code reports is in it."""
from __future__ import annotations

import re
from pathlib import Path

from steu_core.runs import stages

ROOT = Path(__file__).resolve().parent.parent
# stage names reported by a run (progress dicts and report(stage=...) calls); "audit:<name>" and
# the comparison's own stages are reported by compare, which has its own progress lines
REPORTED = re.compile(r"""(?:"stage":\s*|stage=)"([a-z][a-z0-9-]*)\"""")
COMPARE_ONLY = {"method", "score", "table"}


def reported_stage_names() -> set[str]:
    names = set()
    for path in (ROOT / "steu_core").rglob("*.py"):
        names |= set(REPORTED.findall(path.read_text()))
    return names - COMPARE_ONLY


def test_every_reported_stage_is_in_the_table():
    names = reported_stage_names()
    assert {"model", "unlearn", "train", "audit"} <= names  # the scan finds the runner's and the methods' stages
    unknown = sorted(n for n in names if n not in stages.BY_NAME and n not in {"done", "failed", "cancelled"})
    assert not unknown, f"stages reported but missing from steu_core.runs.stages.STAGES: {unknown}"


def test_retraining_moves_the_overall_progress_bar():
    # retrain_oracle reports "train" while it trains; the bar must advance through it, not drop to 0
    start, half = stages.overall_fraction("train", 0, 10), stages.overall_fraction("train", 5, 10)
    assert stages.overall_fraction("select") < start < half < stages.overall_fraction("save")
    assert stages.progress_text("train", 5, 10).endswith("step 5 of 10")


def test_milestones_follow_the_run():
    marks = dict(stages.milestones("unlearn"))
    assert marks["Model"] == marks["Token selection"] == "done"
    assert marks["Unlearning"] == "current" and marks["Audits"] == "todo"
    assert dict(stages.milestones("train"))["Unlearning"] == "current"


def test_only_the_stages_after_the_training_count_as_closing():
    # the Run page watches a run closely only here: a long stage marked closing would cost the run CPU
    closing = [s.name for s in stages.STAGES if stages.is_closing(s.name)]
    assert closing == ["save", "audit"]
    assert stages.ORDER.index("save") > stages.ORDER.index("unlearn") and not stages.is_closing("seeds")
    assert not stages.is_closing("no-such-stage")


def test_the_progress_line_says_what_a_long_part_of_a_stage_is_doing():
    assert stages.progress_text("unlearn", 10, 60) == "Unlearning: step 10 of 60"
    assert stages.progress_text("unlearn", 10, 60, "checking the stopping rule on the 240 forget notes") == \
        "Unlearning: step 10 of 60 · checking the stopping rule on the 240 forget notes"
    assert stages.progress_text("audit", activity="scoring the new model") == "Running the audits · scoring the new model"


def test_a_new_activity_is_written_at_once_while_step_counts_wait(tmp_path):
    from steu_core.runs.staging import PROGRESS_FILE, Staging, read_progress

    stage = Staging(tmp_path / "run")
    stage.claim()
    stage.update(stage="unlearn", step=10, total=60)
    stage.update(step=11)  # within 0.3 s of the last write: kept for the next one
    stage.update(activity="checking the stopping rule")  # a change of activity: written now
    on_disk = read_progress(tmp_path / "run")
    assert on_disk["activity"] == "checking the stopping rule" and on_disk["step"] == 11
    assert (stage.path / PROGRESS_FILE).is_file()
