"""The deletion request: one dataclass family, the one owner of every request field.

Each field carries its command-line option (flag, help, kind) in its metadata, so the CLI parser
(:func:`add_options`), the parsed request (:meth:`RunRequest.from_args`) and the argument list
the dashboard's worker process is started with (:meth:`RunRequest.to_argv`) all come from the
same place; a round-trip test pins that every option survives. Checks that need neither the model
nor the data (:meth:`validate`) run before anything is written.
"""
from __future__ import annotations

import argparse
import getpass
import json
import math
from dataclasses import MISSING, dataclass, field, fields
from typing import ClassVar
from pathlib import Path

from .audits.deep import DEEP_AUDITS, check_audit_settings
from .audits.relearn_full import NAME as RELEARN_FULL, QUICK as QUICK_RELEARNING, set_words as relearning_words
from .data import DEFAULT_MAX_FILE_MB
from .errors import ConfigError, check_whole_number
from .forget_ids import NO_LABEL_COLUMN, guess_columns
from .methods import get_method
from .model import MIN_MAX_LENGTH, check_seed, resolve_device
from .reference import ORACLE

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MAX_SEEDS = 20
MAX_REQUEST_FIELD_CHARS = 1000  # a request id, requester, reason or operator as recorded
PEOPLE = ("request_id", "requester", "reason", "operator")  # a request's free-text fields
FORM_COLUMNS = ("text_column", "label_column", "forget_text_column", "forget_label_column", "id_column")
DEFAULT_METHODS = ["steu", "steu_rows_only", "random_tokens", "head_only", "grad_ascent", "finetune_retain",
                   ORACLE]



