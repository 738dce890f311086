"""A tqdm progress bar that follows the stages of a run (their words from :mod:`steu_core.runs.stages`)."""
from __future__ import annotations

import sys

from tqdm import tqdm

from ..runs.stages import progress_text, stage_words


class ProgressBar:
    def __init__(self, quiet: bool):
        self.quiet, self.bar, self.stage = quiet, None, None

    def __call__(self, info: dict) -> None:
        if self.quiet:
            return
        stage, total = info.get("stage"), info.get("total") or None
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage_words(str(stage)), unit="step", file=sys.stderr, leave=False)
        if self.bar is None:
            return
        # the count is tqdm's own; the words and what the stage is doing now are the dashboard's
        self.bar.set_description(progress_text(str(stage), activity=info.get("activity") or ""), refresh=not total)
        if total:
            self.show(info, total)

    def show(self, info: dict, total: int) -> None:
        self.bar.total = total
        self.bar.n = min(int(info.get("step") or 0), total)
        losses = info.get("losses") or {}
        if losses:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
