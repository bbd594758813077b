"""Grading on a Dask cluster with the gradebook in PostgreSQL, against real servers on loopback
(one scheduler, two workers that cannot see the course folder, a third without bubblewrap, and a
PostgreSQL server, started once for the module): three demo students (a correct but late one, a
bug, a hostile one whose points are held) get the same grades, review rows, feedback and report as
the demo class graded here into SQLite (`graded_class`, same students, same limits); formgrader
on the PostgreSQL gradebook; a worker killed mid-submission; the scheduler killed; Ctrl-C; an
unreachable database or scheduler."""
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from nbgrader.api import Gradebook
from sqlalchemy import create_engine, inspect, text

from nnlab.authoring.demo import limits, make_class, manifest
from nnlab.course import Course, CourseError
from nnlab.grading.batch import grade_class
from nnlab.grading.cluster import worker_store
from nnlab.grading.outcome import outcome
from nnlab.confinement.sandbox import processes_of
from nnlab.steps import provided, review
from nnlab.results.export import write_csv
from nnlab.results.feedback import generate_feedback
from nnlab.results.report import write_report

from conftest import DaskCluster, Formgrader, Postgres, copy_course, page_text, sigint_by_default
from labkit import runs

SETTINGS, STUDENTS = manifest()
# A correct submission that is late (late penalty), a bug, and a hostile one (points held: rows
# of the review table).
CHOSEN = ["bug_test_no_gamma_beta", "hostile_neuter_main_checks", "late"]
PICKED = [s for s in STUDENTS if s["id"] in CHOSEN]
EXPECTED = {s["id"]: s for s in PICKED}
# The demo's limits, as `graded_class` graded them (the same CSV needs the same limits).
LIMITS = limits(SETTINGS)
# real servers and gradings, even where no fixture of a generated course is used
pytestmark = pytest.mark.course
CLI_LIMITS = ["--cell-timeout", str(SETTINGS["cell_timeout"]),
              "--time-budget", str(SETTINGS["time_budget"])]
# The cluster's kernels run as uids of their own (the course's SandboxedKernelManager.uid_base,
# shipped to the workers), so the tests can tell them from other graders' kernels on this machine.
UID_BASE, UIDS = 67000, 16


@pytest.fixture(scope="module")
def postgres():
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the workers are kept from the course folder by mount namespaces of their "
                    "own, which need root")
    cluster = DaskCluster(hidden=tmp_path_factory.getbasetemp(), workers=2, refusing=1)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def cluster_class(tmp_path_factory, postgres, dask_cluster):
    """A copy of the course whose gradebook is in PostgreSQL (c.CourseDirectory.db_url), released
    there by nbgrader, with the chosen students graded on the cluster; `lines` is what nnlab grade
    printed."""
    course = copy_course(tmp_path_factory.mktemp("cluster"))
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {postgres.create_database('course')!r}\n"
                     f"c.SandboxedKernelManager.uid_base = {UID_BASE}\n")
    course = Course(course.root)
    course.generate_release()
    make_class(course, PICKED)
    stale = [course.root / "feedback" / student / course.assignment / f"{path.stem}.html"
             for student in CHOSEN for path in course.notebooks("release")]
    for page in stale:  # made before this grading: it must not be released after it
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("stale")
    lines = []
    shutil.rmtree(worker_store(), ignore_errors=True)  # the workers' recorded provided runs
    course.results = grade_class(course, config=LIMITS, cluster=dask_cluster.address,
                                 out=lines.append)
    course.lines = lines
    course.stale_left = [page for page in stale if page.exists()]
    return course


def csv_rows(course, path, students=CHOSEN):
    write_csv(course, path)
    with open(path) as handle:
        return {row["student"]: row for row in csv.DictReader(handle) if row["student"] in students}


