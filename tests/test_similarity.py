"""`nnlab similarity` on the demo class (filled, never graded): the copied pair, the pasted known
solution and the shared bug come first; the correct styles are never a pair; the release alone is
never evidence; broken notebooks are skipped with a note; the page escapes what students wrote
and shows the top pair side by side in a browser."""
import csv
import re

import nbformat
import pytest

from nnlab.authoring.demo import DEMO, make_class, manifest
from nnlab.cli import main
from nnlab.results.report import _similarity
from nnlab.results.similarity import (CSV_COLUMNS, NEVER_A_GRADE, pairs, similarity,
                                      write_similarity)

from conftest import chromium_dom, copy_course, fill_on_time, in_a_browser, page_text

STUDENTS = manifest()[1]
KNOWN = DEMO / "known_solutions"
FILES = DEMO / "students"
CLASSIC = [FILES / "regularization/classic.py", FILES / "batchnorm/classic.py"]
EXPECTED_TOP = {("similar_pasted", "published_regularization.py", "known"),
                ("similar_copy", "similar_original", "pair"),
                ("similar_bug_classic", "similar_bug_own_dropout", "pair")}
# the demo's correct styles, each written independently (and the late one, classic)
CORRECT = [s for s in STUDENTS if s["id"].startswith(("correct_", "style_")) or s["id"] == "late"]


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory):
    """(course, result, page) of the whole demo class compared with demo/known_solutions/."""
    course = copy_course(tmp_path_factory.mktemp("similarity"))
    make_class(course, STUDENTS)
    result, page = write_similarity(course, KNOWN)
    return course, result, page


def course_in(folder):
    folder.mkdir()
    return copy_course(folder)


def reported(result):
    return [(a, b, kind) for a, b, kind, _ in pairs(result)]


def test_the_copied_pair_the_pasted_solution_and_the_shared_bug_come_first(demo_class):
    _, result, _ = demo_class
    found = reported(result)
    assert set(found[:3]) == EXPECTED_TOP, found
    units = {(m.student, m.other): m.unit for m in result.matches}
    assert units["similar_bug_classic", "similar_bug_own_dropout"].endswith("compute_cost_with_regularization")


def test_no_two_correct_styles_of_the_demo_class_are_a_pair(demo_class):
    _, result, _ = demo_class
    correct = {s["id"] for s in CORRECT}
    assert not [p for p in reported(result) if {p[0], p[1]} <= correct]


def test_a_class_of_correct_styles_alone_reports_nothing(tmp_path):
    """At least ten independently written correct styles, in a class too small for any spread:
    the floor of the rule, and the rarity of what they share, keep every pair below it."""
    assert len({tuple(s["files"]) for s in CORRECT}) >= 10
    course = copy_course(tmp_path)
    make_class(course, CORRECT)
    result = similarity(course)
    assert result.students == len(CORRECT) and not result.matches, reported(result)


def test_the_release_alone_is_never_evidence(tmp_path):
    """Two blank submissions share every line of the release, and are no pair."""
    course = copy_course(tmp_path)
    for student in ("blank1", "blank2"):
        fill_on_time(course, [], student)
    result = similarity(course)
    assert not result.matches
    assert all(not found.hashes for unit in result.prints.values() for found in unit.values())


def test_broken_notebooks_are_skipped_with_a_note(demo_class):
    _, result, page = demo_class
    for student in ("broken_truncated_json", "broken_missing_notebook"):
        assert any(note.startswith(f"{student}: batchnorm.ipynb") for note in result.notes), result.notes
        assert student in page.read_text()
    # stripped metadata is matched back, as grading does: that student is compared
    assert "broken_stripped_metadata" in result.prints["regularization: compute_cost_with_regularization"]


