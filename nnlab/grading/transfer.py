"""What travels between the TA's course and a grading, which works on a gradebook of its own
(`private_gradebook`), whether forked on this machine or run by a cluster worker that shares
nothing but the network: files as {relative path: bytes}, a gradebook holding only the assignment
(`assignment_gradebook`) and one student's rows of the gradebook (scores, comments, flags, review
history), shipped to the grading and brought back graded.

So the course's gradebook is written by one process, the batch's, once per submission: graders at
once never wait on each other's writes, and a grading that dies leaves nothing half-written.
Rows are written through nbgrader's Gradebook API. Its methods commit after every change;
`one_transaction` turns those commits into flushes, so that a student's rows are committed together
or not at all (a crash leaves the old grades or the new ones, never a mix).
"""
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import create_engine, text

from ..steps import review

GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
COMMENT_FIELDS = ("auto_comment", "manual_comment")
# The cells of a notebook in the gradebook: nbgrader's method that adds one, and its fields.
CELLS = {"grade_cells": ("add_grade_cell", ("max_score", "cell_type")),
         "solution_cells": ("add_solution_cell", ()),
         "task_cells": ("add_task_cell", ("max_score", "cell_type")),
         "source_cells": ("add_source_cell", ("cell_type", "locked", "source", "checksum"))}


def pack(root, paths):
    """{path relative to `root`: bytes} of the files at or under `paths` (relative to `root`).
    Symbolic links are left out: a student's link must not ship the TA's files."""
    files = {}
    for relative in paths:
        path = Path(root) / relative
        found = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        for file in found:
            if file.is_file() and not file.is_symlink() and "__pycache__" not in file.parts:
                files[file.relative_to(root).as_posix()] = file.read_bytes()
    return files


def unpack(files, root):
    """Write packed `files` under `root`, refusing paths that would leave it."""
    for relative, data in files.items():
        parts = PurePosixPath(relative).parts
        if PurePosixPath(relative).is_absolute() or ".." in parts:
            raise ValueError(f"refused to write {relative!r} outside {root}")
        path = Path(root).joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@contextmanager
def one_transaction(gradebook):
    """Everything done through `gradebook` inside the block is committed at its end, or rolled
    back if it raises."""
    session = gradebook.db
    session.commit = session.flush
    try:
        with review.graders_writes(session):  # grades carried over are the grader's, not a TA's
            yield gradebook
    except BaseException:
        del session.commit
        session.rollback()
        raise
    del session.commit
    session.commit()


def assignment_definition(gradebook, assignment):
    """The assignment as `generate_assignment` stored it: due date, notebooks and their cells,
    and the gradebook's schema version."""
    found = gradebook.find_assignment(assignment)
    return {"name": found.name, "duedate": found.duedate, "course_id": found.course_id,
            "schema": gradebook.db.execute(text("SELECT version_num FROM alembic_version")).scalar(),
            "notebooks": [{"name": notebook.name, "kernelspec": notebook.kernelspec,
                           **{kind: [{"name": cell.name, **{f: getattr(cell, f) for f in fields}}
                                     for cell in getattr(notebook, kind)]
                              for kind, (_, fields) in CELLS.items()}}
                          for notebook in found.notebooks]}


def create_assignment(db_url, definition):
    """A new gradebook at `db_url` holding the assignment of `definition` (see above)."""
    name = definition["name"]
    _stamp(db_url, definition["schema"])
    with Gradebook(db_url, definition["course_id"]) as gradebook, one_transaction(gradebook):
        gradebook.add_assignment(name, duedate=definition["duedate"], course_id=definition["course_id"])
        for notebook in definition["notebooks"]:
            gradebook.add_notebook(notebook["name"], name, kernelspec=notebook["kernelspec"])
            for kind, (method, _) in CELLS.items():
                for cell in notebook[kind]:
                    fields = {k: v for k, v in cell.items() if k != "name"}
                    getattr(gradebook, method)(cell["name"], notebook["name"], name, **fields)


