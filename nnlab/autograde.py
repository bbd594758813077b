"""Autograding several submissions at once, each by its own `nbgrader autograde` process."""
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path


def nbgrader_command(course, *args):
    """Run `nbgrader ARGS` in the course folder (alembic on PATH); returns the CompletedProcess."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course.root, env=env,
                          capture_output=True, text=True)


def autograde_students(course, students, jobs=None, report=print):
    """`nbgrader autograde --student S` for every student, `jobs` processes at a time (default:
    the number of cores). Returns {student: CompletedProcess}; `report` gets a progress line each."""
    jobs = jobs or os.cpu_count() or 1
    results = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        started = time.perf_counter()
        futures = {pool.submit(nbgrader_command, course, "autograde", course.assignment,
                               "--student", student, "--force"): student for student in students}
        for done, future in enumerate(as_completed(futures), 1):
            student = futures[future]
            results[student] = future.result()
            status = "graded" if results[student].returncode == 0 else "FAILED"
            report(f"[{done}/{len(students)}] {student}: {status} ({time.perf_counter() - started:.0f} s)")
    return results
