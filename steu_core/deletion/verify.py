"""``verify-erasure``: prove that an erased model was trained without a request's forget notes.

What is checked, each a line of the result: the training manifest hashes to the root it states; the model
and manifest are those the ledger pinned when the requests were recorded erased; every forget note's hash is
absent from the manifest, with an absence proof per note checkable against the root alone; and, on request
(``--retrain``, CPU only), that training again from the manifest gives the same model bit for bit. What it does
not prove: that no other copy of the notes or of an earlier model exists, and, for a model trained on a GPU,
that the weights follow from the manifest (GPU training is not bit-identical, so the re-run is not compared).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data import NoteSet, load_notes, note_digest
from ..errors import DataError
from ..ledger import Ledger
from ..model import file_sha256, hash_directory
from ..train import TrainConfig, train_classifier
from ..training_manifest import MANIFEST_FILE, HashList, check_absence_proof, read_manifest
from .actions import record_state
from .book import find_request
from ..runs.forget_hashes import load_forget_hashes
from .states import ERASED, LEDGER_KIND, VERIFIED

PASS, FAIL, NOT_CHECKED = "pass", "fail", "not checked"


@dataclass
class ErasureCheck:
    model_dir: Path
    manifest: dict
    hashes: HashList
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (status, what, detail)
    proofs: list[dict] = field(default_factory=list)

    def add(self, status: str, what: str, detail: str = "") -> None:
        self.lines.append((status, what, detail))

    @property
    def ok(self) -> bool:
        return all(status != FAIL for status, _, _ in self.lines) and any(s == PASS for s, w, _ in self.lines
                                                                           if w.startswith("forget notes"))

    def as_dict(self) -> dict:
        return {"ok": self.ok, "model": str(self.model_dir), "merkle_root": self.hashes.root,
                "trained_notes": len(self.hashes), "checks": [{"status": s, "what": w, "detail": d}
                                                              for s, w, d in self.lines],
                "absence_proofs": self.proofs}


def model_dir_of(run: str | Path) -> Path:
    run = Path(run).expanduser()
    for d in (run / "model", run):
        if (d / MANIFEST_FILE).is_file():
            return d
    raise DataError(f"'{run}' holds no erased model with a training manifest.",
                    hint="Give --run the directory `python -m steu_core erase` wrote (or its model folder).")


def start_check(run: str | Path) -> ErasureCheck:
    model_dir = model_dir_of(run)
    manifest, hashes = read_manifest(model_dir / MANIFEST_FILE)
    check = ErasureCheck(model_dir, manifest, hashes)
    check.add(PASS, "manifest", f"{len(hashes)} training notes, sorted, Merkle root {hashes.root[:16]}...")
    check_pinned(check)
    return check


def check_pinned(check: ErasureCheck) -> None:
    """The model and manifest are the ones the ledger recorded when the requests were erased."""
    manifest_sha, model_sha = file_sha256(check.model_dir / MANIFEST_FILE), hash_directory(check.model_dir)["sha256"]
    pins = [e["payload"] for e in Ledger().find(LEDGER_KIND, state=ERASED)
            if e["payload"].get("merkle_root") == check.hashes.root]
    if not pins:
        check.add(NOT_CHECKED, "ledger", "no erasure with this manifest's root is recorded in this data directory's "
                                         "ledger; compare the root with the one in the request's report")
        return
    good = [p for p in pins if p.get("manifest_sha256") == manifest_sha and p.get("model_sha256") == model_sha]
    requests = ", ".join(sorted({p["request_id"] for p in pins}))
    check.add(PASS if good else FAIL, "ledger", f"model and manifest are those recorded erased for {requests}" if good
              else f"the model or manifest differ from those recorded erased for {requests}")


def check_absent(check: ErasureCheck, hashes: list[str], source: str) -> None:
    """Each forget note's hash must be absent from the manifest; the proofs are kept."""
    present = [i for i, h in enumerate(hashes) if h in check.hashes]
    if present:
        check.add(FAIL, f"forget notes ({source})", f"{len(present)} of {len(hashes)} note(s) ARE in the training "
                  f"manifest (e.g. item {present[0] + 1}): the model was trained on them")
        return
    proofs = [check.hashes.absence_proof(h) for h in sorted(set(hashes))]
    bad = [p for p in proofs if not check_absence_proof(p, check.hashes.root)]
    check.proofs += proofs
    check.add(FAIL if bad else PASS, f"forget notes ({source})",
              f"none of the {len(hashes)} note(s) is in the manifest; {len(proofs)} absence proof(s) against the root "
              "checked" if not bad else f"{len(bad)} absence proof(s) do not check")