def assignment_gradebook(gradebook, assignment):
    """The bytes of a new SQLite gradebook holding only `assignment` as `gradebook` has it: what
    each grading starts its own gradebook from."""
    definition = assignment_definition(gradebook, assignment)
    with tempfile.TemporaryDirectory(prefix="nnlab-template-") as folder:
        create_assignment(f"sqlite:///{folder}/gradebook.db", definition)
        return (Path(folder) / "gradebook.db").read_bytes()


@contextmanager
def private_gradebook(template, assignment, student, rows):
    """The URL of a gradebook of the grading's own, for the block: made from `template` (see
    `assignment_gradebook`), with the student's `rows` from the course's gradebook (earlier manual
    grades, extension, review history) written in; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="nnlab-gradebook-"))
    try:
        (folder / "gradebook.db").write_bytes(template)
        url = f"sqlite:///{folder / 'gradebook.db'}"
        if rows:
            with Gradebook(url) as gradebook:
                write_student_rows(gradebook, assignment, student, rows)
        yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def graded_rows(db_url, assignment, student, shipped):
    """The student's rows after grading in the gradebook at `db_url`, where `shipped` (or None) was
    written before: its review history only as far as the grading added to it."""
    with Gradebook(db_url) as gradebook:
        graded = student_rows(gradebook, assignment, student)
    if graded and shipped:
        graded["reviews"] = graded["reviews"][len(shipped["reviews"]):]
    return graded


def _stamp(db_url, version):
    """Give the new database the course gradebook's schema version before nbgrader opens it:
    nbgrader then takes it as existing and creates its tables without running alembic in a
    subprocess to learn the version (seconds, at every cluster batch's start)."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version VALUES (:version)"), {"version": version})
    finally:
        engine.dispose()


def student_rows(gradebook, assignment, student):
    """The student's submission rows and review history, or None if never graded."""
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return None
    return {"timestamp": submission.timestamp, "extension": submission.extension,
            "notebooks": {notebook.name: {
                "flagged": notebook.flagged,
                "late_submission_penalty": notebook.late_submission_penalty,
                "grades": {g.name: {f: getattr(g, f) for f in GRADE_FIELDS} for g in notebook.grades},
                "comments": {c.name: {f: getattr(c, f) for f in COMMENT_FIELDS}
                             for c in notebook.comments}}
                for notebook in submission.notebooks},
            "reviews": review.history(gradebook, assignment, student)}


def shipped_rows(gradebook, assignment, student):
    """`student_rows`, read in a transaction ended at once: an open read would keep SQLite's
    write-ahead log from being checkpointed, or lock writers out of a gradebook without one."""
    review.ensure_table(gradebook)  # on a connection of its own, once, whether graded or not
    try:
        return student_rows(gradebook, assignment, student)
    finally:
        gradebook.db.rollback()


def write_student_rows(gradebook, assignment, student, rows, before=None):
    """Write what `student_rows` read (its review rows are appended to the history), in one
    transaction. With `before`, the rows the grading started from, only what the grading changed is
    written: a TA's grade or comment given meanwhile in formgrader stays."""
    review.ensure_table(gradebook)  # its own connection: SQLite would lock it out of the transaction
    with one_transaction(gradebook):
        gradebook.update_or_create_student(student)
        fields = {k: rows[k] for k in ("timestamp", "extension")
                  if rows[k] is not None and rows[k] != (before or {}).get(k)}
        with gradebook.db.no_autoflush:  # nbgrader builds the new rows before adding them
            submission = gradebook.update_or_create_submission(assignment, student, **fields)
        for notebook in submission.notebooks:
            saved = rows["notebooks"].get(notebook.name)
            if saved is None:
                continue
            earlier = ((before or {}).get("notebooks") or {}).get(notebook.name) or {}
            _assign(notebook, {k: saved[k] for k in ("flagged", "late_submission_penalty")}, earlier)
            for kind, found in (("grades", notebook.grades), ("comments", notebook.comments)):
                for row in found:
                    _assign(row, saved[kind].get(row.name, {}), earlier.get(kind, {}).get(row.name, {}))
        review.add_rows(gradebook, rows["reviews"])


def _assign(row, values, earlier):
    """Set the fields of `values` that differ from `earlier` (the values the grading started from)."""
    for field, value in values.items():
        if field not in earlier or earlier[field] != value:
            setattr(row, field, value)
