"""Shared fixtures: a scratch copy of the course, built and graded once per test session with the
real nbgrader commands; real servers on loopback for the cluster tests."""
import base64
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import unicodedata
import urllib.error
import urllib.request
from difflib import SequenceMatcher
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from dateutil import parser as date_parser
from traitlets.config import Config

from nnlab.grading.batch import grade_class
from nnlab.course import Course
from nnlab.authoring.demo import limits, make_class, manifest
from nnlab.authoring.fill import TIMESTAMP_FORMAT, fill
from nnlab.authoring.release import build
from nnlab.steps.execution import GuardedExecute
from nnlab.grading.outcome import class_rows

REPO = Path(__file__).resolve().parents[1]
# The course's own code (labkit), importable by the tests of it, as from the students' folder
COURSE_CODE = REPO / "source" / "nn_training"
sys.path.insert(0, str(COURSE_CODE))
SHARED = REPO.parent / "shared"
SEED_DATA = SHARED / "seed-data" / "data.mat"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = os.geteuid() == 0
TA = "nnlab-ta"  # the ordinary user the tests make when they run as root
# The demo's on-time submission time: a fixed date before the course's due date, so that a test
# does not turn late once the clock passes the due date (as `nnlab fill` dates to now by default).
ON_TIME = date_parser.parse(manifest()[0]["submitted"])


# ---------------------------------------------------------------- tiers

# The suite's tiers, read from what a test needs: `class` tests need the demo class graded (the
# session's longest fixture), `course` tests a course nbgrader generated or the TA's own venv;
# every other test is `fast` (`pytest -m fast`: the loop while changing the package).
CLASS_FIXTURES = {"graded_class", "classic_graded_class"}
COURSE_FIXTURES = {"built_course", "classic_course", "other_numerics_course", "ta_python", "ta_user"}
# and what else a test needs, marked alike: `root` (a second user, mount namespaces; skipped
# otherwise), `cluster` (Dask and PostgreSQL servers); `browser` is marked by `in_a_browser`
ROOT_FIXTURES = {"as_root", "dask_cluster"}
CLUSTER_FIXTURES = {"dask_cluster", "postgres"}


def pytest_report_header():
    """The machine whose arithmetic the run used (README: "The same grade on any machine")."""
    import numpy
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return f"processor: {cpu}, {os.cpu_count()} cores; numpy {numpy.__version__} with {blas['name']} {blas['version']}"


@pytest.hookimpl(tryfirst=True)  # before -m selects by these marks
def pytest_collection_modifyitems(items):
    for item in items:
        params = getattr(item, "callspec", None)  # (GENERATED names its course fixture)
        needs = set(item.fixturenames) | {v for v in (params.params.values() if params else ()) if isinstance(v, str)}
        explicit = {mark.name for mark in item.iter_markers()} & {"class", "course"}
        if needs & CLASS_FIXTURES:
            item.add_marker("class")
        elif needs & COURSE_FIXTURES or explicit:
            item.add_marker("course")
        else:
            item.add_marker("fast")
        if "fast" not in {mark.name for mark in item.iter_markers()}:
            item.add_marker("slow")
        if needs & ROOT_FIXTURES:
            item.add_marker("root")
        if needs & CLUSTER_FIXTURES:
            item.add_marker("cluster")


@pytest.fixture(scope="session")
def as_root():
    """For a test that needs root: a second user (useradd, runuser), or to take user namespaces
    away from the ordinary user; skipped otherwise."""
    if not ROOT or not (shutil.which("useradd") and shutil.which("runuser")):
        pytest.skip("needs root, useradd and runuser")


def in_a_browser(test):
    """Mark `test` `browser`: it renders pages in headless Chromium, which `make test` installs
    (skipped where it is absent)."""
    present = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is installed by `make test`")
    return pytest.mark.browser(present(test))


# ---------------------------------------------------------------- a notebook in memory

