"""Points held for a TA's review, and the TA's decisions (`nnlab review ID --accept | --reject`).

When either tampering check finds that a notebook tampered with the interpreter, the grader cannot
vouch for its autograded points. They are held: the notebook is flagged, its autograded cells get
a manual score of 0 that formgrader shows as needing review, and export and report show "held"
instead of a number. A TA then accepts (the autograded scores count) or rejects (they stay 0), and
may change the decision later. A score a TA set on a cell in formgrader is the TA's: no hold or
decision overwrites it (each row keeps which cells' 0 is the grader's own, `voided`, and a score a
TA sets, even a 0 over the grader's, takes its cell out of them: `keep_tas_scores`).

Every hold and decision is a row of the table `nnlab_review` in the gradebook's own database
(SQLite or any other that nbgrader uses), so the history is kept with the grades. A decision is
tied to the fingerprint of the notebook it was made on: regrading an unchanged notebook keeps it,
a changed notebook is held again.
"""
import getpass
import json
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, inspect, select, text, update
from sqlalchemy.orm import object_session

from ..course import discard_feedback

HELD, ACCEPTED, REJECTED, CLEARED = "held", "accepted", "rejected", "cleared"

_metadata = MetaData()
REVIEWS = Table(
    "nnlab_review", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", String(128), nullable=False),
    Column("student", String(128), nullable=False),
    Column("notebook", String(128), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reasons", Text, nullable=False, default="[]"),
    Column("by", String(128), nullable=False),
    Column("at", String(32), nullable=False),
    Column("voided", Text, nullable=True),  # JSON list: the cells whose 0 the grader set
)


GRADERS_WRITES = "nnlab_graders_writes"  # session.info: scores set now are the grader's
TAS_SCORES = "nnlab_tas_scores"  # session.info: grades a TA set a score on, not yet flushed


def latest(gradebook, assignment, student, notebook):
    """The last row of a notebook's history (a mapping), or None."""
    ensure_table(gradebook)
    return _latest(gradebook.db, assignment, student, notebook)


def _latest(session, assignment, student, notebook):
    query = (select(REVIEWS).where(REVIEWS.c.assignment == assignment, REVIEWS.c.student == student,
                                   REVIEWS.c.notebook == notebook).order_by(REVIEWS.c.id.desc()).limit(1))
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


@contextmanager
def graders_writes(session):
    """Scores set in `session` inside the block are the grader's (a hold, a decision, grades
    carried over from a cluster's worker), not a TA's."""
    session.info[GRADERS_WRITES] = True
    try:
        yield
    finally:
        session.info.pop(GRADERS_WRITES, None)


_tracking = False


def keep_tas_scores():
    """Tell a score a TA sets on a cell (formgrader's grade API, or any program but the grader's
    own steps, in a process that loaded nbgrader_config.py) from the grader's 0, even when it is a
    0 too: the cell leaves the grader's voided cells of its notebook's last history row, so no
    later decision changes it."""
    global _tracking
    if _tracking:
        return
    from nbgrader.api import Grade
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Grade.manual_score, "set", _score_set)
    event.listen(Session, "before_flush", _forget_tas_cells)
    _tracking = True


def _score_set(grade, value, old, initiator):
    session = object_session(grade)
    if value is not None and session is not None and not session.info.get(GRADERS_WRITES):
        session.info.setdefault(TAS_SCORES, set()).add(grade)


def _forget_tas_cells(session, context, instances):
    grades = session.info.pop(TAS_SCORES, set())
    if not grades or not inspect(session.connection()).has_table(REVIEWS.name):
        return
    for grade in grades:
        notebook = grade.notebook
        row = _latest(session, notebook.assignment.assignment.name, notebook.student.id, notebook.name)
        voided = _voided(row)
        if voided is None:  # a row from before `voided`: every test cell
            voided = [g.name for g in _tests(notebook)]
        if row and grade.name in voided:
            session.execute(update(REVIEWS).where(REVIEWS.c.id == row["id"]).values(
                voided=json.dumps([name for name in voided if name != grade.name])))


def history(gradebook, assignment, student):
    """Every row of a student's history, oldest first."""
    ensure_table(gradebook)
    query = (select(REVIEWS).where(REVIEWS.c.assignment == assignment, REVIEWS.c.student == student)
             .order_by(REVIEWS.c.id))
    return [dict(row) for row in gradebook.db.execute(query).mappings()]


def held_notebooks(gradebook, assignment, student):
    """{notebook: [reasons]} of the student's notebooks whose points are held now."""
    found = {}
    for row in history(gradebook, assignment, student):
        found[row["notebook"]] = json.loads(row["reasons"]) if row["state"] == HELD else None
    return {name: reasons for name, reasons in found.items() if reasons is not None}


def apply_hold(gradebook, notebook, reasons, fingerprint):
    """After autograding `notebook` (a SubmittedNotebook): hold its points if `reasons`, unless a
    TA already decided on this very notebook; release an earlier hold otherwise."""
    with graders_writes(gradebook.db):
        _apply_hold(gradebook, notebook, reasons, fingerprint)
    gradebook.db.commit()


def _apply_hold(gradebook, notebook, reasons, fingerprint):
    ids = (notebook.assignment.assignment.name, notebook.student.id, notebook.name)
    last = latest(gradebook, *ids)
    voided = _voided(last)
    if reasons:
        if last and last["fingerprint"] == fingerprint and last["state"] in (ACCEPTED, REJECTED):
            if last["state"] == REJECTED:
                _void(notebook, voided, pending=False)
            _settle(notebook)
        else:
            _record(gradebook, ids, fingerprint, HELD, reasons, "grader", _void(notebook, voided, pending=True))
    elif last and last["state"] != CLEARED:
        _release(notebook, voided, pending=False)
        _record(gradebook, ids, fingerprint, CLEARED, [], "grader", [])


