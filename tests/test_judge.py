"""The judge (nnlab/judge): test cells run in a process of their own and reach the student's
kernel through a channel of plain data; scores come from the judge's outputs alone."""
import json

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.utils import determine_grade
from traitlets.config import Config

from nnlab.steps.execution import GuardedExecute
from nnlab.judge.channel import NotPlainData, decode, dumps, encode, loads
from nnlab.judge.client import Unanswered, answer_text

from conftest import course_cell, executed_in_memory, student_cell


# ---------------------------------------------------------------- the channel

def test_plain_data_crosses_unchanged():
    """Numbers (nan and every digit included), strings, arrays of each numeric kind, containers."""
    value = {"a": [1, 2.5, float("nan")], "b": (np.arange(6, dtype=np.int16).reshape(2, 3), None),
             "c": np.array([True, False]), 3: "text", "d": 0.1 + 0.2, "e": np.float32(1.5)}
    back = loads(dumps(value))
    assert back["b"][0].dtype == np.int16 and back["b"][0].shape == (2, 3) and back["b"][1] is None
    assert np.array_equal(back["c"], [True, False]) and back[3] == "text"
    assert back["d"] == 0.1 + 0.2 and np.isnan(back["a"][2]) and back["e"] == 1.5
    assert type(back["b"]) is tuple and type(back["a"]) is list


class LooksLikeAnArray:
    """What the array-impostor attack returns: numpy would convert it, the channel does not."""

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the channel called a method of the sender's object")


@pytest.mark.parametrize("value", [LooksLikeAnArray(), np.array([object()]), np.array(["text"]),
                                   {(1, 2): 3}, lambda: 1, np.float64])
def test_anything_else_is_refused_without_calling_it(value):
    with pytest.raises(NotPlainData):
        encode(value)


@pytest.mark.parametrize("data", [{"array": "|O", "shape": [1], "data": "AA=="},
                                  {"array": "<f8", "shape": [2], "data": "AAAAAAAAAAA="},
                                  {"pickle": "gASVAAAA"}, [1, 2], {"list": [1], "tuple": [2]}])
def test_malformed_data_is_refused(data):
    with pytest.raises((NotPlainData, ValueError)):
        decode(data)


def test_lists_of_numbers_arrive_as_arrays_on_the_judges_side():
    data = json.loads(dumps({"mask": [[True, False], [False, True]], "ragged": [[1], [1, 2]],
                             "names": ["a", "b"]}))
    back = decode(data, arrays=True)
    assert isinstance(back["mask"], np.ndarray) and back["mask"].dtype == bool
    assert type(back["ragged"]) is list and [list(row) for row in back["ragged"]] == [[1], [1, 2]]
    assert back["names"] == ["a", "b"]


@pytest.mark.parametrize("text", [b'{"value": 1}', b'{"printed": "a \\"quoted\\" line\\n"}'])
def test_a_reply_reaches_the_judge_as_the_kernel_wrote_it(text):
    assert answer_text(text + b"\n") == text.decode()


@pytest.mark.parametrize("line", ['{"a": "\u00e9"}\n'.encode(), b'{"a": 1}\r{"abort": "x"}\n', b"\xff\n"])
def test_a_forged_reply_that_could_break_the_framing_is_refused(line):
    """Text that is not ASCII (the channel's JSON always is), a carriage return."""
    with pytest.raises(Unanswered):
        answer_text(line)


@pytest.mark.parametrize("line", [b'{"a": 1}', b""])
def test_a_line_cut_off_is_no_answer(line):
    """The kernel's end stopped mid-answer: the judge asks the serving request why."""
    assert answer_text(line) is None


# ---------------------------------------------------------------- a notebook in memory

STUDENT = '''
import sys, warnings
import numpy as np

def cost(x):
    warnings.warn("careful")
    print("a note on stderr", file=sys.stderr)
    return float(np.log(x))          # log(0): a RuntimeWarning, -inf

def lazy(x):
    sys.displayhook("work in progress")   # a display instead of a result

def fill(param):
    param["mean"] = param.get("mean", 0) + 1
    param["buffer"] *= 2
    param["running"] = param["running"].reshape(1, -1) + 1   # stored anew, in another shape

def staged(x):
    return finish(x)                 # defined in a cell further down

def draws():
    return np.random.rand()

_secret_seen = []
def snoop():
    import gc, linecache
    texts = [o for o in gc.get_objects() if isinstance(o, str)]
    texts += ["".join(lines) for _, _, lines, _ in linecache.cache.values()]
    line = "".join(["expected_value = ", "3.14159"])  # the test's line, never spelt out here
    return sum(line in t for t in texts)

class Thing:
    pass

def odd():
    return Thing()
'''


