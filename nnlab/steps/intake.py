"""Checking a submission before nbgrader sees it, and repairing what a TA would repair by hand.

Two levels, so that every door (`nnlab grade`, `nbgrader autograde`, formgrader's button) repairs
the same way:

- `survey` looks at the submission folder as a whole: notebooks missing, unreadable or misnamed,
  extra files, the submission time. `nnlab grade` stages what it found (`stage`) under the
  notebooks' proper names; it, and the intake step at nbgrader's own doors, record the survey for
  the views (`autograde.write_survey`).
- `keep_experiment_outputs` keeps what the student's notebook showed in the course's experiment
  cells (provided cells tagged "experiment" in the release: they earn no points and no test reads
  what they compute), which grading does not run again (`execution.GuardedExecute.full`).
- `repair` mends one notebook in place: nbgrader fails a whole notebook when a graded cell was
  copied (its DeduplicateIds leaves an empty metadata entry that OverwriteCells then trips on) or
  when the nbgrader metadata was stripped, and it never puts back a deleted provided cell. It runs
  inside nbgrader, as the first sanitizing step (`autograde.IntakeRepairs`).

The student's own folder under submitted/ is never modified.
"""
import ast
import copy
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import is_grade, is_locked, is_solution

from ..course import error_line

IGNORED = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
KEY = "nnlab"  # the notebook metadata the course's steps share, reset by the intake step
EXPERIMENT_TAG = "experiment"  # a provided cell no test reads from and no point rests on
SUBMITTED_OUTPUTS = "submitted_outputs"  # KEY's entry: {grade_id: outputs} of experiment cells
KEPT_BYTES = 2_000_000  # of a cell's submitted outputs kept (its plots are what matters)
SUBMITTED = "submitted"  # nbgrader's folder of submissions, which the class is shown from
TIMESTAMP = "timestamp.txt"
LINK = "a link, not a file: not used"  # a submission's links are never read (see `_is_file`)
# Written by nbgrader's exchange at `submit`; `release_feedback` needs it next to the feedback.
SECRET = "submission_secret.txt"


@dataclass
class Survey:
    """What will be graded, and what was found on the way."""
    notebooks: dict = field(default_factory=dict)  # name (no suffix) -> path of the file to grade
    notes: list = field(default_factory=list)  # ignored or unusual: graded anyway
    problems: list = field(default_factory=list)  # cost points: a notebook could not be graded
    timestamp: bool = True  # whether the submission says when it was made


def survey(release, submission):
    """Compare a submission folder with the release folder of the assignment."""
    found = Survey()
    expected = {path.stem: path for path in sorted(release.glob("*.ipynb"))}
    present = {path.stem: path for path in sorted(submission.glob("*.ipynb")) if not path.is_symlink()}
    strays = {name: path for name, path in present.items() if name not in expected}
    for name, release_path in expected.items():
        reference = nbformat.read(release_path, as_version=4)
        path = present.get(name) or _misnamed(reference, strays, found, name)
        if path is None:
            found.problems.append(f"{name}.ipynb: missing (its cells score 0)")
            continue
        try:
            nbformat.read(path, as_version=4)
        except Exception as error:  # JSON or nbformat errors: the file cannot be graded at all
            found.problems.append(f"{path.name}: unreadable, not a notebook ({error_line(error)})")
            continue
        found.notebooks[name] = path
    extra = sorted(p.name for p in strays.values()) + _extra_files(release, submission)
    if extra:
        found.notes.append(f"files not used for grading: {', '.join(extra)}")
    found.timestamp = _is_file(submission / TIMESTAMP)
    return found


def _is_file(path):
    """A file of the submission: a link is not one. Local grading, a cluster's transfer and the
    submission's digest all leave links out, and a link may name any file of the grader's
    machine, or one that never ends (/dev/zero)."""
    return path.is_file() and not path.is_symlink()


def stage(found, submission, destination):
    """Copy the notebooks to grade, under their proper names, and the submission's timestamp and
    exchange secret into `destination`."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for name, path in found.notebooks.items():
        shutil.copy2(path, destination / f"{name}.ipynb")
    for kept in (TIMESTAMP, SECRET):
        if _is_file(submission / kept):
            shutil.copy2(submission / kept, destination / kept)


def digest(folder):
    """A hash of every file's path and bytes under `folder` (caches, checkpoints and links left
    out, as a cluster's transfer leaves them out): it changes when the folder's content does."""
    hasher = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if _is_file(p)):
        relative = path.relative_to(folder)
        if not IGNORED & set(relative.parts):
            hasher.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()


def survey_key(release, submission):
    """What a survey depends on: the submission's content and the release's."""
    return f"{digest(submission)}:{digest(release)}"


def _misnamed(reference, strays, found, name):
    """The unexpected notebook that holds this notebook's graded functions, if exactly one does."""
    wanted = {cell.metadata["nbgrader"]["grade_id"] for cell in reference.cells
              if is_grade(cell) or is_solution(cell)}
    candidates = []
    for stray_name, path in strays.items():
        try:
            cells = nbformat.read(path, as_version=4).cells
        except Exception:
            continue
        if wanted & (set(_grade_ids_of(cells)) | _functions(cells)):
            candidates.append(stray_name)
    if len(candidates) != 1:
        return None
    path = strays.pop(candidates[0])
    found.notes.append(f"{path.name}: misnamed, graded as {name}.ipynb")
    return path


