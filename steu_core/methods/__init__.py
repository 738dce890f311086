"""Unlearning methods behind one registry: same inputs (:class:`UnlearnContext`), same output
(:class:`MethodResult`). ``get_method(name)`` returns the method; ``METHODS`` lists them."""
from .base import (METHODS, MethodResult, SettingField, UnlearnContext, calibration_share, check_fits,  # noqa: F401
                   describe, get_method, register, setting_fields, setting_names, settings_for)
from . import steu  # noqa: F401  (registers "steu")
# Ablations, controls and baselines (compare them with `python -m steu_core compare`)
from . import (finetune_retain, grad_ascent, head_only, random_tokens, retrain_oracle,  # noqa: F401,E402
               steu_rows_only)
from . import erased  # noqa: F401,E402  (audits an erasure's retrained model; not offered to pick)


def selectable_methods() -> list[str]:
    """The methods an officer may pick (Run page, comparisons, ``unlearn --method``)."""
    return [name for name, cls in METHODS.items() if getattr(cls, "selectable", True)]
