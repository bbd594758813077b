"""Running nbgrader's own command line in the course folder."""
import os
import subprocess
import sys
from pathlib import Path


def nbgrader_command(course, *args):
    """Run `nbgrader ARGS` in the course folder (alembic on PATH); returns the CompletedProcess."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course.root, env=env,
                          capture_output=True, text=True)