@pytest.fixture(scope="module")
def judged():
    """One notebook, executed as the grader does (unsandboxed here: the sandbox has its own tests)."""
    cells = [
        course_cell("import numpy as np\n\ndef twice(f, x):\n    return 2 * f(x)", "imports"),
        student_cell(STUDENT, "answers"),
        course_cell("assert cost(1.0) == 0.0 and cost(0.0) == -np.inf\nassert twice(cost, 1.0) == 0.0\n"
                    "print('Test passed.')",
                    "warns", 1),
        course_cell("assert lazy(1) is not None, 'lazy returned None'", "display", 1),
        course_cell("p = {'buffer': np.ones(2), 'running': np.zeros(3)}\nbuffer = p['buffer']\nfill(p)\n"
                    "assert sorted(p) == ['buffer', 'mean', 'running'] and p['mean'] == 1\n"
                    "assert p['buffer'] is buffer and np.array_equal(buffer, [2, 2])\n"
                    "assert p['running'].shape == (1, 3) and np.all(p['running'] == 1)", "in_place", 1),
        course_cell("assert staged(2) == 42", "later", 1),
        course_cell("np.random.seed(5)\nfirst = draws()\nnp.random.seed(5)\nassert draws() == first\n"
                    "assert first == np.random.RandomState(5).rand()", "seeded", 1),
        course_cell("expected_value = 3.14159\nassert snoop() == 0", "hidden", 1),
        course_cell("odd()", "odd", 1),
        student_cell("def finish(x):\n    return x + 40", "later_answer"),
        new_code_cell("after = np.random.rand()"),
    ]
    return executed_in_memory(cells)


def score(cell):
    return determine_grade(cell)[0]


def text(cell):
    return "".join(out.get("text", "") for out in cell.outputs)


def test_warnings_and_stderr_of_student_code_cost_nothing_and_are_shown(judged):
    cell = judged["warns"]
    assert score(cell) == 1
    assert all(out.get("name") != "stderr" for out in cell.outputs)
    assert "Warning from your code: UserWarning: careful" in text(cell)
    assert "a note on stderr" in text(cell) and "Test passed." in text(cell)
    assert "RuntimeWarning: divide by zero encountered in log" in text(cell)


def test_a_display_in_the_kernel_earns_nothing(judged):
    cell = judged["display"]
    assert score(cell) == 0
    assert "work in progress" not in json.dumps(cell.outputs)


def test_arguments_changed_in_place_change_for_the_test(judged):
    assert score(judged["in_place"]) == 1


def test_a_function_calling_one_defined_further_down_is_judged_as_the_notebook_defines_it(judged):
    assert score(judged["later"]) == 1


def test_a_seed_set_by_a_test_applies_to_the_students_function(judged):
    assert score(judged["seeded"]) == 1, judged["seeded"].outputs


def test_no_test_source_enters_the_students_kernel(judged):
    """A student function searching the garbage collector and the line cache for a line of the
    test that calls it finds none (the test holds it in the judge)."""
    assert score(judged["hidden"]) == 1, judged["hidden"].outputs


def test_what_is_not_plain_data_fails_the_test_with_a_message(judged):
    cell = judged["odd"]
    assert score(cell) == 0
    assert "odd returned a __main__.Thing; expected plain data" in cell.outputs[-1].evalue


def test_without_the_release_folder_the_judge_refuses_rather_than_use_the_students_labkit(tmp_path):
    """In an nbgrader grading the course's code comes from release/ alone: the submission's own
    `labkit` is the student's to change."""
    config = Config({"GuardedExecute": {"sandbox": False}, "CourseDirectory": {"root": str(tmp_path)}})
    (tmp_path / "submitted" / "s1" / "a1" / "labkit").mkdir(parents=True)
    notebook = new_notebook(cells=[course_cell("assert True", "test", 1)])
    resources = {"metadata": {"path": str(tmp_path / "submitted" / "s1" / "a1")},
                 "nbgrader": {"assignment": "a1", "student": "s1"}}
    with pytest.raises(FileNotFoundError, match="release folder .* is missing"):
        GuardedExecute(config=config).preprocess(notebook, resources)
