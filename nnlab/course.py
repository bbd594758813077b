"""The course folder and nbgrader's own machinery, driven through its Python API."""
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from traitlets import Unicode
from traitlets.config import Configurable

from . import ASSIGNMENT
from .mounts import filesystem_type


class CourseError(Exception):
    """A problem with the course folder or the command's input, reported without a traceback."""


def find_root(start=None):
    """The course root: the nearest folder, from `start` (default: cwd) upwards, holding
    nbgrader_config.py."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file():
            return folder
    raise CourseError(f"no course folder (with nbgrader_config.py) at or above {here}")


def discard_feedback(coursedir, assignment, student, notebooks):
    """Remove `student`'s feedback pages of `notebooks` (where nbgrader's `coursedir` puts them),
    made before a grading or a review decision that changed them: stale, they must not be
    released; generating feedback writes them anew."""
    folder = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
    for notebook in notebooks:
        (folder / f"{notebook}.html").unlink(missing_ok=True)


GRADEBOOK_PATIENCE = 120  # seconds a process waits for another's write to an SQLite gradebook
# File systems shared over a network, where SQLite's write-ahead log must not be used (its index is
# shared memory, which such file systems cannot share between machines).
NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs",
                       "lustre", "gpfs", "beegfs", "fuse.sshfs", "fuse.glusterfs", "fuse.ceph",
                       "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse")
_shared = False


def share_the_gradebook():
    """Make every SQLite gradebook this process opens fit for graders at once (a batch's workers,
    formgrader, a TA's command): a connection waits up to GRADEBOOK_PATIENCE for another's write
    (SQLite's own 5 s made a worker fail on a busy machine), and the database keeps a write-ahead
    log (WAL), so that reading never waits for a write and a write for no reading, and a commit
    costs no flush to disk (synchronous=NORMAL: a power cut may lose the last commits, never
    consistency). Not on a network file system, where the log cannot be shared.
    nbgrader_config.py calls this in every nbgrader process."""
    global _shared
    if _shared:
        return
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def on_connect(connection, _record):
        if not isinstance(connection, sqlite3.Connection):
            return
        connection.execute(f"PRAGMA busy_timeout = {GRADEBOOK_PATIENCE * 1000}")
        path = connection.execute("PRAGMA database_list").fetchone()[2]
        if not path:  # an in-memory database
            return
        # the journal mode is kept in the file: one switched to WAL elsewhere is switched back
        journal = "DELETE" if filesystem_type(path) in NETWORK_FILESYSTEMS else "WAL"
        try:
            connection.execute(f"PRAGMA journal_mode = {journal}")
            connection.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.OperationalError:  # a gradebook this user may only read: read it as it is
            pass

    event.listen(Engine, "connect", on_connect)
    _shared = True


def counted(number, noun):
    """"1 notebook", "3 notebooks"."""
    return f"{number} {noun}{'s' * (number != 1)}"


class NNLab(Configurable):
    """The course's own settings, read from nbgrader_config.py like nbgrader's."""

    dataset = Unicode("football.npz", help="the dataset file of part 1, a file beside the master "
                      "notebooks in source/<assignment>/ (e.g. the lab's original data.mat); "
                      "`nnlab release` builds the course for it").tag(config=True)


class Course:
    """Paths of one nbgrader course folder."""

    # what the course is made of; everything else in its folder is class data
    FILES = ("nbgrader_config.py", "source", "release", "solutions")

    def __init__(self, root=None, assignment=ASSIGNMENT, db_url=None):
        self.root = find_root(root)
        self.assignment = assignment
        self._db_url = db_url  # None: the course's own (see db_url)
        self._found_gradebook = False

    def folder(self, kind):
        """The assignment's folder under source/, release/, solutions/, autograded/, ..."""
        return self.root / kind / self.assignment

    @property
    def db_url(self):
        """The gradebook's SQLAlchemy URL: `c.CourseDirectory.db_url` when the course sets one
        (e.g. a PostgreSQL database shared by several TAs), else gradebook.db in the root."""
        if self._db_url is None:
            self._db_url = self.config().CourseDirectory.get("db_url") or \
                f"sqlite:///{self.root / 'gradebook.db'}"
        return self._db_url

    def has_gradebook(self):
        """Whether the gradebook exists (opening a missing one would create an empty one): the
        SQLite file, or nbgrader's tables in the database `db_url` names (once found, that is
        remembered; an unreachable database counts as none)."""
        from sqlalchemy import create_engine, inspect
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import SQLAlchemyError

        url = make_url(self.db_url)
        if url.get_backend_name() == "sqlite":
            return bool(url.database) and Path(url.database).is_file()
        if not self._found_gradebook:
            engine = create_engine(url)
            try:
                self._found_gradebook = inspect(engine).has_table("assignment")
            except SQLAlchemyError:
                return False
            finally:
                engine.dispose()
        return self._found_gradebook

    def check_gradebook(self):
        """Raise CourseError unless the gradebook can be reached and holds the released
        assignment; never creates a gradebook."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import SQLAlchemyError

        url = make_url(self.db_url)
        not_released = CourseError("the assignment is not released yet: run `nnlab release` first")
        if url.get_backend_name() == "sqlite" and not self.has_gradebook():
            raise not_released
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                found = connection.execute(text("select 1 from assignment where name = :name"),
                                           {"name": self.assignment}).first()
        except SQLAlchemyError as error:
            raise CourseError(f"cannot use the gradebook {url.render_as_string(hide_password=True)}: "
                              f"{error_line(error)}") from None
        finally:
            engine.dispose()
        if found is None:
            raise not_released

    def submission(self, student):
        """submitted/<student>/<assignment>/"""
        return self.root / "submitted" / student / self.assignment

    def copy_to(self, destination):
        """A copy of the course, without class data, in the existing folder `destination`."""
        for name in self.FILES:
            source = self.root / name
            if source.is_dir():
                shutil.copytree(source, destination / name,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, destination / name)
        return Course(destination, self.assignment)

    def notebooks(self, kind="source"):
        """The notebooks of the assignment's folder of this kind, sorted by name."""
        return sorted(self.folder(kind).glob("*.ipynb"))

    def config(self):
        """nbgrader's configuration as loaded from the course's nbgrader_config.py."""
        from traitlets.config.loader import PyFileConfigLoader

        return PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()

    def coursedir(self):
        """nbgrader's CourseDirectory of the course, as configured."""
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=self.config(), root=str(self.root))

    def settings(self):
        """The course's own settings (the NNLab section of nbgrader_config.py)."""
        return NNLab(config=self.config())

    def api(self):
        from nbgrader.apps import NbGraderAPI

        return NbGraderAPI(config=self.config())

    def generate_release(self):
        """`nbgrader generate_assignment`: student copies in release/."""
        with self._in_root():
            _check(self.api().generate_assignment(self.assignment, force=True), "generate_assignment")

    def generate_solutions(self):
        """`nbgrader generate_solution`: executed solution notebooks in solutions/."""
        from nbgrader.converters import GenerateSolution
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.utils import capture_log

        config = self.config()
        config.CourseDirectory.assignment_id = self.assignment
        config.GenerateSolution.force = True
        with self._in_root():
            coursedir = CourseDirectory(config=config)
            _check(capture_log(GenerateSolution(coursedir=coursedir, config=config)), "generate_solution")

    def plain_autograde(self, student=None, config=None):
        """nbgrader's Autograde of the assignment (one `student`'s, or everyone's) with nbgrader's
        default steps: every cell, test cells in the student's kernel, none of the course's steps.
        The course's configuration otherwise, with `config` (a Config) over it. For comparisons."""
        from nbgrader.converters import Autograde
        from nbgrader.coursedir import CourseDirectory

        merged = self.config()
        defaults = Autograde.class_traits()
        for steps in ("sanitize_preprocessors", "autograde_preprocessors"):
            merged.Autograde[steps] = defaults[steps].default()
        merged.CourseDirectory.assignment_id = self.assignment
        if student:
            merged.CourseDirectory.student_id = student
        merged.merge(config or {})
        with self._in_root():
            converter = Autograde(coursedir=CourseDirectory(config=merged), config=merged)
            converter.force = True
            converter.start()

    @contextmanager
    def _in_root(self):
        """nbgrader resolves some paths against the cwd, and needs alembic (next to this Python) on
        PATH when it creates a gradebook."""
        old_cwd, old_path = Path.cwd(), os.environ.get("PATH", "")
        os.chdir(self.root)
        os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + old_path
        try:
            yield
        finally:
            os.chdir(old_cwd)
            os.environ["PATH"] = old_path


def error_line(error, last=False):
    """One line of an error's text (at most 200 characters), its first or `last` one, or else the
    error's type; for a database error, the driver's own message."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[-1 if last else 0][:200] if lines else type(error).__name__


def _check(result, step):
    if not result.get("success"):
        raise CourseError(f"nbgrader {step} failed:\n{result.get('error') or result.get('log')}")
