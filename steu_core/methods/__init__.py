"""Unlearning methods behind one registry: same inputs (:class:`UnlearnContext`), same output
(:class:`MethodResult`). ``get_method(name)`` returns the method; ``METHODS`` lists them."""
from .base import METHODS, MethodResult, UnlearnContext, get_method, register  # noqa: F401
from . import steu  # noqa: F401  (registers "steu")
