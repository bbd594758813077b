"""`nnlab similarity` on a class of 300: time to compare every submission (and the demo's known
solutions) once the submissions are on disk. Target: under 60 s.

The class is made from the demo's function files: each student takes a correct style or a bug
of each part, with local names renamed and comments of their own, so that most of the class
shares canonical code as a real class does; a few copy a classmate or paste the known solution.
Run: .venv/bin/python bench/similarity.py [--students 300]
"""
import argparse
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nnlab.authoring.demo import DEMO  # noqa: E402
from nnlab.authoring.fill import fill  # noqa: E402
from nnlab.course import Course  # noqa: E402
from nnlab.results.similarity import pairs, similarity  # noqa: E402

TARGET = 60.0
STUDENTS = DEMO / "students"
PARTS = {"regularization": ["classic.py", "compact.py", "factors.py", "float_masks.py", "helpers.py"],
         "batchnorm": ["classic.py", "dict_cache.py", "graph_staged.py", "inverse_std_layernorm.py",
                       "twelve_item_cache.py"]}
RENAMES = {"m": ["m", "n", "num", "batch"], "cache": ["cache", "stash", "saved"], "N": ["N", "n_rows", "count"]}
WORDS = "the a gradient mask layer weights keep scale cost mean variance step here so that we".split()


def varied(text, rng):
    """`text` with local names renamed and a comment of the student's own on some lines."""
    for name, choices in RENAMES.items():
        text = re.sub(rf"\b{name}\b", rng.choice(choices), text)
    lines = []
    for line in text.splitlines():
        if line.startswith("    ") and rng.random() < 0.15:
            line += "  # " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
        lines.append(line)
    return "\n".join(lines) + "\n"


def make_class(course, count, folder, rng):
    for index in range(count):
        files = []
        for part, styles in PARTS.items():
            source = STUDENTS / part / rng.choice(styles)
            if rng.random() < 0.3:  # a bug of this part on top
                bugs = sorted((STUDENTS / part / "bugs").glob("*.py"))
                files.append((source, rng.choice(bugs)))
            else:
                files.append((source,))
        if index == 1:  # one copier of the demo's unusual original
            files = [(STUDENTS / "similarity" / "copied.py",)]
        paths = []
        for number, path in enumerate(p for group in files for p in group):
            target = folder / f"s{index:03d}_{number}.py"
            target.write_text(varied(path.read_text(), rng))
            paths.append(target)
        fill(course, paths, f"s{index:03d}", force=True)
    fill(course, [STUDENTS / "similarity" / "original.py"], "original", force=True)
    fill(course, [STUDENTS / "similarity" / "pasted.py"], "pasted", force=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        course = Course(ROOT).copy_to(scratch)
        (scratch / "files").mkdir()
        make_class(course, args.students - 2, scratch / "files", random.Random(22))
        started = time.perf_counter()
        result = similarity(course, DEMO / "known_solutions")
        seconds = time.perf_counter() - started
        found = pairs(result)
        print(f"{result.students} submissions compared in {seconds:.1f} s (target under {TARGET:.0f} s); "
              f"{len(found)} reported, first: {[(a, b) for a, b, _, _ in found[:5]]}")
        shutil.rmtree(scratch / "files")
    return 0 if seconds < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
