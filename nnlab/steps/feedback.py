"""The course's steps in nbgrader's GenerateFeedback: what students get back, without hidden tests
or mark schemes, whatever the door.

nbgrader's own feedback shows the autograded notebook, whose test cells were restored from the
gradebook with their hidden tests, and whose written questions still hold their mark schemes.
`nbgrader_config.py` gives nbgrader's GenerateFeedback (the command, formgrader's button and
`nnlab feedback` alike) these steps instead (`results.feedback` runs the command):

- `StudentView` leaves out the grader's note for TAs (`autograde.grader_note`), and replaces a
  notebook whose points are held for review by a note saying so: its feedback is for after the
  TA's decision.
- `HiddenTestsFeedback` removes a hidden test's source and shows only its verdict: passed, or the
  type and message of its error (never its traceback lines, nor anything the cell printed: student
  code called by the test could print the test's own source).
- nbgrader's `ClearMarkScheme` removes the mark schemes.
- `RedactHiddenLines`, the last pass over every source and output, replaces any line that holds a
  line of a hidden test or a mark scheme (whitespace ignored), and keeps only plain text and
  images from rich outputs (HTML could hide such lines from a line check).
"""
import re
from functools import lru_cache
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell, new_output
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from .autograde import is_grader_note
from . import review

REMOVED = "[a line of a hidden test was removed here]"
KEPT_DATA = ("text/plain", "image/png", "image/jpeg")
MIN_LINE = 12  # characters (whitespace removed) for a hidden line to be looked for: shorter ones
# (`else:`, `)`) say nothing about a test
MESSAGE_LIMIT = 2000  # characters of a hidden test's error message shown


UNDER_REVIEW = ("**This notebook is under review.** A TA is looking at it before its points count; "
                "its feedback comes after the decision.")


class StudentView(NbGraderPreprocessor):
    """No note for TAs; a notebook whose points are held for review gets a note instead of its
    feedback."""

    def preprocess(self, nb, resources):
        ids = resources["nbgrader"]
        with Gradebook(ids["db_url"]) as gradebook:
            held = review.held_notebooks(gradebook, ids["assignment"], ids["student"])
        if ids["notebook"] in held:
            nb.cells = [new_markdown_cell(UNDER_REVIEW)]
        nb.cells = [cell for cell in nb.cells if not is_grader_note(cell)]
        return nb, resources


class HiddenTestsFeedback(ClearHiddenTests):
    """Remove hidden tests from the feedback, their source, output and traceback lines."""

    def preprocess_cell(self, cell, resources, cell_index):
        hidden = cell.cell_type == "code" and self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if hidden:
            errors = [out for out in cell.get("outputs", []) if out.output_type == "error"]
            cell.outputs = [_verdict(errors[0] if errors else None)]
        return cell, resources


class RedactHiddenLines(NbGraderPreprocessor):
    """The last pass: no line of a hidden test or a mark scheme leaves in any source or output."""

    def preprocess(self, nb, resources):
        coursedir = CourseDirectory(config=self.config)
        assignment = resources["nbgrader"]["assignment"]
        secret = secret_lines(Path(coursedir.root), coursedir.source_directory,
                              coursedir.release_directory, assignment)
        for cell in nb.cells:
            cell.source = redact(cell.source, secret)
            for output in cell.get("outputs", []):
                _redact_output(output, secret)
        return nb, resources


def redact(text, secret):
    """`text` with every line that contains a secret line (whitespace ignored) replaced."""
    if not text or not secret:
        return text
    lines = text.split("\n")
    return "\n".join(REMOVED if any(s in _squeeze(line) for s in secret) else line for line in lines)


def secret_lines(root, source_dir, release_dir, assignment):
    """Lines (whitespace removed) of the hidden tests and mark schemes of the source notebooks
    that appear nowhere in the released notebooks."""
    notebooks = tuple(sorted((path, path.stat().st_mtime_ns) for kind in (source_dir, release_dir)
                             for path in (Path(root) / kind / assignment).glob("*.ipynb")))
    return _secret_lines(Path(root), source_dir, release_dir, assignment, notebooks)


@lru_cache(maxsize=8)
def _secret_lines(root, source_dir, release_dir, assignment, notebooks):
    """secret_lines, computed once per version of the notebooks (`notebooks`: their paths and
    modification times), as a formgrader process lives through edits of the course."""
    def lines_of(kind, regions):
        found = set()
        for path in sorted((root / kind / assignment).glob("*.ipynb")):
            for cell in nbformat.read(path, as_version=4).cells:
                found |= {_squeeze(line) for line in regions(cell.source)}
        return found

    hidden = lines_of(source_dir, _hidden_regions)
    public = lines_of(release_dir, lambda source: source.split("\n"))
    return frozenset(line for line in hidden - public if len(line) >= MIN_LINE)


def _verdict(error):
    """A hidden test's outcome as the student sees it."""
    if error is None:
        return new_output("stream", name="stdout", text="Hidden test passed.\n")
    message = str(error.get("evalue", ""))[:MESSAGE_LIMIT]
    return new_output("error", ename=error.get("ename", "Error"), evalue=message,
                      traceback=[f"{error.get('ename', 'Error')}: {message}",
                                 "(the lines of this hidden test are not shown)"])


def _redact_output(output, secret):
    if output.output_type == "stream":
        output.text = redact(output.text, secret)
    elif output.output_type == "error":
        output.evalue = redact(output.evalue, secret)
        output.traceback = [redact(line, secret) for line in output.traceback]
    elif "data" in output:
        output.data = {kind: redact(value, secret) if kind == "text/plain" else value
                       for kind, value in output.data.items() if kind in KEPT_DATA}


def _hidden_regions(source):
    """Lines inside BEGIN/END HIDDEN TESTS and BEGIN/END MARK SCHEME blocks."""
    inside, lines = False, []
    for line in source.split("\n"):
        if re.search(r"(### BEGIN HIDDEN TESTS|=== BEGIN MARK SCHEME ===)", line):
            inside = True
        elif re.search(r"(### END HIDDEN TESTS|=== END MARK SCHEME ===)", line):
            inside = False
        elif inside:
            lines.append(line)
    return lines


def _squeeze(line):
    """A line without whitespace or terminal colour codes (tracebacks carry them)."""
    return re.sub(r"\s+", "", re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line))

