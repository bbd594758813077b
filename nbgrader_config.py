"""nbgrader configuration of the course: this folder is the course root."""
from pathlib import Path

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "nn-basic-training"
c.CourseDirectory.solution_directory = "solutions"

# Each training cell runs 30000 iterations (a few seconds here); a slow but correct student
# implementation gets ample room before a cell is interrupted.
c.Execute.timeout = 180
c.Execute.interrupt_on_timeout = True

# A deleted test cell is put back from the gradebook and graded, instead of being skipped.
c.OverwriteCells.add_missing_cells = True

# Late policy: the due date, stored in the gradebook by `nnlab release` and `nnlab grade`, and a
# penalty of 10% of a notebook's score per started day late.
c.Deadline.due = "2026-12-04 23:59:00 UTC"
c.AssignLatePenalties.plugin_class = "nnlab.late.PenaltyPerDay"
c.PenaltyPerDay.fraction_per_day = 0.1

# Batch grading (`nnlab grade`): a runaway notebook is stopped after this many seconds in all, and
# a cell's output beyond this many bytes is dropped.
c.GuardedExecute.time_budget = 600
c.GuardedExecute.output_limit = 1_000_000
