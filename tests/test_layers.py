"""Imports follow the layers of docs/architecture.md: each module imports only from its own layer or
lower ones, and ``texture`` imports nothing from ``pipelines``. Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Longest prefix wins. The numbers are the layers of docs/architecture.md (0 = bottom).
LAYERS = {
    "texture": 0,
    "pipelines.record": 1,
    "pipelines.io": 1,
    "pipelines.config": 2,
    "pipelines.assays": 3,
    "pipelines.analyze": 4,
    "pipelines.batch": 5,
    "pipelines.tables": 6,
    "pipelines.outputs": 7,
    "pipelines.run": 8,
    "pipelines.cli": 9,
    "pipelines.samples": 9,
    "pipelines": 9,  # the package itself: analyze_folder, imported lazily
}


def layer_of(module: str) -> int | None:
    matches = [prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")]
    return LAYERS[max(matches, key=len)] if matches else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # "from pipelines.io import files" imports the submodule pipelines.io.files
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


SOURCES = sorted(p for pkg in ("texture", "pipelines") for p in (REPO / pkg).rglob("*.py"))


def test_every_source_module_has_a_layer():
    assert SOURCES, "no source files found"
    missing = [module_name(p) for p in SOURCES if layer_of(module_name(p)) is None]
    assert not missing, (
        f"modules outside every layer (add them to LAYERS and docs/architecture.md): {missing}"
    )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_only_go_down(path):
    me = module_name(path)
    mine = layer_of(me)
    upward = []
    for line, target in imported_modules(path):
        if target.split(".")[0] not in ("texture", "pipelines"):
            continue
        theirs = layer_of(target)
        if theirs is not None and theirs > mine:
            upward.append(f"line {line}: {target} (layer {theirs} > {mine})")
    assert not upward, f"{me} imports a higher layer: " + "; ".join(upward)


def test_texture_never_imports_pipelines_pandas_or_files():
    offenders = []
    for path in (REPO / "texture").rglob("*.py"):
        for line, target in imported_modules(path):
            root = target.split(".")[0]
            if root in ("pipelines", "pandas") or target in ("tifffile", "PIL.Image.open"):
                offenders.append(f"{module_name(path)} line {line}: {target}")
    assert not offenders, offenders


def test_the_layer_check_catches_an_upward_import(tmp_path):
    # The checker itself must be able to fail: an assay importing the report is an upward import.
    assert layer_of("pipelines.outputs.report.views") > layer_of("pipelines.assays.photo")
    assert layer_of("pipelines.io.decode") < layer_of("pipelines.assays.slide")
    fake = tmp_path / "m.py"
    fake.write_text("def f():\n    from pipelines.outputs.report import build_report\n")
    assert (2, "pipelines.outputs.report") in imported_modules(fake)
