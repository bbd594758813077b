"""`nnlab similarity`: which students handed in alike code, and whose code matches a known
(published) solution: reports/similarity.csv and reports/similarity.html.

Units compared: each graded function (its solution cell, helpers included), each notebook's
student code as a whole, and each written answer. Each unit is fingerprinted with copydetect's
winnowing in two streams: the code as copydetect filters it (names of variables and functions
replaced, comments dropped, whitespace ignored) and its prose (comments, strings, written
answers: lowercased, punctuation and spacing ignored). What the release holds is boilerplate and
never counts. A fingerprint counts by its rarity in the class: one only the two students hold
counts fully, one held by h students 1/(h - 1), one held by `common_limit` students or more (the
class's common stock: the textbook formula, the skeleton's lines) nothing. A pair is reported
when its score stands far above the class's own distribution for that unit (`threshold`).

A report never changes a grade: it only points a TA at code to read.
"""
import csv
import functools
import io
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import nbformat
import numpy as np
from copydetect import CodeFingerprint, compare_files

from ..course import CourseError, counted, error_line
from ..notebooks import cell_sources, graded_functions
from ..steps import intake
from ..grading.outcome import submitted_students
from ..notebooks import cell_id

CODE_K = 20  # characters of filtered code per fingerprint: about two short statements
PROSE_K = 24  # characters of normalized prose per fingerprint: four or five words
WINDOW = 1  # every k-gram is kept: short functions have few, and the result does not depend on hashing
COMMON_SHARE = 0.05  # a fingerprint held by this share of the class (or 3 students) is common stock
KNOWN_SHARE = 0.2  # for matches with known solutions, which several students may have pasted
FLOOR = 0.35  # no pair is reported below this score, however quiet the class
MIN_SHARED = 75  # ... nor for fewer rare fingerprints than this (about three lines of code)
SPREAD = 8  # reported: above the median pair score by this many robust deviations
WHOLE = "whole notebook"
NEVER_A_GRADE = ("This report never changes a grade: a score says where to look, and only a TA "
                 "who has read both codes decides whether anything was copied.")
CSV_COLUMNS = ["rank", "unit", "student", "other", "score", "shared", "threshold", "kind"]


@dataclass
class Print:
    """The fingerprints of one unit's text, and what is needed to mark shared passages in it."""
    raw: str
    code: CodeFingerprint | None
    prose: CodeFingerprint | None
    prose_at: list  # for each character of the prose stream, its index in `raw`

    @functools.cached_property
    def hashes(self):
        return {("c", h) for h in (self.code.hashes if self.code else ())} | \
            {("p", h) for h in (self.prose.hashes if self.prose else ())}


@dataclass
class Match:
    unit: str
    student: str
    other: str  # a student id, or a known solution's file
    score: float
    shared: float  # rare fingerprints the two share, weighted by rarity
    threshold: float
    kind: str  # "pair" | "known"


@dataclass
class Result:
    """What `similarity` found: the reported matches (best first), the rule per unit, notes."""
    matches: list
    rules: dict  # unit -> {"median", "spread", "threshold", "pairs"}
    notes: list
    students: int
    prints: dict = field(repr=False)  # unit -> {student or known file: Print}
    common: dict = field(repr=False)  # unit -> {fingerprint: holders}
    limits: tuple = (0, 0)  # (common_limit, known_limit)


# ---------------------------------------------------------------- reading the units

def release_units(course):
    """{notebook name: (reference notebook, {unit: text})} of the release."""
    found = {}
    for path in course.notebooks("release"):
        reference = nbformat.read(path, as_version=4)
        found[path.stem] = (reference, notebook_units(reference, path.stem))
    return found


def notebook_units(notebook, name):
    """{unit: text} of one notebook: each solution cell by its grade id, the student's code as a
    whole (solution cells and cells of their own), each written answer by its task's grade id."""
    units, whole, task = {}, [], None
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or not meta):
            whole.append(cell.source)
            if meta.get("solution"):
                units[f"{name}: {meta['grade_id']}"] = cell.source
        if meta.get("task"):
            task = meta["grade_id"]
        elif meta:
            task = None
        elif cell.cell_type == "markdown" and task:  # the student's answer below a question
            key = f"{name}: {task}"
            units[key] = (units.get(key, "") + "\n\n" + cell.source).strip()
    units[f"{name}: {WHOLE}"] = "\n\n".join(whole)
    return units


