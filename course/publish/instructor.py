"""An instructor's page per lesson: ``site/instructor/NN_name.html``, written by ``make site``.

What someone teaching the lesson needs on one page, none of it typed twice:

- its time under each profile, from the committed reference runs
  (``reference/<profile>/run.json``, :mod:`course.tools.reference`);
- the claims it proves: the bullets of its ``## What we learned``, and those
  its run asserts (:func:`checked_claims`, the list its first cell gives);
- its exercises: the items of its ``## Try this``;
- the questions learners ask most at that point, with short answers, from
  :file:`course/publish/instructor_notes.toml` (``[[NN_name]]`` tables with
  ``question`` and ``answer``).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from course.publish import prose

NOTES = Path(__file__).resolve().parent / "instructor_notes.toml"


def questions(path: Path = NOTES) -> dict[str, list[dict]]:
    """``{lesson name: [{"question", "answer"}, ...]}`` from the notes file.

    Raises
    ------
    ValueError
        If an entry lacks its question or its answer.
    """
    from utils.pyproject import tomllib

    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    for lesson, entries in data.items():
        for entry in entries:
            if not str(entry.get("question", "")).strip() or not str(entry.get("answer", "")).strip():
                raise ValueError(f"{path.name}: an entry of [[{lesson}]] lacks its question or answer")
    return data


def _section(notebook, title: re.Pattern) -> list[str]:
    """The top-level list items of the section whose ``##`` heading matches ``title``."""
    items, inside = [], False
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for block in prose.blocks(cell.source):
            if block.kind == "heading":
                inside = block.level <= 2 and bool(title.match(block.text.lstrip("# ").strip())) \
                    or (inside and block.level > 2)
            elif inside and block.kind == "list":
                items += [body for _, body in prose._items(block.text)]
    return items


def claims(notebook) -> list[str]:
    """What the lesson proves: the items of its ``## What we learned`` (markdown)."""
    return _section(notebook, re.compile(r"what we learned", re.I))


#: The line of a notebook's first cell that lists the claims its cells assert (utils.claims).
CHECKED_HEADER = "**Claims this notebook checks**"


def checked_claims(notebook) -> list[str]:
    """The claims the lesson asserts in its own run: the list after :data:`CHECKED_HEADER` in its first cell."""
    first = next((cell for cell in notebook.cells if cell.cell_type == "markdown"), None)
    if first is None or CHECKED_HEADER not in first.source:
        return []
    listed = first.source.split(CHECKED_HEADER, 1)[1]
    return [line[2:].strip() for line in listed.splitlines() if line.startswith("- ")]


def exercises(notebook) -> list[str]:
    """The lesson's exercises: the items of its ``## Try this`` (markdown)."""
    return _section(notebook, re.compile(r"(try this|exercises?)\b", re.I))


def _duration(seconds) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min {seconds % 60:02d} s"


def times(name: str, reference_dir: Path | None = None) -> list[dict]:
    """The lesson's time under each profile's reference run.

    Returns
    -------
    list of dict
        ``{"profile", "time", "where"}``, one per profile with a reference run:
        ``time`` is the run's seconds as text, or its status when it did not run
        (``skipped``), ``"—"`` when the run did not include the lesson; ``where`` the
        hardware and commit it was measured on.
    """
    from course.tools import reference

    folder = Path(reference_dir) if reference_dir else reference.REFERENCE_DIR
    rows = []
    for profile in reference._profiles(folder):
        run = reference.load_reference(profile, folder)["run"]
        entry = run.get("notebooks", {}).get(name)
        if entry is None:
            text = "—"
        elif entry.get("status") != "ok":
            text = str(entry.get("status"))
        else:
            text = _duration(entry.get("seconds"))
        hardware = run.get("hardware") or {}
        gpus = ", ".join(hardware.get("gpus") or [])
        where = (f"{'GPU ' + gpus + ' + ' if gpus else ''}{hardware.get('cpu_cores', '?')} CPU cores "
                 f"({hardware.get('cpu', '?')}), commit {run.get('commit') or 'unknown'}")
        rows.append({"profile": profile, "time": text, "where": where})
    return rows


def page(lesson, notebook, lesson_href: str, asked: list[dict], timing: list[dict]) -> str:
    """The instructor's page of one lesson, as HTML (links relative to ``site/instructor/``)."""
    from nbconvert.filters.markdown import markdown2html

    checked = checked_claims(notebook)

    def items(texts, tag="ul"):
        if not texts:
            return "<p>None written in the notebook yet.</p>"
        return f"<{tag}>" + "".join(f"<li>{markdown2html(t).strip().removeprefix('<p>').removesuffix('</p>')}</li>"
                                    for t in texts) + f"</{tag}>"

    rows = "".join(f"<tr><td>{html.escape(t['profile'])}</td><td class=\"number\">{html.escape(t['time'])}</td>"
                   f"<td>{html.escape(t['where'])}</td></tr>" for t in timing)
    time_table = (f'<table class="results"><thead><tr><th>profile</th><th>time</th><th>measured on</th></tr></thead>'
                  f"<tbody>{rows}</tbody></table>" if timing else "<p>No reference run is committed yet.</p>")
    qa = "".join(f"<dt>{markdown2html(q['question']).strip().removeprefix('<p>').removesuffix('</p>')}</dt>"
                 f"<dd>{markdown2html(q['answer'])}</dd>" for q in asked) or "<p>None collected yet.</p>"
    title = html.escape(lesson.title)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Instructor's notes · {title}</title>
<link rel="stylesheet" href="../site.css">
</head>
<body class="course-index instructor">
<nav class="course-nav"><a class="home" href="../index.html">Dogs vs. Cats with Keras · course map</a>
<a href="{html.escape(lesson_href)}">The lesson: {title}</a></nav>
<main>
<h1>Instructor's notes · {title}</h1>
<h2 id="time">Time</h2>
<p>How long the whole notebook ran in the committed reference run of each profile
(<code>reference/&lt;profile&gt;/run.json</code>).</p>
{time_table}
<h2 id="claims">What it proves</h2>
{items(claims(notebook))}
<h2 id="checked">What its run checks</h2>
<p>Asserted by the notebook under <code>sample</code> and <code>full</code> (it stops if one fails); printed under <code>smoke</code>.</p>
{items(checked) if checked else "<p>No claim is asserted in this lesson's run.</p>"}
<h2 id="exercises">Exercises</h2>
{items(exercises(notebook), "ol")}
<h2 id="questions">Questions learners ask here</h2>
<dl class="questions">{qa}</dl>
</main>
</body></html>
"""


def write_pages(lessons, out_dir: Path, hrefs: dict[str, str], reference_dir: Path | None = None,
                notes: Path = NOTES) -> dict[str, str]:
    """Write ``out_dir/instructor/<name>.html`` for every lesson; return ``{name: href from the site's root}``.

    ``hrefs`` maps a lesson's name to its page (``NN_name.html``); a lesson that was not
    executed links to nothing but still gets its page (from its source notebook).
    """
    import nbformat

    from utils.files import atomic_write

    asked = questions(notes)
    written = {}
    for lesson in lessons:
        notebook = nbformat.read(lesson.source, as_version=4)
        lesson_href = "../" + hrefs[lesson.name] if lesson.name in hrefs else "../index.html"
        body = page(lesson, notebook, lesson_href, asked.get(lesson.name, []), times(lesson.name, reference_dir))
        atomic_write(Path(out_dir) / "instructor" / f"{lesson.name}.html", body)
        written[lesson.name] = f"instructor/{lesson.name}.html"
    return written
