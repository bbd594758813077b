"""What a grading decides, in one vocabulary for the grading step, the batch's ledger and every
view: the statuses of a submission (worst first), what a notebook's grading events mean for it,
the two values that carry it (a notebook's `Record`, a student's `Outcome`), and the outcome of a
grading that produced nothing. It depends on nothing else of the package.
"""
from enum import StrEnum
from typing import NotRequired, TypedDict


class Status(StrEnum):
    """A submission's status, worst first; RUNNING, INTERRUPTED, GRADED and BUSY are also the
    states of the batch's ledger. Each is its plain string (in JSON, CSV, pages and comparisons)."""
    FAILED = "failed"  # nothing could be graded
    BUSY = "busy"  # the machine stopped a notebook twice: not charged, graded again later
    FLAGGED = "flagged"  # a TA should look (the code scan, tampering, held points)
    INCOMPLETE = "incomplete"  # cells lost: a kernel died or was killed, a budget spent, a file gone
    WARNING = "warning"  # graded in full, with notes (a repair, a timeout, output dropped)
    LATE = "late"
    OK = "ok"
    INTERRUPTED = "interrupted"  # the batch was stopped before this student was graded
    NOT_GRADED = "not graded"
    RUNNING = "running"  # a batch is grading this student
    GRADED = "graded"  # (the ledger's) graded; the student's status is one of the above


class Event(TypedDict):
    """Something the kernel did during a grading (`execution.GuardedExecute`)."""
    kind: str  # BUSY_EVENT, one of LOSSES, or a note: "timeout", "exit", "memory", "output"...
    cell: str  # the cell's grade id, or "#N" for a cell without one
    message: str


class Record(TypedDict):
    """A notebook's record, written once by its grading's last step (`autograde.RecordOutcome`) to
    grading/records/STUDENT/NOTEBOOK.json; a notebook nbgrader could not grade has only `error`."""
    status: NotRequired[str]  # a Status: the notebook's verdict (`notebook_verdict`)
    reasons: NotRequired[list[str]]  # the verdict's reasons
    notes: NotRequired[list[str]]  # what the intake repaired
    findings: NotRequired[list[str]]  # what the code scan found
    events: NotRequired[list[Event]]
    held: NotRequired[list[str]]  # the findings that hold the notebook's points for review
    token: NotRequired[str]  # also in the autograded notebook: this grading wrote both
    sandbox: NotRequired[bool]
    confinement: NotRequired[str]
    fingerprint: NotRequired[str]  # of the cell sources a review decision is made on
    graded_at: NotRequired[str]
    error: NotRequired[str]


class Outcome(TypedDict):
    """A student's outcome as every view shows it (`outcome.outcome`): the records' verdicts,
    the gradebook's scores and holds (which TAs and review decisions change), the ledger."""
    student: str
    status: Status
    reasons: list[str]
    scores: dict[str, list] | None  # cell -> [score, max score]; written answers None until graded
    auto: dict[str, float | None]  # cell -> autograded score
    held: dict[str, list[str]]  # notebook -> why its points are held
    late_penalty: float
    total: float | None  # None when held, busy or not graded
    max: float | None
    sandbox: bool | None  # whether every notebook ran sandboxed (None: none graded)
    confinement: str
    seconds: NotRequired[float]  # how long the grading took (`nnlab grade`)


# The statuses of a graded submission, worst first, and those whose gradebook rows are not a
# grading of the current submission (a notebook the machine stopped is graded only as far as
# it got, which is not charged to the student).
STATUSES = (Status.FAILED, Status.BUSY, Status.FLAGGED, Status.INCOMPLETE, Status.WARNING,
            Status.LATE, Status.OK)
UNGRADED = {Status.FAILED, Status.BUSY, Status.RUNNING, Status.INTERRUPTED, Status.NOT_GRADED}

# The kinds of a kernel's events during a grading that decide more than a note: the machine
# stopped the notebook, or cells were lost.
BUSY_EVENT = "busy"
LOSSES = {"died", "killed", "budget"}


def worst(statuses) -> Status:
    """The worst of `statuses` (OK when there are none)."""
    return min(statuses, key=list(Status).index, default=Status.OK)


def notebook_verdict(notebook: str, notes: list[str], findings: list[str],
                     events: list[Event]) -> tuple[Status, list[str]]:
    """(status, reasons) of one notebook's grading, from the repairs' notes, the code scan's
    findings and the kernel's events (each event named once, with every cell it happened in)."""
    kinds = {event["kind"] for event in events}
    status = (Status.BUSY if BUSY_EVENT in kinds else
              Status.FLAGGED if findings else
              Status.INCOMPLETE if kinds & LOSSES else
              Status.WARNING if notes or kinds else Status.OK)
    cells = {}
    for event in events:
        cells.setdefault(event["message"], []).append(event["cell"])
    described = [f"{notebook}, {'cell' if len(where) == 1 else 'cells'} {', '.join(where)}: {message}"
                 for message, where in cells.items()]
    return status, list(notes) + list(findings) + described


def failed(reasons) -> dict:
    """The outcome of a grading that produced nothing (a worker that crashed, a task lost)."""
    return {"status": Status.FAILED, "scores": None, "reasons": list(reasons)}