def submission_units(course, student, references):
    """({unit: text}, notes) of one student's submission: a notebook that is missing or cannot
    be read is skipped with a note; stripped metadata is matched back as grading does."""
    found = intake.survey(course.folder("release"), course.submission(student))
    notes = [f"{student}: {problem}; not compared" for problem in found.problems]
    units = {}
    for name, path in sorted(found.notebooks.items()):
        try:
            notebook = nbformat.read(path, as_version=4)
            intake.repair(notebook, references[name], f"{name}.ipynb")
            units.update(notebook_units(notebook, name))
        except Exception as error:  # whatever a broken notebook raises, the class goes on
            notes.append(f"{student}: {path.name} could not be read ({error_line(error)}); not compared")
    return units, notes


def known_units(folder, functions):
    """({unit: {file: text}}, notes) of a folder of known solutions (.py files and notebooks,
    searched recursively): each graded function a file defines, and per notebook of the course
    all of those functions together. `functions` maps each graded function to its notebook."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CourseError(f"--against: no such folder: {folder}")
    units, notes = defaultdict(dict), []
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".py", ".ipynb") and p.is_file()):
        label = str(path.relative_to(folder))
        try:
            text = _known_text(path)
            sources, _ = cell_sources(text, label)
        except Exception as error:
            notes.append(f"known solution {label} could not be read ({error_line(error)}); not compared")
            continue
        parts = defaultdict(list)
        for name, source in sources.items():
            if name in functions:
                units[f"{functions[name]}: {name}"][label] = source
                parts[functions[name]].append(source)
        for notebook, sources_of in parts.items():
            units[f"{notebook}: {WHOLE}"][label] = "\n\n".join(sources_of)
    if not units:
        notes.append(f"no known solution in {folder} defines a graded function")
    return units, notes


def _known_text(path):
    if path.suffix == ".py":
        return path.read_text(errors="replace")
    notebook = nbformat.read(path, as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    # magics and shell lines would stop the parser; they hold no graded function
    return "\n\n".join("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
                       for source in cells)


# ---------------------------------------------------------------- fingerprints

# Strings and comments of Python code, found in one pass (a string's "#" is inside its match);
# pygments would lex the code a second time after copydetect's filter, doubling the cost.
PROSE = re.compile(r"""[rRbBuUfF]{0,2}(?:\'\'\'[\s\S]*?\'\'\'|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")|#[^\n]*""")


def prose_of_code(code):
    """[(index, text)] of the comments and strings of Python code."""
    return [(match.start(), match.group()) for match in PROSE.finditer(code)]


def normalized(pieces):
    """(prose, raw index of each of its characters) of [(raw index, text)]: lowercased, every
    run of characters that are not letters or digits read as one space."""
    text, where = [], []
    for start, piece in pieces:
        for offset, ch in enumerate(piece):
            if ch.isalnum():
                text.append(ch.lower())
                where.append(start + offset)
            elif text and text[-1] != " ":
                text.append(" ")
                where.append(start + offset)
    return "".join(text), where


def fingerprint(text, is_code, boilerplate=((), ())):
    """The Print of a unit's text; `boilerplate` the (code, prose) hashes that never count."""
    code = None
    if is_code:
        code = CodeFingerprint("unit.py", CODE_K, WINDOW, boilerplate=np.array(boilerplate[0]),
                               language="python", fp=io.StringIO(text))
        pieces = prose_of_code(text)
    else:
        pieces = [(0, text)]
    prose_text, where = normalized(pieces)
    prose = CodeFingerprint("unit.txt", PROSE_K, WINDOW, boilerplate=np.array(boilerplate[1]),
                            filter=False, fp=io.StringIO(prose_text))
    return Print(text, code, prose, where)


def release_boilerplate(references):
    """(code hashes, prose hashes), sorted, of everything the release holds: every cell, and the
    units as a student who changed nothing would hand them in."""
    code, prose = set(), set()
    for reference, units in references.values():
        texts = [(c.source, c.cell_type == "code") for c in reference.cells]
        texts += [(text, not _is_answer(unit, reference)) for unit, text in units.items()]
        for text, is_code in texts:
            found = fingerprint(text, is_code)
            code |= found.code.hashes if found.code else set()
            prose |= found.prose.hashes
    return sorted(code), sorted(prose)


def _is_answer(unit, reference):
    """Whether a unit is a written answer (prose only)."""
    return any(cell_id(c) == unit.split(": ", 1)[1] and c.metadata["nbgrader"].get("task")
               for c in reference.cells if cell_id(c))


# ---------------------------------------------------------------- scores

def common_limit(students):
    """Holders from which a fingerprint is the class's common stock (never fewer than 3)."""
    return max(3, math.ceil(COMMON_SHARE * students))


def pair_scores(prints, limit):
    """{(a, b): (score, shared)} of the pairs of one unit that share a rare fingerprint, and the
    holders of every fingerprint. shared: Σ 1/(h - 1) over the fingerprints both hold, h < limit;
    score: shared over the smaller of the two units' own fingerprints."""
    holders = defaultdict(list)
    for student, found in prints.items():
        for h in found.hashes:
            holders[h].append(student)
    shared = Counter()
    for owners in holders.values():
        if 2 <= len(owners) < limit:
            for a, b in combinations(sorted(owners), 2):
                shared[a, b] += 1 / (len(owners) - 1)
    sizes = {student: len(found.hashes) for student, found in prints.items()}
    scores = {pair: (amount / max(1, min(sizes[pair[0]], sizes[pair[1]])), amount)
              for pair, amount in shared.items()}
    return scores, {h: len(owners) for h, owners in holders.items()}


def known_scores(prints, known, counts, limit):
    """{(student, file): (score, shared)}: fingerprints of a known solution a student holds and
    fewer than `limit` students of the class hold, over the smaller unit's own fingerprints."""
    scores = {}
    for label, solution in known.items():
        mine = solution.hashes
        for student, found in prints.items():
            amount = sum(1 for h in found.hashes & mine if counts.get(h, 0) < limit)
            if amount:
                scores[student, label] = (amount / max(1, min(len(found.hashes), len(mine))), amount)
    return scores


def threshold(scores, population):
    """(median, robust spread, threshold) of a unit's scores over `population` pairs (the pairs
    missing from `scores` score 0): far above the class's median, and never below FLOOR."""
    values = np.zeros(max(population, len(scores)))
    values[:len(scores)] = [score for score, _ in scores.values()]
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median)))
    return median, spread, max(FLOOR, median + SPREAD * spread)


