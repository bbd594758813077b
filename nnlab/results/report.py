"""`nnlab report`: reports/index.html with a class summary, and its plots as PNG files."""
import html
import time
from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the file-only backend)

from ..course import counted  # noqa: E402
from ..grading.outcome import class_rows  # noqa: E402
from ..status import UNGRADED, Status  # noqa: E402
from .export import graded_cells  # noqa: E402
from .similarity import NEVER_A_GRADE, read_summary  # noqa: E402


def write_report(course):
    """Write reports/index.html, reports/scores.png and reports/cells.png; returns the page."""
    folder = course.root / "reports"
    folder.mkdir(exist_ok=True)
    rows = class_rows(course)
    graded = [row for row in rows if row["scores"] is not None and row["status"] not in UNGRADED]
    _histogram(graded, folder / "scores.png")
    rates, left_out = pass_rates(graded, graded_cells(course, tests_only=True))
    _bars(rates, folder / "cells.png")
    page = folder / "index.html"
    page.write_text(_page(course, rows, graded, rates, left_out, _similarity(folder)))
    return page


def pass_rates(graded, cells):
    """({test cell: share of the students with full marks on it}, notebooks left out). A cell
    counts the graded students whose notebook's points are not held for review (a held cell's
    score is no verdict yet); a cell no one counts gets no rate, as 0% would rank it hardest.
    `cells` maps each test cell to its notebook; written answers are no test cells (their score
    stays None until a TA grades them)."""
    rates = {}
    for cell, notebook in cells.items():
        judged = [row["scores"].get(cell, (0, 1)) for row in graded if notebook not in row["held"]]
        if judged:
            rates[cell] = sum(score == top for score, top in judged) / len(judged)
    return rates, sum(len(row["held"]) for row in graded)


def _histogram(graded, path):
    figure, axes = plt.subplots(figsize=(7, 3.5))
    if graded:
        top = max(row["max"] for row in graded)
        axes.hist([row["total"] for row in graded if row["total"] is not None], bins=20,
                  range=(0, top), color="#4c72b0",
                  edgecolor="white")
        axes.set_xlim(0, top)
    axes.set_xlabel("total score (after late penalties)")
    axes.set_ylabel("students")
    axes.set_title(f"Scores of the {len(graded)} graded submissions")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _bars(rates, path):
    figure, axes = plt.subplots(figsize=(7, 0.28 * len(rates) + 1.2))
    cells = list(rates)[::-1]  # notebook order, top to bottom
    axes.barh(cells, [100 * rates[c] for c in cells], color="#55a868")
    axes.set_xlim(0, 100)
    axes.set_xlabel("students with full marks (%)")
    axes.tick_params(axis="y", labelsize=8)
    axes.set_title("Pass rate of every test cell")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _page(course, rows, graded, rates, left_out, similarity):
    counts = Counter(row["status"] for row in rows)
    statuses = list(Status)  # worst first
    order = [s for s in statuses if counts[s]]
    summary = ", ".join(f"{counts[s]} {s}" for s in order)
    severity = {status: rank for rank, status in enumerate(statuses)}
    attention = sorted((row for row in rows if row["status"] not in (Status.OK, Status.LATE)),
                       key=lambda row: (severity.get(row["status"], 0), row["student"]))
    hardest = sorted(rates, key=rates.get)[:5]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_e(course.assignment)}: class report</title>
<style>
 body {{ font-family: sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
 table {{ border-collapse: collapse; margin: 1em 0; }}
 td, th {{ border: 1px solid #ccc; padding: .3em .6em; vertical-align: top; text-align: left; }}
 .failed, .flagged, .incomplete {{ background: #fde2e2; }} .warning, .busy {{ background: #fff4d6; }}
 .unconfined {{ border: 2px solid #c00; padding: .5em; }}
 td.num {{ text-align: right; }}
</style></head><body>
<h1>{_e(course.assignment)}: class report</h1>
<p>{len(rows)} submissions: {_e(summary)}.</p>
{_unconfined(rows)}
{_held(rows)}
<p>Hardest test cells: {_e(", ".join(f"{c} ({100 * rates[c]:.0f}%)" for c in hardest)) or "-"}.
Pass rates count {counted(len(graded), "graded submission")}; they leave out {len(rows) - len(graded)}
not graded (yet) and {counted(left_out, "notebook")} whose points are held for review.</p>
<h2>Scores</h2><img src="scores.png" alt="histogram of the total scores">
<h2>Test cells</h2><img src="cells.png" alt="pass rate of every test cell">
<h2>Submissions that need a look ({len(attention)})</h2>
{_table(attention, reasons=True)}
<h2>All students</h2>
{_table(rows, reasons=False)}
{similarity}
</body></html>
"""


def _similarity(folder):
    """The section on similar code: what `nnlab similarity` last wrote (comparing the class takes
    longer than this report, and may use a folder of known solutions only the TA names)."""
    found = read_summary(folder)
    if found is None:
        text = "Not computed yet: run <code>nnlab similarity</code> (see the README)."
    else:
        pairs, known, when = found
        text = (f'<a href="similarity.html">{counted(pairs, "pair")} of students and '
                f'{counted(known, "student")} matching a known solution</a> reported by '
                f"<code>nnlab similarity</code> on "
                f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(when))}. {_e(NEVER_A_GRADE)}")
    return f'<h2>Similar code</h2>\n<p class="similarity">{text}</p>'


def _unconfined(rows):
    names = [row["student"] for row in rows if row.get("sandbox") is False]
    if not names:
        return ""
    return (f'<p class="unconfined">Graded WITHOUT the sandbox (nnlab grade --no-sandbox, or a grading without the course\'s steps): '
            f'{_e(", ".join(names))}. Their code ran with the grader\'s rights.</p>')


def _held(rows):
    held = [row for row in rows if row["held"]]
    if not held:
        return ""
    items = "".join(f"<li>{_e(row['student'])}: {_e(', '.join(sorted(row['held'])))}</li>" for row in held)
    return (f'<div class="unconfined"><p>Points held for review ({len(held)}): the grader found '
            f'tampering with the interpreter and cannot vouch for these notebooks\' autograded '
            f'points. Decide with <code>nnlab review ID --accept</code> or <code>--reject</code>.'
            f'</p><ul>{items}</ul></div>')


def _table(rows, reasons):
    if not rows:
        return "<p>None.</p>"
    head = "<tr><th>student</th><th>status</th><th>total</th><th>late penalty</th>" + \
        ("<th>what happened</th>" if reasons else "") + "</tr>"
    lines = [head]
    for row in rows:
        total = "held" if row["held"] else "" if row["total"] is None else \
            f"{row['total']:g} / {row['max']:g}"
        why = "<td><ul>" + "".join(f"<li>{_e(r)}</li>" for r in row["reasons"]) + "</ul></td>"
        lines.append(f'<tr class="{_e(row["status"])}"><td>{_e(row["student"])}</td>'
                     f'<td>{_e(row["status"])}</td><td class="num">{total}</td>'
                     f'<td class="num">{row["late_penalty"]:g}</td>{why if reasons else ""}</tr>')
    return "<table>\n" + "\n".join(lines) + "\n</table>"


def _e(text):
    return html.escape(str(text))