def test_cluster_with_postgres_grades_as_local_grading_with_sqlite(built_course, graded_class,
                                                                   cluster_class, tmp_path):
    """The same CSV, cell by cell, and the statuses and late penalties the demo manifest states."""
    assert cluster_class.db_url.startswith("postgresql")
    assert sorted(cluster_class.results) == CHOSEN
    assert not [line for line in cluster_class.lines if "without the sandbox" in line]
    local = csv_rows(built_course, tmp_path / "local.csv")
    remote = csv_rows(cluster_class, tmp_path / "cluster.csv")
    assert sorted(remote) == CHOSEN
    # the limits in force are the grading machine's (the class here was graded by an ordinary
    # user, the workers run as root): said in every row, not compared
    assert all(row.pop("limits") for row in (*local.values(), *remote.values()))
    assert remote == local
    for student, row in remote.items():
        assert row["status"] == EXPECTED[student].get("status", "ok")
        assert float(row["late_penalty"]) == pytest.approx(EXPECTED[student].get("late_penalty", 0))
    assert remote["hostile_neuter_main_checks"]["total"] == "held"


def test_the_workers_outcome_is_the_one_the_course_reads(cluster_class):
    """The outcome a worker decided (the ledger's and the progress line's) is the one the TA's
    course reads back from the rows and records the worker sent: decided once, not recomputed."""
    for student, entry in cluster_class.results.items():
        read = outcome(cluster_class, student, ledger={})
        assert {k: entry[k] for k in ("status", "reasons", "held", "late_penalty", "scores")} == \
            {k: read[k] for k in ("status", "reasons", "held", "late_penalty", "scores")}, student


def test_the_tasks_on_a_worker_machine_share_one_record_of_the_provided_run(cluster_class):
    """Each task grades in a course folder of its own, removed after it: the run of provided code
    alone is recorded in the machine's store, once, and read by every task there."""
    assert len(list(worker_store().glob(f"*/{runs.FOLDER}/*.npz"))) == 1
    assert not provided.store_of(cluster_class.root).exists()  # the TA's side records nothing


def test_grading_on_the_cluster_discards_the_feedback_made_before(cluster_class):
    """As a local grading does: a page made before a grading (or a hold) is never released."""
    assert cluster_class.stale_left == []


def test_the_review_table_lives_in_postgresql_as_in_sqlite(built_course, graded_class, cluster_class):
    """nnlab_review is a table of the PostgreSQL gradebook, holding the same history as local
    grading wrote into SQLite (what was held, why, by whom)."""
    engine = create_engine(cluster_class.db_url)
    try:
        assert review.REVIEWS.name in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    histories = []
    for course in (built_course, cluster_class):
        with Gradebook(course.db_url) as gradebook:
            histories.append({s: [{k: row[k] for k in ("notebook", "state", "reasons", "by", "fingerprint")}
                                  for row in review.history(gradebook, course.assignment, s)]
                              for s in CHOSEN})
    assert histories[0] == histories[1]
    assert [row["state"] for row in histories[1]["hostile_neuter_main_checks"]] == [review.HELD]


def test_a_worker_without_sandbox_refuses_work_and_says_why(cluster_class):
    refusals = [line for line in cluster_class.lines if "refuses to grade" in line]
    assert len(refusals) == 1 and "bwrap not found" in refusals[0]
    refusing = refusals[0].split()[1]
    workers = {e["worker"] for e in cluster_class.results.values()}
    assert refusing not in workers and len(workers) == 2


def test_feedback_and_report_are_the_same_as_local(built_course, graded_class, cluster_class):
    for course in (built_course, cluster_class):
        assert generate_feedback(course, CHOSEN, out=lambda line: None) == CHOSEN
    for student in CHOSEN:
        for notebook in ("regularization", "batchnorm"):
            pages = [_content(c, (c.root / "feedback" / student / c.assignment / f"{notebook}.html")
                              .read_text()) for c in (built_course, cluster_class)]
            assert pages[0] == pages[1], (student, notebook)
    rows = [_report_rows(write_report(c).read_text()) for c in (built_course, cluster_class)]
    assert set(rows[1]) == set(CHOSEN)
    assert {s: rows[0][s] for s in CHOSEN} == rows[1]