def similarity(course, against=None):
    """Compare every submission under submitted/ (and with the known solutions in `against`)."""
    references = release_units(course)
    functions = {name: notebook for notebook, (reference, _) in references.items()
                 for name in graded_functions(reference)}
    known, notes = known_units(against, functions) if against else ({}, [])
    texts, students = defaultdict(dict), submitted_students(course)
    for student in students:
        units, skipped = submission_units(course, student, {k: v[0] for k, v in references.items()})
        notes += skipped
        for unit, text in units.items():
            texts[unit][student] = text
    boilerplate = release_boilerplate(references)
    answers = {unit for notebook, (reference, units) in references.items() for unit in units
               if _is_answer(unit, reference)}
    limit = common_limit(len(students))
    known_limit = max(limit, math.ceil(KNOWN_SHARE * len(students)))
    matches, rules, prints, common, done = [], {}, {}, {}, {}
    for unit in sorted(texts, key=_unit_order(references)):
        prints[unit] = {}
        for student, text in texts[unit].items():  # the same text (a cell left as released) once
            key = (text, unit not in answers)
            if key not in done:
                done[key] = fingerprint(text, key[1], boilerplate)
            prints[unit][student] = done[key]
        scores, counts = pair_scores(prints[unit], limit)
        population = len(prints[unit]) * (len(prints[unit]) - 1) // 2
        median, spread, bar = threshold(scores, population)
        rules[unit] = {"median": median, "spread": spread, "threshold": bar, "pairs": population}
        matches += [Match(unit, a, b, score, amount, bar, "pair")
                    for (a, b), (score, amount) in scores.items() if score >= bar and amount >= MIN_SHARED]
        if unit in known:
            solutions = {label: fingerprint(t, True, boilerplate) for label, t in known[unit].items()}
            prints[unit].update(solutions)
            found = known_scores({s: prints[unit][s] for s in texts[unit]}, solutions, counts, known_limit)
            known_median, known_spread, known_bar = threshold(found, len(texts[unit]) * len(solutions))
            rules[unit].update(known_threshold=known_bar)
            matches += [Match(unit, s, label, score, amount, known_bar, "known")
                        for (s, label), (score, amount) in found.items()
                        if score >= known_bar and amount >= MIN_SHARED]
        common[unit] = counts
    return Result(rank(matches), rules, notes, len(students), prints, common, (limit, known_limit))


