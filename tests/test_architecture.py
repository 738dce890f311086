"""The shape the code keeps (docs/ARCHITECTURE.md): no import circle, no upward import from the
library into the dashboard, short functions, small modules, no private names across modules, no
function-local import of the package's own modules unless it breaks a heavy optional dependency."""
from __future__ import annotations

import ast
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("steu_core", "dashboard")
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 60, 400


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
