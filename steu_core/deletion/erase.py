"""Erasure by retraining: one new model, trained from the original's starting point with the original's
training settings on the training notes minus the forget notes of every request in the batch; then each
request's audits of that model (the usual pipeline, method ``erased``) and its "erased" state in the ledger.

The retrain is checkpointed (``deletion.checkpoint``): run the same ``erase`` again after a crash or a cancel
and it resumes from the last saved step; once the model is saved, a second call skips to the audits not yet
made. The original model is only read.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..data import load_notes, note_digest
from ..errors import Cancelled, ConfigError, DataError
from ..model import file_sha256, hash_directory, write_json_atomic
from ..request import UnlearnRequest
from ..runs.pipeline import run_unlearning
from ..runs.record import load_results, verdict_fields
from ..runs.staging import Staging
from ..train import TrainConfig, train_classifier
from ..training_manifest import MANIFEST_FILE, HashList, read_manifest
from ..runs.forget_hashes import load_forget_hashes
from ..runs.forget_index import INDEX_FILE
from .actions import actor_name, record_state
from .book import ERASED_METHOD, RequestStatus, find_request
from .checkpoint import TrainingCheckpoint
from .states import CONTAINED, ERASED, LABELS, can_move

RETRAIN_FILE = "retrain.json"    # the saved retrain (an erasure stopped after it resumes at the audits)
ERASURE_FILE = "erasure.json"    # the finished erasure: retrain, audits and ledger entries
TRAIN_OVERRIDES = ("epochs", "batch_size", "lr", "max_length", "seed")
# where each of a request's files can be given again (a forget file is the request's own: run it again to renew)
FLAGS = {"train": "--train", "eval": "--eval", "forget": "a new run of the request (or keep the file)",
         "forget_ids": "a new run of the request (or keep the file)"}


@dataclass(frozen=True)
class ErasurePlan:
    """What one retrain removes and how it trains; its key names the checkpoint it resumes from."""

    requests: tuple[str, ...]
    original: dict            # {"path", "sha256"} of the model the requests were made on
    files: dict               # the training and evaluation files and columns (from the requests)
    forget: HashList          # the union of the requests' forget-note hashes
    base: str                 # the pretrained start ("default" or a directory)
    config: TrainConfig
    settings_source: str
    labels: tuple[str, ...]   # the original's classes, in order (a class whose notes all go keeps its output)

    @property
    def key(self) -> str:
        facts = {"requests": self.requests, "original": self.original["sha256"], "forget": self.forget.root,
                 "train": self.files["train"]["file_sha256"], "base": self.base, "config": asdict(self.config)}
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:24]

    def describe(self) -> dict:
        return {"requests": list(self.requests), "original_model": self.original, "base": self.base,
                "settings": asdict(self.config), "settings_source": self.settings_source,
                "forget_set": self.forget.summary(), "train_file": self.files["train"], "labels": list(self.labels),
                "plan_key": self.key}


def plan_erasure(request_ids: list[str], base: str | None = None, overrides: dict | None = None) -> ErasurePlan:
    """The erasure of ``request_ids`` (one retrain), checked: each may be erased, all share one original model
    and one training file, and the training settings are known (recorded with the original, or given)."""
    ids = tuple(dict.fromkeys(r.strip() for r in request_ids if r.strip()))
    if not ids:
        raise ConfigError("no request ids given.", hint="Give --requests R1,R2 (see `python -m steu_core requests`).")
    statuses = [check_erasable(find_request(r)) for r in ids]
    original, train = shared_fact(statuses, "model_sha256"), shared_fact(statuses, "train")
    files = {"train": train, "columns": statuses[0].facts["files"].get("columns", {})}
    forget = HashList.of(h for s in statuses for h in load_forget_hashes(s.facts["forget_set"], s.request_id).hashes)
    model_path = Path(statuses[0].facts["model_path"])
    base, config, source = training_settings(model_path, base, overrides or {})
    return ErasurePlan(ids, {"path": str(model_path), "sha256": original}, files, forget, base, config, source,
                       model_labels(model_path))


def model_labels(model_path: Path) -> tuple[str, ...]:
    """The original's class names in output order, from its config.json."""
    try:
        id2label = json.loads((model_path / "config.json").read_text(encoding="utf-8"))["id2label"]
    except (OSError, ValueError, KeyError):
        raise ConfigError(f"the original model '{model_path}' of the requests cannot be read (config.json).",
                          hint="The erasure retrains with the original's classes; keep its directory where the "
                               "requests' runs found it.") from None
    return tuple(str(id2label[str(i)]) for i in range(len(id2label)))


def check_erasable(status: RequestStatus) -> RequestStatus:
    if not can_move(status.state, ERASED):
        raise ConfigError(f"request '{status.request_id}' is {LABELS.get(status.state, status.state)}: it cannot "
                          "be erased.", hint="Erase requests that are received, contained or scheduled.")
    missing = [k for k in ("forget_set", "files", "model_sha256", "model_path") if k not in status.facts]
    if missing:
        raise ConfigError(f"request '{status.request_id}' has no {missing[0].replace('_', ' ')} on record.",
                          hint="Record it with a run of the request (python -m steu_core unlearn --request-id "
                               f"{status.request_id} ...) or with `requests open`.")
    return status


