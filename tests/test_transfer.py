"""What travels between the course and a grading on a gradebook of its own (forked here or on a
cluster worker): files, the assignment's definition, a student's rows, written in one transaction."""
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import CompileError
from nbgrader.api import Gradebook

from nnlab.grading import transfer
from nnlab.steps import review

DEFINITION = {"name": "a1", "duedate": None, "course_id": "default_course",
              "schema": "282d30a0218e", "notebooks": [{
    "name": "nb", "kernelspec": None,
    "grade_cells": [{"name": "t1", "max_score": 2.0, "cell_type": "code"},
                    {"name": "q1", "max_score": 1.0, "cell_type": "markdown"}],
    "solution_cells": [{"name": "q1"}], "task_cells": [],
    "source_cells": [{"name": "t1", "cell_type": "code", "locked": True, "source": "assert f()",
                      "checksum": "c1"}]}]}


def rows(auto, manual, reviews=()):
    return {"timestamp": None, "extension": None, "reviews": list(reviews), "notebooks": {"nb": {
        "flagged": bool(reviews), "late_submission_penalty": 0.0,
        "grades": {"t1": {"auto_score": auto, "manual_score": None, "extra_credit": None,
                          "needs_manual_grade": False},
                   "q1": {"auto_score": None, "manual_score": manual, "extra_credit": None,
                          "needs_manual_grade": manual is None}},
        "comments": {"q1": {"auto_comment": None, "manual_comment": "clear"}}}}}


REVIEW = {"id": 1, "assignment": "a1", "student": "s1", "notebook": "nb", "fingerprint": "f",
          "state": "held", "reasons": "[]", "by": "grader", "at": "2026-11-29T00:00:00+00:00", "voided": '["t1"]'}


@pytest.fixture()
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    transfer.create_assignment(url, DEFINITION)
    return url


def test_the_assignment_and_a_students_rows_survive_the_trip(db_url):
    with Gradebook(db_url) as gradebook:
        assert transfer.assignment_definition(gradebook, "a1") == DEFINITION
        assert transfer.student_rows(gradebook, "a1", "s1") is None  # never graded
        transfer.write_student_rows(gradebook, "a1", "s1", rows(2.0, 0.5, [REVIEW]))
    with Gradebook(db_url) as gradebook:
        assert transfer.student_rows(gradebook, "a1", "s1") == rows(2.0, 0.5, [REVIEW])
        assert gradebook.find_submission("a1", "s1").score == 2.5


def test_a_new_gradebook_takes_the_courses_schema_without_alembic(db_url, monkeypatch):
    """nbgrader runs alembic (seconds) only for a database without a schema version."""
    monkeypatch.setattr("nbgrader.api.get_alembic_version", lambda: pytest.fail("alembic ran"))
    url = db_url.replace("gradebook.db", "copy.db")
    transfer.create_assignment(url, dict(DEFINITION, schema="c0ffee"))
    with Gradebook(url) as gradebook:
        assert transfer.assignment_definition(gradebook, "a1") == dict(DEFINITION, schema="c0ffee")


def test_a_grading_apart_brings_back_what_it_changed_and_a_tas_grade_given_meanwhile_stays(db_url):
    """The grading starts from the student's rows (earlier grades, review history) in a gradebook
    of its own; what it changed is written back, while a TA's grade and comment on a written
    answer, given in formgrader during the grading, stay; its review rows are appended."""
    with Gradebook(db_url) as gradebook:
        transfer.write_student_rows(gradebook, "a1", "s1", rows(1.0, None, [REVIEW]))
        shipped = transfer.shipped_rows(gradebook, "a1", "s1")
        template = transfer.assignment_gradebook(gradebook, "a1")
    with transfer.private_gradebook(template, "a1", "s1", shipped) as url:
        assert url != db_url
        with Gradebook(url) as private:  # the grading: t1 now passes, and a review row
            private.find_grade("t1", "nb", "a1", "s1").auto_score = 2.0
            review.add_rows(private, [dict(REVIEW, state="released")])
            private.db.commit()
        graded = transfer.graded_rows(url, "a1", "s1", shipped)
    assert not Path(url.removeprefix("sqlite:///")).exists()  # removed with its folder
    with Gradebook(db_url) as gradebook:
        gradebook.find_grade("q1", "nb", "a1", "s1").manual_score = 0.5  # the TA, meanwhile
        gradebook.find_comment("q1", "nb", "a1", "s1").manual_comment = "well argued"
        gradebook.db.commit()
        transfer.write_student_rows(gradebook, "a1", "s1", graded, before=shipped)
    with Gradebook(db_url) as gradebook:
        found = transfer.student_rows(gradebook, "a1", "s1")
    notebook = found["notebooks"]["nb"]
    assert notebook["grades"]["t1"]["auto_score"] == 2.0
    assert notebook["grades"]["q1"]["manual_score"] == 0.5
    assert notebook["comments"]["q1"]["manual_comment"] == "well argued"
    assert [row["state"] for row in found["reviews"]] == ["held", "released"]


