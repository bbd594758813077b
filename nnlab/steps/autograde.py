"""The course's steps inside nbgrader's own Autograde converter, so that every door grades alike.

`nbgrader_config.py` puts these steps in nbgrader's sanitizing and autograding preprocessor lists;
`nbgrader autograde`, formgrader's Autograde button and `nnlab grade` all run them:

- `IntakeRepairs` (first sanitizing step): mends the notebook against its release copy
  (`intake.repair`) and notes what it found; keeps the outputs of the course's experiment cells
  as the student submitted them (`intake.keep_experiment_outputs`), before nbgrader clears them;
  stores the configured due date in the gradebook (`late.keep_due_date`), before nbgrader
  computes how late the submission is; at nbgrader's own doors, records the survey of the
  submission folder (`intake.survey`) for the views, as `nnlab grade` does before staging.
- `ScanStudentCode` (sanitizing): lists what the code the student wrote does that a TA should
  look at (`tampering.scan`); findings that tamper with the interpreter hold the points.
- `execution.GuardedExecute` (in place of nbgrader's Execute): sandboxed, guarded execution.
- `RecordOutcome` (last autograding step): flags the notebook in the gradebook, holds its points
  when the grader cannot vouch for them (`review`), writes the notebook's record with its verdict
  (`status.notebook_verdict`: status and reasons), which every view of the class reads
  (`outcome`), and puts a note for the TA
  at the top of the autograded notebook, which formgrader shows (why it is flagged or held, the
  late penalty formgrader's totals leave out); feedback leaves the note out.

What the sanitizing steps found travels to the autograding pass in the notebook's metadata
(`nnlab`), which the intake step resets first, so a student cannot plant it.
"""
import copy
import hashlib
import json
import os
import uuid
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_solution

from ..course import discard_feedback
from ..status import Record, Status, notebook_verdict
from . import review
from .intake import KEY, LINK, SUBMITTED, SUBMITTED_OUTPUTS, Survey, is_provided, keep_experiment_outputs, \
    release_folder, repair, survey, survey_key
from .late import keep_due_date
from .tampering import scan, top_level_names

NOTE = "grader_note"  # the key, in a cell's KEY metadata, of the note for TAs
# A submission's survey, beside its notebooks' records (named after them: no course names a
# notebook `.survey`)
SURVEY_RECORD = ".survey.json"


class IntakeRepairs(NbGraderPreprocessor):
    """Repair what a TA would repair by hand, before nbgrader's own sanitizing steps."""

    def preprocess(self, nb, resources):
        keep_due_date(self.config, resources["nbgrader"]["db_url"], resources["nbgrader"]["assignment"])
        self._record_survey(resources["nbgrader"])
        reference = _release_notebook(self.config, resources)
        name = resources["nbgrader"]["notebook"]
        notes = []
        if (Path(resources["metadata"]["path"]) / f"{name}.ipynb").is_symlink():  # nbgrader's doors
            nb = copy.deepcopy(reference)  # graded as missing, as `nnlab grade` and the survey do
            notes.append(f"{name}.ipynb: {LINK}; graded as the release (its cells score 0)")
        nb.metadata[KEY] = {"notes": notes + repair(nb, reference, f"{name}.ipynb"),
                            "fingerprint": fingerprint(nb),
                            SUBMITTED_OUTPUTS: keep_experiment_outputs(nb, reference)}
        return nb, resources

    def _record_survey(self, ids):
        """At nbgrader's own doors, which grade the submission folder itself, record its survey as
        `nnlab grade` does before staging it (`submission.grade_submission`)."""
        coursedir = CourseDirectory(config=self.config)
        if coursedir.submitted_directory != SUBMITTED:  # `nnlab grade`'s staged copy
            return
        folder = Path(coursedir.format_path(SUBMITTED, ids["student"], ids["assignment"]))
        release = release_folder(self.config, ids["assignment"])
        key = survey_key(release, folder)
        write_survey(coursedir.root, ids["student"], survey(release, folder), key)


class ScanStudentCode(NbGraderPreprocessor):
    """Scan the cells the student wrote (answer cells and added cells)."""

    def preprocess(self, nb, resources):
        reference = _release_notebook(self.config, resources)
        provided = {name for cell in reference.cells if is_provided(cell)
                    for name in top_level_names(cell.source) if not name.startswith("_")}
        name = resources["nbgrader"]["notebook"]
        findings = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and (is_solution(cell) or "nbgrader" not in cell.metadata):
                label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"#{index + 1}"
                findings += [dict(finding, text=f"suspicious code: {name}.ipynb, cell {finding['text']}")
                             for finding in scan(cell.source, provided, label)]
        nb.metadata.setdefault(KEY, {})["findings"] = findings
        return nb, resources


