"""Check a finished run against the evidence whose hashes the ledger recorded, never against the run's
own results.json (which anyone who can write the run directory can rewrite).

What may have changed is read from the patch (its embedding rows and, of the other tensors, only the
classification head), after the patch file's SHA-256 and the manifest's have been matched with the
run's ledger entry. Each check is one :class:`Check`; the run passes only when every one passes.
Unusable input (no such directory, an unfinished run, a file given as the run) raises
:class:`~steu_core.errors.ConfigError`: the CLI prints it and exits 2.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..audits.param_diff import diff_states, load_state
from ..errors import ConfigError
from ..ledger import Ledger, LedgerError, check_ledger_file
from ..methods.base import AllowedChanges
from ..model import file_sha256, hash_directory
from ..patch import apply_patch, load_patch

RUN_FILES = ("manifest.json", "patch.safetensors")
# manifest field -> the ledger entry's key in "hashes"
MANIFEST_HASHES = {("original_model", "sha256"): "original_model", ("unlearned_model", "sha256"): "unlearned_model",
                   ("forget_set", "content_sha256"): "forget_set", ("patch", "sha256"): "patch"}
NO_ENTRY_HINT = ("pass --ledger the ledger.sqlite of the installation that made the run (its data directory, "
                 "STEU_HOME); a run made without a ledger entry cannot be verified - run the request again")


@dataclass
class Check:
    name: str
    ok: bool
    message: str


@dataclass
class RunVerification:
    run_dir: Path
    checks: list[Check] = field(default_factory=list)
    diff: dict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, message: str) -> bool:
        self.checks.append(Check(name, ok, message))
        return ok


def run_directory(path: str | Path) -> Path:
    """The finished run directory ``path`` names (a run's model/ leads to its run), or a ConfigError."""
    path = Path(path).expanduser()
    hint = "Pass the --out directory of a finished unlearn run."
    if not path.exists():
        raise ConfigError(f"the run directory '{path}' does not exist.", hint=hint)
    if not path.is_dir():
        raise ConfigError(f"'{path}' is a file, not a run directory.", hint=hint)
    if not (path / "manifest.json").exists() and (path.parent / "manifest.json").is_file():
        path = path.parent  # the run's model/ directory was given
    results = path / "results.json"
    if not results.is_file():
        raise ConfigError(f"'{path}' is not a finished run (no results.json).", hint=hint)
    try:
        json.loads(results.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"'{results}' is not readable JSON: the run directory is damaged.",
                          hint="Restore the run directory from a backup; its ledger entry keeps the hashes.") from None
    for name in RUN_FILES:
        if not (path / name).is_file():
            raise ConfigError(f"the run directory '{path}' has no {name}: its evidence is incomplete.",
                              hint="Restore the run directory from a backup; it cannot be verified without it.")
    if not (path / "model").is_dir():
        raise ConfigError(f"the run directory '{path}' has no model/ directory: the new model version is missing.",
                          hint="Restore the run directory from a backup; it cannot be verified without it.")
    return path


def read_manifest(run_dir: Path) -> dict:
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("run_id"), str):
        raise ConfigError(f"'{run_dir / 'manifest.json'}' is not a run manifest (no run_id).",
                          hint="Restore the run directory from a backup.")
    return manifest


def ledger_entry(v: RunVerification, ledger: Ledger, run_id: str) -> dict | None:
    """The run's "run" entry with outcome success, from a ledger whose hash chain is intact."""
    try:
        check_ledger_file(ledger.path)
    except LedgerError as exc:  # its hint speaks of a new installation; here the run's own ledger is needed
        raise LedgerError(exc.message, hint="Pass --ledger the ledger.sqlite of the installation that made the run "
                                            "(its data directory, STEU_HOME).") from None
    chain = ledger.verify()
    if not v.add("ledger chain", chain.ok, f"{chain.reason} ({ledger.path})"):
        return None
    entry = ledger.find_run(run_id)
    if entry is None or entry["payload"].get("outcome") != "success":
        state = "no entry" if entry is None else f"an entry with outcome {entry['payload'].get('outcome')!r}"
        v.add("ledger entry", False, f"the ledger '{ledger.path}' has {state} for run {run_id}: {NO_ENTRY_HINT}")
        return None
    v.add("ledger entry", True, f"run {run_id} is entry {entry['seq']} (hash {entry['entry_hash'][:16]}...)")
    return entry


def check_manifest(v: RunVerification, run_dir: Path, manifest: dict, recorded: dict) -> bool:
    """The manifest's own hash (recorded since the ledger kept it) and each hash it names."""
    sha = file_sha256(run_dir / "manifest.json")
    if "manifest" in recorded:
        if not v.add("manifest hash", sha == recorded["manifest"],
                     f"manifest.json SHA-256 {sha[:16]}..., recorded {str(recorded['manifest'])[:16]}..."):
            return False
    differ = [f"{a}.{b}" for (a, b), key in MANIFEST_HASHES.items()
              if (manifest.get(a) or {}).get(b) != recorded.get(key)]
    return v.add("manifest fields", not differ,
                 f"manifest.json names other hashes than the ledger entry: {', '.join(differ)}" if differ else
                 "the manifest's model, forget-set and patch hashes are the ones the ledger entry recorded")


