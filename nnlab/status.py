"""What a grading decides, in one vocabulary for the grading step, the batch's ledger and every
view: the statuses of a submission (worst first), what a notebook's grading events mean for it,
and the outcome of a grading that produced nothing. It depends on nothing else of the package.
"""
from enum import StrEnum


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


def worst(statuses):
    """The worst of `statuses` (OK when there are none)."""
    return min(statuses, key=list(Status).index, default=Status.OK)


def notebook_verdict(notebook, notes, findings, events):
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


def failed(reasons):
    """The outcome of a grading that produced nothing (a worker that crashed, a task lost)."""
    return {"status": Status.FAILED, "scores": None, "reasons": list(reasons)}
