"""Submission times from an LMS download are read exactly or refused: the README's pattern for
each LMS, read from the README itself, through `nbgrader zip_collect` on real-looking file names."""
import logging
import re
import zipfile
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from traitlets.config import Config

from nnlab.grading.lms import LmsFileNameCollector, LmsTimeError

from conftest import REPO, nbgrader_command, released_copy

NOTEBOOKS = ("regularization", "batchnorm")
BLACKBOARD_TIME = "%Y-%m-%d-%H-%M-%S"  # how Blackboard writes a time in a file name


def readme_lms_config(lms):
    """The README's configuration for `lms`, as a TA copies it into nbgrader_config.py: the
    ```python block of "### Through an LMS upload" is the lines common to all (the collector),
    then a paragraph per LMS opened by a comment naming it."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Through an LMS upload"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    paragraphs = block.strip().split("\n\n")
    common = [p for p in paragraphs if not p.startswith("#")]
    named = {re.match(r"# (\w+)", p).group(1): p for p in paragraphs if p.startswith("#")}
    assert lms in named, f"the README's LMS block has no paragraph for {lms} (it has {sorted(named)})"
    config = "\n".join(["", *common, named[lms], ""])
    assert "named_regexp" in collector_settings(config), f"the README's {lms} paragraph sets no named_regexp"
    return config


def collector_settings(config):
    """The LmsFileNameCollector settings of `config` (nbgrader_config.py's text)."""
    values = Config()
    exec(config, {"c": values})
    return values.LmsFileNameCollector


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


def zip_collect(course, config, names):
    """`nbgrader zip_collect` of an LMS zip holding the release's notebooks under `names`
    ({archive path: notebook}), with `config` added to nbgrader_config.py; the CompletedProcess."""
    with open(course.root / "nbgrader_config.py", "a") as handle:
        handle.write(config)
    archive = course.root / "downloaded" / course.assignment / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as bundle:
        for name, notebook in names.items():
            bundle.write(course.folder("release") / f"{notebook}.ipynb", name)
    return nbgrader_command(course, "zip_collect", course.assignment, "--force")


def collected(course, done):
    """{student: the time in timestamp.txt, or None} after `done` (zip_collect) succeeded; every
    student has both notebooks."""
    assert done.returncode == 0, f"nbgrader zip_collect failed:\n{done.stderr[-3000:]}"
    found = {}
    for folder in sorted((course.root / "submitted").iterdir()):
        stamp = folder / course.assignment / "timestamp.txt"
        found[folder.name] = datetime.fromisoformat(stamp.read_text()) if stamp.is_file() else None
        assert sorted(p.stem for p in (folder / course.assignment).glob("*.ipynb")) == sorted(NOTEBOOKS)
    return found


def blackboard_names(times):
    """Blackboard's names for both notebooks of every student in {student: time in the name}."""
    return {f"Lab 2_{sid}_attempt_{time}_{n}.ipynb": n for sid, time in times.items() for n in NOTEBOOKS}


def test_blackboard_download(built_course, tmp_path):
    """Times in the README's Blackboard time zone; one in the future is reported, not used."""
    course = released_copy(built_course, tmp_path)
    config = readme_lms_config("Blackboard")
    settings = collector_settings(config)
    assert "timezone" in settings, "the README's Blackboard paragraph sets no time zone"
    times = {"s1234567": "2026-12-04-17-45-10", "s7654321": "2026-12-03-08-01-02"}
    done = zip_collect(course, config, blackboard_names({**times, "s0000001": "2099-01-01-00-00-00"}))
    zone = ZoneInfo(settings.timezone)
    assert collected(course, done) == {"s0000001": None, **{
        sid: datetime.strptime(time, BLACKBOARD_TIME).replace(tzinfo=zone) for sid, time in times.items()}}
    assert "the submission time 2099-01-01-00-00-00 (" in done.stderr
    assert "is in the future: not used" in done.stderr


def test_an_ambiguous_blackboard_time_is_reported_by_zip_collect(built_course, tmp_path):
    """A New York Blackboard: 01:30 on 2026-11-01 happens twice (clocks go back at 02:00 EDT).
    zip_collect's log says so, and timestamp.txt holds the earlier instant, in the student's favour."""
    course = released_copy(built_course, tmp_path)
    config = readme_lms_config("Blackboard") + 'c.LmsFileNameCollector.timezone = "America/New_York"\n'
    done = zip_collect(course, config, blackboard_names({"s1234567": "2026-11-01-01-30-00"}))
    assert collected(course, done) == {"s1234567": datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)}
    assert "[ZipCollectApp | WARNING]" in done.stderr
    assert ("the submission time 2026-11-01-01-30-00 is ambiguous or skipped in America/New_York (a "
            "daylight-saving change): read as the earlier instant, 2026-11-01 05:30:00 UTC") in done.stderr


def test_canvas_download_with_a_late_mark_and_a_resubmission(built_course, tmp_path):
    """Canvas names hold no time (the late policy then needs the times from elsewhere, and
    `nnlab grade` says so); a resubmitted file is "regularization-1.ipynb"."""
    course = released_copy(built_course, tmp_path)
    names = {"doejane_123456_7890123_regularization.ipynb": "regularization",
             "doejane_123456_7890123_batchnorm-1.ipynb": "batchnorm",
             **{f"smithjohn_LATE_234567_7890124_{n}.ipynb": n for n in NOTEBOOKS}}
    done = zip_collect(course, readme_lms_config("Canvas"), names)
    assert collected(course, done) == {"123456": None, "234567": None}


def test_moodle_download(built_course, tmp_path):
    course = released_copy(built_course, tmp_path)
    names = {f"Jane Doe_1234567_assignsubmission_file_/{n}.ipynb": n for n in NOTEBOOKS}
    done = zip_collect(course, readme_lms_config("Moodle"), names)
    assert collected(course, done) == {"1234567": None}


def test_a_blackboard_download_without_the_time_zone_is_refused(built_course, tmp_path):
    course = released_copy(built_course, tmp_path)
    config = readme_lms_config("Blackboard") + 'c.LmsFileNameCollector.timezone = ""\n'
    done = zip_collect(course, config, blackboard_names({"s1": "2026-12-04-17-45-10"}))
    assert done.returncode != 0
    assert "has no UTC offset: set the LMS's time zone" in done.stdout + done.stderr
    assert not (course.root / "submitted").exists()