def test_a_failed_write_leaves_the_old_grades(db_url):
    """The second write fails after its grades were flushed: none of it is kept."""
    with Gradebook(db_url) as gradebook:
        transfer.write_student_rows(gradebook, "a1", "s1", rows(2.0, 0.5))
        with pytest.raises(CompileError, match="no_such_column"):  # the review rows, written last
            transfer.write_student_rows(gradebook, "a1", "s1", rows(0.0, 1.0, [{"no_such_column": 1}]))
    with Gradebook(db_url) as gradebook:
        assert transfer.student_rows(gradebook, "a1", "s1") == rows(2.0, 0.5)


def test_reading_the_gradebook_never_waits_for_a_write(db_url):
    """Another process is in the middle of a write (its exclusive lock held, nothing committed):
    a grader reads the gradebook at once and sees the rows as they were, where SQLite's default
    journal makes it wait until the write ends."""
    import sqlite3
    import time

    from nnlab.course import share_the_gradebook

    share_the_gradebook()
    with Gradebook(db_url) as gradebook:
        transfer.write_student_rows(gradebook, "a1", "s1", rows(2.0, 0.5))
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.execute("BEGIN EXCLUSIVE")
    other.execute("UPDATE grade SET manual_score = 0")
    started = time.monotonic()
    try:
        with Gradebook(db_url) as gradebook:
            assert transfer.student_rows(gradebook, "a1", "s1") == rows(2.0, 0.5)
    finally:
        other.rollback()
        other.close()
    assert time.monotonic() - started < 3


def test_a_gradebook_on_a_network_file_system_keeps_sqlites_journal(tmp_path, monkeypatch):
    """SQLite's write-ahead log needs memory shared by every process that opens the database,
    which NFS and its kind cannot give: there the gradebook is switched back to SQLite's default
    journal (the mode is kept in the file, which may have been switched elsewhere)."""
    from nnlab import course

    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/vda / ext4 rw 0 0\nserver:/home {tmp_path / 'home'} nfs4 rw 0 0\n"
                      f"tmpfs {tmp_path / 'home' / 'my files'} tmpfs rw 0 0\n".replace("my files", "my\\040files"))
    assert course.filesystem_type(tmp_path / "home" / "ta" / "gradebook.db", mounts) == "nfs4"
    assert course.filesystem_type(tmp_path / "home" / "my files" / "gradebook.db", mounts) == "tmpfs"
    assert course.filesystem_type(tmp_path / "homework", mounts) == "ext4"
    assert course.filesystem_type(tmp_path, tmp_path / "absent") == ""

    course.share_the_gradebook()
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    transfer.create_assignment(url, DEFINITION)
    journals = []
    for kind in ("ext4", "nfs4"):  # the same file, then seen over NFS: switched back
        monkeypatch.setattr(course, "filesystem_type", lambda path: kind)
        with Gradebook(url) as gradebook:
            journals.append(gradebook.db.execute(text("PRAGMA journal_mode")).scalar())
    assert journals == ["wal", "delete"]


def test_files_pack_and_unpack_without_links_or_escapes(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_text("x")
    (tmp_path / "secret").write_text("s")
    (tmp_path / "a" / "link").symlink_to(tmp_path / "secret")
    files = transfer.pack(tmp_path, ["a", "missing"])
    assert files == {"a/b/f.txt": b"x"}
    transfer.unpack(files, tmp_path / "copy")
    assert (tmp_path / "copy" / "a" / "b" / "f.txt").read_text() == "x"
    with pytest.raises(ValueError, match="outside"):
        transfer.unpack({"../evil": b""}, tmp_path / "copy")


def test_a_grader_waits_for_another_ones_write_longer_than_sqlites_5_s(db_url):
    """Another process holds the gradebook's write lock for 6 s (a commit on a busy machine):
    opening and writing the gradebook waits for it, as nbgrader_config.py makes every nbgrader
    process do, instead of failing with "error accessing the nbgrader database"."""
    import sqlite3
    import threading
    import time

    from nnlab.course import share_the_gradebook

    share_the_gradebook()
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"), check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(6, other.commit)
    release.start()
    started = time.monotonic()
    try:
        with Gradebook(db_url) as gradebook:
            transfer.write_student_rows(gradebook, "a1", "s1", rows(2.0, 0.5))
    finally:
        release.join()
        other.close()
    assert time.monotonic() - started >= 5.5  # it did wait for the lock
    with Gradebook(db_url) as gradebook:
        assert transfer.student_rows(gradebook, "a1", "s1") == rows(2.0, 0.5)


def test_a_gradebook_this_user_may_only_read_is_read_as_it_is(db_url):
    """A read-only connection cannot switch the journal: the gradebook is read all the same."""
    from nnlab.course import share_the_gradebook

    share_the_gradebook()
    path = db_url.removeprefix("sqlite:///")
    with Gradebook(db_url) as gradebook:
        transfer.write_student_rows(gradebook, "a1", "s1", rows(2.0, 0.5))
        gradebook.db.execute(text("PRAGMA journal_mode = DELETE"))
    read_only = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with read_only.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "delete"
        assert connection.execute(text("SELECT auto_score FROM grade WHERE auto_score IS NOT NULL")).scalar() == 2.0
    read_only.dispose()