def shared_fact(statuses: list[RequestStatus], key: str):
    """The fact every request of the batch shares (the original model's hash, the training file)."""
    values = [s.facts[key] if key in s.facts else s.facts["files"][key] for s in statuses]
    if len({v["file_sha256"] if isinstance(v, dict) else v for v in values}) > 1:  # a file: its bytes, not its path
        what = {"model_sha256": "original model", "train": "training file"}[key]
        raise ConfigError(f"the requests were made on different {what}s; one retrain serves requests on the same "
                          f"{what} only.", hint="Erase them in separate batches.")
    return values[0]


def training_settings(model_path: Path, base: str | None, overrides: dict) -> tuple[str, TrainConfig, str]:
    """The base and settings the original was trained with (its training manifest), or the ones given."""
    given = {k: v for k, v in overrides.items() if v is not None and k in TRAIN_OVERRIDES}
    if (model_path / MANIFEST_FILE).is_file():
        recorded, _ = read_manifest(model_path / MANIFEST_FILE)
        cfg = TrainConfig(**{**recorded["settings"], **given})
        cfg.validate()
        source = "the original's training manifest" + (f", with {', '.join(sorted(given))} given" if given else "")
        return base or recorded["base"]["given"], cfg, source
    if not base:
        raise ConfigError(f"the original model '{model_path}' carries no training record (it was not trained by this "
                          "tool), so its pretrained start and settings are unknown.",
                          hint="Give --base (the checkpoint it was fine-tuned from) and its --epochs, --lr, "
                               "--batch-size, --max-length and --seed.")
    cfg = TrainConfig(**given)
    cfg.validate()  # a bad --epochs or --lr is refused before anything is written
    return base, cfg, "given by the operator"


def located(fact: dict, given: str | Path | None, what: str, flag: str) -> str:
    """A path to the file a request recorded (``fact``: its path and SHA-256): ``given`` if set, else the recorded
    one, each refused unless its bytes are the recorded ones (an upload the dashboard has deleted since, a file
    edited since)."""
    path = Path(given).expanduser() if given else Path(fact["path"])
    if not path.is_file():
        raise DataError(f"the {what} '{path}' is not there any more.",
                        hint=f"Give the same file again with {flag} (it is checked by its SHA-256).")
    if file_sha256(path) != fact["file_sha256"]:
        raise DataError(f"the {what} '{path}' is not the file the request was recorded with (its SHA-256 differs).",
                        hint=f"Give the file as it was when the request was made, with {flag}.")
    return str(path)


def kept_training_notes(plan: ErasurePlan, given: dict | None = None):
    """The training file without the plan's forget notes; refused when it is not the requests' training file."""
    path = located(plan.files["train"], (given or {}).get("train"), "training file", "--train")
    columns = plan.files.get("columns", {})
    notes = load_notes(path, text_column=columns.get("text_column"), label_column=columns.get("label_column"))
    keep = [i for i, t in enumerate(notes.texts) if note_digest(t).hex() not in plan.forget]
    kept = notes.subset(keep, name=f"{notes.name} [without {len(plan.requests)} request(s)' notes]")
    return kept, len(notes) - len(keep)


def retrain(plan: ErasurePlan, out: Path, device: str = "auto", checkpoint_every: int = 25,
            progress: Callable[[dict], None] | None = None, cancel: Callable[[], bool] | None = None,
            given: dict | None = None) -> dict:
    """Train the erased model into ``out/model`` (through a staging directory) and write retrain.json."""
    stage = Staging(out)
    stage.claim()
    try:
        notes, removed = kept_training_notes(plan, given)
        check = TrainingCheckpoint(plan.key, checkpoint_every)
        t0 = time.perf_counter()
        report = (lambda info: (stage.update(**info), progress and progress(info)))
        _, summary = train_classifier(plan.base, notes, stage.path / "model", plan.config, device=device,
                                      labels=list(plan.labels), progress=report,
                                      cancel=lambda: stage.cancelled() or bool(cancel and cancel()),
                                      checkpoint=check, facts={"erasure": {**plan.describe(), "removed": removed}})
        record = erasure_record(plan, stage.path / "model", removed, summary, time.perf_counter() - t0)
        write_json_atomic(stage.path / RETRAIN_FILE, record)
        stage.finish()
        check.remove()
        return record
    except BaseException as exc:
        stage.fail("cancelled" if isinstance(exc, (Cancelled, KeyboardInterrupt)) else "failed", str(exc)[:500])
        raise


def erasure_record(plan: ErasurePlan, model_dir: Path, removed: int, summary: dict, seconds: float) -> dict:
    manifest, listed = read_manifest(model_dir / MANIFEST_FILE)
    return {**plan.describe(), "removed_notes": removed, "trained_notes": listed.summary(),
            "model_sha256": hash_directory(model_dir)["sha256"],
            "manifest_sha256": file_sha256(model_dir / MANIFEST_FILE),
            "device": manifest["device"], "threads": manifest["threads"], "seconds": round(seconds, 2),
            "resumed_at_step": summary.get("resumed_at_step", 0), "steps": summary["steps"]}