def default_operator() -> str:
    """Who runs it when nobody said: the login name ($USER, else the account's name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # an account with no name (a container's bare uid)
        return ""


@dataclass(frozen=True)
class Option:
    """How a request field appears on the command line."""

    flag: str
    help: str = ""
    kind: str = "value"      # value | flag (store_true) | negated (--no-x sets False) | json | list
    type: type = str
    choices: tuple | None = None
    required: bool = False
    metavar: str | None = None


def opt(default=MISSING, flag: str = "", help: str = "", **kw):
    """A request field with its command-line option; lists and dicts get a fresh default each time."""
    meta = {"cli": Option(flag, help, **kw)} if flag else {}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


def cli_option(f) -> Option | None:
    return f.metadata.get("cli")


@dataclass
class RunRequest:
    """What every request names: the data, the model, how to score, and who asked and why."""

    train: str | Path = opt(flag="--train", help="the training notes (the retain set is its other classes)",
                            required=True)
    eval: str | Path = opt(flag="--eval", help="held-out notes for the audits", required=True)
    forget_class: str = opt(flag="--forget-class", help="label name or id of the class to forget", required=True)
    out: str | Path = opt(flag="--out", help="new directory for the run (must not exist)", required=True)
    model: str | Path = opt("default", "--model", "'default' (the demo classifier) or a local checkpoint directory")
    forget: str | Path | None = opt(None, "--forget", "forget-set file (default: the training notes of the forget "
                                                      "class)")
    forget_ids: str | Path | None = opt(None, "--forget-ids", "instead of --forget: a file listing the ids of the "
                                                              "training notes to forget (one column, or .txt with "
                                                              "one id per line)", metavar="FILE")
    forget_from_run: str | Path | None = opt(None, "--forget-from-run", "instead of --forget / --forget-ids: the forget "
                                                                    "set of a finished run (its directory or id), "
                                                                    "found again in --train by the SHA-256 of its "
                                                                    "notes that the run kept", metavar="RUN")
    id_column: str | None = opt(None, "--id-column", "the training file's column of note ids that --forget-ids "
                                                     "refers to (detected if omitted)", metavar="C")
    forget_text_column: str | None = opt(None, "--forget-text-column", "column of the forget file holding the note "
                                                                       "text (default: as --text-column)")
    forget_label_column: str | None = opt(None, "--forget-label-column", "column of the forget file holding the "
                                                                         f"label; '{NO_LABEL_COLUMN}' = it has none, "
                                                                         "every note is of --forget-class (default: "
                                                                         "as --label-column, else detected)")
    seed: int = opt(0, "--seed", "random seed of the method", type=int)
    device: str = opt("auto", "--device", "auto (CUDA, else MPS, else CPU), cpu, cuda or mps")
    precision: str = opt("auto", "--precision",
                         "autocast: auto = on CUDA bf16 where supported (fp16 for scoring otherwise), fp32 "
                         "elsewhere; fp32 = none; fp16 needs a CUDA GPU; bf16 needs a CUDA GPU or a CPU with "
                         "AMX / AVX-512 BF16 (there about 2x faster, not bit-exact)", choices=PRECISIONS)
    text_column: str | None = opt(None, "--text-column", "column holding the note text (detected if omitted)")
    label_column: str | None = opt(None, "--label-column", "column holding the label (detected if omitted)")
    max_length: int = opt(128, "--max-length", "tokens per note (longer notes are truncated)", type=int)
    batch_size: int = opt(64, "--batch-size", "notes per batch when scoring (lower it if the GPU runs out of "
                                              "memory)", type=int)
    min_forget: int = opt(10, "--min-forget", "fewest forget examples accepted", type=int)
    max_file_mb: float = opt(DEFAULT_MAX_FILE_MB, "--max-file-mb", "refuse data files larger than this many MB",
                             type=float)
    lock_wait_s: float = opt(0.0, "--wait", "if another run on the same model is in progress, wait up to this "
                                            "long (default: refuse at once)", type=float, metavar="SECONDS")
    use_cache: bool = opt(True, "--no-cache", "disable the exact feature cache (for benchmarks)", kind="negated")
    allow_pickle: bool = opt(False, "--allow-pickle", "accept pickle weights (pytorch_model.bin) - runs code "
                                                      "from the file", kind="flag")
    request_id: str = opt("", "--request-id", "deletion request id (recorded in the ledger and report)")
    requester: str = opt("", "--requester", "who asked for the deletion")
    reason: str = opt("", "--reason", "why")
    operator: str = opt("", "--operator", "who runs it (default: $USER)")
    record_ledger: bool = True

    # -- the command line ----------------------------------------------------------------------
    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser) -> None:
        """Add one option per field that has one (the parser's dest is the field name)."""
        for f in fields(cls):
            o = cli_option(f)
            if o is not None:
                parser.add_argument(o.flag, dest=f.name, help=o.help, **_argparse_kwargs(f, o))

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides) -> "RunRequest":
        values = {f.name: _parse_value(cli_option(f), getattr(args, f.name))
                  for f in fields(cls) if cli_option(f) is not None and getattr(args, f.name) is not None}
        return cls(**{**values, **overrides})

    def to_argv(self) -> list[str]:
        """The command-line arguments that make :meth:`from_args` give back this request."""
        argv: list[str] = []
        for f in fields(self):
            o = cli_option(f)
            if o is not None:
                argv += _argv_of(o, getattr(self, f.name))
        return argv

    # -- checks --------------------------------------------------------------------------------
    def validate(self) -> None:
        """Cheap checks that need neither the model nor the data; raise before anything is written."""
        resolve_device(self.device)
        checks = [(self.max_length, MIN_MAX_LENGTH, "--max-length", "tokens per note"),
                  (self.min_forget, 1, "--min-forget", "fewest forget examples"),
                  (self.batch_size, 1, "--batch-size", "notes per scoring batch")]
        for value, lo, flag, what in checks:
            check_whole_number(value, lo, flag, what)
        if not (isinstance(self.max_file_mb, (int, float)) and self.max_file_mb > 0):
            raise ConfigError(f"--max-file-mb must be a positive number of megabytes; got {self.max_file_mb!r}.")
        check_seed(self.seed)
        if not (isinstance(self.lock_wait_s, (int, float)) and math.isfinite(self.lock_wait_s) and self.lock_wait_s >= 0):
            raise ConfigError(f"--wait must be a number of seconds, 0 or more; got {self.lock_wait_s!r}.",
                              hint="0 (the default) refuses at once when another run holds the model.")
        self.check_request_fields()
        if sum(1 for given in (self.forget, self.forget_ids, self.forget_from_run) if given) > 1:
            raise ConfigError("give the forget set one way only: as notes (--forget), as ids (--forget-ids) or as a "
                              "finished run's (--forget-from-run).", hint="Leave out all but one of these options.")
        if self.id_column and not self.forget_ids:
            raise ConfigError("--id-column names the training file's id column for --forget-ids; give --forget-ids "
                              "too, or leave --id-column out.")
        if Path(self.out).expanduser().exists():
            raise ConfigError(f"output directory '{self.out}' already exists.",
                              hint="Choose a new --out; finished runs are never overwritten.")

    def check_request_fields(self) -> None:
        """The request's free-text fields go into the ledger twice and onto the report: a bounded length."""
        for flag, value in (("--request-id", self.request_id), ("--requester", self.requester),
                            ("--reason", self.reason), ("--operator", self.operator)):
            if len(str(value or "")) > MAX_REQUEST_FIELD_CHARS:
                raise ConfigError(f"{flag} is {len(str(value)):,} characters long; at most "
                                  f"{MAX_REQUEST_FIELD_CHARS:,} are recorded.",
                                  hint="Give a reference (a ticket number, a file name) rather than the text itself.")

    def shared_fields(self) -> dict:
        """The fields every request has (to derive one kind of request from another)."""
        return {f.name: getattr(self, f.name) for f in fields(RunRequest)}