def _content(course, page):
    """(images, visible text) of a page, without what differs between any two gradings: the
    course's folder, the kernel's scratch folder and where it is (in tracebacks), the timing
    cell's figures, and the figures of a failed check (its relative error, expected and actual
    values), which hidden tests compute on fresh random inputs at every grading."""
    page = page.replace(str(course.root), "ROOT")
    page = re.sub(r"[\w~./-]*nnlab-work-\w+", "nnlab-work-X", page)  # with the folder it is in
    page = re.sub(r"is [\d.]+x as fast as (\w+) \(median of [^)]*\)", r"is N as fast as \1", page)
    text = " ".join(page_text(page).split())
    text = re.sub(r"(relative error) \S+", r"\1 N", text)
    text = re.sub(r"(expected|got): +(\[[-\d\s.e+\[\]naif]*\]|\S+)", r"\1: N", text)
    return len(re.findall(r'src="data:image', page)), text


def _report_rows(page):
    """{student: [the student's rows of the report's tables]}."""
    rows = {}
    for row in re.findall(r"<tr class=.*?</tr>", page):
        rows.setdefault(page_text(row.split("</td>", 1)[0]), []).append(row)
    return rows


def test_a_worker_killed_mid_submission_costs_no_student(cluster_class, dask_cluster, tmp_path):
    """SIGKILL to a worker while its kernel runs a submission: that submission is graded again on
    another worker; every student is graded exactly once in the end, with the same grades."""
    again = ["bug_test_no_gamma_beta", "late"]
    before = csv_rows(cluster_class, tmp_path / "before.csv")
    grading = _cli_grade(cluster_class, dask_cluster.address, "--force", *again)
    with dask_cluster.client() as client:
        busy = _wait_until_busy(client, grading)
        assert _eventually(_cluster_kernels, 120)  # inside a notebook
        victim = client.run(os.getpid, workers=[busy])[busy]
        os.kill(victim, signal.SIGKILL)
    output, _ = grading.communicate(timeout=600)
    assert grading.returncode == 0, output
    progress = [line for line in output.splitlines() if re.match(r"\[\d/\d\]", line)]
    assert sorted(line.split()[1] for line in progress) == again  # each once
    assert csv_rows(cluster_class, tmp_path / "after.csv") == before
    with create_engine(cluster_class.db_url).connect() as db:
        counts = db.execute(text("select student_id, count(*) from submitted_assignment "
                                 "group by student_id")).all()
    assert dict(counts) == {student: 1 for student in CHOSEN}
    assert _eventually(lambda: not _cluster_kernels())  # the killed grading died with its worker
    dask_cluster.wait_for_workers(3)  # its nanny started a new one


def test_scheduler_killed_stops_cleanly_and_the_rerun_finishes(cluster_class, dask_cluster,
                                                                tmp_path_factory):
    """A cluster of its own with one worker, whose scheduler is killed while a student's kernel
    runs: nnlab grade stops with a clear message, the student is recorded as interrupted, and the
    next run (on the module's cluster) grades that student only, the others being unchanged since
    their last grading."""
    small = DaskCluster(hidden=tmp_path_factory.getbasetemp(), workers=1)
    try:
        grading = _cli_grade(cluster_class, small.address, "--force", "late")
        with small.client() as client:
            _wait_until_busy(client, grading)
        assert _eventually(_cluster_kernels, 120)
        os.killpg(small.scheduler.pid, signal.SIGKILL)
        output, _ = grading.communicate(timeout=120)
    finally:
        small.stop()
    assert grading.returncode == 2, output
    assert "lost the Dask scheduler" in output and "Traceback" not in output
    ledger = json.loads((cluster_class.root / "grading" / "status.json").read_text())
    assert {s: e["status"] for s, e in ledger.items()} == \
        {"bug_test_no_gamma_beta": "graded", "hostile_neuter_main_checks": "graded", "late": "interrupted"}
    rest = grade_class(cluster_class, config=LIMITS, cluster=dask_cluster.address,
                       out=lambda line: None)
    assert list(rest) == ["late"] and rest["late"]["status"] == "late"


def test_ctrl_c_stops_the_workers_grading(cluster_class, dask_cluster):
    """SIGINT to nnlab grade while a worker's kernel grades: exit 130, the student is recorded
    as interrupted (to be graded by the next run, as the scheduler's test shows), and the worker stops
    grading: its task and its kernel are gone."""
    grading = _cli_grade(cluster_class, dask_cluster.address, "--force", "late")
    with dask_cluster.client() as client:
        _wait_until_busy(client, grading)
        assert _eventually(_cluster_kernels, 120)
        grading.send_signal(signal.SIGINT)
        output, _ = grading.communicate(timeout=60)
        assert grading.returncode == 130, output
        assert "interrupted: 0 graded, 1 not graded" in output
        ledger = json.loads((cluster_class.root / "grading" / "status.json").read_text())
        assert ledger["late"]["status"] == "interrupted"
        assert _eventually(lambda: not _grading_tasks(client) and not _cluster_kernels())


