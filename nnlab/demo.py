"""`nnlab demo`: build the release, then fill, autograde and export the demo class."""
import tomllib
from pathlib import Path

from .autograde import autograde_students
from .fill import fill
from .grades import cell_scores, write_csv
from .release import build

DEMO = Path(__file__).resolve().parent.parent / "demo"


def manifest():
    """The demo students: [{"id", "files" (paths), "lost" (test cells expected to score 0)}]."""
    with open(DEMO / "manifest.toml", "rb") as handle:
        students = tomllib.load(handle)["student"]
    for student in students:
        student["files"] = [DEMO / "students" / name for name in student["files"]]
    return students


def run_demo(course):
    build(course)
    students = manifest()
    for student in students:
        fill(course, student["files"], student["id"], force=True)
    outcomes = autograde_students(course, [s["id"] for s in students])
    results = [(s, cell_scores(course, s["id"]) if outcomes[s["id"]].returncode == 0 else None)
               for s in students]
    cells = sorted({cell for _, scores in results if scores for cell in scores})
    write_csv(course.root / "grades.csv", [(s["id"], scores) for s, scores in results], cells)
    print(f"\nwrote {course.root / 'grades.csv'}\n")
    print_table(results)


def print_table(results):
    print(f"{'student':<32}{'score':>12}  {'as expected':<12}lost cells")
    for student, scores in results:
        if scores is None:
            print(f"{student['id']:<32}{'failed':>12}")
            continue
        lost = sorted(cell for cell, (score, top) in scores.items() if score < top)
        total = sum(score for score, _ in scores.values())
        top = sum(top for _, top in scores.values())
        expected = "yes" if set(lost) == set(student["lost"]) else "NO"
        print(f"{student['id']:<32}{total:>6g} / {top:<3g}  {expected:<12}{', '.join(lost) or '-'}")
