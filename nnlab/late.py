"""The course's late policy, as an nbgrader late-submission plugin, and its due date."""
import math

from nbgrader.api import Gradebook
from nbgrader.plugins import LateSubmissionPlugin
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


def apply_due_date(course):
    """Store the configured due date on the assignment in the gradebook, where nbgrader's
    autograde reads it."""
    due = Deadline(config=course.config()).due
    with Gradebook(course.db_url) as gradebook:
        gradebook.update_or_create_assignment(course.assignment, duedate=due or None)
