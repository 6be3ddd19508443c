"""``make site``: the course as a static website, built from the executed notebooks.

Reads what ``make course`` left under ``results/<profile>/`` (executed
notebooks, ``state.json``, result records) and writes to
``results/<profile>/site/``:

- ``index.html``: the course map (each lesson's title and summary, taken from
  the notebook, with its status) and the results table generated from the
  records (:func:`course.publish.tables.results_html`: rounded, units in the
  headers, each model's full record in ``records/<model_id>.json``), beside the
  published figures (:func:`utils.comparisons.anchors_table`, theirs, not ours);
- ``NN_name.html``: one page per executed lesson with its outputs and figures
  (nbconvert's ``lab`` page with :file:`course/publish/templates/course_page`),
  navigation to the previous and next lesson, and the profile, commit and
  hardware it was executed with (:func:`course.publish.executed.run_facts`); the
  solutions of ``notebooks/solutions/NN_*.ipynb``, when there are any, folded
  away in a ``<details>`` after the lesson's exercises;
- ``instructor/NN_name.html``: an instructor's page per lesson (its time under
  each profile, the claims it proves, its exercises, the questions learners ask;
  :mod:`course.publish.instructor`);
- ``site.css`` and ``mathjax/`` (a local copy: no page loads anything from
  the network, and every link is relative, so the folder works from
  ``file://`` and from any static host).

A skipped lesson shows its skip message instead of a traceback. Nothing on
the pages is typed by hand: all of it comes from the notebooks and records.

Usage::

    python -m course.publish.site [--profile smoke|sample|full] [--out FOLDER]
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

from course.publish import command, executed, instructor, slides, tables, vendor
from utils import comparisons, config, results as records_module
from utils.files import atomic_write

TEMPLATES = Path(__file__).resolve().parent / "templates"
MATHJAX = "mathjax/es5/tex-chtml-full.js"

#: The heading that opens a lesson's exercises; solutions go after its section.
EXERCISES = re.compile(r"^##\s+(Try this|Exercises?)\b", re.I | re.M)


def _exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="course_page", extra_template_basedirs=[str(TEMPLATES)],
                          extra_template_paths=[str(TEMPLATES)])


def solutions_html(path: Path, resources: dict) -> str:
    """The cells of a solutions notebook as HTML, to fold into a lesson page.

    Its skip errors show their message (:func:`course.publish.executed.for_publishing`).
    """
    import nbformat

    notebook = executed.for_publishing(nbformat.read(path, as_version=4))
    page, _ = _exporter().from_notebook_node(notebook, resources=resources)
    start, end = page.find("<main>"), page.rfind("</main>")
    return page[start + len("<main>"):end] if start >= 0 and end > start else ""


def attach_solutions(notebook, fragment: str, label: str) -> int:
    """Insert ``fragment`` folded in a ``<details>`` after the exercises' section, in place.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
    fragment : str
        HTML of the solutions (:func:`solutions_html`).
    label : str
        Text of the ``<summary>``.

    Returns
    -------
    int
        Index of the inserted raw HTML cell (at the end when the lesson has no
        exercises heading, :data:`EXERCISES`).
    """
    import nbformat

    cells = notebook.cells
    start = next((i for i, c in enumerate(cells) if c.cell_type == "markdown" and EXERCISES.search(c.source)),
                 None)
    at = len(cells)
    if start is not None:
        at = next((i for i in range(start + 1, len(cells)) if cells[i].cell_type == "markdown"
                   and re.match(r"#{1,2}\s", cells[i].source.lstrip())), len(cells))
    folded = (f'<details class="solutions"><summary>{html.escape(label)}</summary>\n'
              f'{fragment}\n</details>')
    cells.insert(at, nbformat.v4.new_raw_cell(folded, metadata={"raw_mimetype": "text/html",
                                                                  "course_site_html": True}))
    return at


def _course_facts(pages: list[dict]) -> dict:
    """One line of facts for the landing page: each distinct value once."""
    def distinct(key):
        return ", ".join(dict.fromkeys(p["facts"][key] for p in pages)) or "unknown"
    return {"profile": distinct("profile"), "commit": distinct("commit"), "hardware": distinct("hardware"),
            "finished": max((p["facts"]["finished"] for p in pages), default="unknown")}


def build_site(cfg: config.Profile, out_dir: Path | None = None, source_dir: Path | None = None) -> Path:
    """Write the site of ``cfg``'s executed course; return its ``index.html``.

    Parameters
    ----------
    cfg : utils.config.Profile
    source_dir : pathlib.Path, optional
        The lessons' sources, default ``notebooks/`` (tests).
    out_dir : pathlib.Path, optional
        Default ``results/<profile>/site``.

    Raises
    ------
    FileNotFoundError
        If nothing was executed under the profile (run ``make course``).
    course.publish.vendor.VendorError
        If MathJax is needed and cannot be fetched.
    """
    import nbformat

    lessons = executed.lessons(cfg, source_dir)
    out_dir = Path(out_dir) if out_dir else cfg.profile_results_dir / "site"
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "site.css", (TEMPLATES / "site.css").read_bytes())  # disk full named
    records = records_module.load_records(cfg)
    published = [lesson for lesson in lessons if lesson.executed is not None]
    pages, math = [], False
    for lesson in published:
        raw = nbformat.read(lesson.executed, as_version=4)
        notebook = executed.for_publishing(raw)
        math = math or slides.has_math(notebook)
        pages.append({"lesson": lesson, "notebook": notebook, "href": f"{lesson.name}.html",
                      "title": lesson.title, "facts": executed.run_facts(lesson, raw, cfg, records)})
    if math:
        vendor.install("mathjax", out_dir)
    export = _exporter()
    for i, page in enumerate(pages):
        lesson = page["lesson"]
        site = {"facts": page["facts"], "status": lesson.status, "math": math, "mathjax": MATHJAX,
                "previous": pages[i - 1] if i > 0 else None,
                "next": pages[i + 1] if i + 1 < len(pages) else None}
        resources = {"site": site, "metadata": {"name": lesson.title}}
        if lesson.solutions is not None:
            attach_solutions(page["notebook"], solutions_html(lesson.solutions, resources),
                             f"Solutions ({lesson.solutions.name}): open after trying")
        body, _ = export.from_notebook_node(page["notebook"], resources=resources)
        atomic_write(out_dir / page["href"], body)
    return write_index(cfg, lessons, pages, records, out_dir)


def write_index(cfg: config.Profile, lessons, pages: list[dict], records: list[dict], out_dir: Path) -> Path:
    """The landing page: course map, results table from the records, published figures."""
    import jinja2
    from nbconvert.filters.markdown import markdown2html

    hrefs = {page["lesson"].name: page["href"] for page in pages}
    teaching = instructor.write_pages(lessons, out_dir, hrefs)
    course_map = [{"title": lesson.title, "href": hrefs.get(lesson.name), "status": lesson.status,
                   "reason": lesson.reason, "summary": markdown2html(lesson.summary),
                   "instructor": teaching.get(lesson.name)} for lesson in lessons]
    for record in records:   # the full record, one click from the table
        atomic_write(out_dir / "records" / f"{record['model_id']}.json",
                     json.dumps(record, indent=2, default=str) + "\n")
    table = tables.results_html(records)
    anchors = ('<div class="table-box">' + comparisons.anchors_table().to_html(
        index=False, na_rep="—", border=0, classes="results", formatters={"accuracy": lambda x: f"{x:.1%}"})
        + "</div>")
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    page = environment.get_template("site_index.html.j2").render(
        profile=cfg.name, facts=_course_facts(pages), lessons=course_map, first=pages[0] if pages else None,
        results_table=jinja2.utils.markupsafe.Markup(table), anchors_table=jinja2.utils.markupsafe.Markup(anchors),
        records_dir=f"results/{cfg.name}/")
    return atomic_write(out_dir / "index.html", page)


def main(argv=None) -> int:
    """Command line of ``make site``."""
    return command.build_command(argv, prog="python -m course.publish.site",
                                 description="Build the course's website.",
                                 default_out="results/<profile>/site", build=build_site,
                                 summary=lambda index, out: f"Site: {index}")


if __name__ == "__main__":
    sys.exit(main())
