"""The course's late policy, as an nbgrader late-submission plugin, its due date, and a gradebook
listener that keeps penalties computed from the current total."""
import math

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.utils import parse_utc
from traitlets import Float, Unicode
from traitlets.config import Configurable


class PenaltyPerDay(LateSubmissionPlugin):
    """A notebook submitted late loses `fraction_per_day` of its score for every day or part of
    a day past the due date, down to zero."""

    fraction_per_day = Float(0.1, help="share of the score lost per started day").tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        days = math.ceil(total_seconds_late / 86400)
        return min(score, score * self.fraction_per_day * days)


class Deadline(Configurable):
    """`c.Deadline.due` in nbgrader_config.py: when the assignment is due ("" for no date)."""

    due = Unicode("", help="due date with its time zone, e.g. '2026-12-04 23:59 UTC'").tag(config=True)


def apply_due_date(course, gradebook):
    """Store the configured due date (none if "") on the assignment in the course's open
    `gradebook`, where nbgrader's autograde reads it."""
    _store_due_date(gradebook, course.assignment, Deadline(config=course.config()).due)


def keep_due_date(config, db_url, assignment):
    """Store the configured due date, if one is configured, where the gradebook has another: the
    course's first grading step does this at every door, so that a course run from formgrader's
    buttons alone charges the late policy as `nnlab grade` does."""
    due = Deadline(config=config).due
    if due:
        with Gradebook(db_url) as gradebook:
            _store_due_date(gradebook, assignment, due)


def _store_due_date(gradebook, assignment, due):
    """Write `due` ("" for none) only if the gradebook has another: a write is a transaction."""
    try:
        if gradebook.find_assignment(assignment).duedate == (parse_utc(due) if due else None):
            return
    except MissingEntry:
        pass
    gradebook.update_or_create_assignment(assignment, duedate=due or None)


_plugin = None  # the course's late plugin, once keep_penalties_current registered the listener


def keep_penalties_current(config):
    """Keep every late notebook's penalty computed from its current total, whichever program
    changes a grade: nbgrader's autograde sets the penalty once, from the score at that moment,
    so written answers graded later in formgrader would escape it. Called from
    nbgrader_config.py, so that formgrader's process and nbgrader's commands keep it too."""
    global _plugin
    from nbgrader.preprocessors import AssignLatePenalties
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    plugin_class = AssignLatePenalties(config=config).plugin_class
    first = _plugin is None
    _plugin = plugin_class(config=config)
    if first:
        event.listen(Session, "before_flush", _update_penalties)


def _update_penalties(session, context, instances):
    from nbgrader.api import Grade

    changed = {grade.notebook for grade in (*session.dirty, *session.new) if isinstance(grade, Grade)}
    for notebook in changed:
        if notebook is None:
            continue
        seconds = notebook.assignment.total_seconds_late or 0
        score = sum((g.manual_score if g.manual_score is not None else g.auto_score or 0)
                    + (g.extra_credit or 0) for g in notebook.grades)
        penalty = _plugin.late_submission_penalty(notebook.student.id, score, seconds) \
            if seconds > 0 else 0.0
        if notebook.late_submission_penalty != penalty:
            notebook.late_submission_penalty = penalty
