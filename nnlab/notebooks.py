"""Executing notebooks with nbclient, reading what their cells printed, parsing their code."""
import ast
import os
from contextlib import contextmanager
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient


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
