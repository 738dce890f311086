"""What every unlearning method takes and returns."""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Callable

import torch

from ..errors import ConfigError
from ..model import Classifier, Encoded
from ..pmi import TokenScore
from ..registries import refuse_duplicate
from .settings import bounds_text


@dataclass
class UnlearnContext:
    """One deletion request, tokenised: the original model (never edited) and the data."""

    original: Classifier
    forget: Encoded                 # forget-set token ids (all of class forget_class_id)
    retain: Encoded                 # retain-set token ids (training notes of the other classes)
    retain_labels: torch.Tensor     # label ids of the retain set
    forget_class_id: int
    seed: int = 0
    progress: Callable[[dict], None] | None = None
    cancel: Callable[[], bool] | None = None
    # Head inputs of the original model, computed once (None: no exact head adapter for this model)
    forget_features: torch.Tensor | None = None
    # The original's head inputs on other notes, through the cache of earlier requests:
    # ``original_features(enc, compute)`` returns the cached tensor or ``compute()`` (None: just compute)
    original_features: Callable | None = None
    # The retain notes as text (NoteSet) and the token limit, for methods that retrain from a base
    # checkpoint with its own tokenisation (retrain_oracle); None where the caller has no text.
    retain_notes: object = None
    max_length: int = 128
    # Held-out notes of the forget class a stopping rule calibrates on (stop_at 'calibrated'): split off the
    # evaluation notes before the run, so no audit scores them; None where the run took none
    calibration: Encoded | None = None

    def report(self, **info) -> None:
        if self.progress:
            self.progress(info)

    def cancelled(self) -> bool:
        return bool(self.cancel and self.cancel())


@dataclass
class AllowedChanges:
    """What a method promises to change; the parameter-diff audit fails when anything else changed."""

    embedding_rows: list[int] | None = None   # None: no embedding row may change
    head: bool = True
    everything: bool = False                  # full-model methods (baselines)


@dataclass
class MethodResult:
    model: Classifier                          # the new version (a copy; the original is untouched)
    allowed: AllowedChanges
    selected_tokens: list[TokenScore] = field(default_factory=list)
    encoder_changed: bool = False              # False: cached features stay exact outside the edited rows
    training: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)  # {"select": s, "unlearn": s}
    notes: list[str] = field(default_factory=list)
    # The new model's logits on the forget set (ctx.forget, in order), where the method scored the final
    # model there anyway (its last stopping-rule check): the run's scoring reuses them instead of a second
    # encoder pass over the same notes. None: the run scores the forget set itself.
    forget_logits: torch.Tensor | None = None
    forget_features: torch.Tensor | None = None  # the head inputs behind forget_logits, where the model has an adapter

    @property
    def row_ids(self) -> list[int]:
        return [t.id for t in self.selected_tokens]


METHODS: dict[str, type] = {}


def register(name: str):
    """Add a method class to ``METHODS`` under ``name``; a name registered twice is refused."""
    def deco(cls):
        refuse_duplicate(METHODS, name, cls)
        cls.name = name
        METHODS[name] = cls
        return cls
    return deco


def get_method(name: str):
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}'", hint=f"Available: {', '.join(sorted(METHODS))}.")
    return METHODS[name]


def check_fits(name: str, settings: dict, clf) -> None:
    """Method ``name``'s settings that need the model but not the notes (STEU's k against the vocabulary, its
    budget against the head): checked before a run does any work, so a refusal leaves nothing."""
    check = getattr(get_method(name)(settings), "check_model", None)
    if check is not None:
        check(clf)


def calibration_share(name: str, settings: dict | None) -> float:
    """The share of the forget class's evaluation notes method ``name`` with ``settings`` calibrates on and so
    takes off the audits (0: none; :func:`steu_core.runs.prepare.split_calibration`)."""
    cfg = config_from_dict(get_method(name).Config, settings)
    return float(getattr(cfg, "calibration_needed", 0.0))


def describe(name: str) -> dict:
    """What the report and front ends say about method ``name``, in plain words: its ``label``, one-line
    ``description``, ``how`` it works (what is trained, what stays frozen), what it ``edits`` ("rows+head",
    "rows", "head" or "everything") and its ``limitations``: titled paragraphs, each true for this method."""
    cls = get_method(name)
    return {"name": name, "label": cls.label, "description": cls.description, "how": cls.how, "edits": cls.edits,
            "limitations": [{"title": title, "text": text} for title, text in cls.limitations]}


def setting_names(name: str) -> set[str]:
    """The settings method ``name`` accepts (the fields of its config)."""
    return {f.name for f in fields(get_method(name).Config)}


def settings_for(name: str, values: dict) -> dict:
    """``values`` reduced to the settings method ``name`` accepts (None values dropped), for front ends
    that offer one set of inputs for several methods."""
    known = setting_names(name)
    return {k: v for k, v in values.items() if k in known and v is not None}


@dataclass(frozen=True)
class SettingField:
    """One setting of a method, as a form shows it: its type, its default and its help text."""

    name: str
    kind: str            # int | float | bool | str
    default: object
    help: str
    optional: bool       # None is allowed (the method derives a value)
    bounds: str = ""     # "at least 1", "between 0 and 1", ... (the field's own bounds, methods/settings.py)
    minimum: float | None = None  # the least value a form may offer, where the field has one
    choices: tuple[str, ...] = ()  # the values a text setting may take (empty: any text)


def setting_fields(name: str) -> list[SettingField]:
    """The settings of method ``name`` from its config's fields and their metadata (for forms)."""
    out = []
    for f in fields(get_method(name).Config):
        kinds = annotation_kinds(f.type)
        default = f.default if f.default is not MISSING else f.default_factory()
        out.append(SettingField(f.name, kinds[0] if kinds else "str", default, f.metadata.get("help", ""),
                                "None" in str(f.type), bounds_text(f.metadata), f.metadata.get("at_least"),
                                tuple(f.metadata.get("choices", ()))))
    return out


def annotation_kinds(annotation) -> list[str]:
    """``int | None`` -> ["int"]: the types a setting's annotation names, None left out."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    return [k.strip() for k in str(text).split("|") if k.strip() != "None"]


def config_from_dict(config_cls, values: dict | None):
    """Build a method's config dataclass from a dict, refusing unknown keys by name."""
    values = dict(values or {})
    known = {f.name for f in fields(config_cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)} for this method",
                          hint=f"Known settings: {', '.join(sorted(known))}.")
    for f in fields(config_cls):
        if f.name in values and values[f.name] is not None:
            _check_setting_type(f.name, values[f.name], f.type)
    return config_cls(**{k: v for k, v in values.items() if v is not None})


_SETTING_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _check_setting_type(name: str, value, annotation) -> None:
    """A setting's value must have its field's type (``int``, ``float``, ``bool``, ``str``, ``X | None``)."""
    kinds = annotation_kinds(annotation)
    if not kinds or any(k not in _SETTING_TYPES for k in kinds):
        return  # a type this check does not know: left to the method
    ok = any(isinstance(value, _SETTING_TYPES[k]) and (k == "bool" or not isinstance(value, bool)) for k in kinds)
    if not ok:
        raise ConfigError(f"setting '{name}' must be {' or '.join(kinds)} (got {type(value).__name__} "
                          f"{str(value)[:40]!r}).", hint="Fix the value in --settings.")
