"""The training state of an erasure, saved every few steps so that a crashed or cancelled retrain resumes
where it stopped. The checkpoint holds weights trained without the forget notes (never the original's), lives
in the data directory under the erasure's plan key and is removed when the erased model is saved."""
from __future__ import annotations

import os
import signal

import torch

from ..errors import DataError
from ..paths import subdir

KILL_ENV = "STEU_TEST_KILL_AFTER_CHECKPOINT"  # tests only: the step after whose checkpoint the process is killed


class TrainingCheckpoint:
    def __init__(self, plan_key: str, every: int):
        self.plan_key, self.every = plan_key, max(1, int(every))
        self.path = subdir("checkpoints") / f"erasure-{plan_key}.pt"

    def restore(self, model, opt, sched) -> int:
        """Load the saved state into the model, optimiser and schedule; the step it was saved at (0: none)."""
        if not self.path.exists():
            return 0
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # a checkpoint cut short by the crash it is meant to survive: start again
            self.remove()
            return 0
        if state.get("plan") != self.plan_key:
            raise DataError(f"the checkpoint '{self.path}' belongs to another erasure.", file=str(self.path),
                            hint="Remove it to start this erasure from the beginning.")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"])
        return int(state["step"])

    def maybe_save(self, step: int, total: int, model, opt, sched) -> None:
        if step % self.every or step >= total:
            return
        tmp = self.path.with_suffix(".tmp")
        torch.save({"plan": self.plan_key, "step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "schedule": sched.state_dict(), "rng": torch.get_rng_state()}, tmp)
        os.replace(tmp, self.path)  # a crash mid-write leaves the previous checkpoint whole
        if os.environ.get(KILL_ENV) == str(step):  # test hook: die like a power cut right after this checkpoint
            os.kill(os.getpid(), signal.SIGKILL)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.path.with_suffix(".tmp").unlink(missing_ok=True)
