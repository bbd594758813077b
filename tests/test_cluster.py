"""Grading on a Dask cluster with the gradebook in PostgreSQL, against real servers on loopback:
the same grades, feedback and report as local grading with SQLite; a worker killed mid-submission;
the scheduler killed; a worker that cannot build the sandbox; an unreachable database."""
import csv
import html
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from nnlab.authoring.demo import make_class, manifest
from nnlab.course import Course, CourseError
from nnlab.grading import batch
from nnlab.grading.batch import grade_class
from nnlab.grading.cluster import SLOT_BASE
from nnlab.grading.late import apply_due_date
from nnlab.grading.sandbox import processes_of, uid_for_slot
from nnlab.results.export import write_csv
from nnlab.results.feedback import generate_feedback
from nnlab.results.report import write_report

from conftest import copy_course
from servers import DaskCluster, Postgres

SETTINGS, STUDENTS = manifest()
# A late submission (late penalty) and one whose points are held for review (review rows).
CHOSEN = ["late", "hostile_neuter_main_checks"]
PICKED = [s for s in STUDENTS if s["id"] in CHOSEN]
EXPECTED = {s["id"]: s for s in PICKED}
# The course's own limits (180 s per cell): the demo's 30 s is too tight for a busy machine,
# and neither student runs away.
LIMITS = {}
LOCAL_UID_BASE = 66000


@pytest.fixture(scope="session")
def postgres():
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    cluster = DaskCluster(hidden=tmp_path_factory.getbasetemp(), workers=2, refusing=1)
    yield cluster
    cluster.stop()


