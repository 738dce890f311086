"""What the registries share (methods, audits, deep audits, settings checks): a name registered twice is
refused, so a second entry never silently replaces the first (peft's ``register_peft_method`` does the same)."""
from __future__ import annotations


def refuse_duplicate(registry: dict, name: str, new) -> None:
    """Raise ValueError naming both owners when ``name`` is registered already (registering the same
    definition again, as a module reload does, is allowed)."""
    old = registry.get(name)
    if old is not None and old is not new and qualified(old) != qualified(new):
        raise ValueError(f"'{name}' is registered already (by {qualified(old)}); {qualified(new)} needs another name")


def qualified(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