@dataclass
class UnlearnRequest(RunRequest):
    """One method on one deletion request: ``python -m steu_core unlearn``."""

    command: ClassVar[str] = "unlearn"

    method: str = opt("steu", "--method", "unlearning method (default steu)")
    settings: dict = opt({}, "--settings", "JSON object of further method settings, e.g. '{\"max_steps\": 40}'",
                         kind="json")
    seeds: int = opt(1, "--seeds", "run the method this many times (seed, seed+1, ...): every figure gets its "
                                   "spread across seeds and the verdicts take the least favourable; the model "
                                   "version kept is the first seed's (3-5 on a CPU)", type=int)

    def validate(self) -> None:
        check_whole_number(self.seeds, 1, "--seeds", "runs of the method")
        if self.seeds > MAX_SEEDS:
            raise ConfigError(f"--seeds {self.seeds} is more than {MAX_SEEDS}.", hint="3-5 seeds show the spread.")
        check_seed(self.seed, runs=self.seeds)
        method_cls = get_method(self.method)
        method_cls(self.settings, use_cache=self.use_cache)  # the method's config refuses bad settings
        super().validate()


@dataclass
class PrecomputeRequest(UnlearnRequest):
    """The original model's scores of an :class:`UnlearnRequest`, computed before it is run and kept in the
    cache of original scores: ``python -m steu_core precompute`` (:mod:`steu_core.runs.precompute`). The same
    fields as the request it prepares (method, settings and seed choose the notes the method will ask for);
    nothing is recorded in the ledger."""

    command: ClassVar[str] = "precompute"
    record_ledger: bool = False


@dataclass
class CompareRequest(RunRequest):
    """Several methods on one deletion request, with the deep audits: ``python -m steu_core compare``."""

    command: ClassVar[str] = "compare"

    out: str | Path = opt(flag="--out", help="new directory for the comparison (must not exist; default: a new one "
                                             "under the data directory's comparisons/, where the dashboard finds it)")
    methods: list[str] = opt(list(DEFAULT_METHODS), "--methods", f"comma-separated methods (default: "
                                                               f"{','.join(DEFAULT_METHODS)})", kind="list")
    settings: dict = opt({}, "--settings", "JSON object of per-method settings, e.g. "
                                           "'{\"steu\": {\"k\": 50}, \"retrain_oracle\": {\"epochs\": 3}}'", kind="json")
    audits: list[str] | None = opt(None, "--audits", "comma-separated deep audits (default: all)", kind="list")
    audit_settings: dict = opt({}, "--audit-settings", "JSON object of per-audit settings, e.g. "
                                                       "'{\"relearn\": {\"mode\": \"head\", \"max_steps\": 100}}'",
                               kind="json")
    full_relearning: bool = opt(False, "--full-relearning", f"the full-model relearning attacker's full set "
                                                            f"({relearning_words()}: several times longer on a CPU) "
                                                            f"instead of the CPU-sized one "
                                                            f"({relearning_words(QUICK_RELEARNING)}); the time of "
                                                            f"either is estimated before the start", kind="flag")
    retain_sample: int = opt(256, "--retain-sample", "retain notes scored per model for the audits", type=int)
    n_boot: int = opt(1000, "--bootstrap", "bootstrap resamples per interval", type=int)
    # comparisons are experiments, not deletions; opt in to log them
    record_ledger: bool = opt(False, "--record-ledger", "record each method's run in the ledger", kind="flag")

    def validate(self) -> None:
        self.check_methods()
        self.check_audits()
        for flag, value, lo in (("--retain-sample", self.retain_sample, 2), ("--bootstrap", self.n_boot, 10)):
            check_whole_number(value, lo, flag)
        super().validate()

    def check_methods(self) -> None:
        if not self.methods:
            raise ConfigError("no methods to compare.", hint=f"Give --methods, e.g. {','.join(DEFAULT_METHODS[:3])}.")
        if len(set(self.methods)) != len(self.methods):
            twice = next(m for m in self.methods if self.methods.count(m) > 1)
            raise ConfigError(f"method '{twice}' is listed twice.", hint="List each method once.")
        for m in self.methods:
            get_method(m)
        if not isinstance(self.settings, dict) or not all(isinstance(v, dict) for v in self.settings.values()):
            raise ConfigError("method settings must be a JSON object of objects, e.g. '{\"steu\": {\"max_steps\": 40}}'.")
        extra = sorted(set(self.settings) - set(self.methods))
        if extra:
            raise ConfigError(f"settings given for method(s) not being compared: {', '.join(extra)}.",
                              hint=f"Compared: {', '.join(self.methods)}.")
        for m in self.methods:
            get_method(m)(self.settings.get(m, {}), use_cache=self.use_cache)  # bad settings are refused here

    def check_audits(self) -> None:
        for a in self.audits or []:
            if a not in DEEP_AUDITS:
                raise ConfigError(f"unknown audit '{a}'", hint=f"Available: {', '.join(sorted(DEEP_AUDITS))}.")
        if not isinstance(self.audit_settings, dict) or not all(isinstance(v, dict) for v in self.audit_settings.values()):
            raise ConfigError("--audit-settings must be a JSON object of objects, e.g. '{\"relearn\": {\"max_steps\": 50}}'.")
        extra = sorted(set(self.audit_settings) - set(self.audits or DEEP_AUDITS))
        if extra:
            raise ConfigError(f"settings given for audit(s) not being run: {', '.join(extra)}.")
        for a, given in self.audit_settings.items():
            check_audit_settings(a, given)  # bad audit settings are refused before any method runs

    def deep_audit_settings(self) -> dict:
        """The settings the deep audits run with: those given, over the CPU-sized relearning set
        (``relearn_full.QUICK``) unless the full set is asked for."""
        settings = {name: dict(given) for name, given in self.audit_settings.items()}
        if not self.full_relearning:
            settings[RELEARN_FULL] = {**QUICK_RELEARNING, **settings.get(RELEARN_FULL, {})}
        return settings

    def unlearn_request(self, method: str, out: str | Path) -> UnlearnRequest:
        """The run of one compared method."""
        return UnlearnRequest(**{**self.shared_fields(), "out": out}, method=method,
                              settings=dict(self.settings.get(method, {})))