def check_file_hash(v: RunVerification, name: str, path: Path, recorded: str | None) -> bool:
    if not path.is_file():
        return v.add(name, False, f"{path.name} is missing; the ledger entry recorded {str(recorded)[:16]}...")
    sha = file_sha256(path)
    return v.add(name, sha == recorded, f"{path.name} SHA-256 {sha[:16]}..., recorded {str(recorded)[:16]}...")


def check_models(v: RunVerification, clf, original_dir: Path, new_dir: Path, patch: dict) -> None:
    """What changed between the two models, against what the patch allows (its rows and the head),
    and that the new model is exactly the original with the patch applied."""
    before, after = load_state(original_dir), load_state(new_dir)
    rows = patch["tensors"]["row_ids"].tolist()
    v.diff = diff_states(before, after, embedding_name=clf.embedding_param_name, head_names=clf.head_param_names,
                         allowed=AllowedChanges(embedding_rows=rows, head=True), tokenizer=clf.tokenizer)
    v.add("only the patch's rows and the head changed", v.diff["param_diff_verdict"] == "pass",
          v.diff["param_diff_message"])
    beyond = [n for n in patched_names(patch) if not is_head(n, clf.head_param_names)]
    if beyond:
        v.add("patch stays in the rows and the head", False,
              f"the patch itself changes tensor(s) outside the embedding rows and the head: {', '.join(beyond[:5])}")
    try:
        expected = apply_patch(before, patch)
    except (KeyError, ValueError, IndexError, RuntimeError) as exc:
        v.add("model = original + patch", False, f"the patch does not apply to --original: {exc}")
        return
    differ = [k for k in sorted(after) if k not in expected or not torch.equal(expected[k], after[k])]
    v.add("model = original + patch", not differ, "every tensor equals the original with the patch applied" if not differ
          else f"tensor(s) differ from the original with the patch applied: {', '.join(differ[:5])}")


def is_head(name: str, head_names: list[str]) -> bool:
    """Saved tensor names may add or drop a model prefix."""
    return any(name == h or name.endswith("." + h) or h.endswith("." + name) for h in head_names)


def patched_names(patch: dict) -> list[str]:
    try:
        return list(json.loads(patch["metadata"].get("tensors", "[]")))
    except (TypeError, json.JSONDecodeError):
        return []


def verify_evidence(run_dir: str | Path, ledger: Ledger) -> tuple[RunVerification, dict | None, bool]:
    """The checks that need no original model: the run's ledger entry, and every file whose hash it pinned
    (manifest, patch, results.json, comparison.json, model/). Returns the checks, the entry (None when there is
    none to check against) and whether the manifest and patch hashes matched (they say what may change)."""
    run_dir = run_directory(run_dir)
    v = RunVerification(run_dir)
    entry = ledger_entry(v, ledger, read_manifest(run_dir)["run_id"])
    if entry is None:
        return v, None, False
    recorded = entry["payload"].get("hashes") or {}
    ok = check_manifest(v, run_dir, read_manifest(run_dir), recorded)
    ok = check_file_hash(v, "patch hash", run_dir / "patch.safetensors", recorded.get("patch")) and ok
    for name, key in (("results hash", "results"), ("comparison hash", "comparison")):
        if key in recorded:  # entries made before results.json was pinned have no such hash
            check_file_hash(v, name, run_dir / f"{key}.json", recorded[key])  # says nothing of what may change
    new = hash_directory(run_dir / "model")["sha256"]
    v.add("unlearned model hash", new == recorded.get("unlearned_model"),
          f"model/ hashes to {new[:16]}..., recorded {str(recorded.get('unlearned_model'))[:16]}...")
    return v, entry, ok


def verify_run(clf, original_dir: str | Path, run_dir: str | Path, ledger: Ledger) -> RunVerification:
    """Every check of a finished run against its ledger entry; ``clf`` is the loaded original."""
    original_dir = Path(original_dir)
    v, entry, ok = verify_evidence(run_dir, ledger)
    if entry is None:
        return v
    recorded = entry["payload"].get("hashes") or {}
    original = hash_directory(original_dir)["sha256"]
    ok = v.add("original model", original == recorded.get("original_model"),
               f"--original hashes to {original[:16]}..., the run started from {str(recorded.get('original_model'))[:16]}...") and ok
    if ok:  # only a patch whose hash was recorded may say what was allowed to change
        try:
            patch = load_patch(v.run_dir / "patch.safetensors")
        except Exception as exc:  # safetensors raises its own error types for a damaged file
            v.add("patch readable", False, f"patch.safetensors cannot be read as a STEU patch ({type(exc).__name__})")
            return v
        check_models(v, clf, original_dir, v.run_dir / "model", patch)
    return v
