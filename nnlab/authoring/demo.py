"""`nnlab demo`: build the release, make the demo class, grade it, export, report and feedback,
and compare each student's outcome with the manifest."""
import tomllib
from pathlib import Path

from dateutil import parser as date_parser

from ..authoring import damage
from ..grading.batch import grade_class
from ..results.export import write_csv
from ..results.feedback import generate_feedback
from .fill import fill
from .release import build
from ..results.report import write_report
from ..results.similarity import write_similarity

DEMO = Path(__file__).resolve().parents[2] / "demo"


def manifest():
    """(grading settings, students): each student a dict with "id", "files" (paths: `files`
    then `bugs`), "bugs", "damage", "submitted", "status", "reasons", "lost", "held",
    "late_penalty"."""
    with open(DEMO / "manifest.toml", "rb") as handle:
        data = tomllib.load(handle)
    settings = data["grading"]
    blank = next(student["lost"] for student in data["student"] if student["id"] == "blank")
    for student in data["student"]:
        if student.get("lost") == "as blank":  # scores no more than the blank submission
            student["lost"] = list(blank)
        student["bugs"] = [DEMO / "students" / name for name in student.get("bugs", [])]
        student["files"] = [DEMO / "students" / name for name in student["files"]] + student["bugs"]
        student.setdefault("damage", [])
        student.setdefault("submitted", settings["submitted"])
        student.setdefault("status", "ok")
        student.setdefault("reasons", [])
        student.setdefault("late_penalty", 0.0)
        student.setdefault("held", [])
    return settings, data["student"]


def limits(settings):
    """nbgrader configuration for grading the demo class (see the manifest's [grading])."""
    return {"Execute": {"timeout": settings["cell_timeout"]},
            "GuardedExecute": {"time_budget": settings["time_budget"]}}


def make_class(course, students):
    """Write every demo student's submission under submitted/."""
    for student in students:
        fill(course, student["files"], student["id"], date_parser.parse(student["submitted"]),
             force=True)
        damage.apply(course.submission(student["id"]), student["damage"])


def run_demo(course, jobs=None):
    build(course)
    settings, students = manifest()
    make_class(course, students)
    grade_class(course, jobs=jobs, force=True, config=limits(settings))
    rows = {row["student"]: row for row in write_csv(course, course.root / "grades.csv")}
    feedback = generate_feedback(course, out=lambda line: None)
    write_similarity(course, DEMO / "known_solutions")
    print(f"\nwrote {course.root / 'grades.csv'}, {write_report(course)}, and the feedback of "
          f"{len(feedback)} students under {course.root / 'feedback'}\n")
    print_table(students, rows)


def earned(row, cell):
    """What the autograder gave a cell: for a held notebook, what accepting it would count."""
    score = row["scores"][cell][0]
    return score if row["auto"].get(cell) is None else row["auto"][cell]


def lost_cells(row):
    """The graded cells that did not get full marks from the autograder (sorted)."""
    return sorted(cell for cell, (score, top) in (row["scores"] or {}).items()
                  if score is not None and earned(row, cell) < top)


def mismatches(student, row):
    """How a graded student differs from the manifest (empty: as expected)."""
    found = []
    lost = lost_cells(row)
    if row["status"] != student["status"]:
        found.append(f"status {row['status']}, expected {student['status']}")
    if lost != sorted(student["lost"]):
        found.append(f"lost {', '.join(lost) or 'nothing'}")
    for text in student["reasons"]:
        if not any(text in reason for reason in row["reasons"]):
            found.append(f"no reason saying {text!r}")
    if sorted(row["held"]) != sorted(student["held"]):
        found.append(f"points held in {', '.join(sorted(row['held'])) or 'no notebook'}")
    if abs(row["late_penalty"] - student["late_penalty"]) > 1e-9:
        found.append(f"late penalty {row['late_penalty']:g}, expected {student['late_penalty']:g}")
    return found


def print_table(students, rows):
    width = max(len(student["id"]) for student in students) + 2
    print(f"{'student':<{width}}{'status':<12}{'score':>12}  as expected")
    for student in students:
        row = rows[student["id"]]
        score = "held" if row["held"] else "" if row["total"] is None else \
            f"{row['total']:g} / {row['max']:g}"
        wrong = mismatches(student, row)
        print(f"{student['id']:<{width}}{row['status']:<12}{score:>12}  "
              f"{'yes' if not wrong else 'NO: ' + '; '.join(wrong)}")
