"""Executing notebooks with nbclient, reading what their cells printed, parsing their code and
finding the graded functions in it."""
import ast
import os
from contextlib import contextmanager
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

from .course import CourseError


def execute(path, env=None, timeout=300):
    """Run the notebook at `path` top to bottom in its own folder, carrying on past errors as
    nbgrader does; `env` adds environment variables for the kernel. Returns the executed notebook."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}})
    with _environment(env or {}):
        client.execute()
    return notebook


@contextmanager
def _environment(extra):
    """The kernel inherits this process's environment: set `extra` for the duration of a run."""
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def cell_id(cell):
    """The nbgrader grade_id of a cell, or None."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def text_output(cell):
    """Everything a code cell printed (streams and plain-text results), as one string."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output and "text/plain" in output.data:
            parts.append(output.data["text/plain"] + "\n")
    return "".join(parts)


def errors(notebook):
    """{grade_id or cell index: exception name} of every cell that raised."""
    found = {}
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found[cell_id(cell) or index] = output.ename
    return found


def by_id(notebook):
    """{grade_id: cell} of the cells that have one."""
    return {cell_id(cell): cell for cell in notebook.cells if cell_id(cell)}


def parse_cell(source):
    """A code cell's syntax tree, IPython magics turned into the Python they run; None if invalid."""
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


# ---------------------------------------------------------------- the functions of a student's code

def graded_functions(notebook):
    """{function name: cell} for the solution cells of a notebook that hold one `def`."""
    found = {}
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            defs = [n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)]
            if len(defs) == 1:
                found[defs[0].name] = cell
    return found


def cell_sources(text, filename="<functions>"):
    """{function name: cell source} for every top-level function of `text`, each source holding
    the file's imports, then the helpers the function uses (transitively), then the function."""
    try:
        tree = ast.parse(text, filename)
    except SyntaxError as error:
        raise CourseError(f"{filename}:{error.lineno}: syntax error: {error.msg}") from None
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    named = {name: node for node in tree.body for name in _defined_names(node)}
    sources = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            parts = imports + _helpers(node, named) + [node]
            sources[node.name] = "\n\n".join(ast.get_source_segment(text, n) for n in parts)
    return sources, _used_names(tree, named)


def _defined_names(node):
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    return []


def _helpers(function, named):
    """Top-level definitions reached from `function`'s body, in file order, without itself."""
    seen, todo = set(), [function]
    while todo:
        for name in _names(todo.pop()):
            if name in named and name not in seen and named[name] is not function:
                seen.add(name)
                todo.append(named[name])
    ordered = [node for node in named.values() if any(n in seen for n in _defined_names(node))]
    return list(dict.fromkeys(ordered))


def _names(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _used_names(tree, named):
    """Names of top-level definitions that some other top-level function refers to."""
    used = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            used |= {n for n in _names(node) if n in named and n != node.name}
    return used
