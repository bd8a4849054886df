"""The layout's rules, checked on the source: imports run one way, no cycles, no private names across modules,
small modules and functions, a linter configured. See docs/researchers.md, "Layout"."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "synkan"

# Layers, lowest first: a module may import from its own layer or a lower one, never a higher one.
LAYERS = (
    ("_version", "errors", "_util", "config", "report_json", "visit"),
    ("measure",),
    ("grade",),
    ("analysis", "tables", "text"),
    ("clinic",),
    ("report",),
    ("synth", "batch"),
    ("validation",),
    ("live", "cli"),
)
# The package root (lazy public API) and the old-path aliases sit above every layer.
EXEMPT = {"synkan", "synkan._compat"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_CODE_LINES = 60


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> list[tuple[str, str, int]]:
    """``(imported module, imported name or '', line)`` for every import in ``module``, at any depth."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, "", node.lineno) for a in node.names if a.name.startswith("synkan")]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            if target.startswith("synkan"):
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    found.append((sub, "", node.lineno) if sub in MODULES else (target, a.name, node.lineno))
    return found


def _layer(module: str) -> int:
    top = module.split(".")[1]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def test_imports_run_one_way():
    wrong = []
    for module, path in MODULES.items():
        if module in EXEMPT:
            continue
        for target, _, line in _imports(module, path):
            if target not in EXEMPT and target in MODULES and _layer(target) > _layer(module):
                wrong.append(f"{path.name}:{line} {module} -> {target}")
    assert not wrong, "imports that run back up the layers:\n" + "\n".join(wrong)


def test_no_import_cycles():
    graph = {m: {t for t, _, _ in _imports(m, p) if t in MODULES and t not in EXEMPT and t != m}
             for m, p in MODULES.items() if m not in EXEMPT}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [node, nxt]) if nxt in stack else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_private_names_across_modules():
    wrong = [f"{m} imports {t}.{name}" for m, p in MODULES.items() for t, name, _ in _imports(m, p)
             if name.startswith("_") and not name.startswith("__") and t != m]
    wrong += [f"{m} imports private module {t}" for m, p in MODULES.items() for t, _, _ in _imports(m, p)
              if t.split(".")[-1].startswith("_") and not t.split(".")[-1].startswith("__")
              and t.split(".")[1] not in ("_util", "_version", "_compat")]
    assert not wrong, "\n".join(wrong)


def _code_lines(node: ast.AST, lines: list[str]) -> int:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # the docstring does not count
    if not body:
        return 0
    text = lines[body[0].lineno - 1: node.end_lineno]
    return sum(1 for line in text if line.strip() and not line.strip().startswith("#"))


def test_modules_and_functions_are_small():
    big = [f"{p.relative_to(PACKAGE.parent)}: {n} lines" for p in MODULES.values()
           if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    long = []
    for path in MODULES.values():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (n := _code_lines(node, lines)) > MAX_FUNCTION_CODE_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: {n} lines of code")
    assert not big + long, "\n".join(big + long)


def test_ruff_passes():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    root = PACKAGE.parent
    result = subprocess.run([ruff, "check", "--no-cache", "synkan", "tests", "benchmarks"], cwd=root,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_import_names_a_module_of_the_package():
    """Imports inside functions run late; a moved module must not leave one pointing nowhere."""
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    wrong = [f"{p.relative_to(PACKAGE.parent)}:{line} imports {target}" for m, p in MODULES.items()
             for target, _, line in _imports(m, p) if target not in MODULES and target not in packages]
    assert not wrong, "\n".join(wrong)
