"""reports/similarity.html: the reported pairs, best first, each unit side by side with the shared
passages marked. Self-contained, no script; everything a student wrote is escaped."""
import html

from .similarity import (CODE_K, FLOOR, MIN_SHARED, NEVER_A_GRADE, PROSE_K, SPREAD, WHOLE, pairs,
                         shared_slices)

STYLE = """
 body { font-family: sans-serif; margin: 2em auto; max-width: 90em; color: #222; padding: 0 1em; }
 table { border-collapse: collapse; margin: 1em 0; }
 td, th { border: 1px solid #ccc; padding: .3em .6em; vertical-align: top; text-align: left; }
 td.num { text-align: right; }
 .never { border: 2px solid #346; padding: .5em; background: #eef3fa; }
 .sides { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1em; }
 .side h4 { margin: .3em 0; font-size: .95em; }
 .side pre { background: #f7f7f7; padding: .5em; overflow-x: auto; font-size: .85em; margin: 0; }
 mark { background: #ffd75e; }
"""


def page(course, result, against=None):
    """The whole page."""
    found = pairs(result)
    sections = "\n".join(_pair(result, index, entry) for index, entry in enumerate(found, 1))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_e(course.assignment)}: who copied from whom</title>
<style>{STYLE}</style></head><body>
<h1>{_e(course.assignment)}: similar code</h1>
<p class="never">{_e(NEVER_A_GRADE)}</p>
<p>{result.students} submissions compared{_against(against)}. {len(found)} reported, the pair with
the most evidence first.</p>
{_overview(found)}
{_notes(result.notes)}
<h2>How to read a score</h2>
{_rules(result)}
<h2>Reported pairs</h2>
{sections or "<p>None.</p>"}
</body></html>
"""


def _against(against):
    return f", and with the known solutions in {_e(against)}" if against else ""


def _overview(found):
    if not found:
        return "<p>No pair stands out from the class.</p>"
    rows = ["<tr><th>#</th><th>student</th><th>matches</th><th>where (score)</th></tr>"]
    for index, (student, other, kind, matches) in enumerate(found, 1):
        where = ", ".join(f"{m.unit} ({m.score:.2f})" for m in matches)
        what = f"known solution {other}" if kind == "known" else other
        rows.append(f'<tr><td class="num"><a href="#pair-{index}">{index}</a></td><td>{_e(student)}</td>'
                    f"<td>{_e(what)}</td><td>{_e(where)}</td></tr>")
    return '<table class="overview">' + "\n".join(rows) + "</table>"


def _notes(notes):
    if not notes:
        return ""
    items = "".join(f"<li>{_e(note)}</li>" for note in notes)
    return f'<h2>Not compared</h2><ul class="notes">{items}</ul>'


def _rules(result):
    common, known = result.limits
    units = "".join(
        f"<tr><td>{_e(unit)}</td><td class='num'>{rule['pairs']}</td><td class='num'>{rule['median']:.3f}</td>"
        f"<td class='num'>{rule['spread']:.3f}</td><td class='num'>{rule['threshold']:.2f}</td></tr>"
        for unit, rule in result.rules.items())
    return f"""<p>Each graded function (its whole answer cell, helpers included), each notebook's
student code as a whole ({_e(WHOLE)}) and each written answer is cut into fingerprints by
copydetect's winnowing: every {CODE_K} characters of the code once names of variables and
functions, comments and spacing are taken out, and every {PROSE_K} characters of its comments,
strings and written answers, lowercased, punctuation ignored. Reordering lines only loses the
fingerprints that span them. Everything in <code>release/</code> never counts. A fingerprint then
counts by how rare it is in this class: fully when only the two students hold it, 1/(h&nbsp;&minus;&nbsp;1)
when h students do, and not at all from {common} students on (the textbook formula, the skeleton's
lines: what every correct answer shares).</p>
<p><b>Score</b>: those weighted shared fingerprints over the fingerprints of the smaller of the two
answers, from 0 (nothing rare in common) to 1 (all of it). A pair is reported for a unit when
its score is at least that unit's threshold, the larger of {FLOOR} and the median of all the
class's pairs plus {SPREAD} robust deviations (1.4826 &times; the median absolute deviation), and
they share at least {MIN_SHARED} weighted fingerprints (about three lines). A known solution counts
the fingerprints it shares with a student that fewer than {known} students hold (several may
have pasted it), with the same rule over all student and solution pairs. Pairs are ranked by the
sum of score / threshold over their reported units.</p>
<p>A high score says that two answers share passages few others wrote: a shared helper, unusual
names or comments, the same odd bug, the same sentences. It cannot see code rewritten by hand or by
a language model, or ideas shared without code.</p>
<table><tr><th>unit</th><th>pairs</th><th>median</th><th>robust deviation</th><th>threshold</th></tr>
{units}</table>"""


def _pair(result, index, entry):
    student, other, kind, matches = entry
    title = f"{student} and {'the known solution ' if kind == 'known' else ''}{other}"
    parts = [f'<section class="pair" id="pair-{index}"><h3>{index}. {_e(title)}</h3>']
    for match in matches:
        left, right = shared_slices(result, match)
        texts = result.prints[match.unit]
        parts.append(f"<h4>{_e(match.unit)}: score {match.score:.2f} (threshold {match.threshold:.2f}), "
                     f"{match.shared:.0f} rare fingerprints shared</h4>"
                     f'<div class="sides">{_side(student, texts[student].raw, left)}'
                     f"{_side(other, texts[other].raw, right)}</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _side(name, raw, spans):
    """One side of a comparison: the text, escaped, with the shared passages in <mark>."""
    pieces, at = [], 0
    for start, end in spans:
        pieces.append(_e(raw[at:start]) + "<mark>" + _e(raw[start:end]) + "</mark>")
        at = end
    pieces.append(_e(raw[at:]))
    return f'<div class="side"><h4>{_e(name)}</h4><pre>{"".join(pieces)}</pre></div>'


def _e(text):
    return html.escape(str(text))
