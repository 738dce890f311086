"""The shape the code keeps (docs/ARCHITECTURE.md): every module in one layer of the document's layer table,
importing only from its own layer or a lower one; what an audit module may import; no import circle, no upward
import from the library into the dashboard, short functions, small modules, no private names across modules, no
function-local import of the package's own modules unless it breaks a heavy optional dependency."""
from __future__ import annotations

import ast
import re
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("steu_core", "dashboard")
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 60, 400
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
# What an audit module may import besides the standard library and third-party packages (docs/ARCHITECTURE.md,
# "What an audit imports"): a run audit (registered through audits/base.py) only these; a deep audit (through
# audits/deep_base.py) also any module of a layer below the audits'.
RUN_AUDIT_IMPORTS = {"steu_core.audits.base", "steu_core.stats", "steu_core.result_keys", "steu_core.threat_models"}
AUDIT_BASES = {"steu_core.audits", "steu_core.audits.base", "steu_core.audits.deep_base"}


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def absolute(name: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str, path: Path, mods: dict, top_level_only: bool = True) -> set[str]:
    """The project modules ``name`` imports (at module level by default)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            target = absolute(name, path, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in mods else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m in mods and m != name}


def test_no_import_circle():
    mods = modules()
    graph = {name: imports(name, path, mods) for name, path in mods.items()}
    # a package's __init__ importing its own submodules is how a registry is filled, not a circle
    for name in graph:
        graph[name] = {m for m in graph[name] if not (m.startswith(name + ".") and mods[name].name == "__init__.py")}
    state, stack, circles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                circles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_library_never_imports_the_dashboard():
    mods = modules()
    upward = [(n, m) for n, p in mods.items() if n.startswith("steu_core")
              for m in imports(n, p, mods, top_level_only=False) if m.startswith("dashboard")]
    assert not upward


def test_functions_are_short_and_modules_small():
    long_functions, big_modules = [], []
    for name, path in modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big_modules.append(f"{name} ({len(text.splitlines())})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}.{node.name} ({length})")
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines: {long_functions}"
    assert not big_modules, f"modules over {MAX_MODULE_LINES} lines: {big_modules}"


def test_no_private_name_crosses_modules():
    mods = modules()
    crossing = []
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in PACKAGES):
                crossing += [f"{name}: {a.name}" for a in node.names if a.name.startswith("_") and a.name != "__version__"]
    assert not crossing


def test_function_local_imports_of_the_package_say_why():
    """A function-local import of the project's own modules is allowed only with a comment on the
    line before or on the line itself saying why (a heavy optional dependency)."""
    mods = modules()
    unexplained = []
    for name, path in mods.items():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and imports_project(name, path, node, mods):
                    around = lines[node.lineno - 2] + lines[node.lineno - 1]
                    if "#" not in around:
                        unexplained.append(f"{name}:{node.lineno}")
    assert not unexplained, f"function-local imports of the package without a reason: {unexplained}"


def imports_project(name: str, path: Path, node, mods) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] in PACKAGES
    return any(a.name.split(".")[0] in PACKAGES for a in node.names)


# -- layers (the table in docs/ARCHITECTURE.md is the one statement of them) ---------------------------
def layer_table() -> dict[str, int]:
    """{unit: layer number} from the document's layer table: rows ``| N | name | `unit`, `unit` ... |``; a unit
    is a file or folder of ``steu_core/`` (``runs/``, ``request.py``, ``__init__.py``), or ``dashboard/``."""
    text = ARCHITECTURE.read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            for unit in re.findall(r"`([^`]+)`", cells[2]):
                assert unit not in table, f"{unit} stands in two layers"
                table[unit] = int(cells[0])
    assert table, "docs/ARCHITECTURE.md has no layer table under '## Layers'"
    return table


def unit_of(module: str) -> str:
    """The layer table's name for a module: its top folder or file under steu_core/, or dashboard/."""
    parts = module.split(".")
    if parts[0] == "dashboard":
        return "dashboard/"
    if len(parts) == 1:
        return "__init__.py"
    return f"{parts[1]}/" if (ROOT / "steu_core" / parts[1]).is_dir() else f"{parts[1]}.py"


def test_every_module_stands_in_one_layer_of_the_architecture_page():
    table, mods = layer_table(), modules()
    missing = sorted({unit_of(m) for m in mods} - set(table))
    assert not missing, f"in no layer of docs/ARCHITECTURE.md's table (add them there): {missing}"
    stale = sorted(set(table) - {unit_of(m) for m in mods})
    assert not stale, f"docs/ARCHITECTURE.md's layer table names what does not exist: {stale}"


def test_imports_run_only_to_the_same_or_a_lower_layer():
    """Function-local imports too: a lazy import still depends on what it imports."""
    table, mods = layer_table(), modules()
    upward = []
    for name, path in mods.items():
        for target in imports(name, path, mods, top_level_only=False):
            a, b = unit_of(name), unit_of(target)
            if a in table and b in table and table[b] > table[a]:  # a unit in no layer: the test above names it
                upward.append(f"{name} (layer {table.get(a)}) imports {target} (layer {table.get(b)})")
    assert not upward, "imports that run up the layers of docs/ARCHITECTURE.md:\n" + "\n".join(upward)


def test_an_audit_imports_its_base_and_nothing_beside_or_above_it():
    """An audit module imports audits/base.py or audits/deep_base.py, never the audits package or another
    audit; a run audit nothing else of the project but RUN_AUDIT_IMPORTS; a deep audit nothing of the audits'
    layer or above."""
    table, mods = layer_table(), modules()
    audits_layer, wrong = table["audits/"], []
    for name, path in mods.items():
        if not name.startswith("steu_core.audits.") or name in AUDIT_BASES:
            continue
        found = imports(name, path, mods, top_level_only=False)
        bases = found & {"steu_core.audits.base", "steu_core.audits.deep_base"}
        if len(bases) != 1:
            wrong.append(f"{name} imports {sorted(bases) or 'neither audits/base.py nor audits/deep_base.py'}")
        elif "steu_core.audits.base" in bases:
            wrong += [f"{name} (a run audit) imports {m}" for m in sorted(found - RUN_AUDIT_IMPORTS)]
        else:
            wrong += [f"{name} (a deep audit) imports {m}" for m in sorted(found - {"steu_core.audits.deep_base"})
                      if table[unit_of(m)] >= audits_layer]
    assert not wrong, "audit imports that docs/ARCHITECTURE.md rules out:\n" + "\n".join(wrong)