def repair(notebook, reference, label):
    """Mend `notebook` in place against its release copy `reference`: give copies of graded cells
    and cells without metadata the metadata nbgrader needs, put back deleted provided cells, and
    say which test cells were deleted or edited (nbgrader restores them from the gradebook).
    Returns what was found."""
    notes = []
    _drop_duplicates(notebook, label, notes)
    _reattach(notebook, reference, label, notes)
    present = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in notebook.cells
               if "grade_id" in cell.metadata.get("nbgrader", {})}
    for cell in reference.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("grade") and cell.cell_type == "code") and not is_provided(cell):
            continue
        kind = "test cell" if meta.get("grade") else "provided cell"
        mine = present.get(meta["grade_id"])
        if mine is None:
            if is_provided(cell):  # nbgrader restores deleted test cells, not provided ones
                _restore(notebook, reference, cell)
            notes.append(f"{label}: {kind} {meta['grade_id']} deleted (restored from the course)")
        elif mine.source.strip() != cell.source.strip():
            notes.append(f"{label}: {kind} {meta['grade_id']} edited (restored from the course)")
    return notes


def _restore(notebook, reference, cell):
    """Put a copy of a release cell back after the nearest earlier release cell still present."""
    position = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(notebook.cells)}
    earlier = reference.cells[:reference.cells.index(cell)]
    after = next((position[c.metadata["nbgrader"]["grade_id"]] for c in reversed(earlier)
                  if c.metadata.get("nbgrader", {}).get("grade_id") in position), -1)
    notebook.cells.insert(after + 1, copy.deepcopy(cell))


def _drop_duplicates(notebook, label, notes):
    """Keep nbgrader metadata on the last copy of a graded cell, as nbgrader's DeduplicateIds
    does, but remove it from the earlier copies (instead of leaving an empty entry)."""
    seen = set()
    for cell in reversed(notebook.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            continue
        if grade_id in seen:
            del cell.metadata["nbgrader"]
            notes.append(f"{label}: cell {grade_id} appears more than once "
                         f"(only the last copy is graded)")
        seen.add(grade_id)


def _reattach(notebook, reference, label, notes):
    """Match cells that lost their nbgrader metadata to release cells: solution cells by the
    function they define, every other cell by its exact source."""
    present = set(_grade_ids_of(notebook.cells))
    missing = [cell for cell in reference.cells
               if "grade_id" in cell.metadata.get("nbgrader", {})
               and cell.metadata["nbgrader"]["grade_id"] not in present]
    bare = [cell for cell in notebook.cells if "nbgrader" not in cell.metadata]
    matched = 0
    for wanted in missing:
        meta = wanted.metadata["nbgrader"]
        for cell in bare:
            if cell.cell_type == wanted.cell_type and (
                    (is_solution(wanted) and meta["grade_id"] in _functions([cell]))
                    or cell.source.strip() == wanted.source.strip()):
                cell.metadata["nbgrader"] = copy.deepcopy(meta)
                bare.remove(cell)
                matched += 1
                break
    if matched:
        notes.append(f"{label}: nbgrader metadata missing on {matched} cells, matched to the "
                     f"release by content")


def is_provided(cell):
    """A read-only code cell of the course that is not a test: imports, data, training runs."""
    return cell.cell_type == "code" and is_locked(cell) and not is_grade(cell)


def is_experiment(cell):
    """A provided cell the release tags "experiment": plots and timings beside the written answers."""
    return is_provided(cell) and EXPERIMENT_TAG in cell.metadata.get("tags", [])


def keep_experiment_outputs(notebook, reference):
    """{grade_id: outputs} of `notebook`'s cells that are experiments in `reference` (the release
    copy decides, whatever tags the student's copy carries); an experiment's outputs beyond
    KEPT_BYTES are left out."""
    experiments = {cell.metadata["nbgrader"]["grade_id"] for cell in reference.cells if is_experiment(cell)}
    kept = {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in experiments and grade_id not in kept:
            kept[grade_id], size = [], 0
            for output in cell.get("outputs", []):
                size += len(json.dumps(output))
                if size > KEPT_BYTES:
                    break
                kept[grade_id].append(output)
    return {grade_id: kept.get(grade_id, []) for grade_id in experiments}


def _grade_ids_of(cells):
    return [cell.metadata["nbgrader"]["grade_id"] for cell in cells
            if "grade_id" in cell.metadata.get("nbgrader", {})]


def _functions(cells):
    """Names of the top-level functions defined in these code cells (unparsable cells skipped)."""
    names = set()
    for cell in cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        names |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    return names


def _extra_files(release, submission):
    """Files of the submission that are neither a notebook, the timestamp or secret, nor a course file.
    Course files are always replaced by the course's own copies when grading."""
    extra = []
    for path in sorted(submission.rglob("*")):
        relative = path.relative_to(submission)
        if path.is_symlink() and not IGNORED & set(relative.parts):
            extra.append(f"{relative} ({LINK})")
            continue
        if (path.is_dir() or IGNORED & set(relative.parts) or path.suffix == ".ipynb"
                and len(relative.parts) == 1 or str(relative) in (TIMESTAMP, SECRET)):
            continue
        if not (release / relative).is_file():
            extra.append(str(relative))
        elif (release / relative).read_bytes() != path.read_bytes():
            extra.append(f"{relative} (modified; the course's copy is used)")
    return extra


def release_folder(config, assignment):
    """The assignment's folder of the release, where nbgrader's configuration `config` puts it:
    the course's own notebooks and files, which the student's submission never replaces."""
    coursedir = CourseDirectory(config=config)
    return Path(coursedir.format_path(coursedir.release_directory, ".", assignment))
