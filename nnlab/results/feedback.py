"""`nnlab feedback`: feedback pages for every graded student, made by nbgrader's GenerateFeedback
with the course's steps (`steps.feedback`: no hidden test, mark scheme or note for TAs, and a note
instead of a held notebook), as `nbgrader generate_feedback` and formgrader's button make them."""
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory

from ..grading.ledger import Ledger
from ..grading.outcome import class_students, graded_students


def generate_feedback(course, students=None, out=print):
    """Write feedback/<student>/<assignment>/*.html for every graded student (or those named),
    with nbgrader's GenerateFeedback as the course configures it. Students that cannot get
    feedback are named with the reason. Returns the students whose feedback was written."""
    graded = graded_students(course)
    chosen = sorted(graded) if not students else [s for s in students if s in graded]
    for student in sorted(set(students or class_students(course)) - set(chosen)):
        out(f"{student}: no feedback ({_why_not(course, student)})")
    written = []
    for student in chosen:
        try:
            _convert(course, student)
        except Exception as error:  # one student's missing files must not stop the others
            out(f"{student}: no feedback ({str(error).strip().splitlines()[-1][:200]})")
            continue
        written.append(student)
        out(f"{student}: {course.root / 'feedback' / student / course.assignment}")
    return written


def _convert(course, student):
    config = course.config()
    config.CourseDirectory.assignment_id = course.assignment
    config.CourseDirectory.student_id = student
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    converter.force = True
    converter.start()


def _why_not(course, student):
    entry = Ledger(course).get(student)
    if entry is None:
        return "not graded"
    if not (course.root / "autograded" / student / course.assignment).is_dir():
        return f"its autograded notebooks are gone (last status: {entry['status']}); grade it again"
    return f"not graded: {entry['status']}"
