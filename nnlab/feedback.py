"""`nnlab feedback`: the HTML feedback students get back, with hidden tests kept hidden.

nbgrader's own feedback shows the autograded notebook, whose test cells were restored from the
gradebook with their hidden tests, and whose written questions still hold their mark schemes
(removed here by nbgrader's ClearMarkScheme). Its ClearHiddenTests removes that source, but a failing hidden
assert would still show its line in the traceback. `HiddenTestsFeedback` does both: it removes
the hidden region and reduces the error of such a cell to its type and message.
"""
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, GetGrades

from .export import UNGRADED
from .ledger import Ledger


class HiddenTestsFeedback(ClearHiddenTests):
    """Remove hidden tests from the feedback, their source and their traceback lines."""

    def preprocess_cell(self, cell, resources, cell_index):
        hidden = cell.cell_type == "code" and self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if hidden:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}",
                                        "(the lines of this hidden test are not shown)"]
        return cell, resources


def generate_feedback(course, students=None, out=print):
    """Write feedback/<student>/<assignment>/*.html for every graded student (or those named).
    Returns the students whose feedback was written."""
    ledger = Ledger(course)
    graded = sorted(s for s, e in ledger.entries.items() if e["status"] not in UNGRADED)
    chosen = graded if not students else [s for s in students if s in graded]
    for student in sorted(set(students or ()) - set(chosen)):
        out(f"{student}: no feedback (not graded: {(ledger.get(student) or {}).get('status', 'no submission')})")
    for student in chosen:
        _convert(course, student)
        out(f"{student}: {course.root / 'feedback' / student / course.assignment}")
    return chosen


def _convert(course, student):
    config = course.config()
    config.CourseDirectory.assignment_id = course.assignment
    config.CourseDirectory.student_id = student
    config.GenerateFeedback.preprocessors = [HiddenTestsFeedback, ClearMarkScheme, GetGrades,
                                             CSSHTMLHeaderPreprocessor]
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    converter.force = True
    converter.start()