def decide(gradebook, assignment, student, accept, notebooks=None, by=None):
    """A TA's decision on the student's notebooks that are held or were decided on (all, or those
    named): a decision can be changed. Returns the notebooks decided; raises LookupError when none
    of them is held or decided on."""
    open_ = {}
    for row in history(gradebook, assignment, student):
        open_[row["notebook"]] = row["state"] in (HELD, ACCEPTED, REJECTED)
    chosen = [name for name in sorted(open_) if open_[name] and (not notebooks or name in notebooks)]
    if not chosen:
        raise LookupError(f"{student}: no points held for review or decided on"
                          + (f" in {', '.join(notebooks)}" if notebooks else ""))
    with graders_writes(gradebook.db):
        for name in chosen:
            _decide(gradebook, (assignment, student, name), accept, by)
    gradebook.db.commit()
    return chosen


def _decide(gradebook, ids, accept, by):
    assignment, student, name = ids
    submitted = gradebook.find_submission_notebook(name, assignment, student)
    last = latest(gradebook, assignment, student, name)
    if accept:
        _release(submitted, _voided(last), pending=last["state"] == HELD)
        voided = []
    else:
        voided = _void(submitted, _voided(last), pending=False)
    _settle(submitted)
    _record(gradebook, ids, last["fingerprint"], ACCEPTED if accept else REJECTED,
            json.loads(last["reasons"]), by or getpass.getuser(), voided)


def _tests(notebook):
    return [grade for grade in notebook.grades if grade.cell_type == "code"]


def _void(notebook, voided, pending):
    """Set to 0 every autograded test cell whose autograded score counts, or whose 0 the grader
    set before (`voided`); a score a TA set is left. `pending`: formgrader shows the cells as
    needing a look. Returns the cells voided."""
    cells = []
    for grade in _tests(notebook):
        if grade.manual_score is None or (_among(grade, voided) and grade.manual_score == 0):
            grade.manual_score, grade.needs_manual_grade = 0.0, pending
            cells.append(grade.name)
    return cells


def _release(notebook, voided, pending):
    """Let the autograded score count again on the cells the grader voided, but where a TA has set
    a score since: while a hold is `pending`, a cell a TA graded no longer needs a look (even at
    0); after a decision, a TA's score is one other than 0."""
    for grade in _tests(notebook):
        if _among(grade, voided) and grade.manual_score == 0 and (grade.needs_manual_grade or not pending):
            grade.manual_score = None


def _settle(notebook):
    """Nothing of the notebook's tests needs a grader's look any more."""
    for grade in _tests(notebook):
        grade.needs_manual_grade = False


def _among(grade, voided):
    return voided is None or grade.name in voided  # None: every test cell


def _voided(row):
    """The cells whose 0 the grader set, as of history row `row`; None: every test cell."""
    if row is None:
        return []
    if row.get("voided") is None:  # a row from before the column: the grader voided every test
        return None if row["state"] in (HELD, REJECTED) else []
    return json.loads(row["voided"])


def _record(gradebook, ids, fingerprint, state, reasons, by, voided):
    assignment, student, notebook = ids
    gradebook.db.execute(REVIEWS.insert().values(
        assignment=assignment, student=student, notebook=notebook, fingerprint=fingerprint,
        state=state, reasons=json.dumps(reasons), by=by, voided=json.dumps(voided),
        at=datetime.now(timezone.utc).isoformat(timespec="seconds")))


def add_rows(gradebook, rows):
    """Append history rows read with `history` (from another gradebook) to this gradebook's."""
    for row in rows:
        gradebook.db.execute(REVIEWS.insert().values(**{k: v for k, v in row.items() if k != "id"}))


def ensure_table(gradebook):
    """The history table, made or brought up to date (a gradebook from before `voided`)."""
    if not getattr(gradebook, "_nnlab_review_table", False):
        _metadata.create_all(gradebook.engine, checkfirst=True)
        columns = {column["name"] for column in inspect(gradebook.engine).get_columns(REVIEWS.name)}
        if "voided" not in columns:
            gradebook.db.execute(text(f"ALTER TABLE {REVIEWS.name} ADD COLUMN voided TEXT"))
            gradebook.db.commit()
        gradebook._nnlab_review_table = True


def review_command(course, student, accept, reject, notebooks=None, out=print):
    """`nnlab review`: show a student's held points and history, or decide on them."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gradebook:
        if accept or reject:
            try:
                decided = decide(gradebook, course.assignment, student, accept, notebooks)
            except LookupError as error:
                out(f"nnlab review: {error}")
                return 1
            discard_feedback(course.coursedir(), course.assignment, student, decided)  # "under review"
            out(f"{student}: {', '.join(decided)} {'accepted' if accept else 'rejected'}; "
                f"generate the feedback again (`nnlab feedback {student}`)")
            return 0
        rows = history(gradebook, course.assignment, student)
    for row in rows:
        out(f"{row['at']}  {row['notebook']:<16} {row['state']:<9} by {row['by']}")
        for reason in json.loads(row["reasons"]) if row["state"] == HELD else ():
            out(f"    {reason}")
    if not rows:
        out(f"{student}: nothing was ever held for review")
    return 0
