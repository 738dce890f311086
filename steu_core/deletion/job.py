"""An erasure as a background job (the dashboard's Erase button): the ``erase`` command's arguments, checked
before the worker process starts, in the form the worker (steu_core.worker) runs any job."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar


@dataclass
class EraseRequest:
    command: ClassVar[str] = "erase"

    requests: list[str] = field(default_factory=list)
    out: str | Path = ""
    operator: str = ""
    device: str = "auto"
    checkpoint_every: int = 25

    def to_argv(self) -> list[str]:
        argv = ["--requests", ",".join(self.requests), "--out", str(self.out), "--device", self.device,
                "--checkpoint-every", str(self.checkpoint_every)]
        return argv + (["--operator", self.operator] if self.operator else [])

    def validate(self) -> None:
        """Refuse, in the caller's words, what the worker would refuse: unknown requests, requests that cannot be
        erased, requests on different models or training files, unknown training settings."""
        from .erase import plan_erasure  # on use: erase imports the pipeline and torch, which the worker starts without

        plan_erasure(self.requests)