def course_cell(source, grade_id, points=None, tags=()):
    """A cell of the course: a test cell with `points`, else a provided cell."""
    graded = points is not None
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(tags), "nbgrader": {
        "grade": graded, "solution": False, "locked": True, "grade_id": grade_id,
        **({"points": points} if graded else {})}})


def student_cell(source, grade_id):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": grade_id}})


def executed_in_memory(cells, metadata=None, course=None, **traits):
    """The cells run as the grader runs them (unsandboxed: the sandbox has its own tests), by
    grade id; `traits` of GuardedExecute. With a `course` folder, as nbgrader grades assignment
    "ps1" there, whose course files are in release/ps1."""
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={**(metadata or {}), "kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    config = Config({"GuardedExecute": {"sandbox": False, **traits}})
    resources = {}
    if course is not None:
        config.CourseDirectory.root = str(course)
        resources["nbgrader"] = {"assignment": "ps1"}
    executor = GuardedExecute(config=config, timeout=60)
    with tempfile.TemporaryDirectory() as folder:  # the grader copies the notebook's folder
        notebook, _ = executor.preprocess(notebook, {"metadata": {"path": folder}, **resources})
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in notebook.cells}


# ---------------------------------------------------------------- the ordinary user (a TA)

@pytest.fixture(scope="session")
def ta_user():
    """The ordinary user's name, uid and gid: made with useradd when the tests run as root (and
    removed afterwards if made here); the current user otherwise."""
    if not ROOT:
        entry = pwd.getpwuid(os.getuid())
        yield entry.pw_name, entry.pw_uid, entry.pw_gid
        return
    made = False
    try:
        entry = pwd.getpwnam(TA)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        TA], check=True, capture_output=True)
        entry, made = pwd.getpwnam(TA), True
    yield entry.pw_name, entry.pw_uid, entry.pw_gid
    if made:  # with its lock folder: nothing is left owned by a uid no one has
        shutil.rmtree(f"/tmp/nnlab-sandbox-{entry.pw_uid}", ignore_errors=True)
        subprocess.run(["userdel", TA], capture_output=True)


def _pins():
    """The project's pinned dependencies, from pyproject.toml."""
    with open(REPO / "pyproject.toml", "rb") as handle:
        return sorted(tomllib.load(handle)["project"]["dependencies"])


@pytest.fixture(scope="session")
def ta_python():
    """A Python the ordinary user can run, with the project's dependencies: a virtual environment
    of /usr/bin/python3 under /opt/nnlab-test (root-owned, readable by all), reused while the pins
    stay the same. The project's .venv may come from an interpreter only root can reach."""
    if not ROOT:
        return sys.executable
    pins = _pins()
    key = hashlib.sha256(" ".join(pins).encode()).hexdigest()[:12]
    venv = Path(f"/opt/nnlab-test/venv-{key}")
    if not (venv / "ready").exists():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([venv / "bin/pip", "install", "--quiet", *pins], check=True)
        (venv / "ready").touch()
    return str(venv / "bin" / "python")


