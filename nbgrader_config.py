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
