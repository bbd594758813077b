"""Ways a submitted notebook gets broken in real classes, applied to a filled demo submission.

Each function takes the submission folder and the names it needs; the demo manifest lists them as
`damage = [["function", "argument", ...], ...]`.
"""
import copy
import uuid

import nbformat


def copy_cell(folder, notebook, grade_id):
    """Copy-paste of a graded cell right below itself (the copy gets a new cell id)."""
    def change(nb):
        index = _index(nb, grade_id)
        twin = copy.deepcopy(nb.cells[index])
        twin.id = uuid.uuid4().hex[:8]
        nb.cells.insert(index + 1, twin)
    _edit(folder, notebook, change)


def delete_cell(folder, notebook, grade_id):
    _edit(folder, notebook, lambda nb: nb.cells.pop(_index(nb, grade_id)))


def edit_cell(folder, notebook, grade_id, source):
    """Replace a cell's source, e.g. a test the student wants to pass."""
    _edit(folder, notebook, lambda nb: setattr(nb.cells[_index(nb, grade_id)], "source", source))


def insert_cell(folder, notebook, after, source):
    """A cell of the student's own below the cell `after` (a grade id)."""
    _edit(folder, notebook, lambda nb: nb.cells.insert(_index(nb, after) + 1,
                                                       nbformat.v4.new_code_cell(source)))


def strip_metadata(folder, notebook):
    """What copying the cells into a fresh notebook does: no nbgrader metadata anywhere."""
    def change(nb):
        for cell in nb.cells:
            cell.metadata.pop("nbgrader", None)
    _edit(folder, notebook, change)


def truncate(folder, notebook):
    """A notebook cut off mid-write (a full disk, an upload that stopped): invalid JSON."""
    path = folder / f"{notebook}.ipynb"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def remove(folder, notebook):
    (folder / f"{notebook}.ipynb").unlink()


def rename(folder, notebook, new_name):
    (folder / f"{notebook}.ipynb").rename(folder / new_name)


def add_file(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


STEPS = {step.__name__: step for step in (copy_cell, delete_cell, edit_cell, insert_cell, strip_metadata,
                                          truncate, remove, rename, add_file)}


def apply(folder, steps):
    """Apply the manifest's `damage` steps in order."""
    for name, *arguments in steps:
        if name not in STEPS:
            raise ValueError(f"unknown damage {name!r}; known: {', '.join(STEPS)}")
        STEPS[name](folder, *arguments)


def _edit(folder, notebook, change):
    path = folder / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def _index(nb, grade_id):
    return next(i for i, cell in enumerate(nb.cells)
                if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
