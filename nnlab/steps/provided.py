"""Runs of the course's provided code that every student's notebook makes alike, computed once.

Some cells train on provided code alone (part 1's "no regularization" run): they give the same
result in every notebook, yet each grading kernel would spend seconds on them. The course names a
module of its code (`GuardedExecute.provided_runs`, "labkit.network") that, run from the release
folder as `python -m MODULE FOLDER`, writes into FOLDER the files to put in each grading kernel's
working folder; the course's code there reads the recorded runs instead of training (see
labkit/runs.py). It is run once per release, Python and kernel environment (the one the kernels get:
numerics depend on it), by the grader, out of any student's reach, and kept under the course's
grading/provided-runs/; graders at once wait for the first one's run. A full grading
(`GuardedExecute.full`) puts nothing there: every cell computes as it would for the student.
"""
import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from .intake import digest

PREPARE_SECONDS = 600  # a run that takes longer is abandoned: the kernels then train themselves


def prepared(release, module, environment, course_root, log):
    """The folder of files `module` writes for kernels of `release` run in `environment`, made
    now unless made before; None (logged) if the module failed."""
    key = hashlib.sha256(repr((module, digest(release), sys.executable, sorted(environment.items())))
                         .encode()).hexdigest()[:32]
    store = Path(course_root) / "grading" / "provided-runs"
    store.mkdir(parents=True, exist_ok=True)
    folder = store / key
    with open(store / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another grader making it: wait, then read its folder
        if not folder.is_dir():
            _make(folder, release, module, environment, log)
    return folder if folder.is_dir() else None


def _make(folder, release, module, environment, log):
    partial = folder.with_name(f"{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        subprocess.run([sys.executable, "-m", module, str(partial)], cwd=release, env=environment,
                       check=True, capture_output=True, text=True, timeout=PREPARE_SECONDS)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as failure:
        log.warning("the course's provided runs (%s) were not recorded, the kernels compute them: "
                    "%s %s", module, failure, (failure.stderr or "")[-2000:])
        shutil.rmtree(partial, ignore_errors=True)
        return
    partial.rename(folder)


def place(folder, working_folder):
    """Put the prepared files in a kernel's working folder, readable by the kernel's user."""
    shutil.copytree(folder, working_folder, dirs_exist_ok=True)
    for path in folder.rglob("*"):  # whatever the grader's umask
        (Path(working_folder) / path.relative_to(folder)).chmod(0o755 if path.is_dir() else 0o644)