def test_unreachable_database_is_a_clear_error_before_any_grading(tmp_path):
    course = copy_course(tmp_path)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write("\nc.CourseDirectory.db_url = 'postgresql+psycopg://nobody@127.0.0.1:1/none'\n")
    make_class(Course(course.root), PICKED[:1])
    with pytest.raises(CourseError, match="cannot use the gradebook postgresql"):
        grade_class(Course(course.root), cluster="tcp://127.0.0.1:1")
    assert not (course.root / "grading").exists()


def test_unreachable_scheduler_is_a_clear_error_that_changes_nothing(cluster_class):
    ledger = (cluster_class.root / "grading" / "status.json").read_text()
    with pytest.raises(CourseError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        grade_class(cluster_class, force=True, cluster="tcp://127.0.0.1:1", out=lambda line: None)
    assert (cluster_class.root / "grading" / "status.json").read_text() == ledger


def test_the_scheduler_named_in_the_configuration_is_used_and_regrades_nothing(cluster_class):
    """c.Cluster.scheduler in nbgrader_config.py stands for --cluster; it is not a grading
    setting, so naming another scheduler leaves every graded student unchanged."""
    config = cluster_class.root / "nbgrader_config.py"
    original = config.read_text()
    try:
        config.write_text(original + "\nc.Cluster.scheduler = 'tcp://127.0.0.1:1'\n")
        # graded by the fixture and left graded by every test (the Ctrl-C test may leave "late" interrupted)
        graded = ["bug_test_no_gamma_beta", "hostile_neuter_main_checks"]
        lines = []
        assert grade_class(cluster_class, students=graded, out=lines.append) == {}
        assert lines == ["2 submissions unchanged since their last grading (--force grades them again)"]
        with pytest.raises(CourseError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
            grade_class(cluster_class, students=graded[:1], force=True, out=lambda line: None)
    finally:
        config.write_text(original)


def test_formgrader_grades_written_answers_in_postgresql(cluster_class, tmp_path):
    """Formgrader, run on the course folder, reads the students from PostgreSQL and stores a TA's
    score on a written answer there; the late penalty follows the new total."""
    with Gradebook(cluster_class.db_url) as gradebook:
        notebook = next(n for n in gradebook.find_submission(cluster_class.assignment, "late").notebooks
                        if any(g.cell_type != "code" and g.max_score for g in n.grades))
        notebook_id, name = notebook.id, notebook.name
        score, penalty = notebook.score, notebook.late_submission_penalty
    assert penalty > 0
    server = Formgrader(cluster_class, tmp_path)
    try:
        listed = server.call("GET", f"/formgrader/api/submissions/{cluster_class.assignment}")
        assert {s["student"] for s in listed} >= set(CHOSEN)
        grades = server.call("GET", f"/formgrader/api/grades?submission_id={notebook_id}")
        written = next(g for g in grades if g["auto_score"] is None and g["max_score"] > 0)
        server.call("PUT", f"/formgrader/api/grade/{written['id']}",
                    {"manual_score": written["max_score"], "extra_credit": None})
    finally:
        server.stop()
    with Gradebook(cluster_class.db_url) as gradebook:
        notebook = gradebook.find_submission_notebook(name, cluster_class.assignment, "late")
        assert notebook.score == pytest.approx(score + written["max_score"])
        assert notebook.late_submission_penalty == pytest.approx(penalty / score * notebook.score)


def _cli_grade(course, address, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "nnlab.cli", "--course", str(course.root), "grade", "--cluster",
         address, *CLI_LIMITS, *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=sigint_by_default)


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


def _grading_tasks(client):
    return [key for tasks in client.processing().values() for key in tasks
            if str(key).startswith("nnlab-grade-")]


def _cluster_kernels():
    return [pid for uid in range(UID_BASE, UID_BASE + UIDS) for pid in processes_of(uid)]


def _eventually(condition, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False
