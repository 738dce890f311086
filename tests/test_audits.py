"""steu_core.audits: the registries, how audit modules may import, and the run audits' statistics."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from steu_core.audits import AUDITS, DEEP_AUDITS
from steu_core.audits.mia import attack_figures
from steu_core.stats import auc_with_interval, roc_auc, tpr_at_fpr

PACKAGE = Path(__file__).resolve().parent.parent / "steu_core"
AUDITS_DIR = PACKAGE / "audits"
NOT_AUDITS = {"__init__", "base", "deep_base", "deep"}


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the steu_core modules (or packages) ``path`` imports, at any depth."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                out.add(f"{module}.{alias.name}" if not node.module else module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("steu_core")}


def test_registries_hold_every_audit_in_import_order():
    assert list(AUDITS) == ["mia", "param_diff", "utility", "collateral"]
    assert list(DEEP_AUDITS) == ["forget_quality", "probe", "layer_probe", "hidden_mia", "reference_mia", "relearn",
                                 "relearn_full", "utility_ci"]


def test_audit_modules_import_a_base_module_never_the_package_or_each_other():
    audit_modules = {p.stem for p in AUDITS_DIR.glob("*.py")} - NOT_AUDITS
    for name in audit_modules | {"base", "deep_base"}:
        imported = _imported_modules(AUDITS_DIR / f"{name}.py", "steu_core.audits")
        inside = {m for m in imported if m.startswith("steu_core.audits")}
        assert "steu_core.audits" not in inside, name
        assert inside <= {"steu_core.audits.base", "steu_core.audits.deep_base"}, (name, inside)


def test_the_package_imports_every_audit_module():
    audit_modules = {p.stem for p in AUDITS_DIR.glob("*.py")} - NOT_AUDITS
    imported = _imported_modules(AUDITS_DIR / "__init__.py", "steu_core.audits")
    assert {f"steu_core.audits.{m}" for m in audit_modules} <= imported


def test_the_membership_attack_reports_the_shared_definitions():
    rng = np.random.default_rng(0)
    members = np.round(rng.normal(0.4, 1, 60), 1).astype(np.float32)  # ties, and float32 like the scores
    nonmembers = np.round(rng.normal(0, 1, 90), 1).astype(np.float32)
    out = attack_figures(members, nonmembers, seed=3)
    assert out["auc"] == roc_auc(members, nonmembers)
    assert out["auc_ci"] == auc_with_interval(members, nonmembers, seed=3)[1]
    assert out["tpr_at_1pct_fpr"] == tpr_at_fpr(members, nonmembers, 0.01)


def test_a_name_registered_twice_is_refused_naming_both():
    from steu_core.audits.base import registrar
    from steu_core.methods.base import METHODS, register

    registry: dict = {}
    register_here = registrar(registry)

    def first(inp):
        return {}

    def second(inp):
        return {}

    register_here("probe")(first)
    register_here("probe")(first)  # the same definition again (a module reload): allowed
    with pytest.raises(ValueError, match=r"'probe' is registered already \(by .*first\); .*second needs another name"):
        register_here("probe")(second)
    assert registry["probe"] is first

    class NotSteu:
        pass

    with pytest.raises(ValueError, match="'steu' is registered already"):
        register("steu")(NotSteu)
    assert METHODS["steu"].__name__ == "Steu"
