"""What a grading decides (nnlab/status.py): the statuses, worst first, and one notebook's verdict
from its repairs' notes, the code scan's findings and the kernel's events."""
import csv
import io
import json

import pytest

from nnlab.status import BUSY_EVENT, STATUSES, UNGRADED, Status, failed, notebook_verdict, worst


def event(kind, cell="c1", message=None):
    return {"kind": kind, "cell": cell, "message": message or f"{kind} happened"}


def test_a_status_is_its_plain_string_in_json_csv_and_text():
    assert json.dumps({"status": Status.NOT_GRADED}) == '{"status": "not graded"}'
    out = io.StringIO()
    csv.writer(out).writerow([Status.BUSY])
    assert out.getvalue().strip() == "busy"
    assert f"{Status.FLAGGED:<10}|" == "flagged   |" and Status("late") is Status.LATE


def test_the_worst_status_wins_and_none_is_ok():
    assert worst([]) is Status.OK
    assert worst([Status.LATE, Status.WARNING, Status.OK]) is Status.WARNING
    assert worst([Status.FLAGGED, Status.BUSY, Status.INCOMPLETE]) is Status.BUSY
    assert list(STATUSES) == sorted(STATUSES, key=list(Status).index)
    assert not UNGRADED & {Status.FLAGGED, Status.INCOMPLETE, Status.WARNING, Status.LATE, Status.OK}


@pytest.mark.parametrize("notes, findings, kinds, expected", [
    ([], [], [], Status.OK),
    (["a repaired cell"], [], [], Status.WARNING),
    ([], [], ["timeout", "output"], Status.WARNING),
    ([], [], ["timeout", "died"], Status.INCOMPLETE),
    ([], [], ["budget"], Status.INCOMPLETE),
    ([], ["imports socket"], ["killed"], Status.FLAGGED),
    ([], ["imports socket"], [BUSY_EVENT], Status.BUSY),
])
def test_a_notebooks_verdict(notes, findings, kinds, expected):
    status, reasons = notebook_verdict("n.ipynb", notes, findings, [event(kind) for kind in kinds])
    assert status is expected
    assert reasons[:len(notes) + len(findings)] == notes + findings
    assert reasons[len(notes) + len(findings):] == [f"n.ipynb, cell c1: {kind} happened" for kind in kinds]


def test_an_event_in_several_cells_is_said_once_naming_them_all():
    events = [event("timeout", "a", "too slow"), event("timeout", "b", "too slow"), event("exit", "b", "left")]
    assert notebook_verdict("n.ipynb", [], [], events)[1] == ["n.ipynb, cells a, b: too slow", "n.ipynb, cell b: left"]


def test_a_grading_that_produced_nothing_has_no_scores_and_says_why():
    assert failed(("the worker died",)) == {"status": "failed", "scores": None, "reasons": ["the worker died"]}