@pytest.fixture(scope="session")
def ta_code(ta_user, open_tmp):
    """nnlab and the sandbox tests' runner, copied where the ordinary user can read them (a clone
    under /root is out of their reach), and a home folder for that user: what libraries write
    there is removed with it."""
    if not ROOT:
        return None
    folder = open_tmp / "ta-code"
    shutil.copytree(REPO / "nnlab", folder / "nnlab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(Path(__file__).parent / "sandbox_runner.py", folder)
    (folder / "home").mkdir()
    os.chown(folder / "home", *ta_user[1:])
    return folder


def as_ta(user, python, code, args, extra_env=None, **options):
    """Run `python ARGS` as the ordinary user, through runuser with a clean environment (the
    environment's bin/ first on PATH, as an activated venv has it); the CompletedProcess."""
    options.setdefault("cwd", "/")
    return subprocess.run([*as_ta_command(user, python, code, extra_env), *args],
                          capture_output=True, text=True, **options)


def as_ta_command(user, python, code, extra_env=None):
    """The command that runs the ordinary user's `python` (arguments to follow)."""
    home = code / "home"
    environment = {"PATH": f"{Path(python).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
                   "PYTHONPATH": str(code), "HOME": str(home), "TMPDIR": str(home),
                   **(extra_env or {})}
    return ["runuser", "-u", user[0], "--", "env", "-i", *(f"{k}={v}" for k, v in environment.items()), python]


@pytest.fixture(scope="session")
def open_tmp():
    """A temporary folder every user may pass through (pytest's own are private to their owner),
    for what the ordinary user runs or grades."""
    folder = Path(tempfile.mkdtemp(prefix="nnlab-tests-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def sigint_by_default():
    """`preexec_fn` of a child that a test stops with SIGINT, as Ctrl-C in a terminal would: a
    shell's background job (and whatever it starts) inherits SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def nbgrader_command(course, *args):
    """Run `nbgrader ARGS` in the course folder (alembic on PATH); returns the CompletedProcess."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course.root, env=env,
                          capture_output=True, text=True)


def nbgrader(course, *args):
    """Run an `nbgrader` command in the course folder; fail the test with its log if it fails."""
    result = nbgrader_command(course, *args)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result


def copy_course(destination):
    """A copy of the repository's course folder (no class data) at `destination`."""
    return Course(REPO).copy_to(destination)


def released_copy(built_course, destination):
    """A course copy at `destination` as nbgrader released it in `built_course`: its release/
    and its gradebook (the assignment, no grades)."""
    course = copy_course(destination)
    shutil.copy2(built_course.released_gradebook, course.root / "gradebook.db")
    shutil.rmtree(course.root / "release")
    shutil.copytree(built_course.root / "release", course.root / "release")
    return course

def set_classic_dataset(course):
    """Switch a course copy to the lab's original data.mat as an instructor does: the file beside
    the notebooks and one line in nbgrader_config.py (never in the repository)."""
    shutil.copy2(SEED_DATA, course.folder("source") / "data.mat")
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write('\nc.NNLab.dataset = "data.mat"\n')
    return course


@pytest.fixture(scope="session")
def classic_course(tmp_path_factory):
    """A course copy on the lab's data.mat whose release/ and solutions/ `nnlab release` built."""
    if not SEED_DATA.is_file():
        pytest.skip(f"the lab's data file {SEED_DATA} is absent")
    course = set_classic_dataset(copy_course(tmp_path_factory.mktemp("classic")))
    build(course)
    return course


# Settings that change the summation order and rounding of numpy and its BLAS on any x86-64
# machine: OpenBLAS's kernels of an older processor (no FMA), one thread, numpy's loops without
# AVX2/AVX-512. Built with them, the costs, means and gradient errors print other last digits.
OTHER_NUMERICS = {"OPENBLAS_CORETYPE": "Sandybridge", "OPENBLAS_NUM_THREADS": "1",
                  "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"}


def generated_copy(destination):
    """A course copy at `destination` whose release/ and solutions/ nbgrader generated (and
    executed) from source/ afresh."""
    course = copy_course(destination)
    shutil.rmtree(course.root / "release")
    shutil.rmtree(course.root / "solutions")
    nbgrader(course, "generate_assignment", course.assignment, "--force")
    nbgrader(course, "generate_solution", course.assignment, "--force")
    return course


# Tests of what nbgrader generates, run on the course generated here and as on another processor
# (the solutions print other last digits): what is committed must hold for both.
GENERATED = pytest.mark.parametrize("generated", ["built_course", "other_numerics_course"],
                                    ids=["this-machine", "other-numerics"])


@pytest.fixture(scope="session")
def other_numerics_course(tmp_path_factory):
    """A course copy generated as on another processor: its solutions print other last digits."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in OTHER_NUMERICS.items():  # inherited by the kernels nbgrader starts
            patch.setenv(name, value)
        return generated_copy(tmp_path_factory.mktemp("other-numerics"))


@pytest.fixture(scope="session")
def built_course(tmp_path_factory, open_tmp):
    """A course copy whose release/ and solutions/ were regenerated by nbgrader from source/, in
    a folder the ordinary user can reach (it grades the demo class there)."""
    (open_tmp / "course").mkdir()
    course = generated_copy(open_tmp / "course")
    # the gradebook as released, before any grading: for the courses the tests copy from this one
    course.released_gradebook = tmp_path_factory.mktemp("released") / "gradebook.db"
    shutil.copy2(course.root / "gradebook.db", course.released_gradebook)
    return course


class GradedClass(dict):
    """{student: export row (status, reasons, scores...)}, and in `before` the bytes of every
    file of source/ and submitted/ as they were before grading."""


def files_under(*folders):
    return {path: path.read_bytes() for folder in folders for path in sorted(folder.rglob("*"))
            if path.is_file()}


def fill_on_time(course, functions_files, student, force=False):
    """`nnlab fill`, dated as the demo's on-time students."""
    return fill(course, functions_files, student, ON_TIME, force)


def stamp_on_time(folder):
    """Date the submission in `folder` as the demo's on-time students."""
    (folder / "timestamp.txt").write_text(ON_TIME.strftime(TIMESTAMP_FORMAT))


def fill_solutions(folder, course):
    """Put the master notebooks' solutions in the answer cells of the notebooks in `folder`."""
    for path in course.notebooks("source"):
        solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(path, as_version=4).cells
                     if c.metadata.get("nbgrader", {}).get("solution")}
        notebook = nbformat.read(folder / path.name, as_version=4)
        for cell in notebook.cells:
            cell.source = solutions.get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
        nbformat.write(notebook, folder / path.name)


def write_solution_submission(course, student):
    """A submission whose answer cells hold the master notebooks' solutions, all else as released."""
    folder = course.submission(student)
    shutil.copytree(course.folder("release"), folder)
    fill_solutions(folder, course)
    stamp_on_time(folder)


class _Text(HTMLParser):
    """The text of an HTML page, scripts and styles left out, entities decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def page_text(markup):
    """What a reader sees of an HTML page."""
    parser = _Text()
    parser.feed(markup)
    return "".join(parser.parts)


# ---------------------------------------------------------------- what must not leak

# The suite's one oracle of secret lines, read from the master notebooks' region markers on its
# own (nnlab's feedback redaction, which the tests check, has its own reading).
SECRET_REGIONS = {"solution": ("### BEGIN SOLUTION", "### END SOLUTION"),
                  "hidden tests": ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
                  "mark scheme": ("=== BEGIN MARK SCHEME", "=== END MARK SCHEME")}
TESTS_AND_MARK_SCHEMES = ("hidden tests", "mark scheme")
TELLING = 12  # characters, whitespace removed, for a line to be telling


def squeeze(text):
    return re.sub(r"\s+", "", text)


def secret_lines(course, kinds=tuple(SECRET_REGIONS), squeezed=False):
    """Lines of the master notebooks' regions of `kinds` that nothing open shows: neither the
    masters outside those regions (a correct student writes solution lines, which feedback then
    shows) nor the course's support code. Stripped, or whitespace-free when `squeezed`."""
    form = squeeze if squeezed else str.strip
    secret, public = set(), {form(line) for path in course.folder("source").rglob("*.py")
                             for line in path.read_text().splitlines()}
    for path in course.notebooks("source"):
        for kind, line in region_lines(path):
            (secret if kind in kinds else public).add(form(line))
    shown = "\n".join(public)
    return {line for line in secret if len(squeeze(line)) >= TELLING and line not in shown}


def region_lines(path):
    """(the kind of secret region it is in, or None; the line) for every line of a notebook's
    cells but the region markers."""
    kind = None
    for cell in nbformat.read(path, as_version=4).cells:
        for line in cell.source.splitlines():
            text = line.strip()
            begun = [name for name, (begin, _) in SECRET_REGIONS.items() if text.startswith(begin)]
            if begun or any(text.startswith(end) for _, end in SECRET_REGIONS.values()):
                kind = begun[0] if begun else None
            else:
                yield kind, line


def readable_text(path):
    """What a reader of the file sees: a notebook's cell sources and text outputs, else its text."""
    if path.suffix != ".ipynb":
        return path.read_text(errors="replace")
    cells = nbformat.read(path, as_version=4).cells
    return "\n".join([cell.source for cell in cells] + [
        output.get("text", "") + output.get("data", {}).get("text/plain", "")
        for cell in cells for output in cell.get("outputs", [])])


# ---------------------------------------------------------------- read as a person reads
# Letters of other scripts that look like Latin ones (Cyrillic, Greek), folded to those.
LOOK_ALIKES = str.maketrans("аеорсухіјѕԁԛԝАВЕКМНОРСТХІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧаеіοѵ",
                            "aeopcyxijsdqwABEKMHOPCTXIJSABEZHIKMNOPTYXaeiov")
IMAGE = re.compile(r"data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=]+)")
OCR_MATCH = 0.85  # similarity of an OCR'd line to a secret line that counts as showing it


def folded(text):
    """`text` as a reader takes it: compatibility forms folded (NFKC: full-width letters,
    ligatures), invisible characters dropped (zero-width, direction marks: Unicode's format
    category), look-alike letters of other scripts read as the Latin ones."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").translate(LOOK_ALIKES)


def ocr(png):
    """The text tesseract reads in an image (PNG or JPEG bytes)."""
    done = subprocess.run(["tesseract", "-", "-", "--psm", "6"], input=png, capture_output=True, timeout=120)
    return done.stdout.decode(errors="replace")


def shown_lines(markup):
    """(text, image text) of an HTML page as a person reads it: its text with entities decoded,
    and the lines its embedded images show, both folded and without whitespace."""
    text = re.sub(r"\s+", "", folded(page_text(markup)))
    seen = [re.sub(r"\s+", "", folded(line)) for match in IMAGE.finditer(markup)
            for line in ocr(base64.b64decode(match.group(1))).splitlines()]
    return text, [line for line in seen if line]


def shown_secrets(markup, secret):
    """The lines of `secret` (whitespace-free) a person reading the page sees: in its text, or
    (nearly: OCR misreads a character here and there) in one of its images."""
    text, seen = shown_lines(markup)
    secret = set(secret)
    found = {line for line in secret if line in text}
    for line in secret - found:
        near = [s for s in seen if abs(len(s) - len(line)) <= len(line) * (1 - OCR_MATCH) + 2]
        if any(SequenceMatcher(None, line, s).ratio() >= OCR_MATCH for s in near):
            found.add(line)
    return found


def chromium_dom(url, profile):
    """The DOM of `url` after its scripts ran, as headless Chromium (Debian's) renders it."""
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", url],
        capture_output=True, text=True, timeout=180)
    return result.stdout


class CpuHogs:
    """While in use, `count` processes that only compute, each in a session of its own as other
    users' work is (the scheduler shares the CPUs between sessions first, and every kernel is a
    session of its own). `peak_load`: the highest 1-minute load average seen meanwhile."""

    def __init__(self, count):
        self.count, self.peak_load, self._hogs = count, 0.0, []
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
                      for _ in range(self.count)]
        self._watch.start()
        return self

    def _sample(self):
        while not self._stop.wait(5):
            self.peak_load = max(self.peak_load, os.getloadavg()[0])

    def __exit__(self, *_):
        self._stop.set()
        self._watch.join()
        for hog in self._hogs:
            hog.kill()
            hog.wait()


