"""The package's layers: dependencies point one way (mesh <- nn <- models <- inference <- app).

Read from the source with ``ast`` (no imports run), so a violation fails here whatever is installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "meshcnn_core"

# What each layer of the library may import from the package. The top-level modules (checkpoints,
# inference, recordings, training, explanations, the CLI) may import any layer.
ALLOWED = {
    "mesh": {"errors", "mesh"},
    "nn": {"errors", "mesh", "nn"},
    "data": {"errors", "mesh", "data"},
}
BASE = {"errors", "device"}  # leaf modules: import nothing from the package


def package_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, first part under meshcnn_core)`` of every import of the package in ``path``."""
    rel = path.relative_to(CORE).with_suffix("")
    pkg = list(rel.parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # "from . import x" at the top
                    parts = [a.name for a in node.names]
                out.append((node.lineno, parts[0]))
            elif node.module and node.module.split(".")[0] == "meshcnn_core":
                parts = node.module.split(".")[1:] or [a.name for a in node.names]
                out.append((node.lineno, parts[0]))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "meshcnn_core":
                    out.append((node.lineno, (a.name.split(".") + [""])[1]))
    return out


def all_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", all_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_lower_layers_never_import_higher_ones(path):
    rel = path.relative_to(CORE)
    layer = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    if layer in ALLOWED:
        allowed = ALLOWED[layer]
    elif layer in BASE:
        allowed = set()
    else:
        return  # the top level may use every layer
    bad = [(line, target) for line, target in package_imports(path) if target and target not in allowed]
    assert not bad, f"{rel} (layer {layer!r}) imports {bad}; allowed: {sorted(allowed)}"


@pytest.mark.parametrize("path", all_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_the_library_never_imports_streamlit_or_the_app(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for n in names:
            assert n.split(".")[0] not in {"streamlit", "viz_app"}, f"{path.name}:{node.lineno} imports {n}"


def test_the_checker_finds_a_violation(tmp_path):
    """The test above can fail: a mesh module that imports the network layer is caught."""
    fake = tmp_path / "meshcnn_core"
    (fake / "mesh").mkdir(parents=True)
    bad = fake / "mesh" / "bad.py"
    bad.write_text("from ..nn.pool import MeshPool\nfrom .topology import x\nimport meshcnn_core.inference\n")
    global CORE
    old, CORE = CORE, fake
    try:
        assert package_imports(bad) == [(1, "nn"), (2, "mesh"), (3, "inference")]
        with pytest.raises(AssertionError, match="imports"):
            test_lower_layers_never_import_higher_ones(bad)
    finally:
        CORE = old