def check_request(request_id: str, run: str | Path) -> ErasureCheck:
    """The erasure in ``run`` checked against the forget notes ``request_id`` recorded (no note text needed)."""
    check = start_check(run)
    check_absent(check, request_hashes(request_id), f"request {request_id}")
    return check


def record_verified(request_id: str, check: ErasureCheck, actor: str = "", proofs_sha256: str | None = None) -> dict:
    """The request's "verified" ledger entry: the manifest root checked, each check's outcome, whether the model
    was trained again bit for bit, and the hash of the proofs file when one was written."""
    return record_state(request_id, VERIFIED, actor, merkle_root=check.hashes.root, model_dir=str(check.model_dir),
                        checks=[{"status": s, "what": w} for s, w, _ in check.lines], proofs_sha256=proofs_sha256,
                        rerun=any(w == "re-run" and s == PASS for s, w, _ in check.lines))


def forget_file_hashes(path: str | Path, text_column: str | None = None) -> list[str]:
    notes = load_notes(path, text_column=text_column, require_labels=False)
    return [note_digest(t).hex() for t in notes.texts]


def request_hashes(request_id: str) -> list[str]:
    status = find_request(request_id)
    if "forget_set" not in status.facts:
        raise DataError(f"request '{request_id}' has no forget notes on record.")
    return list(load_forget_hashes(status.facts["forget_set"], request_id).hashes)


def check_retrain(check: ErasureCheck, train_file: str | Path, text_column: str | None = None,
                  label_column: str | None = None) -> None:
    """Train again from the manifest (CPU, its thread count) and compare the model hash bit for bit."""
    m = check.manifest
    if m.get("device") != "cpu":
        check.add(NOT_CHECKED, "re-run", f"the model was trained on {m.get('device')}: training there is not "
                                         "bit-identical, so a re-run cannot be compared")
        return
    notes = load_notes(train_file, text_column=text_column, label_column=label_column)
    kept = notes.subset([i for i, t in enumerate(notes.texts) if note_digest(t).hex() in check.hashes],
                        name=m["training_file"]["name"])
    if HashList.of(note_digest(t).hex() for t in kept.texts) != check.hashes:
        check.add(FAIL, "re-run", f"the training file '{train_file}' does not hold exactly the manifest's notes")
        return
    check.add(*rerun_matches(check, kept, m))


def rerun_matches(check: ErasureCheck, kept: NoteSet, m: dict) -> tuple[str, str, str]:
    threads = torch.get_num_threads()
    torch.set_num_threads(int(m["threads"]))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            facts = {k: m[k] for k in ("erasure",) if k in m}
            train_classifier(m["base"]["given"], kept, Path(tmp) / "model", TrainConfig(**m["settings"]),
                             device="cpu", labels=list(m["labels"]), facts=facts)
            again = hash_directory(Path(tmp) / "model")["sha256"]
    finally:
        torch.set_num_threads(threads)
    same = again == hash_directory(check.model_dir)["sha256"]
    return (PASS if same else FAIL, "re-run",
            f"training again from the manifest ({m['threads']} thread(s), CPU) gives the same model bit for bit"
            if same else f"training again gives another model ({again[:16]}...): the weights do not follow from "
                         "the manifest on this machine (other torch build or CPU?)")
