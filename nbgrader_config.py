"""nbgrader configuration of the course: this folder is the course root."""
from pathlib import Path

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "nn-basic-training"
c.CourseDirectory.solution_directory = "solutions"

# Each training cell runs 30000 iterations (a few seconds here); a slow but correct student
# implementation gets ample room before a cell is interrupted. Counted in the kernel's own time
# (CPU time and its own waiting), never in the time a busy machine kept it waiting (README: "The
# same grade on any machine").
c.Execute.timeout = 180
c.Execute.interrupt_on_timeout = True

# A deleted test cell is put back from the gradebook and graded, instead of being skipped.
c.OverwriteCells.add_missing_cells = True

# Every door grades alike: `nbgrader autograde`, formgrader's Autograde button and `nnlab grade`
# run nbgrader's Autograde with the course's steps (nnlab/steps/autograde.py): repairs and a scan of the
# student's code before nbgrader's own sanitizing, then sandboxed, guarded execution in place of
# nbgrader's Execute, and a record of the outcome (flags, held points) after its grading steps.
c.Autograde.sanitize_preprocessors = [
    "nnlab.steps.autograde.IntakeRepairs",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nnlab.steps.autograde.ScanStudentCode",
]
c.Autograde.autograde_preprocessors = [
    "nnlab.steps.execution.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nnlab.steps.autograde.RecordOutcome",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Feedback (`nbgrader generate_feedback`, formgrader's button, `nnlab feedback`) without hidden
# tests or mark schemes, and a last pass that removes any of their lines (nnlab/steps/feedback.py);
# no note for TAs, and a notebook whose points are held for review gets a note that it is under
# review instead.
c.GenerateFeedback.preprocessors = [
    "nnlab.steps.feedback.StudentView",
    "nnlab.steps.feedback.HiddenTestsFeedback",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nnlab.steps.feedback.RedactHiddenLines",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Late policy: the due date, stored in the gradebook by the first grading step at every door
# (and by `nnlab release`), and a penalty of 10% of a notebook's score per started day late.
c.Deadline.due = "2026-12-04 23:59:00 UTC"
c.AssignLatePenalties.plugin_class = "nnlab.steps.late.PenaltyPerDay"
c.PenaltyPerDay.fraction_per_day = 0.1
# ... applied to the notebook's current total whenever a grade changes, also in formgrader.
from nnlab.steps.late import keep_penalties_current  # noqa: E402

keep_penalties_current(c)
# Graders at once (a batch's workers, formgrader, a TA's command) share the SQLite gradebook:
# a write waits for another's instead of failing after SQLite's 5 s, and reading never waits for
# a write (SQLite's write-ahead log, except on a network file system).
from nnlab.course import share_the_gradebook  # noqa: E402

share_the_gradebook()
# A score a TA sets on a held or decided cell (also a 0) is the TA's: no review decision changes it.
from nnlab.steps.review import keep_tas_scores  # noqa: E402

keep_tas_scores()

# Guarded execution (every door): a runaway notebook is stopped after this many seconds of its
# own time in all, and a cell's output beyond this many bytes is dropped. A cell (a notebook) is
# also stopped after wall_factor times its limit on the wall clock: that is the machine's doing,
# and the notebook is graded again (then reported "busy", not charged).
c.GuardedExecute.time_budget = 600
c.GuardedExecute.wall_factor = 10
c.GuardedExecute.output_limit = 1_000_000
# The training on provided code alone (part 1's "no regularization" run) is the same in every
# notebook: recorded once per release by this module of the course (nnlab/steps/provided.py), the
# grading kernels read it back instead of training again (except in a full grading).
c.GuardedExecute.provided_runs = "labkit.network"

# Grading on a Dask cluster and a gradebook shared by several TAs (README: "Grading on a
# cluster"): the scheduler `nnlab grade` sends the submissions to, and the gradebook's database.
# c.Cluster.scheduler = "tcp://scheduler.example.org:8786"
# c.CourseDirectory.db_url = "postgresql+psycopg://ta@db.example.org/nn_course"

# The kernels the course starts keep their own log to errors: ipykernel 7 warns of "running over
# TCP without encryption" at every start of a kernel on loopback (generate_solution, validate).
c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
