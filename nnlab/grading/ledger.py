"""grading/status.json: the batch's bookkeeping of every student, written only by the batch process
(one writer, atomic replace): "running", "interrupted", "graded", "busy" (the machine stopped a
notebook twice: graded again by the next batch) or "failed" (nothing could be graded, with the
reasons), and the key of what was graded. The student's status itself is derived
when the class is shown (`outcome`), whichever door graded them.

A student is recorded as "running" before its grading starts; an entry still "running" when the
next batch starts belongs to a batch that was killed, and is graded again.
"""
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from ..status import Status
from ..steps.intake import digest


class Ledger:
    def __init__(self, course):
        self.path = course.root / "grading" / "status.json"
        self.entries = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def get(self, student):
        return self.entries.get(student)

    def record(self, student, entry):
        self.entries[student] = entry
        self.save()

    def save(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        os.replace(temporary, self.path)

    def running(self, student, key):
        self.record(student, {"status": Status.RUNNING, "key": key})

    def interrupted(self, student):
        self.record(student, {"status": Status.INTERRUPTED, "key": "",
                              "reasons": ["grading was interrupted; run nnlab grade again"]})

    def finished(self, student, entry, key):
        """Keep that the grading of `entry` (the student's outcome) finished ("graded") or why
        nothing could be graded ("failed"). The student's status is derived when shown
        (`outcome`), so it is the same whichever door graded them last."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if entry["status"] == Status.FAILED:
            self.record(student, {"status": Status.FAILED, "reasons": entry.get("reasons", []),
                                  "key": key, "graded_at": now})
        else:
            status = Status.BUSY if entry["status"] == Status.BUSY else Status.GRADED
            self.record(student, {"status": status, "key": key, "graded_at": now})

    def stale(self, student, key):
        """Whether the student must be graded (again): never graded, graded from other files or
        another course version, left unfinished, or stopped by a busy machine."""
        entry = self.entries.get(student)
        return entry is None or entry.get("key") != key or \
            entry["status"] in (Status.RUNNING, Status.INTERRUPTED, Status.BUSY)


# The sections of nbgrader_config.py that can change a grade. Others (the exchange, formgrader,
# the course id) must not make `nnlab grade` regrade the class.
GRADING_SECTIONS = ("Autograde", "Execute", "GuardedExecute", "SandboxedKernelManager",
                    "OverwriteCells", "LimitOutput", "IgnorePattern", "Deadline",
                    "AssignLatePenalties", "PenaltyPerDay", "NNLab")


# The package's code that decides a grade (the course's steps and what they use, the judge, what
# a grading's events mean): a new grading rule regrades the class. Feedback's steps decide none.
PACKAGE = Path(__file__).resolve().parents[1]
GRADING_CODE = ("__init__.py", "steps", "confinement", "judge", "grading", "status.py")
NOT_GRADING_CODE = ("steps/feedback.py",)


def grading_code():
    """The package's files of GRADING_CODE, in a stable order."""
    files = []
    for name in GRADING_CODE:
        path = PACKAGE / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [path for path in files if path.relative_to(PACKAGE).as_posix() not in NOT_GRADING_CODE]


def course_key(course):
    """A hash of what grading depends on besides the submission: the source folder (notebooks
    and support files), the release folder (whose notebooks and files grading compares with and
    uses), the grading sections of the nbgrader configuration and the grading code of this
    package."""
    config = course.config()
    settings = {name: dict(config[name]) for name in GRADING_SECTIONS if name in config}
    text = json.dumps(settings, sort_keys=True, default=repr)
    code = "".join(hashlib.sha256(path.read_bytes()).hexdigest() for path in grading_code())
    folders = digest(course.folder("source")) + digest(course.folder("release"))
    return hashlib.sha256((folders + text + code).encode()).hexdigest()
