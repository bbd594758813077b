"""Batch grading speed, measured side by side in one run on the same 8 submissions:

- speed-up: plain serial `nbgrader autograde` (nbgrader's own steps: every cell, test cells in the
  student's kernel) over `nnlab grade --jobs 2` (the graded path; target >= 3.2x on 2 cores);
- overhead, and the judge's cost: `nnlab grade --jobs 1 --no-sandbox --full` (test cells in the
  judge's process, calling the student's functions through the channel) over executing the same
  (autograded) notebooks with nbclient alone, every cell, test cells in the kernel as before the
  judge, one after the other (target <= 1.15x);
- the graded path: `nnlab grade --jobs 1` over `nnlab grade --jobs 1 --full` (target <= 0.55x),
  and at `--jobs J` its parallel efficiency (time at one job over J times the time at J jobs,
  target >= 0.9) and the time 300 submissions would take on 16 cores at that efficiency;
- the sandbox's cost: `nnlab grade --jobs 1 --full` over the same with `--no-sandbox`, as the
  user running the benchmark (root: kernels switched to a sandbox uid) and, with `--user NAME`
  when run as root, as that ordinary user (rootless: kernels in a user namespace); target <= 1.1x;
- on a Dask cluster on this machine (Dask's LocalCluster of one-thread worker processes): one
  worker over two workers (target >= 1.8x on 2 cores), and two workers over `nnlab grade --jobs 2`
  (the cluster's overhead per submission, target <= 1.1x).

Run: .venv/bin/python bench/grading.py [--students 8] [--jobs J] [--user NAME]
     [--only cluster | judge | path | speedup]
     [--rounds R]
(`--user` needs a Python environment that user can run: a .venv made from /usr/bin/python3.)
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nnlab.authoring.demo import DEMO
from nnlab.authoring.fill import fill
from nnlab.authoring.release import build
from nnlab.course import Course
from nnlab import THREAD_LIMITS

ROOT = Path(__file__).resolve().parents[1]

STYLES = ["classic", "compact", "factors", "helpers", "float_masks"]
BN_STYLES = ["classic", "dict_cache", "graph_staged", "inverse_std_layernorm", "twelve_item_cache"]


def make_class(course, count):
    for index in range(count):
        files = [DEMO / "students" / "regularization" / f"{STYLES[index % 5]}.py",
                 DEMO / "students" / "batchnorm" / f"{BN_STYLES[index % 5]}.py"]
        fill(course, files, f"student{index:02d}", force=True)


def timed(command, course, env=None):
    started = time.perf_counter()
    result = subprocess.run(command, cwd=course.root, capture_output=True, text=True,
                            env=dict(os.environ, **(env or {})))
    if result.returncode:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return time.perf_counter() - started


def plain_serial(course):
    """Seconds of plain `nbgrader autograde` of the class, one student after the other: nbgrader's
    own steps (every cell, test cells in the student's kernel), in a process of its own."""
    return timed([sys.executable, __file__, "--plain-autograde", str(course.root)], course)


def nnlab_grade(course, jobs, sandbox=True, user=None, full=False):
    command = [sys.executable, "-m", "nnlab.cli", "grade", "--force", "--jobs", str(jobs),
               *([] if sandbox else ["--no-sandbox"]), *(["--full"] if full else [])]
    if user:  # alembic (a console script of the venv) must be on PATH
        command = ["runuser", "-u", user, "--", "env", "-i", "LANG=C.UTF-8",
                   f"PATH={Path(sys.executable).parent}:/usr/bin:/bin", *command]
    return graded(course, timed(command, course))


def graded(course, seconds):
    """`seconds`, once sure that every submission was graded in full (a grading that failed
    quickly would flatter the time)."""
    from nnlab.grading.outcome import class_rows

    broken = {r["student"]: r["reasons"] for r in class_rows(course)
              if r["status"] in ("failed", "incomplete", "interrupted")}
    if broken:
        sys.exit(f"not graded in full: {broken}")
    return seconds


def cluster_grade(course, workers):
    """`nnlab grade --cluster` on a fresh local Dask cluster of `workers` one-thread worker
    processes (their start is not timed)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster:  # any free port
        return graded(course, timed([sys.executable, "-m", "nnlab.cli", "grade", "--force",
                                     "--cluster", cluster.scheduler_address], course))


def as_user(course, user):
    """Hand the course folder (and the way to it) to `user`, for a run as that user."""
    os.chmod(course.root, 0o755)
    shutil.chown(course.root, user, user)
    for path in course.root.rglob("*"):
        shutil.chown(path, user, user)


def execute_only(course):
    """Execute every autograded notebook with nbclient, in the folder nbgrader ran it in."""
    from nnlab.notebooks import execute

    notebooks = sorted((course.root / "autograded").glob(f"*/{course.assignment}/*.ipynb"))
    started = time.perf_counter()
    for path in notebooks:
        execute(path, env=THREAD_LIMITS)  # as nnlab grade runs its kernels
    return time.perf_counter() - started


def main(argv=None):
    if argv is None and sys.argv[1:2] == ["--plain-autograde"]:  # plain_serial's own process
        Course(Path(sys.argv[2])).plain_autograde()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="jobs of the parallel "
                        "graded-path run (--only path)")
    parser.add_argument("--user", help="as root: also grade as this ordinary user (rootless)")
    parser.add_argument("--only", choices=["cluster", "judge", "path", "speedup"], help="only these measurements")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the judge's measurement (--only judge)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        course = Course(ROOT).copy_to(Path(folder))
        build(course)
        make_class(course, args.students)
        if args.only == "judge":
            # alternated, several rounds: a shared host's speed drifts by several percent
            rounds = [(nnlab_grade(course, 1, sandbox=False, full=True), execute_only(course))
                      for _ in range(args.rounds)]
            for unconfined, bare in rounds:
                print(f"{args.students} submissions: nnlab grade --jobs 1 --no-sandbox --full {unconfined:.1f} s, "
                      f"nbclient execution only {bare:.1f} s: {unconfined / bare:.2f}x")
            ratio = statistics.median(unconfined / bare for unconfined, bare in rounds)
            print(f"cost of the judge and nbgrader's steps  {ratio:.2f}x, the median of {args.rounds} "
                  f"rounds (target <= 1.15x)")
            return
        if args.only == "path":
            full = nnlab_grade(course, 1, full=True)
            path = nnlab_grade(course, 1)
            parallel = nnlab_grade(course, args.jobs)
            n, jobs = args.students, args.jobs
            efficiency = path / (jobs * parallel)
            print(f"\n{n} submissions: nnlab grade --jobs 1 --full {full:.1f} s, graded path "
                  f"{path:.1f} s, graded path --jobs {jobs} {parallel:.1f} s")
            print(f"graded path over full run     {path / full:.2f}x (target <= 0.55x)")
            print(f"parallel efficiency, {jobs} jobs  {efficiency:.2f} (target >= 0.9)")
            print(f"projected: 300 submissions on 16 cores in {300 * path / n / (16 * efficiency) / 60:.1f} min "
                  f"(this machine's {path / n:.1f} s per submission, this efficiency)")
            return
        if args.only == "speedup":
            serial, parallel = plain_serial(course), nnlab_grade(course, 2)
            print(f"\n{args.students} submissions: plain serial nbgrader autograde {serial:.1f} s, "
                  f"nnlab grade --jobs 2 {parallel:.1f} s")
            print(f"speed-up {serial / parallel:.2f}x (target >= 3.2x on 2 cores)")
            return
        parallel = nnlab_grade(course, 2)
        cluster_one = cluster_grade(course, 1)
        cluster_two = cluster_grade(course, 2)
        if not args.only:
            serial = plain_serial(course)
            one = nnlab_grade(course, 1, full=True)
            unconfined = nnlab_grade(course, 1, sandbox=False, full=True)
            bare = execute_only(course)
            if args.user:
                as_user(course, args.user)
                user_one = nnlab_grade(course, 1, user=args.user)
                user_unconfined = nnlab_grade(course, 1, sandbox=False, user=args.user)
    n = args.students
    print(f"\n{n} submissions, {os.cpu_count()} cores")
    print(f"Dask cluster, 1 worker           {cluster_one:7.1f} s")
    print(f"Dask cluster, 2 workers          {cluster_two:7.1f} s   speed-up {cluster_one / cluster_two:.2f}x (target >= 1.8x)")
    print(f"nnlab grade --jobs 2 (local)     {parallel:7.1f} s   cluster overhead {cluster_two / parallel:.2f}x (target <= 1.1x)")
    if args.only:
        return
    print(f"plain serial nbgrader autograde  {serial:7.1f} s")
    print(f"nnlab grade --jobs 2             {parallel:7.1f} s   speed-up {serial / parallel:.2f}x (target >= 3.2x)")
    print(f"nnlab grade --jobs 1 --full      {one:7.1f} s   {one / n:.1f} s per submission")
    print(f"nnlab grade --jobs 1 --no-sandbox --full {unconfined:6.1f} s   {unconfined / n:.1f} s per submission")
    print(f"nbclient execution only          {bare:7.1f} s   {bare / n:.1f} s per submission")
    print(f"overhead of nnlab grade          {unconfined / bare:.2f}x (target <= 1.15x)")
    who = "root" if os.geteuid() == 0 else "rootless"
    print(f"cost of the sandbox ({who})       {one / unconfined:.2f}x (target <= 1.1x)")
    if args.user:
        print(f"nnlab grade --jobs 1 as {args.user}: {user_one:.1f} s sandboxed, "
              f"{user_unconfined:.1f} s --no-sandbox")
        print(f"cost of the sandbox (rootless)   {user_one / user_unconfined:.2f}x (target <= 1.1x)")


if __name__ == "__main__":
    main()
