"""Runs of the course's provided code that every student's notebook makes alike, computed once.

Some cells train on provided code alone (part 1's "no regularization" run): they give the same
result in every notebook, yet each grading kernel would spend seconds on them. The course names a
module of its code (`GuardedExecute.provided_runs`, "labkit.network") that, run from the release
folder as `python -m MODULE FOLDER`, writes into FOLDER the files to put in each grading kernel's
working folder; the course's code there reads the recorded runs instead of training (see
labkit/runs.py). It is run once per release, Python and kernel environment (the one the kernels get:
numerics depend on it), by the grader, out of any student's reach, and kept under the course's
grading/provided-runs/. Graders at once never wait for it: while one makes it, the others'
kernels compute the runs themselves, as they do after it failed (once: it is not run again). A
full grading (`GuardedExecute.full`) puts nothing there: every cell computes as for the student.
"""
import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from .intake import digest

PREPARE_SECONDS = 120  # a run that takes longer is abandoned: the kernels then compute themselves


def prepared(release, module, environment, course_root, log):
    """The folder of files `module` writes for kernels of `release` run in `environment`, made
    now unless made before; None while another grader makes it, or (logged) if the module failed."""
    store, name = store_of(course_root), key(release, module, environment)
    store.mkdir(parents=True, exist_ok=True)
    folder, failed = store / name, store / f"{name}.failed"
    if folder.is_dir() or failed.is_file():
        return folder if folder.is_dir() else None
    with open(store / f"{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another grader is making it: this kernel computes, no waiting
            return None
        if not (folder.is_dir() or failed.is_file()):
            _make(folder, failed, release, module, environment, log)
    return folder if folder.is_dir() else None


def store_of(course_root):
    """Where a course keeps its recorded provided runs."""
    return Path(course_root) / "grading" / "provided-runs"


def key(release, module, environment):
    """What the recorded runs depend on: the module, the release's content, the Python and the
    kernels' environment."""
    content = (module, digest(release), sys.executable, sorted(environment.items()))
    return hashlib.sha256(repr(content).encode()).hexdigest()[:32]


def _make(folder, failed, release, module, environment, log):
    partial = folder.with_name(f"{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        subprocess.run([sys.executable, "-m", module, str(partial)], cwd=release, env=environment,
                       check=True, capture_output=True, text=True, timeout=PREPARE_SECONDS)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as failure:
        why = f"{failure}\n{(failure.stderr or '')[-2000:]}"
        log.warning("the course's provided runs (%s) were not recorded, the kernels compute them: %s",
                    module, why)
        failed.write_text(why)
        shutil.rmtree(partial, ignore_errors=True)
        return
    partial.rename(folder)


def place(folder, working_folder):
    """Put the prepared files in a kernel's working folder, readable by the kernel's user."""
    shutil.copytree(folder, working_folder, dirs_exist_ok=True)
    for path in folder.rglob("*"):  # whatever the grader's umask
        (Path(working_folder) / path.relative_to(folder)).chmod(0o755 if path.is_dir() else 0o644)
