"""Audits behind two registries.

- ``AUDITS`` (:mod:`.base`): the audits of every unlearning run. Each takes :class:`AuditInputs`
  and returns a dict of results that goes into results.json as is (see docs/CONTRACTS.md).
- ``DEEP_AUDITS`` (:mod:`.deep_base`): the costly audits ``compare`` runs over several models at
  once. Each takes :class:`DeepInputs` and returns ``{audit name: {...}}``.

An audit module imports :mod:`.base` or :mod:`.deep_base` (and :mod:`steu_core.stats`), never this
package or another audit; its ``@register_audit`` / ``@register_deep_audit`` puts it into its
registry when this package imports it below. A new audit is one new module plus one import line.
Audits run in import order.
"""
from .base import AUDITS, AuditInputs, register_audit, run_audits
from .deep_base import DEEP_AUDITS, DeepInputs, ModelOutputs, register_deep_audit, run_deep_audits

from . import mia  # noqa: F401  (run audits, in the order they run)
from . import param_diff  # noqa: F401
from . import utility  # noqa: F401
from . import collateral  # noqa: F401
from . import forget_quality  # noqa: F401  (deep audits, in the order they run)
from . import probe  # noqa: F401
from . import layer_probe  # noqa: F401
from . import hidden_mia  # noqa: F401
from . import reference_mia  # noqa: F401
from . import relearn  # noqa: F401
from . import relearn_full  # noqa: F401
from . import utility_ci  # noqa: F401

__all__ = ["AUDITS", "DEEP_AUDITS", "AuditInputs", "DeepInputs", "ModelOutputs", "register_audit",
           "register_deep_audit", "run_audits", "run_deep_audits"]
