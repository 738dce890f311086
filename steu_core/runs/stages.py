"""The stages a run goes through: one table that the runner, the worker, the CLI progress bar and
the dashboard all read (name in progress.json, plain words, share of the whole run)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str                  # as written to progress.json
    words: str                 # what a person reads
    span: tuple[float, float]  # share of the whole run at the stage's start and end
    counted: bool = False      # its step/total count means progress within the stage
    milestone: str = ""        # shown in the one-line milestone view when set
    closing: bool = False      # a single-seed run usually ends seconds after it starts


STAGES: tuple[Stage, ...] = (  # in the order a run goes through them
    Stage("starting", "Starting the worker", (0.0, 0.03)),
    Stage("start", "Starting the worker", (0.03, 0.05)),
    Stage("model", "Loading the model", (0.05, 0.08), milestone="Model"),
    Stage("prepare-demo-model", "Preparing the demo model", (0.05, 0.08), counted=True),
    Stage("data", "Checking the data files", (0.08, 0.10), milestone="Data"),
    Stage("tokenize", "Tokenising the notes", (0.10, 0.12)),
    Stage("score-original", "Scoring the original model", (0.12, 0.20), milestone="Baseline"),
    Stage("select", "Selecting tokens (PMI)", (0.20, 0.23), milestone="Token selection"),
    Stage("cache", "Caching encoder features", (0.23, 0.26)),
    Stage("unlearn", "Unlearning", (0.26, 0.86), counted=True, milestone="Unlearning"),
    # retrain_oracle trains a new model from the pretrained start instead of editing the original
    Stage("train", "Retraining from the pretrained start", (0.26, 0.86), counted=True),
    Stage("save", "Saving the new model version", (0.86, 0.89), closing=True),
    Stage("audit", "Running the audits", (0.89, 0.93), milestone="Audits", closing=True),
    Stage("seeds", "Repeating the method with the other seeds", (0.93, 0.99), counted=True),
)
BY_NAME = {s.name: s for s in STAGES}
ORDER = [s.name for s in STAGES]


def stage_words(stage: str) -> str:
    known = BY_NAME.get(stage)
    if known:
        return known.words
    return stage.replace("-", " ").capitalize() if stage else "Working"


def overall_fraction(stage: str, step: int = 0, total: int = 0) -> float:
    """How far the whole run is, 0..1: stage position, refined by the step count where it means something."""
    known = BY_NAME.get(stage)
    if known is None:
        return 0.0
    lo, hi = known.span
    if known.counted and total:
        return lo + (hi - lo) * max(0.0, min(1.0, step / total))
    return lo


def progress_text(stage: str, step: int = 0, total: int = 0, activity: str = "") -> str:
    """The stage in words, its step count where it has one, and what it is doing now (progress.json's
    ``activity``: a long part of a stage that the step count does not show)."""
    text = stage_words(stage)
    known = BY_NAME.get(stage)
    if known and known.counted and total:
        text += f": step {step} of {total}"
    return f"{text} · {activity}" if activity else text


def milestones(stage: str) -> list[tuple[str, str]]:
    """[(label, "done" | "current" | "todo")] for the milestone stages, given the current stage."""
    pos = ORDER.index(stage) if stage in ORDER else 0
    marks = [i for i, s in enumerate(STAGES) if s.milestone]
    out = []
    for n, start in enumerate(marks):
        end = marks[n + 1] if n + 1 < len(marks) else len(ORDER)
        state = "done" if pos >= end else "current" if pos >= start else "todo"
        out.append((STAGES[start].milestone, state))
    return out


def is_closing(stage: str) -> bool:
    """Whether the run is in a stage after which it usually ends within seconds (worth watching closely)."""
    known = BY_NAME.get(stage)
    return bool(known and known.closing)
