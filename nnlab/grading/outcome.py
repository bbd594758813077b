"""A student's outcome (status, reasons, scores, held points), the same whichever door graded them.

It is derived, whenever the class is shown, from what each door leaves behind: the survey of the
submission folder (`intake.survey`), the record the course's steps wrote for every notebook they
graded (`steps.RecordOutcome`), the gradebook (scores, late penalty, holds) and, for `nnlab grade`,
its ledger (a grading still running, interrupted, or a worker that crashed). A notebook whose
autograded copy was written by a grading without the course's steps is said to be so.
"""
from nbgrader.api import Gradebook, MissingEntry

from . import review
from .execution import BUSY
from .intake import survey
from .late import Deadline
from .ledger import INTERRUPTED, RUNNING, Ledger
from .steps import autograded_token, read_record

# Worst first: the status of a submission is that of its worst finding.
STATUSES = ("failed", BUSY, "flagged", "incomplete", "warning", "late", "ok")
# Statuses whose gradebook rows are not a grading of the current submission (a notebook the
# machine stopped is graded only as far as it got, which is not charged to the student).
UNGRADED = {"failed", BUSY, RUNNING, INTERRUPTED, "not graded"}
# What the kernel's own events mean for the submission: cells were lost, or only noted.
LOSSES = {"died", "killed", "budget"}
OUTSIDE = ("graded without the course's grading steps (no sandbox, no guard, no tampering "
           "checks): grade it again with nnlab grade or the course's nbgrader configuration")


def submitted_students(course):
    """Ids of the students with a folder for this assignment under submitted/."""
    folder = course.root / "submitted"
    return sorted(p.parent.name for p in folder.glob(f"*/{course.assignment}") if p.is_dir())


def class_students(course):
    """Everyone the class view shows: a submission, a ledger entry or a gradebook submission."""
    rows = set()
    if course.has_gradebook():
        with Gradebook(course.db_url) as gradebook:
            try:
                rows = {s.student.id for s in gradebook.find_assignment(course.assignment).submissions}
            except MissingEntry:
                pass
    return sorted(set(submitted_students(course)) | set(Ledger(course).entries) | rows)


def graded_students(course):
    """Students whose outcome is a grading of their submission."""
    return [s for s in class_students(course) if outcome(course, s)["status"] not in UNGRADED]


def outcome(course, student, ledger=None):
    """{"student", "status", "reasons", "scores", "auto", "held", "late_penalty", "total", "max",
    "sandbox", "confinement"}: see the module docstring. `scores` maps every graded cell to
    [score, max score] (written answers: None until graded), `auto` to the autograded score,
    `held` each held notebook to its reasons."""
    entry = (ledger if ledger is not None else Ledger(course)).get(student) or {}
    row = {"student": student, "status": "not graded", "reasons": [], "scores": None, "auto": {},
           "held": {}, "late_penalty": 0.0, "total": None, "max": None, "sandbox": None,
           "confinement": ""}
    if entry.get("status") in (RUNNING, INTERRUPTED, "failed"):  # the last batch says it all
        return dict(row, status=entry["status"], reasons=entry.get("reasons", []))
    graded = False
    if course.has_gradebook():
        with Gradebook(course.db_url) as gradebook:
            graded = _gradebook_part(gradebook, course, student, row)
    if not graded:
        return dict(row, reasons=["not graded yet: run nnlab grade"])
    return _status_part(course, student, row)


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
    """Status and reasons from the survey and the notebooks' records."""
    folder = course.submission(student)
    found = survey(course.folder("release"), folder) if folder.is_dir() else None
    reasons = list(found.problems + found.notes) if found else ["the submission folder is gone"]
    lost, flagged, busy, notes = bool(found is None or found.problems), False, False, len(reasons)
    sandboxes, limits = [], []
    for name in sorted(found.notebooks) if found else []:
        record = read_record(course.root, student, name)
        if record is not None and record.get("error"):
            lost = True
            reasons.append(record["error"])
            continue
        if not (course.root / "autograded" / student / course.assignment / f"{name}.ipynb").is_file():
            lost = True
            reasons.append(f"{name}.ipynb: its autograded copy is gone (removed since grading): "
                           f"grade it again")
            continue
        if record is None or record["token"] != autograded_token(
                course.root, course.assignment, student, name):
            flagged = True
            sandboxes.append(False)
            reasons.append(f"{name}.ipynb: {OUTSIDE}")
            continue
        events = record["events"]
        reasons += record["notes"] + record["findings"] + _describe(f"{name}.ipynb", events)
        notes += len(record["notes"]) + sum(e["kind"] not in LOSSES for e in events)
        lost |= any(e["kind"] in LOSSES for e in events)
        busy |= any(e["kind"] == BUSY for e in events)
        flagged |= bool(record["findings"]) or any(e["kind"] == "tampering" for e in events)
        sandboxes.append(bool(record.get("sandbox")))
        limits.append(record.get("confinement", ""))
    for name in row["held"]:
        flagged = True
        reasons.append(f"{name}.ipynb: autograded points held for review (nnlab review "
                       f"{student} --accept | --reject)")
    if found and not found.timestamp and Deadline(config=course.config()).due:
        notes += 1
        reasons.append("no submission time (no timestamp.txt): the late policy could not be applied")
    late = row.pop("seconds_late", 0)
    if late > 0:
        reasons.append(f"submitted {duration(late)} after the due date: "
                       f"late penalty {row['late_penalty']:g} points")
    if busy:
        reasons.append(f"the machine was too busy to grade it, twice: grade it later with "
                       f"`nnlab grade {student}` (nothing is charged meanwhile)")
        row["total"] = None
    status = (BUSY if busy else "flagged" if flagged else "incomplete" if lost else "warning" if notes
              else "late" if late > 0 else "ok")
    return dict(row, status=status, reasons=list(dict.fromkeys(reasons)),
                sandbox=all(sandboxes) if sandboxes else None,
                confinement="; ".join(sorted(set(filter(None, limits)))))


def _describe(notebook, events):
    """One line per distinct event, naming every cell it happened in."""
    cells = {}
    for event in events:
        cells.setdefault(event["message"], []).append(event["cell"])
    return [f"{notebook}, {'cell' if len(where) == 1 else 'cells'} {', '.join(where)}: {message}"
            for message, where in cells.items()]


def duration(seconds):
    """A lateness in words, in its two largest units: "2 d 3 h", "1 h 0 min", "12 s"."""
    seconds = max(0, int(seconds))
    amounts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "min"),
               (seconds % 60, "s")]
    first = next((i for i, (amount, _) in enumerate(amounts) if amount), len(amounts) - 1)
    return " ".join(f"{amount} {unit}" for amount, unit in amounts[first:first + 2])
