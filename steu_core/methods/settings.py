"""What the methods' settings share: each bound sits on its field (``setting(..., at_least=1)``), one
validator checks them all when a config is built (as LeakPro declares its attack configs), and the stopping
rule's fields are declared once (:class:`StoppingRule`, :class:`SparseStoppingRule`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from ..errors import ConfigError


def setting(default, help: str, *, at_least: float | None = None, above: float | None = None,
            at_most: float | None = None, choices: tuple[str, ...] | None = None):
    """A config field with its help text and its bounds or choices (checked by :func:`check_bounds`, shown by
    forms)."""
    bounds = {k: v for k, v in (("at_least", at_least), ("above", above), ("at_most", at_most),
                                ("choices", choices)) if v is not None}
    return field(default=default, metadata={"help": help, **bounds})


def bounds_text(metadata) -> str:
    """A field's bounds in words: "at least 1", "a positive number", "zero or more", "between 0 and 1"."""
    lo, above, hi = metadata.get("at_least"), metadata.get("above"), metadata.get("at_most")
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}"
    if above is not None and hi is not None:
        return f"above {above:g}, at most {hi:g}"
    if above == 0:
        return "a positive number"
    if above is not None:
        return f"above {above:g}"
    if lo == 0 and isinstance(lo, float):
        return "zero or more"
    return f"at least {lo:g}" if lo is not None else ""


def within_bounds(value, metadata) -> bool:
    lo, above, hi = metadata.get("at_least"), metadata.get("above"), metadata.get("at_most")
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return ((lo is None or value >= lo) and (above is None or value > above) and (hi is None or value <= hi))


def check_bounds(config) -> None:
    """Raise ConfigError naming the first setting of ``config`` outside its field's bounds or choices."""
    for f in fields(config):
        value = getattr(config, f.name)
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"setting '{f.name}' must be one of {', '.join(choices)} (got {value!r}).",
                              hint=f.metadata["help"])
        if value is None or isinstance(value, (bool, str)) or not bounds_text(f.metadata):
            continue
        if not within_bounds(value, f.metadata):
            raise ConfigError(f"setting '{f.name}' must be {bounds_text(f.metadata)} (got {value}).")


FORGOTTEN, CALIBRATED = "forgotten", "calibrated"
STOP_AT = (FORGOTTEN, CALIBRATED)
# Over-forgetting leaks as surely as under-forgetting: forget notes pushed further than unseen notes of their
# class are told apart by their loss (Kurmanji et al., SCRUB+R, NeurIPS 2023), hence a stop calibrated on
# held-out notes rather than at maximum forget error.
STOP_AT_HELP = ("when the edit stops: 'forgotten' once forget F1 on the forget set reaches its target (STEU); "
                "'calibrated' also waits until the forget notes' loss on the class is no lower than that of held-out "
                "notes of the class (AUC <= 0.5), split off the evaluation notes and taken off every audit")


@dataclass
class StoppingRule:
    """Steps until forget F1 on the forget set reaches its target, checked every few steps, or a bound."""

    max_steps: int = setting(40, "upper bound on optimisation steps", at_least=1)
    check_every: int = setting(5, "steps between checks of forget F1 on the forget set", at_least=1)
    forget_f1_target: float = setting(0.01, "stop once forget F1 on the forget set is at or below this",
                                      at_least=0.0, at_most=1.0)

    def __post_init__(self):
        check_bounds(self)


@dataclass
class SparseStoppingRule(StoppingRule):
    """The sparse edits' rule also waits some steps and holds the retain loss near its start."""

    max_steps: int = setting(60, "upper bound on optimisation steps", at_least=1)
    min_steps: int = setting(5, "steps before early stopping may trigger", at_least=0)
    retain_tolerance: float = setting(0.05, "retain loss may rise at most this much over its start", at_least=0.0)
    stop_at: str = setting(FORGOTTEN, STOP_AT_HELP, choices=STOP_AT)
    calibration_share: float = setting(0.33, "share of the evaluation notes of the forget class split off to "
                                             "calibrate stop_at 'calibrated' (taken off every audit)",
                                       above=0.0, at_most=0.5)

    @property
    def calibration_needed(self) -> float:
        """The share of the forget class's evaluation notes this rule calibrates on (0: none)."""
        return self.calibration_share if self.stop_at == CALIBRATED else 0.0