# The demo students graded on a busy machine (3 CPU hogs per core): their grades, and what the
# runaway students are charged, must be those the manifest states for a quiet one.
UNDER_LOAD = ("correct_", "runaway_")
HOGS_PER_CORE = 3


@pytest.fixture(scope="session")
def graded_class(built_course, ta_user, ta_python, ta_code):
    """The demo class plus a submission of the master notebooks themselves ("solution"), graded
    by `nnlab grade`, sandboxed, with the demo's limits, by an ordinary user: when the tests run
    as root, by the user they make, in a course folder that user owns. In `owners`, the uid and
    mode of every file of the course right after grading."""
    course = built_course
    settings, students = manifest()
    make_class(course, students)
    write_solution_submission(course, "solution")
    before = files_under(course.folder("source"), course.root / "submitted")
    # the runaway students first: they take longest, and last they would leave a job idle
    loaded = sorted([s["id"] for s in students if s["id"].startswith(UNDER_LOAD)],
                    key=lambda name: not name.startswith("runaway_"))
    quiet = [s["id"] for s in students if s["id"] not in loaded] + ["solution"]
    if ROOT:
        subprocess.run(["chown", "-R", f"{ta_user[1]}:{ta_user[2]}", course.root], check=True)
    _grade_demo(course, settings, quiet, (ta_user, ta_python, ta_code))
    with CpuHogs(HOGS_PER_CORE * os.cpu_count()) as hogs:
        # more jobs than cores: each kernel is a session the scheduler serves like a hog
        _grade_demo(course, settings, loaded, (ta_user, ta_python, ta_code), jobs=4)
    graded = GradedClass((row["student"], row) for row in class_rows(course))
    graded.peak_load, graded.under_load = hogs.peak_load, loaded
    graded.before = before
    graded.owners = {path: (path.lstat().st_uid, path.lstat().st_mode) for path in course.root.rglob("*")}
    return graded


