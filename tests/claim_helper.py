"""Claim output directories only (no run): one side of the claim race in test_evidence_consistency.

    python tests/claim_helper.py BASE TRIALS ME OTHER

For trial i it marks itself ready, waits until the other side is ready too (a per-trial barrier,
so both claim ``BASE/out-i`` at the same instant), claims it with :class:`Staging` and writes
``BASE/result-i-ME``: "won", or "lost: <the error>". A reclaimed dead run is recorded as abandoned,
as the pipeline does. The process stays alive until every trial is done, so a winner's claim is live.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steu_core.errors import SteuError  # noqa: E402
from steu_core.runs.record import record_abandoned  # noqa: E402
from steu_core.runs.staging import Staging  # noqa: E402


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"the other side never reached {path.name}")
        time.sleep(0.0002)  # near-simultaneous release without spinning a shared CPU


def main(base: Path, trials: int, me: str, other: str) -> None:
    for i in range(trials):
        out = base / f"out-{i}"
        (base / f"ready-{i}-{me}").touch()
        wait_for(base / f"ready-{i}-{other}")
        try:
            Staging(out, on_abandoned=lambda prev, name=out.name: record_abandoned(name, prev)).claim()
            result = "won"
        except SteuError as exc:
            result = f"lost: {exc}"
        (base / f"result-{i}-{me}").write_text(result)
    (base / f"done-{me}").touch()
    wait_for(base / f"done-{other}")  # a winner that exited early would be a dead claim, fairly reclaimed


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
