"""`nnlab fill`: a submission made from a plain Python file of function definitions.

Each graded cell of the release whose function the file defines gets that definition, preceded by
the file's imports and by the helpers (functions, constants) it uses; every other cell is left as
released. The result is written to submitted/<student>/<assignment>/ with a timestamp.txt.
"""
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from ..course import CourseError
from ..notebooks import cell_sources, graded_functions

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


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