def _grade_demo(course, settings, students, ta, jobs=None):
    """`nnlab grade` with the demo's limits, as the ordinary user `ta` (user, python, code) when
    the tests run as root."""
    if not ROOT:
        grade_class(course, students, jobs=jobs, config=limits(settings), out=lambda line: None)
        return
    options = ["--cell-timeout", str(settings["cell_timeout"]), "--time-budget", str(settings["time_budget"]),
               *(["--jobs", str(jobs)] if jobs else [])]
    done = subprocess.run([*as_ta_command(*ta), "-m", "nnlab.cli", "grade", *options, *students],
                          cwd=course.root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


# The demo students graded on the lab's data: the correct styles and the bugs.
CLASSIC_GRADED = ("correct_", "bug_")


@pytest.fixture(scope="session")
def classic_graded_class(classic_course):
    """({student: export row}, manifest entries) of the demo's correct styles and bugs, plus the
    master notebooks' solutions ("solution"), graded by `nnlab grade` on the lab's data with the
    course's own time limits (the demo's tight ones are sized for its runaway students)."""
    course = classic_course
    _, students = manifest()
    students = [s for s in students if s["id"].startswith(CLASSIC_GRADED)]
    make_class(course, students)
    write_solution_submission(course, "solution")
    grade_class(course, [s["id"] for s in students] + ["solution"], jobs=2, out=lambda line: None)
    return {row["student"]: row for row in class_rows(course)}, students


# ---------------------------------------------------------------- real servers on loopback
# PostgreSQL (Debian's; as root, run as the `postgres` user, since it refuses to run as root) and a
# Dask scheduler with its workers.

BIN = Path(sys.executable).parent
# absolute: the refusing worker runs with a PATH that finds none of them
UNSHARE, SH, MOUNT = (shutil.which(tool) for tool in ("unshare", "sh", "mount"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Formgrader:
    """A `jupyter server` with formgrader, run from the course root, and a client of its API."""

    def __init__(self, course, folder):
        self.course, self.token = course, secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "jupyter-server.log"
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
                   JUPYTER_CONFIG_DIR=str(folder / "config"), JUPYTER_RUNTIME_DIR=str(folder / "runtime"))
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [str(BIN / "jupyter"), "server", "--no-browser", "--allow-root", "--ip=127.0.0.1",
                 f"--port={self.port}", f"--IdentityProvider.token={self.token}",
                 f"--ServerApp.root_dir={course.root}"],
                cwd=course.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                if self.call("GET", "/formgrader/api/status", timeout=5) == {"status": True}:
                    break
            except (OSError, urllib.error.URLError):
                pass
            assert self.process.poll() is None, f"jupyter server exited:\n{self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"formgrader did not start:\n{self.log.read_text()[-3000:]}"
            time.sleep(0.5)

    def call(self, method, path, body=None, timeout=600):
        """An API request as formgrader's buttons make it, authenticated by the token."""
        data = None if body is None else json.dumps(body).encode()
        if data is None and method in ("POST", "PUT"):
            data = b""
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode())

    def page(self, path):
        """A formgrader page's HTML, as the TA's browser gets it from the server."""
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read().decode()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Postgres:
    """A PostgreSQL server in a temporary folder, trusting local connections. PostgreSQL refuses
    to run as root: root runs it as Debian's `postgres` user, anyone else as themselves."""

    def __init__(self):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        assert bins, "Debian's postgresql is not installed (`make test` installs it)"
        self.bin = bins[-1].parent
        # under /tmp itself: pytest's folders are closed to the postgres user
        self.folder = Path(tempfile.mkdtemp(prefix="nnlab-postgres-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self.port = free_port()
        self._server_tool("initdb", "-D", self.folder / "data", "-U", "postgres",
                          "--auth=trust", "--no-sync")
        self._server_tool("pg_ctl", "-D", self.folder / "data", "-w", "-l",
                          self.folder / "server.log", "-o",
                          f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")

    def _server_tool(self, name, *args):
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, str(self.bin / name), *map(str, args)], check=True,
                       capture_output=True, cwd=self.folder)

    def url(self, database):
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name):
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'create database "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self):
        self._server_tool("pg_ctl", "-D", self.folder / "data", "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class DaskCluster:
    """`dask scheduler` and `dask worker`s on loopback, each in an empty folder of its own, in a
    mount namespace where `hidden` (the tests' course roots) is an empty tmpfs: the workers can
    reach the course only through the scheduler."""

    def __init__(self, hidden, workers=2, refusing=0):
        self.folder = Path(tempfile.mkdtemp(prefix="nnlab-dask-"))
        self.hidden = hidden
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.processes = []
        try:
            self.scheduler = self._start("scheduler", [
                BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port",
                self.address.rsplit(":", 1)[1], "--no-dashboard"])
            for index in range(workers):
                self.start_worker(f"worker{index}")
            for index in range(refusing):  # no bwrap on its PATH: cannot build the sandbox
                self.start_worker(f"refusing{index}", env={"PATH": str(BIN)})
            self.wait_for_workers(workers + refusing)
        except BaseException:
            self.stop()
            raise

    def start_worker(self, name, env=None):
        command = [BIN / "dask", "worker", self.address, "--name", name, "--nthreads", "1",
                   "--no-dashboard", "--host", "127.0.0.1", "--local-directory", "."]
        hide = f"{MOUNT} -t tmpfs -o size=1m none {self.hidden} && exec \"$@\""
        return self._start(name, [UNSHARE, "--mount", "--propagation", "private", SH, "-c",
                                  hide, SH, *command], env)

    def _start(self, name, command, env=None):
        folder = self.folder / name
        folder.mkdir()
        log = open(folder / "log", "w")
        process = subprocess.Popen([str(part) for part in command], cwd=folder, stdout=log,
                                   stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})),
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self, count):
        with self.client() as client:
            client.wait_for_workers(count, timeout=120)

    def log(self, name):
        return (self.folder / name / "log").read_text()

    def stop(self):
        """Workers first (a worker whose scheduler is gone waits for it before exiting)."""
        _terminate(self.processes[1:])
        _terminate(self.processes[:1])
        shutil.rmtree(self.folder, ignore_errors=True)


def _terminate(processes, seconds=10):
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.time() + seconds
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
