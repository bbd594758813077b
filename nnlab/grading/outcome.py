"""A student's outcome (status, reasons, scores, held points), the same whichever door graded them.

It is put together, whenever the class is shown, from what each door leaves behind: the survey of
the submission folder made when grading it (`intake.survey`, recorded by `nnlab grade` and by the
intake step at nbgrader's doors; made again only for a submission changed since, which is said),
the record the course's steps wrote for every notebook they graded, with the verdict decided there
(`autograde.RecordOutcome`: its status and reasons), the gradebook (scores, late penalty, holds,
which TAs and review decisions change after grading) and, for `nnlab grade`, its ledger (a grading
still running, interrupted, or a worker that crashed).
The student's status is the worst of them (`status.worst`). A notebook whose autograded copy was
written by a grading without the course's steps is said to be so.
"""
from contextlib import contextmanager

from nbgrader.api import Gradebook, MissingEntry

from ..status import UNGRADED, Outcome, Status, worst
from ..steps import review
from ..steps.autograde import autograded_token, read_record, read_survey
from ..steps.intake import survey, survey_key
from ..steps.late import Deadline
from .ledger import Ledger

OLDER = "graded by an older version of the course's steps: grade it again (nnlab grade does)"
OUTSIDE = ("graded without the course's grading steps (no sandbox, no guard, no tampering "
           "checks): grade it again with nnlab grade or the course's nbgrader configuration")


def submitted_students(course):
    """Ids of the students with a folder for this assignment under submitted/."""
    folder = course.root / "submitted"
    return sorted(p.parent.name for p in folder.glob(f"*/{course.assignment}") if p.is_dir())


def class_students(course, gradebook=None):
    """Everyone the class view shows: a submission, a ledger entry or a gradebook submission
    (read in `gradebook` if given, an open one of the course's)."""
    with _opened(course, gradebook) as gradebook:
        try:
            rows = {s.student.id for s in gradebook.find_assignment(course.assignment).submissions} \
                if gradebook else set()
        except MissingEntry:
            rows = set()
    return sorted(set(submitted_students(course)) | set(Ledger(course).entries) | rows)


def class_rows(course):
    """The outcome of everyone the class view shows, sorted by id, the gradebook opened once."""
    ledger = Ledger(course)
    with _opened(course) as gradebook:
        return [outcome(course, student, ledger, gradebook)
                for student in class_students(course, gradebook)]


def graded_students(course):
    """Students whose outcome is a grading of their submission."""
    return [row["student"] for row in class_rows(course) if row["status"] not in UNGRADED]


def outcome(course, student, ledger=None, gradebook=None) -> Outcome:
    """The student's `Outcome` (see `status.Outcome` and the module docstring); `gradebook`: the
    course's, if already open."""
    entry = (ledger if ledger is not None else Ledger(course)).get(student) or {}
    row = {"student": student, "status": Status.NOT_GRADED, "reasons": [], "scores": None, "auto": {},
           "held": {}, "late_penalty": 0.0, "total": None, "max": None, "sandbox": None,
           "confinement": ""}
    if entry.get("status") in (Status.RUNNING, Status.INTERRUPTED, Status.FAILED):  # the last batch says it all
        return dict(row, status=Status(entry["status"]), reasons=entry.get("reasons", []))
    with _opened(course, gradebook) as gradebook:
        graded = gradebook is not None and _gradebook_part(gradebook, course, student, row)
    if not graded:
        return dict(row, reasons=["not graded yet: run nnlab grade"])
    return _status_part(course, student, row)


@contextmanager
def _opened(course, gradebook=None):
    """`gradebook` if given, else the course's opened for the block; None when there is none
    (opening would create an empty one)."""
    if gradebook is not None or not course.has_gradebook():
        yield gradebook
        return
    with Gradebook(course.db_url) as gradebook:
        yield gradebook


def _gradebook_part(gradebook, course, student, row):
    """Scores, late penalty and holds; False when the gradebook has no submission."""
    try:
        submission = gradebook.find_submission(course.assignment, student)
    except MissingEntry:
        return False
    scores, auto = {}, {}
    for notebook in sorted(submission.notebooks, key=lambda n: n.name):
        for grade in notebook.grades:
            written = grade.cell_type != "code"
            scores[grade.name] = [grade.score if not written or grade.manual_score is not None
                                  else None, grade.max_score]
            auto[grade.name] = grade.auto_score
    row.update(scores=scores, auto=auto, late_penalty=float(submission.late_submission_penalty or 0),
               held=review.held_notebooks(gradebook, course.assignment, student),
               max=sum(top for _, top in scores.values()), seconds_late=submission.total_seconds_late or 0)
    row["total"] = None if row["held"] else round(
        sum(score or 0 for score, _ in scores.values()) - row["late_penalty"], 6)
    return True