def erase(request_ids: list[str], out: str | Path, *, base: str | None = None, overrides: dict | None = None,
          device: str = "auto", checkpoint_every: int = 25, actor: str = "",
          progress: Callable[[dict], None] | None = None, cancel: Callable[[], bool] | None = None,
          given: dict | None = None) -> dict:
    """Erase the requests with one retrain, audit the erased model for each, record each one "erased".
    ``given``: {"train": path, "eval": path}, the requests' files where they are now (checked by SHA-256)."""
    plan = plan_erasure(request_ids, base, overrides)
    out, actor = Path(out).expanduser().resolve(), actor_name(actor)
    record = finished_retrain(plan, out) or retrain(plan, out, device, checkpoint_every, progress, cancel, given)
    audits = {rid: audit_request(rid, out, actor, given or {}, progress, cancel) for rid in plan.requests}
    entries = {rid: record_erased(rid, out, record, audits[rid], actor)["entry_hash"] for rid in plan.requests}
    done = {"erasure": record, "audits": audits, "entries": entries, "out": str(out)}
    write_json_atomic(out / ERASURE_FILE, done)
    return done


def finished_retrain(plan: ErasurePlan, out: Path) -> dict | None:
    """The record of a retrain of this plan already saved in ``out`` (None: ``out`` does not exist)."""
    if not out.exists():
        return None
    if (out / ERASURE_FILE).exists():
        raise ConfigError(f"the erasure in '{out}' is finished.", hint="Choose a new --out for another erasure.")
    try:
        record = json.loads((out / RETRAIN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"'{out}' already exists and holds no erasure.", hint="Choose a new --out.") from None
    if record.get("plan_key") != plan.key:
        raise ConfigError(f"'{out}' holds another erasure (other requests or settings).",
                          hint="Choose a new --out, or give the same requests and settings to finish that one.")
    return record


def audit_dir(out: Path, request_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", request_id)[:60]
    return out / "audits" / f"{safe}-{hashlib.sha256(request_id.encode()).hexdigest()[:8]}"


def audit_request(request_id: str, out: Path, actor: str, given: dict, progress=None, cancel=None) -> dict:
    """The request's audits of the erased model (a pipeline run with method ``erased``), made once."""
    run_dir = audit_dir(out, request_id)
    if not (run_dir / "results.json").is_file():
        run_unlearning(audit_request_of(find_request(request_id), out, run_dir, actor, given), progress, cancel)
    results = load_results(run_dir)
    return {"run_id": results["run_id"], "run_dir": str(run_dir), **verdict_fields(results)}


def audit_request_of(status: RequestStatus, out: Path, run_dir: Path, actor: str, given: dict) -> UnlearnRequest:
    f, files, rid = status.facts, status.facts["files"], status.request_id
    where = {key: located(files[key], given.get(key), f"{key} file of request '{rid}'", FLAGS[key])
             for key in ("train", "eval") if key in files}
    return UnlearnRequest(train=where["train"], eval=where["eval"], forget_class=f["forget_class"],
                          out=run_dir, model=f["model_path"], **{**files.get("columns", {}), **forget_given(status)},
                          method=ERASED_METHOD, settings={"model": str(out / "model")},
                          request_id=status.request_id, requester=f.get("requester", ""),
                          reason=f.get("reason", ""), operator=actor)


def forget_given(status: RequestStatus) -> dict:
    """How the audit names the request's forget set: its file (notes or ids) as recorded, else, once that file is
    gone (the dashboard deletes a run's uploads), the forget set of its containment run found again in the
    training file by the notes' hashes (``--forget-from-run``)."""
    files, rid = status.facts["files"], status.request_id
    if "forget_from_run" in files:
        return {"forget_from_run": files["forget_from_run"]["path"]}
    key = "forget_ids" if "forget_ids" in files else "forget" if "forget" in files else None
    if key is None:
        return {}  # the request forgets its whole class: the training notes of the class
    try:
        return {key: located(files[key], None, f"{key.replace('_', ' ')} file of request '{rid}'", FLAGS[key])}
    except DataError:
        contained = status.latest(CONTAINED)
        run = (contained.detail.get("run_dir") if contained else None) or ""
        if not (Path(run) / INDEX_FILE).is_file():
            raise
        return {"forget_from_run": run, "id_column": None, "forget_text_column": None, "forget_label_column": None}


def record_erased(request_id: str, out: Path, record: dict, audit: dict, actor: str) -> dict:
    return record_state(request_id, ERASED, actor, erasure=str(out), model_sha256=record["model_sha256"],
                        manifest_sha256=record["manifest_sha256"], merkle_root=record["trained_notes"]["merkle_root"],
                        trained=record["trained_notes"]["count"], removed=record["removed_notes"],
                        batch=record["requests"], settings_source=record["settings_source"],
                        audit_run=audit["run_id"], audit_dir=audit["run_dir"], verdict=audit["verdict"],
                        verdicts=audit["verdicts"], seconds=record["seconds"])