def _unit_order(references):
    """Notebook order, each notebook's whole code first, then its cells in order."""
    order = {}
    for notebook, (_, units) in references.items():
        order[f"{notebook}: {WHOLE}"] = (notebook, -1)
        for index, unit in enumerate(units):
            order.setdefault(unit, (notebook, index))
    return lambda unit: order.get(unit, (unit, 0))


def rank(matches):
    """Matches grouped by pair (or student and known file), the pair with the most evidence first
    (the sum over its units of score / threshold), each pair's units by score."""
    weight = Counter()
    for match in matches:
        weight[match.student, match.other] += match.score / match.threshold
    return sorted(matches, key=lambda m: (-weight[m.student, m.other], m.student, m.other, -m.score))


def pairs(result):
    """[(student, other, kind, [matches])] in the order of the report."""
    grouped = {}
    for match in result.matches:
        grouped.setdefault((match.student, match.other, match.kind), []).append(match)
    return [(a, b, kind, found) for (a, b, kind), found in grouped.items()]


# ---------------------------------------------------------------- what the TA reads

def shared_slices(result, match):
    """(slices in the student's raw text, slices in the other's): the passages the two share
    that are neither boilerplate nor the class's common stock, from copydetect's comparison."""
    unit = match.unit
    first, second = result.prints[unit][match.student], result.prints[unit][match.other]
    limit = result.limits[match.kind == "known"]
    common = {h for h, count in result.common[unit].items() if count >= limit}
    spans = ([], [])
    for stream in ("code", "prose"):
        left, right = getattr(first, stream), getattr(second, stream)
        if left is None or right is None:
            continue
        drop = np.array(sorted(h for kind, h in common if kind == stream[0]))
        left, right = _without(left, drop), _without(right, drop)
        _, _, (slices_a, slices_b) = compare_files(left, right)
        for side, found, slices in ((0, first, slices_a), (1, second, slices_b)):
            for start, end in zip(*slices) if np.ndim(slices) == 2 else ():  # (2, n), or empty
                spans[side].append(_raw_span(found, stream, int(start), int(end)))
    return tuple(_merged(s) for s in spans)


def _without(found, drop):
    """A copy of a CodeFingerprint without the fingerprints in `drop`."""
    copy = CodeFingerprint.__new__(CodeFingerprint)
    copy.__dict__.update(found.__dict__)
    keep = found.hashes - set(drop.tolist())
    copy.hashes = keep
    copy.hash_idx = {h: i for h, i in found.hash_idx.items() if h in keep}
    return copy


def _raw_span(found, stream, start, end):
    if stream == "code":  # copydetect already maps its slices back to the raw code
        return start, end
    where = found.prose_at
    return where[min(start, len(where) - 1)], where[min(end, len(where)) - 1] + 1


def _merged(spans):
    merged = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def write_similarity(course, against=None):
    """Write reports/similarity.csv and reports/similarity.html; returns (result, html path)."""
    from .similarity_page import page

    result = similarity(course, against)
    folder = course.root / "reports"
    folder.mkdir(exist_ok=True)
    write_csv(result, folder / "similarity.csv")
    target = folder / "similarity.html"
    target.write_text(page(course, result, against))
    return result, target


def write_csv(result, path):
    """One row per reported match: its rank (by pair), unit, the two sides, score, shared
    fingerprints, the unit's threshold and kind (pair of students, or a known solution)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for index, (_, _, _, found) in enumerate(pairs(result), 1):
            for m in found:
                writer.writerow([index, m.unit, m.student, m.other, f"{m.score:.3f}",
                                 f"{m.shared:.1f}", f"{m.threshold:.3f}", m.kind])


def summary(result):
    """One sentence for `nnlab report` and the command line."""
    found = pairs(result)
    known = sum(kind == "known" for *_, kind, _ in found)
    return (f"{counted(len(found) - known, 'pair')} of students and {counted(known, 'student')} "
            f"matching a known solution reported among {counted(result.students, 'submission')}")


def read_summary(folder):
    """(pairs of students, students matching a known solution, when written) from an existing
    reports/similarity.csv, or None: `nnlab report` shows it without computing it again."""
    path = folder / "similarity.csv"
    if not path.is_file():
        return None
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    found = {(row["student"], row["other"], row["kind"]) for row in rows}
    known = sum(kind == "known" for *_, kind in found)
    return len(found) - known, known, path.stat().st_mtime