def _status_part(course, student, row):
    """Status and reasons: the worst of what the survey found and what the grading decided for
    each notebook (its record's verdict), of held points and of lateness."""
    found, changed = _survey(course, student)
    reasons = list(found.problems + found.notes) if found else ["the submission folder is gone"]
    statuses = [Status.INCOMPLETE] * bool(found is None or found.problems) + \
        [Status.WARNING] * bool(found and found.notes)
    if changed:
        statuses.append(Status.WARNING)
        reasons.append(f"the submission or the release changed since it was graded: "
                       f"`nnlab grade {student}` grades it again")
    sandboxes, limits = [], []
    for name in sorted(found.notebooks) if found else []:
        status, why, sandbox, confinement = _notebook_part(course, student, name)
        statuses.append(status)
        reasons += why
        if sandbox is not None:
            sandboxes.append(sandbox)
            limits.append(confinement)
    for name in row["held"]:
        statuses.append(Status.FLAGGED)
        reasons.append(f"{name}.ipynb: autograded points held for review (nnlab review "
                       f"{student} --accept | --reject)")
    if found and not found.timestamp and Deadline(config=course.config()).due:
        statuses.append(Status.WARNING)
        reasons.append("no submission time (no timestamp.txt): the late policy could not be applied")
    late = row.pop("seconds_late", 0)
    if late > 0:
        statuses.append(Status.LATE)
        reasons.append(f"submitted {duration(late)} after the due date: "
                       f"late penalty {row['late_penalty']:g} points")
    if Status.BUSY in statuses:
        reasons.append(f"the machine was too busy to grade it, twice: grade it later with "
                       f"`nnlab grade {student}` (nothing is charged meanwhile)")
        row["total"] = None
    return dict(row, status=worst(statuses), reasons=list(dict.fromkeys(reasons)),
                sandbox=all(sandboxes) if sandboxes else None,
                confinement="; ".join(sorted(set(filter(None, limits)))))


def _survey(course, student):
    """(the survey of the student's submission, whether it changed since its grading): the one its
    grading recorded while the submission and the release are as they were, else one made now
    (for a grading before surveys were recorded, or without the course's steps); None when the
    folder is gone."""
    folder, release = course.submission(student), course.folder("release")
    if not folder.is_dir():
        return None, False
    found, recorded = read_survey(course.root, student, survey_key(release, folder), folder)
    if found is not None:
        return found, False
    return survey(release, folder), recorded


def _notebook_part(course, student, name):
    """(status, reasons, whether it ran sandboxed, its confinement) of one notebook: the verdict
    its grading recorded, or why there is none to read (sandboxed: None when nothing was graded)."""
    record = read_record(course.root, student, name)
    if record is not None and record.get("error"):
        return Status.INCOMPLETE, [record["error"]], None, ""
    if not (course.root / "autograded" / student / course.assignment / f"{name}.ipynb").is_file():
        return Status.INCOMPLETE, [f"{name}.ipynb: its autograded copy is gone (removed since "
                                   f"grading): grade it again"], None, ""
    if record is None or record["token"] != autograded_token(course.root, course.assignment, student, name):
        return Status.FLAGGED, [f"{name}.ipynb: {OUTSIDE}"], False, ""
    if "status" not in record:  # by a version of nnlab before records carried their verdict
        return Status.FLAGGED, [f"{name}.ipynb: {OLDER}"], bool(record.get("sandbox")), ""
    return Status(record["status"]), record["reasons"], bool(record.get("sandbox")), record.get("confinement", "")


def duration(seconds):
    """A lateness in words, in its two largest units: "2 d 3 h", "1 h 0 min", "12 s"."""
    seconds = max(0, int(seconds))
    amounts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "min"),
               (seconds % 60, "s")]
    first = next((i for i, (amount, _) in enumerate(amounts) if amount), len(amounts) - 1)
    return " ".join(f"{amount} {unit}" for amount, unit in amounts[first:first + 2])