def released_course(folder, db_url=None):
    """A copy of the course, released into its gradebook (`db_url`: in nbgrader_config.py), with
    the chosen demo students' submissions."""
    course = copy_course(folder)
    if db_url:
        with open(course.root / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = {db_url!r}\n")
        course = Course(course.root)
    course.generate_release()
    apply_due_date(course)
    make_class(course, PICKED)
    return course


@pytest.fixture(scope="session")
def local_class(tmp_path_factory):
    """Graded here, forked workers, SQLite."""
    course = released_course(tmp_path_factory.mktemp("local"))
    with pytest.MonkeyPatch.context() as patch:
        # not the default sandbox uids: another grader may be using them on a shared machine
        patch.setattr(batch, "uid_for_slot", lambda slot: uid_for_slot(slot, base=LOCAL_UID_BASE))
        grade_class(course, config=LIMITS, out=lambda line: None)
    return course


@pytest.fixture(scope="session")
def cluster_class(tmp_path_factory, postgres, dask_cluster):
    """Graded on the cluster, PostgreSQL gradebook; `lines` is what nnlab grade printed."""
    course = released_course(tmp_path_factory.mktemp("cluster"), postgres.create_database("course"))
    lines = []
    course.results = grade_class(course, config=LIMITS, cluster=dask_cluster.address,
                                 out=lines.append)
    course.lines = lines
    return course


def csv_rows(course, path):
    write_csv(course, path)
    with open(path) as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_cluster_with_postgres_grades_as_local_grading_with_sqlite(local_class, cluster_class, tmp_path):
    """The same CSV, cell by cell, and the statuses the demo manifest expects."""
    assert cluster_class.db_url.startswith("postgresql")
    assert not [line for line in cluster_class.lines if "without the sandbox" in line]
    local = csv_rows(local_class, tmp_path / "local.csv")
    remote = csv_rows(cluster_class, tmp_path / "cluster.csv")
    assert set(remote) == set(CHOSEN)
    assert remote == local
    for student, row in remote.items():
        assert row["status"] == EXPECTED[student]["status"]
        assert float(row["late_penalty"]) == pytest.approx(EXPECTED[student]["late_penalty"])
    assert remote["hostile_neuter_main_checks"]["total"] == "held"


def test_a_worker_without_sandbox_refuses_work_and_says_why(cluster_class, dask_cluster):
    refusals = [line for line in cluster_class.lines if "refuses to grade" in line]
    assert len(refusals) == 1 and "bwrap not found" in refusals[0]
    refusing = refusals[0].split()[1]
    assert refusing not in {e["worker"] for e in cluster_class.results.values()}


def test_feedback_and_report_are_the_same_as_local(local_class, cluster_class):
    for course in (local_class, cluster_class):
        assert sorted(generate_feedback(course, out=lambda line: None)) == sorted(CHOSEN)
    for student in CHOSEN:
        for notebook in ("regularization", "batchnorm"):
            pages = [_content(c, (c.root / "feedback" / student / c.assignment / f"{notebook}.html")
                              .read_text()) for c in (local_class, cluster_class)]
            assert pages[0] == pages[1], (student, notebook)
    reports = [_content(c, write_report(c).read_text()) for c in (local_class, cluster_class)]
    assert reports[0] == reports[1]


def _content(course, page):
    """(images, visible text) of a page, without what differs between any two gradings: the
    course's folder, the kernel's scratch folder (in tracebacks), the timing cell's figures, and
    how the kernel split printed text into outputs."""
    page = page.replace(str(course.root), "ROOT")
    page = re.sub(r"nnlab-work-\w+", "nnlab-work-X", page)
    page = re.sub(r"is [\d.]+x as fast as (\w+) \(median of [^)]*\)", r"is N as fast as \1", page)
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", "", page)
    images = len(re.findall(r'src="data:image', page))
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return images, " ".join(text.split())


def test_a_worker_killed_mid_submission_costs_no_student(cluster_class, dask_cluster, tmp_path):
    """SIGKILL to the worker grading a submission: it is graded again on another worker, and
    every student is graded exactly once in the end, with the same grades."""
    before = csv_rows(cluster_class, tmp_path / "before.csv")
    grading = _cli_grade(cluster_class, dask_cluster.address, "--force")
    with dask_cluster.client() as client:
        busy = _wait_until_busy(client, grading)
        time.sleep(8)  # inside the notebook by now
        victim = client.run(os.getpid, workers=[busy])[busy]
        os.kill(victim, signal.SIGKILL)
    output, _ = grading.communicate(timeout=600)
    assert grading.returncode == 0, output
    progress = [line for line in output.splitlines() if re.match(r"\[\d/\d\]", line)]
    assert sorted(line.split()[1] for line in progress) == sorted(CHOSEN)  # each once
    assert csv_rows(cluster_class, tmp_path / "after.csv") == before
    with create_engine(cluster_class.db_url).connect() as db:
        counts = db.execute(text("select student_id, count(*) from submitted_assignment "
                                 "group by student_id")).all()
    assert dict(counts) == {student: 1 for student in CHOSEN}
    assert _eventually(lambda: not _cluster_kernels())  # the killed grading died with its worker
    dask_cluster.wait_for_workers(3)  # its nanny started a new one


def _cli_grade(course, address, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "nnlab.cli", "--course", str(course.root), "grade", "--cluster",
         address, *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_until_busy(client, grading, seconds=120):
    """The address of a worker running a grading task."""
    deadline = time.time() + seconds
    while time.time() < deadline and grading.poll() is None:
        busy = [worker for worker, tasks in client.processing().items()
                if any(str(key).startswith("nnlab-grade-") for key in tasks)]
        if busy:
            return busy[0]
        time.sleep(0.5)
    raise AssertionError("no worker started grading")


def test_scheduler_killed_stops_cleanly_and_the_rerun_finishes(cluster_class, dask_cluster,
                                                                tmp_path_factory):
    """A cluster of its own with one worker: the scheduler is killed while the second student
    is graded. nnlab grade stops with a clear message, that student is interrupted, and the next
    run (on the other cluster) grades only that student."""
    small = DaskCluster(hidden=tmp_path_factory.getbasetemp(), workers=1)
    try:
        ledger = cluster_class.root / "grading" / "status.json"
        grading = _cli_grade(cluster_class, small.address, "--force")
        assert _eventually(lambda: _statuses(ledger) == ["running", "running"], 120)
        assert _eventually(lambda: _statuses(ledger) == ["graded", "running"], 600)
        os.killpg(small.scheduler.pid, signal.SIGKILL)
        output, _ = grading.communicate(timeout=120)
    finally:
        small.stop()
    assert grading.returncode == 2, output
    assert "lost the Dask scheduler" in output and "Traceback" not in output
    statuses = {s: e["status"] for s, e in json.loads(ledger.read_text()).items()}
    assert sorted(statuses.values()) == ["graded", "interrupted"]
    rest = grade_class(cluster_class, config=LIMITS, cluster=dask_cluster.address,
                       out=lambda line: None)
    assert list(rest) == [s for s, status in statuses.items() if status == "interrupted"]
    assert {s: e["status"] for s, e in rest.items()} == {s: EXPECTED[s]["status"] for s in rest}


def test_unreachable_database_is_a_clear_error_before_any_grading(tmp_path):
    course = copy_course(tmp_path)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write("\nc.CourseDirectory.db_url = 'postgresql+psycopg://nobody@127.0.0.1:1/none'\n")
    make_class(Course(course.root), PICKED[:1])
    with pytest.raises(CourseError, match="cannot use the gradebook postgresql"):
        grade_class(Course(course.root), cluster="tcp://127.0.0.1:1")
    assert not (course.root / "grading").exists()


def test_ctrl_c_stops_the_workers_grading_and_the_next_run_finishes(cluster_class, dask_cluster):
    """SIGINT to nnlab grade while a worker grades: exit 130, the student is interrupted, the
    worker stops grading (its kernel is gone), and the next run grades that student."""
    grading = _cli_grade(cluster_class, dask_cluster.address, "--force", "late")
    with dask_cluster.client() as client:
        _wait_until_busy(client, grading)
        time.sleep(5)
        grading.send_signal(signal.SIGINT)
        output, _ = grading.communicate(timeout=60)
        assert grading.returncode == 130, output
        ledger = json.loads((cluster_class.root / "grading" / "status.json").read_text())
        assert ledger["late"]["status"] == "interrupted"
        assert _eventually(lambda: not _grading_tasks(client) and not _cluster_kernels())
    rest = grade_class(cluster_class, config=LIMITS, cluster=dask_cluster.address,
                       out=lambda line: None)
    assert list(rest) == ["late"] and rest["late"]["status"] == "late"


def _statuses(ledger):
    return sorted(e["status"] for e in json.loads(ledger.read_text()).values())


def _grading_tasks(client):
    return [key for tasks in client.processing().values() for key in tasks
            if str(key).startswith("nnlab-grade-")]


def _cluster_kernels():
    return [pid for slot in range(8) for pid in processes_of(uid_for_slot(SLOT_BASE + slot))]


def _eventually(condition, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_unreachable_scheduler_is_a_clear_error_that_changes_nothing(local_class):
    ledger = (local_class.root / "grading" / "status.json").read_text()
    with pytest.raises(CourseError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        grade_class(local_class, force=True, cluster="tcp://127.0.0.1:1", out=lambda line: None)
    assert (local_class.root / "grading" / "status.json").read_text() == ledger