def test_csv_has_a_row_per_reported_unit(demo_class):
    course, result, _ = demo_class
    with open(course.root / "reports" / "similarity.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(result.matches)
    first = [row for row in rows if row["rank"] == "1"]
    assert first and all(float(row["score"]) >= float(row["threshold"]) for row in rows)


def test_the_reports_say_they_never_change_a_grade(demo_class):
    course, _, page = demo_class
    assert NEVER_A_GRADE in page_text(page.read_text())
    section = _similarity(course.root / "reports")  # nnlab report's section
    assert 'href="similarity.html"' in section and NEVER_A_GRADE in section
    assert "2 pairs of students and 1 student matching a known solution" in section


def test_student_code_is_escaped(tmp_path):
    """A copied pair whose comment closes the <pre> and opens a script: shown as text."""
    hostile = "# </pre><script>alert('copied')</script> keep this exact comment please\n"
    original = (FILES / "similarity/original.py").read_text().replace("    n_examples = Y.shape[1]\n",
                                                                       "    n_examples = Y.shape[1]\n    " + hostile)
    (tmp_path / "a.py").write_text(original)
    course = course_in(tmp_path / "course")
    for student in CORRECT[:4]:
        fill_on_time(course, student["files"], student["id"])
    for student in ("author", "copier"):
        fill_on_time(course, [tmp_path / "a.py"], student)
    result, page = write_similarity(course)
    assert reported(result)[0][:2] == ("author", "copier")
    markup = page.read_text()
    assert "<script>" not in markup and "&lt;script&gt;alert(&#x27;copied&#x27;)" in markup
    assert "<script>alert('copied')</script>" in page_text(markup)


def test_a_known_solution_may_be_a_notebook(tmp_path):
    known = tmp_path / "known"
    known.mkdir()
    code = (KNOWN / "published_regularization.py").read_text()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Solutions"),
                                               nbformat.v4.new_code_cell("%matplotlib inline\n" + code)])
    nbformat.write(notebook, known / "lab.ipynb")
    course = course_in(tmp_path / "course")
    for student in CORRECT + [s for s in STUDENTS if s["id"] == "similar_pasted"]:
        fill_on_time(course, student["files"], student["id"])
    result = similarity(course, known)
    assert reported(result) == [("similar_pasted", "lab.ipynb", "known")]


def test_command_line(demo_class, capsys):
    course, _, _ = demo_class
    assert main(["--course", str(course.root), "similarity", "--against", str(KNOWN)]) == 0
    out = capsys.readouterr().out
    assert "similarity.html: 2 pairs of students and 1 student matching a known solution" in out
    assert "broken_truncated_json" in out
    before = (course.root / "reports" / "similarity.csv").read_bytes()
    assert main(["--course", str(course.root), "similarity", "--against", str(course.root / "nowhere")]) == 2
    assert "--against: no such folder" in capsys.readouterr().err
    assert (course.root / "reports" / "similarity.csv").read_bytes() == before


# Measures where the two sides of the top pair are drawn, into the DOM Chromium dumps.
MEASURE = """<script>
const sides = document.querySelectorAll("#pair-1 .sides")[0].children;
const [a, b] = [sides[0].getBoundingClientRect(), sides[1].getBoundingClientRect()];
document.body.dataset.layout = [a.left, a.top, a.width, b.left, b.top, b.width].map(Math.round).join(",");
</script></body>"""


@in_a_browser
def test_the_top_pair_is_shown_side_by_side_with_the_shared_passages_marked(demo_class, tmp_path):
    _, _, page = demo_class
    measured = tmp_path / "measured.html"
    measured.write_text(page.read_text().replace("</body>", MEASURE))
    dom = chromium_dom(measured.as_uri(), tmp_path / "profile")
    left, top, width, right, right_top, right_width = map(int, re.search(r'data-layout="([\d,.-]+)"', dom)
                                                          .group(1).split(","))
    assert right >= left + width and abs(top - right_top) <= 2 and width > 200 and right_width > 200
    section = dom[dom.index('id="pair-1"'):]
    section = section[:section.index("</section>")]
    first = section[:section.index('<div class="side">', section.index('<div class="side">') + 1)]
    second = section[len(first):section.index("</div></div>", len(first))]
    marks = [page_text(m) for m in re.findall(r"<mark>(.*?)</mark>", first, re.S)]
    assert sum(len(m) for m in marks) > 200
    other = page_text(second)
    assert all(m in other for m in marks if m.strip())
    assert second.count("<mark>") > 0