def _argparse_kwargs(f, o: Option) -> dict:
    if o.kind == "flag":
        return {"action": "store_true"}
    if o.kind == "negated":
        return {"action": "store_false"}
    if o.kind in ("json", "list"):
        return {"default": None, "metavar": o.metavar}
    default = None if f.default is MISSING else f.default
    return {"type": o.type, "default": default, "required": o.required, "choices": o.choices, "metavar": o.metavar}


def _parse_value(o: Option, raw):
    if o.kind not in ("json", "list"):
        return raw
    if o.kind == "list":
        return [x.strip() for x in str(raw).split(",") if x.strip()]
    return parse_json_object(raw, o.flag)


def parse_json_object(raw: str, name: str, hint: str | None = None) -> dict:
    """A JSON object typed by a person (``name``: the option or field it was typed into; ``hint``:
    how to fix it there, by default the command line's words)."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} is not valid JSON ({type(exc).__name__} at character {getattr(exc, 'pos', '?')}).",
                          hint=hint or f"Give a JSON object in single quotes, e.g. {name} '{{\"max_steps\": 40}}'.") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object, e.g. '{{\"max_steps\": 40}}'.")
    return value


def _argv_of(o: Option, value) -> list[str]:
    if o.kind == "flag":
        return [o.flag] if value else []
    if o.kind == "negated":
        return [] if value else [o.flag]
    if value is None:
        return []
    if o.kind == "json":
        return [o.flag, json.dumps(value, sort_keys=True)] if value else []
    if o.kind == "list":
        return [o.flag, ",".join(value)]
    return [o.flag, str(value)]


def request_fields_of(paths: dict, by_ids: bool, columns: dict, train_columns: list[str], forget_class: str | None,
                      min_forget: int, people: dict) -> dict:
    """A request's fields from a form's choices (the dashboard's): ``paths`` of train / eval / forget, whether the
    forget file lists ids, the picked ``columns`` (``text_column``, ``label_column``, ``forget_text_column``,
    ``forget_label_column``, ``id_column``), the training file's column names, and the people. A picked column that
    is the detected one is left out (each file, the forget file too, then detects its own), and so are the other
    kind of forget file's columns. The pre-flight checks and the run are made from the same fields."""
    columns = {f: columns.get(f) or None for f in FORM_COLUMNS}
    detected = guess_columns(train_columns)
    for f, role in (("text_column", "text"), ("label_column", "label")):
        if columns[f] == detected[role]:
            columns[f] = None
    for f in (("forget_text_column", "forget_label_column") if by_ids else ("id_column",)):
        columns[f] = None
    forget = paths.get("forget")
    return {"train": paths.get("train"), "eval": paths.get("eval"), "forget": None if by_ids else forget,
            "forget_ids": forget if by_ids else None, "forget_class": forget_class, "min_forget": int(min_forget),
            **columns, **{k: people.get(k, "") for k in PEOPLE}}