class RecordOutcome(NbGraderPreprocessor):
    """Flag, hold and record the notebook just graded (see the module docstring)."""

    def preprocess(self, nb, resources):
        meta = dict(nb.metadata.get(KEY, {}))
        execution = resources.get(KEY, {})
        ids = resources["nbgrader"]
        findings, events = meta.get("findings", []), execution.get("events", [])
        held = [f["text"] for f in findings if f.get("hold")]
        token = uuid.uuid4().hex
        notes, texts = meta.get("notes", []), [f["text"] for f in findings]
        status, reasons = notebook_verdict(f"{ids['notebook']}.ipynb", notes, texts, events)
        record = {
            "status": status, "reasons": reasons,  # what every view of the class reads
            "notes": notes, "findings": texts, "events": events, "held": held, "token": token,
            "sandbox": execution.get("sandbox"), "confinement": execution.get("confinement", ""),
            "fingerprint": meta.get("fingerprint", ""),
            "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with Gradebook(ids["db_url"]) as gradebook:
            notebook = gradebook.find_submission_notebook(ids["notebook"], ids["assignment"],
                                                          ids["student"])
            notebook.flagged = status in (Status.BUSY, Status.FLAGGED)
            gradebook.db.commit()
            review.apply_hold(gradebook, notebook, held, record["fingerprint"])
            penalty = notebook.late_submission_penalty or 0.0
        coursedir = CourseDirectory(config=self.config)
        write_record(Path(coursedir.root), ids["student"], ids["notebook"], record)
        discard_feedback(coursedir, ids["assignment"], ids["student"], [ids["notebook"]])
        nb.metadata[KEY] = {"token": token}
        note = grader_note(record, penalty, ids["student"])
        if note:
            nb.cells.insert(0, new_markdown_cell(note, metadata={KEY: {NOTE: True}}))
        return nb, resources


def grader_note(record, penalty, student):
    """The markdown a TA reads at the top of the autograded notebook in formgrader ("" if there
    is nothing to say)."""
    lines = []
    if record["status"] == Status.BUSY:
        lines.append(f"**Not graded: the machine was too busy** (stopped twice by the wall-clock "
                     f"backstop, not by the student's time limits). The cells it did not run show 0 "
                     f"here, which is not the student's score: grade it again with `nnlab grade "
                     f"{student}` (or formgrader's Autograde) when the machine is quieter.")
    if record["held"]:
        lines.append("**Points held for review** (`nnlab review ID --accept | --reject`):")
        lines += [f"- {reason}" for reason in record["held"]]
    others = [f for f in record["findings"] if f not in record["held"]]
    if others:
        lines.append("**Flagged** by the code scan (the points count as earned):")
        lines += [f"- {reason}" for reason in others]
    if penalty > 0:
        lines.append(f"**Late:** a penalty of {penalty:g} points when autograded (it follows the total "
                     f"as written answers are graded), which formgrader's totals do not subtract "
                     f"(the CSV and the report do).")
    return "\n".join(["*Note for the TA from the course's grader; students do not see it.*", ""] + lines) \
        if lines else ""


def is_grader_note(cell):
    return bool(cell.get("metadata", {}).get(KEY, {}).get(NOTE))


def fingerprint(nb):
    """A hash of the notebook's cell sources: what a review decision was made on."""
    return hashlib.sha256(json.dumps([c.source for c in nb.cells]).encode()).hexdigest()


def records_folder(root, student):
    """Where the student's gradings leave their records: one per notebook, and the survey."""
    return Path(root) / "grading" / "records" / student


def record_path(root, student, notebook):
    return records_folder(root, student) / f"{notebook}.json"


def write_record(root, student, notebook, record: Record):
    """Write a notebook's record."""
    _write_json(record_path(root, student, notebook), record)


def read_record(root, student, notebook) -> Record | None:
    """A notebook's record, or None if nnlab's steps never recorded one."""
    return _read_json(record_path(root, student, notebook))


def write_survey(root, student, found: Survey, key):
    """Record the survey of a submission folder made when grading it (`intake.survey`), for the
    views to read; `key` names the folder's content and the release it was compared with."""
    _write_json(records_folder(root, student) / SURVEY_RECORD,
                dict(asdict(found), notebooks={name: path.name for name, path in found.notebooks.items()},
                     key=key))


def read_survey(root, student, key, folder):
    """(the survey recorded when the student was graded if it was of the content `key` names (now
    in `folder`), else None; whether a grading recorded one, of whatever content)."""
    recorded = _read_json(records_folder(root, student) / SURVEY_RECORD)
    if not recorded or recorded.pop("key", None) != key:
        return None, bool(recorded)
    notebooks = {name: Path(folder) / file for name, file in recorded["notebooks"].items()}
    return Survey(**dict(recorded, notebooks=notebooks)), True


def _write_json(path, data):
    """Write `data` atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=1))
    os.replace(temporary, path)


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def autograded_token(root, assignment, student, notebook):
    """The record token kept in the autograded notebook: None when that notebook was last written
    by a grading that did not run the course's steps (or is gone)."""
    path = Path(root) / "autograded" / student / assignment / f"{notebook}.ipynb"
    try:
        return nbformat.read(path, as_version=4).metadata.get(KEY, {}).get("token")
    except Exception:
        return None


def _release_notebook(config, resources):
    folder = release_folder(config, resources["nbgrader"]["assignment"])
    return nbformat.read(folder / f"{resources['nbgrader']['notebook']}.ipynb", as_version=4)
