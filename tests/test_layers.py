"""The package's layers: core < formats < eval < training < apps. A module imports only its own layer
and the layers below it (module-level and function-level imports alike), there is no import cycle,
only the CLI layer uses argparse, and no module is longer than 800 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "reexposure"
LAYERS = ("core", "formats", "eval", "training", "apps")


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Package modules that ``name`` imports anywhere in its file (resolved to existing modules)."""
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in modules:
                t = t.rsplit(".", 1)[0] if "." in t else ""
            if t and t != name:
                found.add(t)
    return found


def _layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_lower_layers_never_import_higher_ones() -> None:
    modules = _modules()
    bad = []
    for name, path in modules.items():
        mine = _layer(name)
        if mine is None:
            continue
        for t in _imports(name, path, modules):
            theirs = _layer(t)
            if theirs is not None and theirs > mine:
                bad.append(f"{name} -> {t}")
    assert not bad, "imports from a higher layer: " + ", ".join(sorted(bad))


def test_no_import_cycles() -> None:
    modules = _modules()
    # edges to a package's __init__ are its re-exports; follow the modules themselves
    edges = {n: {t for t in _imports(n, p, modules) if modules[t].name != "__init__.py" and not n.startswith(t + ".")}
             for n, p in modules.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(n: str, stack: list[str]) -> bool:
        state[n] = 1
        for t in sorted(edges[n]):
            if state.get(t) == 1:
                cycle.extend(stack[stack.index(t):] + [n, t] if t in stack else [n, t])
                return True
            if t not in state and visit(t, [*stack, n]):
                return True
        state[n] = 2
        return False

    for n in sorted(modules):
        if n not in state and visit(n, []):
            break
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_only_the_cli_uses_argparse() -> None:
    users = sorted(n for n, p in _modules().items()
                   if "argparse" in {a.name for node in ast.walk(ast.parse(p.read_text()))
                                     if isinstance(node, ast.Import) for a in node.names}
                   and not n.startswith("reexposure.apps.cli"))
    assert users == []


def test_no_module_over_800_lines() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in _modules().items()}
    assert {n: k for n, k in long.items() if k > 800} == {}


def test_the_checker_sees_function_level_and_relative_imports() -> None:
    modules = _modules()
    photo_cli = "reexposure.apps.cli.photo"  # imports formats.io inside its handlers
    found = _imports(photo_cli, modules[photo_cli], modules)
    assert {"reexposure.formats.io", "reexposure.apps.cli.common", "reexposure.apps.compare"} <= found
    assert _layer(photo_cli) == LAYERS.index("apps") and _layer("reexposure") is None
