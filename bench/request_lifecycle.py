"""Two deletion requests from receipt to closure on the sample data: one contained by STEU, both erased by one
retrain of the demo model, both verified, with the time of each step and the verdicts per attacker.

    python bench/request_lifecycle.py [--rerun]

In a fresh data directory (bench/out/lifecycle-home; removed first): the demo model is trained there (so it carries
its training manifest), REQ-A (every substance_use_disorder note of the forget file) is contained with STEU,
REQ-B (40 major_depression training notes named by id) is opened, both are erased by one retrain, and each is
verified (``--rerun``: REQ-A's check also trains again from the manifest and compares bit for bit, as long
again as the retrain). Prints the seconds of each step and each model's verdict per attacker.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import time

from common import OUT

from steu_core.demo import DEMO_TRAIN

HOME = OUT / "lifecycle-home"


def timed(what: str, call):
    t0 = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - t0
    print(f"{what}: {seconds:.1f} s", flush=True)
    return out, seconds


def ids_file(train, label: str, n: int):
    rows = [r for r in csv.DictReader(open(train, newline="", encoding="utf-8")) if r["label"] == label][:n]
    path = HOME / "req-b-ids.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["note_id"]] + [[r["note_id"]] for r in rows])
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rerun", action="store_true", help="also retrain from the manifest and compare bit for bit")
    args = ap.parse_args()
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    os.environ["STEU_HOME"] = str(HOME)
    from steu_core.deletion import actions, verify
    from steu_core.deletion.book import all_requests
    from steu_core.deletion.erase import erase
    from steu_core.demo import DEMO_FORGET, DEMO_TEST, DEMO_TRAIN, ensure_demo_model
    from steu_core.runs import UnlearnRequest, run_unlearning

    model, t_model = timed("demo model trained (with its manifest)", lambda: ensure_demo_model(progress=lambda d: None))
    common = dict(model=str(model), train=str(DEMO_TRAIN), eval=str(DEMO_TEST), requester="patient",
                  reason="GDPR art. 17", operator="privacy officer")
    a = UnlearnRequest(**common, forget=str(DEMO_FORGET), forget_class="substance_use_disorder", request_id="REQ-A",
                       out=str(HOME / "contain-a"))
    _, t_contain = timed("REQ-A contained (STEU run)", lambda: run_unlearning(a))
    b = UnlearnRequest(**common, forget_ids=str(ids_file(DEMO_TRAIN, "major_depression", 40)),
                       forget_class="major_depression", request_id="REQ-B", out="")
    timed("REQ-B opened", lambda: actions.open_request(b))
    done, t_erase = timed("REQ-A and REQ-B erased (one retrain and two audits)",
                          lambda: erase(["REQ-A", "REQ-B"], HOME / "erase", actor="privacy officer"))
    for rid in ("REQ-A", "REQ-B"):  # one retrain from the manifest shows the model follows from it: the first
        rerun = args.rerun and rid == "REQ-A"
        check, t_verify = timed(f"{rid} verified" + (" (with the re-run)" if rerun else ""),
                                lambda rid=rid, rerun=rerun: verified(verify, rid, done["out"], rerun))
        print("   " + "; ".join(f"{s} {w}" for s, w, _ in check.lines))
        if check.ok:
            verify.record_verified(rid, check, "auditor")
            actions.close(rid, "privacy officer")
    report(all_requests(), done, t_model, t_contain, t_erase)


def verified(verify, rid: str, out: str, rerun: bool):
    check = verify.start_check(out)
    verify.check_absent(check, verify.request_hashes(rid), rid)
    if rerun:
        verify.check_retrain(check, str(DEMO_TRAIN))
    return check


def report(book, done: dict, t_model: float, t_contain: float, t_erase: float) -> None:
    rec = done["erasure"]
    print(f"\nretrain: {rec['seconds']:.1f} s for {rec['steps']} steps on {rec['trained_notes']['count']} notes "
          f"({rec['removed_notes']} forget notes left out); whole erasure {t_erase:.1f} s; demo model training "
          f"{t_model:.1f} s; containment {t_contain:.1f} s")
    print(f"{'request':8} {'state':9} {'contained: outputs / model file':34} {'erased: outputs / model file':30}")
    for rid, status in book.items():
        c, e = status.latest("contained"), status.latest("erased")
        cv = (c.detail.get("verdicts") or {}) if c else {}
        ev = (e.detail.get("verdicts") or {}) if e else {}
        print(f"{rid:8} {status.state:9} {cv.get('outputs', '-') + ' / ' + cv.get('model_file', '-'):34} "
              f"{ev.get('outputs', '-') + ' / ' + ev.get('model_file', '-'):30}")


if __name__ == "__main__":
    main()
