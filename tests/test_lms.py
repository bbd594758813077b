"""Submission times from an LMS download are read exactly or refused: the README's pattern for
each LMS, through `nbgrader zip_collect` on real-looking file names."""
import logging
import shutil
import zipfile
from datetime import datetime, timezone

import pytest

from nnlab.grading.lms import LmsFileNameCollector, LmsTimeError

from conftest import nbgrader, nbgrader_command, released_copy

BLACKBOARD = """
c.ZipCollectApp.collector_plugin = "nnlab.grading.lms.LmsFileNameCollector"
c.LmsFileNameCollector.named_regexp = (
    r".+_(?P<student_id>[^_/]+)_attempt_(?P<timestamp>\\d{4}(?:-\\d\\d){5})_(?P<file_id>[^_/]+\\.ipynb)$")
c.LmsFileNameCollector.timezone = "Asia/Shanghai"
"""
CANVAS = """
c.ZipCollectApp.collector_plugin = "nnlab.grading.lms.LmsFileNameCollector"
c.LmsFileNameCollector.named_regexp = (
    r".+/[a-z]+_(?:LATE_)?(?P<student_id>\\d+)_\\d+_(?P<file_id>[^/]+\\.ipynb)$")
"""
MOODLE = """
c.ZipCollectApp.collector_plugin = "nnlab.grading.lms.LmsFileNameCollector"
c.LmsFileNameCollector.named_regexp = (
    r".+/[^/]+_(?P<student_id>\\d+)_assignsubmission_file_/(?P<file_id>[^/]+\\.ipynb)$")
"""
NOTEBOOKS = ("regularization", "batchnorm")


def collector(**traits):
    return LmsFileNameCollector(named_regexp=r"(?P<student_id>x)(?P<file_id>y)", **traits)


def test_blackboards_time_is_read_in_the_lms_time_zone():
    """The issue's file: seconds are no UTC offset, and the time is Shanghai's (UTC+8)."""
    read = collector(timezone="Asia/Shanghai").read_time("2026-12-04-17-45-10", "f.ipynb")
    assert read == datetime(2026, 12, 4, 9, 45, 10, tzinfo=timezone.utc)


def test_a_time_with_its_offset_needs_no_time_zone():
    read = collector(timestamp_format="%Y%m%dT%H%M%S%z").read_time("20261204T174510+0100", "f.ipynb")
    assert read == datetime(2026, 12, 4, 16, 45, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("traits, text, error", [
    ({}, "2026-12-04-17-45-10", "has no UTC offset: set the LMS's time zone"),
    ({"timezone": "Mars/Olympus"}, "2026-12-04-17-45-10", "is no time zone"),
    ({"timezone": "UTC"}, "2026-12-04 17:45", "does not match"),
    ({"timezone": "UTC"}, "2026-12-04-17-45", "does not match"),
])
def test_a_time_that_cannot_be_read_exactly_is_refused(traits, text, error):
    with pytest.raises(LmsTimeError, match=error):
        collector(**traits).read_time(text, "f.ipynb")


def test_a_time_in_the_future_is_reported_and_not_used(caplog):
    now = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
    with caplog.at_level(logging.ERROR):
        assert collector(timezone="UTC").read_time("2026-12-05-12-00-00", "f.ipynb", now=now) is None
    assert "in the future: not used" in caplog.text


def test_a_time_a_clock_change_makes_ambiguous_is_read_in_the_students_favour(caplog):
    """01:30 happens twice in New York on 2026-11-01: the earlier instant (EDT) is taken."""
    with caplog.at_level(logging.WARNING):
        read = collector(timezone="America/New_York").read_time("2026-11-01-01-30-00", "f.ipynb")
    assert read == datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)
    assert "ambiguous or skipped" in caplog.text


def _download(course, config, names):
    """An LMS zip holding the solution's notebooks under `names` ({archive path: notebook}),
    collected by `nbgrader zip_collect`; {student: timestamp.txt or None}."""
    with open(course.root / "nbgrader_config.py", "a") as handle:
        handle.write(config)
    archive = course.root / "downloaded" / course.assignment / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as bundle:
        for name, notebook in names.items():
            bundle.write(course.folder("release") / f"{notebook}.ipynb", name)
    nbgrader(course, "zip_collect", course.assignment, "--force")
    found = {}
    for folder in sorted((course.root / "submitted").iterdir()):
        stamp = folder / course.assignment / "timestamp.txt"
        found[folder.name] = stamp.read_text() if stamp.is_file() else None
        assert sorted(p.stem for p in (folder / course.assignment).glob("*.ipynb")) == sorted(NOTEBOOKS)
    return found


def test_blackboard_download(built_course, tmp_path):
    course = released_copy(built_course, tmp_path)
    times = {"s1234567": "2026-12-04-17-45-10", "s7654321": "2026-12-03-08-01-02",
             "s0000001": "2099-01-01-00-00-00"}  # the last in the future: reported, not used
    names = {f"Lab 2_{sid}_attempt_{time}_{n}.ipynb": n for sid, time in times.items() for n in NOTEBOOKS}
    assert _download(course, BLACKBOARD, names) == {"s0000001": None, "s1234567": "2026-12-04 09:45:10+00:00",
                                                     "s7654321": "2026-12-03 00:01:02+00:00"}


def test_canvas_download_with_a_late_mark_and_a_resubmission(built_course, tmp_path):
    """Canvas names hold no time (the late policy then needs the times from elsewhere, and
    `nnlab grade` says so); a resubmitted file is "regularization-1.ipynb"."""
    course = released_copy(built_course, tmp_path)
    names = {"doejane_123456_7890123_regularization.ipynb": "regularization",
             "doejane_123456_7890123_batchnorm-1.ipynb": "batchnorm",
             **{f"smithjohn_LATE_234567_7890124_{n}.ipynb": n for n in NOTEBOOKS}}
    assert _download(course, CANVAS, names) == {"123456": None, "234567": None}


def test_moodle_download(built_course, tmp_path):
    course = released_copy(built_course, tmp_path)
    names = {f"Jane Doe_1234567_assignsubmission_file_/{n}.ipynb": n for n in NOTEBOOKS}
    assert _download(course, MOODLE, names) == {"1234567": None}


def test_a_blackboard_download_without_the_time_zone_is_refused(built_course, tmp_path):
    course = released_copy(built_course, tmp_path)
    with open(course.root / "nbgrader_config.py", "a") as handle:
        handle.write(BLACKBOARD.replace('c.LmsFileNameCollector.timezone = "Asia/Shanghai"', ""))
    archive = course.root / "downloaded" / course.assignment / "archive"
    archive.mkdir(parents=True)
    shutil.copy(course.folder("release") / "batchnorm.ipynb",
                archive / "Lab 2_s1_attempt_2026-12-04-17-45-10_batchnorm.ipynb")
    done = nbgrader_command(course, "zip_collect", course.assignment, "--force")
    assert done.returncode != 0
    assert "has no UTC offset: set the LMS's time zone" in done.stdout + done.stderr
    assert not (course.root / "submitted").exists()
