"""`nnlab fill`: a submission made from a plain Python file of function definitions.

Each graded cell of the release whose function the file defines gets that definition, preceded by
the file's imports and by the helpers (functions, constants) it uses; every other cell is left as
released. The result is written to submitted/<student>/<assignment>/ with a timestamp.txt.
"""
import ast
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from ..course import CourseError

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


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


def fill(course, functions_files, student, timestamp=None, force=False):
    """Write submitted/<student>/<assignment>/ from the release and the function files (a later
    file's definition of a function replaces an earlier one's).

    Returns the names of the functions that were filled in. Raises CourseError, writing
    nothing, on a bad file, an unknown function name, a missing release or an existing
    submission (unless `force`).
    """
    release = course.folder("release")
    notebooks = course.notebooks("release")
    if not notebooks:
        raise CourseError(f"no release notebooks in {release}: run `nnlab release` first")
    target = course.submission(student)
    if target.exists() and not force:
        raise CourseError(f"{target} exists already (use --force to replace it)")

    graded = {name for path in notebooks for name in graded_functions(nbformat.read(path, as_version=4))}
    sources = {}
    for path in map(Path, functions_files):
        sources.update(_read_functions(path, graded))
    filled_notebooks, filled = _fill_notebooks(notebooks, sources)
    _write(release, filled_notebooks, target, timestamp or datetime.now(timezone.utc))
    return filled


def _read_functions(path, graded):
    """{graded function name: cell source} of one file, after checking every name it defines."""
    if not path.is_file():
        raise CourseError(f"no such file: {path}")
    sources, helpers = cell_sources(path.read_text(), str(path))
    unknown = sorted(set(sources) - graded - helpers)
    if unknown:
        raise CourseError(f"{path}: {', '.join(unknown)} is neither a graded function nor used by one "
                          f"(graded functions: {', '.join(sorted(graded))})")
    if not graded & set(sources):
        raise CourseError(f"{path} defines none of the graded functions ({', '.join(sorted(graded))})")
    return {name: source for name, source in sources.items() if name in graded}


def _fill_notebooks(paths, sources):
    notebooks, filled = {}, []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        for name, cell in graded_functions(notebook).items():
            if name in sources:
                cell.source = sources[name]
                filled.append(name)
        notebooks[path.name] = notebook
    return notebooks, filled


def _write(release, notebooks, target, timestamp):
    """Build the submission in a temporary folder beside the target, then move it in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        staged = Path(scratch) / target.name
        shutil.copytree(release, staged, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name, notebook in notebooks.items():
            nbformat.write(notebook, staged / name)
        (staged / "timestamp.txt").write_text(timestamp.strftime(TIMESTAMP_FORMAT))
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
