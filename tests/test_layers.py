"""The package's layers, read from its imports: data flows from authoring through grading (and the
judge it runs) to the results' views, never back."""
import ast
from itertools import combinations
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nnlab"
BASE = "base"  # the package's own top-level modules: the course folder, notebooks, the CLI
# what each layer may import, besides the base modules and itself
ALLOWED = {
    "judge": set(),
    "confinement": set(),
    "steps": {"judge", "confinement"},
    "grading": {"steps", "confinement"},
    "results": {"grading", "steps"},
    "authoring": {"grading", "steps", "results"},  # the demo runs the whole course
}


def layer(module):
    """The layer of a module given as its dotted name inside the package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else BASE


def imports(path):
    """The package's modules that the module at `path` imports (dotted names)."""
    name = ".".join(("nnlab", *path.relative_to(PACKAGE).with_suffix("").parts))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("nnlab")}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("nnlab"):
                # `from . import review` names a module; `from .x import f` names a function
                found |= {f"{target}.{alias.name}" if is_module(f"{target}.{alias.name}") else target
                          for alias in node.names}
    return name, found


def is_module(dotted):
    return PACKAGE.parent.joinpath(*dotted.split(".")).with_suffix(".py").is_file()


def graph():
    """{module: modules of the package it imports}, for every module of the package."""
    return dict(imports(path) for path in sorted(PACKAGE.rglob("*.py")))


def test_the_reader_of_imports_sees_relative_and_absolute_imports():
    edges = graph()
    assert "nnlab.grading.outcome" in edges["nnlab.results.export"]  # from ..grading.outcome import ...
    assert "nnlab.steps.review" in edges["nnlab.steps.autograde"]  # from . import review
    assert "nnlab.judge.client" in edges["nnlab.steps.execution"]


def test_each_layer_imports_only_the_layers_before_it():
    wrong = [f"{module} imports {target}" for module, targets in graph().items() for target in targets
             if layer(module) != BASE and layer(target) not in ALLOWED[layer(module)] | {BASE, layer(module)}]
    assert not wrong


def test_base_modules_import_no_layer():
    wrong = [f"{module} imports {target}" for module, targets in graph().items() if layer(module) == BASE
             and module != "nnlab.cli" for target in targets if layer(target) != BASE]
    assert not wrong


@pytest.mark.parametrize("first, second", list(combinations(ALLOWED, 2)))
def test_no_two_layers_import_each_other(first, second):
    edges = {(layer(m), layer(t)) for m, targets in graph().items() for t in targets}
    assert not {(first, second), (second, first)} <= edges
