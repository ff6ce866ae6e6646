"""The layout is part of the design (docs/architecture.md): these checks keep it true.

Imports point inwards only: domain <- wire <- use cases <- adapters, edges <- bootstrap <- handlers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "roomcast"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_HANDLER_LINES = 50

# What each layer may import from roomcast (besides itself).
ALLOWED = {
    "domain": {"domain"},
    "wire": {"domain", "wire"},
    "usecases": {"domain", "wire", "usecases"},
    "adapters": {"domain", "wire", "usecases", "adapters"},
    "edges": {"domain", "wire", "usecases", "adapters", "edges"},
}


def sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def roomcast_imports(path: Path) -> set[str]:
    """The roomcast modules a file imports, anywhere in it (lazy imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {name for name in names if name == "roomcast" or name.startswith("roomcast.")}
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("path", list(sources("shared", "local")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("path", list(sources("shared", "local", "functions")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_is_over_60_lines(path: Path) -> None:
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_inwards(layer: str) -> None:
    wrong = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in (PACKAGE / layer).rglob("*.py")
        for module in roomcast_imports(path)
        if module != "roomcast" and layer_of(module) not in ALLOWED[layer]
    }
    assert wrong == set()


def test_the_domain_package_never_reaches_for_the_local_stack_or_the_cli() -> None:
    text = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    assert "roomcast_local" not in text
    assert "roomcast_cli" not in text


@pytest.mark.parametrize("path", sorted((ROOT / "functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_handlers_are_thin_and_build_through_bootstrap(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_HANDLER_LINES
    layers = {layer_of(module) for module in roomcast_imports(path)} - {""}
    assert layers <= {"bootstrap", "settings", "edges", "domain", "auth"}
    assert "bootstrap" in layers


def test_function_folders_are_named_after_the_template_logical_ids() -> None:
    template = (ROOT / "template.yaml").read_text()
    for folder in sorted((ROOT / "functions").iterdir()):
        logical_id = "".join(part.title() for part in folder.name.split("_"))
        assert f"  {logical_id}:\n" in template, f"{folder.name} has no {logical_id} in template.yaml"
        assert f"CodeUri: functions/{folder.name}/" in template


def test_test_modules_have_unique_names() -> None:
    """pytest imports test modules by basename (rootdir mode, no packages): two files of one name in
    different folders stop the whole run at collection."""
    seen: dict[str, Path] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        assert path.name not in seen, f"{path} has the name of {seen[path.name]}"
        seen[path.name] = path
