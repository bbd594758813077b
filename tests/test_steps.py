"""The course's grading steps on notebooks and folders built in memory, as nbgrader tests its
preprocessors. The last (`autograde.RecordOutcome`), against a gradebook made by `transfer`, decides
the notebook's verdict once, and the gradebook, the record and the TA's note all say the same; the
survey of a submission is recorded for the views and never reads a link."""
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.api import Gradebook
from traitlets.config import Config

from nnlab.grading import transfer
from nnlab.steps.intake import KEY
from nnlab.steps.autograde import RecordOutcome, read_record
from nnlab.status import BUSY_EVENT, Status

from test_transfer import DEFINITION, rows


def record_outcome(tmp_path, findings=(), events=()):
    """(the record, whether the gradebook flags the notebook, the note's markdown) after the step."""
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    transfer.create_assignment(url, DEFINITION)
    with Gradebook(url) as gradebook:
        transfer.write_student_rows(gradebook, "a1", "s1", rows(2.0, None))
    nb = new_notebook(cells=[new_code_cell("assert f()")])
    nb.metadata[KEY] = {"notes": ["a repaired cell"], "findings": list(findings), "fingerprint": "f"}
    resources = {"nbgrader": {"db_url": url, "assignment": "a1", "notebook": "nb", "student": "s1"},
                 KEY: {"events": list(events), "sandbox": True, "confinement": "bwrap"}}
    nb, _ = RecordOutcome(config=Config({"CourseDirectory": {"root": str(tmp_path)}})).preprocess(nb, resources)
    with Gradebook(url) as gradebook:
        flagged = gradebook.find_submission_notebook("nb", "a1", "s1").flagged
    return read_record(tmp_path, "s1", "nb"), flagged, nb.cells[0].source


def test_a_scan_finding_flags_the_notebook_in_the_record_and_the_gradebook(tmp_path):
    finding = {"text": "nb.ipynb, cell t1: imports socket", "hold": False}
    timeout = {"kind": "timeout", "cell": "t1", "message": "interrupted"}
    record, flagged, note = record_outcome(tmp_path, [finding], [timeout])
    assert record["status"] == Status.FLAGGED and flagged
    assert record["reasons"] == ["a repaired cell", finding["text"], "nb.ipynb, cell t1: interrupted"]
    assert record["held"] == [] and "**Flagged** by the code scan" in note


def test_a_timeout_alone_is_a_warning_and_flags_nothing(tmp_path):
    record, flagged, note = record_outcome(tmp_path, events=[{"kind": "timeout", "cell": "t1", "message": "slow"}])
    assert record["status"] == Status.WARNING and not flagged
    assert "Note for the TA" not in note  # nothing for the TA to look at: no note cell


def test_a_busy_notebook_is_flagged_with_the_command_to_grade_it(tmp_path):
    busy = {"kind": BUSY_EVENT, "cell": "t1", "message": "machine busy"}
    record, flagged, note = record_outcome(tmp_path, events=[busy])
    assert record["status"] == Status.BUSY and flagged
    assert "Not graded: the machine was too busy" in note and "`nnlab grade s1`" in note


def test_a_holding_finding_holds_the_points(tmp_path):
    finding = {"text": "nb.ipynb, cell t1: replaces the grader's checks", "hold": True}
    record, flagged, note = record_outcome(tmp_path, [finding])
    assert record["held"] == [finding["text"]] and flagged
    assert "**Points held for review**" in note


def test_the_survey_grading_recorded_is_read_back_only_while_nothing_changed(tmp_path):
    """The views read the survey a grading recorded (`write_survey`) while the submission and the
    release are as they were: a changed file of either makes it stale."""
    import nbformat

    from nnlab.steps.autograde import read_survey, write_survey
    from nnlab.steps.intake import survey, survey_key

    release, submission = tmp_path / "release", tmp_path / "submitted"
    for folder in (release, submission):
        folder.mkdir()
        nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), folder / "nb.ipynb")
    (submission / "notes.txt").write_text("my notes")
    found = survey(release, submission)
    write_survey(tmp_path, "s1", found, survey_key(release, submission))
    assert read_survey(tmp_path, "s1", survey_key(release, submission), submission) == (found, True)
    assert found.notebooks == {"nb": submission / "nb.ipynb"} and found.notes
    for changed in (submission / "notes.txt", release / "nb.ipynb"):
        before = survey_key(release, submission)
        changed.write_text(changed.read_text() + " ")
        assert read_survey(tmp_path, "s1", survey_key(release, submission), submission) == (None, True)
        assert survey_key(release, submission) != before
    assert read_survey(tmp_path, "s2", survey_key(release, submission), submission) == (None, False)  # never graded


def test_a_link_in_a_submission_is_never_read_and_a_linked_notebook_is_graded_as_missing(tmp_path):
    """Links are left out of every submission (a cluster's transfer leaves them out, and one may
    name any file of the grader's machine, or a pipe that never ends): the survey lists them as
    not used, without reading them, and stages none; nbgrader's own doors, which read a linked
    notebook, grade the release in its place, as `nnlab grade` grades it missing."""
    import os
    import signal

    import nbformat

    from nnlab.steps.autograde import IntakeRepairs
    from nnlab.steps.intake import LINK, stage, survey

    release, submission = tmp_path / "release" / "a1", tmp_path / "submitted" / "s1" / "a1"
    for folder in (release, submission, tmp_path / "elsewhere"):
        folder.mkdir(parents=True)
    provided = new_code_cell("x = 'the course'", metadata={"nbgrader": {
        "grade": False, "solution": False, "locked": True, "grade_id": "p1", "schema_version": 3}})
    nbformat.write(new_notebook(cells=[provided]), release / "nb.ipynb")
    (release / "data.txt").write_text("the course's data")
    nbformat.write(new_notebook(cells=[new_code_cell("x = 'a classmate'")]), tmp_path / "elsewhere" / "nb.ipynb")
    (tmp_path / "elsewhere" / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    os.mkfifo(tmp_path / "elsewhere" / "pipe")  # reading it would wait for ever
    for name, target in (("nb.ipynb", "nb.ipynb"), ("timestamp.txt", "timestamp.txt"), ("data.txt", "pipe")):
        (submission / name).symlink_to(tmp_path / "elsewhere" / target)

    def hung(*_):
        raise TimeoutError("a link was read")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        found = survey(release, submission)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert found.notebooks == {} and found.problems == ["nb.ipynb: missing (its cells score 0)"]
    assert not found.timestamp
    assert found.notes == [f"files not used for grading: data.txt ({LINK}), nb.ipynb ({LINK}), "
                           f"timestamp.txt ({LINK})"]
    stage(found, submission, tmp_path / "staged")
    assert list((tmp_path / "staged").iterdir()) == []

    config = Config({"CourseDirectory": {"root": str(tmp_path)}})
    resources = {"nbgrader": {"db_url": "sqlite://", "assignment": "a1", "notebook": "nb", "student": "s1"},
                 "metadata": {"path": str(submission)}}
    nb, _ = IntakeRepairs(config=config).preprocess(nbformat.read(submission / "nb.ipynb", as_version=4), resources)
    assert [cell.source for cell in nb.cells] == [provided.source]
    assert nb.metadata[KEY]["notes"] == [f"nb.ipynb: {LINK}; graded as the release (its cells score 0)"]
