"""Reading scores from nbgrader's gradebook, and writing them as CSV."""
import csv

from nbgrader.api import Gradebook, MissingEntry


def cell_scores(course, student):
    """{grade_id: (score, max_score)} of every autograded test cell of a student's submission,
    or None when the gradebook has no graded submission for the student."""
    scores = {}
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        for path in course.notebooks("source"):
            try:
                notebook = gradebook.find_submission_notebook(path.stem, course.assignment, student)
            except MissingEntry:
                return None
            for grade in notebook.grades:
                if grade.cell_type == "code":  # the autograded tests; written answers are manual
                    scores[grade.name] = (grade.score, grade.max_score)
    return scores


def write_csv(path, rows, cells):
    """One row per student: id, total, maximum, then the score of every test cell."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "total", "max", *cells])
        for student, scores in rows:
            if scores is None:
                writer.writerow([student, "", "", *[""] * len(cells)])
                continue
            total = sum(score for score, _ in scores.values())
            maximum = sum(top for _, top in scores.values())
            writer.writerow([student, total, maximum, *[scores.get(c, ("", ""))[0] for c in cells]])
