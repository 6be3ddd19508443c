"""``make slides``: every executed lesson as a reveal.js deck, 1280×720, offline.

Reads the executed notebooks ``make course`` wrote to
``results/<profile>/notebooks/`` and writes, next to each other in
``results/<profile>/slides/``:

- ``NN_name.slides.html``: the deck (nbconvert's ``reveal`` template with
  :file:`course/publish/templates/course_slides`), cut by the cells' slide metadata
  (:mod:`course.publish.slides_tags`); press ``s`` for the speaker notes;
- ``reveal.js/`` and ``mathjax/``: the local copies the decks load
  (:mod:`course.publish.vendor`), so a deck opens from ``file://`` with no network;
- ``slides.css``: the deck's style, which caps long code, long outputs and
  figures so that nothing overflows a 1280×720 screen;
- ``index.html``: a list of the decks.

At build time, when the real outputs are known, markdown cells too long for
one slide are cut at paragraph breaks into sub-slides, and a cell whose
outputs would overflow its slide starts a sub-slide (:func:`repaginate`); the
notebook itself is left as it is.

Usage::

    python -m course.publish.slides [--profile smoke|sample|full] [--out FOLDER]
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

from course.publish import command, executed, slides_tags, vendor
from utils import config, results as records_module
from utils.files import atomic_write

TEMPLATES = Path(__file__).resolve().parent / "templates"
STYLE = TEMPLATES / "slides.css"

#: The size a deck is laid out for, in CSS pixels (reveal.js scales it to the screen).
WIDTH, HEIGHT = 1280, 720

_MATH = re.compile(r"\$[^$\n]+\$|\\\(|\\\[|\$\$")


def has_math(notebook) -> bool:
    """Whether any markdown cell holds TeX (``$...$``, ``\\(``, ``\\[``)."""
    return any(cell.cell_type == "markdown" and _MATH.search(cell.source) for cell in notebook.cells)


def _chunks(text: str, limit: int) -> list[str]:
    """Paragraphs of markdown ``text`` grouped into pieces of at most ``limit`` estimated lines.

    Never cuts inside a fenced code block; one paragraph longer than the limit
    stays whole.
    """
    paragraphs, current, fenced = [], [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced and current:
            paragraphs.append("\n".join(current))
            current = []
        elif line.strip() or current:
            current.append(line)
    if current:
        paragraphs.append("\n".join(current))
    pieces, piece, used = [], [], 0
    for paragraph in paragraphs:
        size = slides_tags.estimated_lines({"cell_type": "markdown", "source": paragraph})
        if piece and used + size > limit:
            pieces.append("\n\n".join(piece))
            piece, used = [], 0
        piece.append(paragraph)
        used += size
    if piece:
        pieces.append("\n\n".join(piece))
    return pieces


def split_long_markdown(notebook, limit: int = slides_tags.SLIDE_LINES) -> int:
    """Cut markdown cells longer than ``limit`` lines into sub-slides, in place; return cuts made.

    The first piece keeps the cell's slide type, each further piece is a
    ``subslide`` (a ``notes`` or ``skip`` cell is left whole).
    """
    import nbformat

    cells, cuts = [], 0
    for cell in notebook.cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        if cell.cell_type != "markdown" or kind in ("notes", "skip") \
                or slides_tags.estimated_lines(cell) <= limit:
            cells.append(cell)
            continue
        pieces = _chunks(cell.source, limit)
        cell.source = pieces[0]
        cells.append(cell)
        for number, piece in enumerate(pieces[1:], 1):
            extra = nbformat.v4.new_markdown_cell(piece, id=f"{cell.get('id', 'cell')}-{number}")
            extra.metadata["slideshow"] = {"slide_type": "subslide"}
            cells.append(extra)
            cuts += 1
    notebook.cells = cells
    return cuts


#: What fits on one 1280×720 slide, in the lines of :func:`shown_lines`.
BUDGET = 20
#: The deck's style caps (slides.css): code boxes and output boxes, in lines.
CODE_CAP, OUTPUT_CAP = 9, 9


def _output_lines(output) -> int:
    data = output.get("data", {})
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    elif output.get("output_type") == "error":
        text = "\n".join(output.get("traceback", []))
    else:
        text = data.get("text/html", "").replace("<tr", "\n<tr") if "text/html" in data else data.get("text/plain", "")
    return min(len(str(text).splitlines()) + 1, OUTPUT_CAP)


#: Height of a figure on a slide in CSS pixels, and the least it is shrunk to
#: when one cell draws several; one line of :func:`shown_lines` is about 28 px.
FIGURE_PX, FIGURE_MIN_PX, LINE_PX = 330, 160, 28


def _is_figure(output) -> bool:
    return bool({"image/png", "image/jpeg", "image/svg+xml"} & set(output.get("data", {})))


def fit_figures(cell) -> int:
    """Share :data:`FIGURE_PX` among a cell's figures (at least :data:`FIGURE_MIN_PX` each).

    Writes ``course_max_height`` into each figure output's metadata (the deck's
    image template reads it) and returns the pixels the figures take in all.
    """
    figures = [o for o in cell.get("outputs", []) if _is_figure(o)]
    if not figures:
        return 0
    height = max(FIGURE_PX // len(figures), FIGURE_MIN_PX)
    for output in figures:
        output.setdefault("metadata", {})["course_max_height"] = height
    return height * len(figures)


def shown_lines(cell) -> int:
    """Lines a cell takes on a slide with its real outputs, as the deck's style caps them."""
    if cell.cell_type != "code":
        return slides_tags.estimated_lines(cell)
    code = min(len(cell.source.rstrip().splitlines()), CODE_CAP) + 1
    figures = -(-fit_figures(cell) // LINE_PX)
    text = min(sum(_output_lines(o) for o in cell.get("outputs", []) if not _is_figure(o)), OUTPUT_CAP)
    return code + figures + text   # texts share one scrolling box


def repaginate(notebook, budget: int = BUDGET) -> int:
    """Start a sub-slide wherever a cell, with its real outputs, would overflow the slide.

    Works on the executed copy at build time (the notebook keeps the rules'
    metadata); returns how many cells were moved to a new sub-slide.
    """
    used, moved = 0, 0
    for cell in notebook.cells:
        slideshow = cell.metadata.setdefault("slideshow", {"slide_type": "-"})
        kind = slideshow.get("slide_type") or "-"
        if kind in ("skip", "notes"):
            continue
        size = shown_lines(cell)
        if kind in ("-", "fragment") and used and used + size > budget:
            slideshow["slide_type"] = kind = "subslide"
            moved += 1
        used = size if kind in ("slide", "subslide") else used + size
    return moved


def exporter():
    """nbconvert's SlidesExporter with the course's template and local reveal.js."""
    from nbconvert import SlidesExporter

    return SlidesExporter(template_name="course_slides", extra_template_basedirs=[str(TEMPLATES)],
                          extra_template_paths=[str(TEMPLATES)],
                          reveal_url_prefix="reveal.js", reveal_theme="white", reveal_transition="none")


def build_slides(cfg: config.Profile, out_dir: Path | None = None, source_dir: Path | None = None) -> list[Path]:
    """Write one deck per executed lesson of ``cfg``'s profile, and their index.

    Parameters
    ----------
    cfg : utils.config.Profile
        The profile whose executed notebooks are read.
    source_dir : pathlib.Path, optional
        The lessons' sources, default ``notebooks/`` (tests).
    out_dir : pathlib.Path, optional
        Default ``results/<profile>/slides``.

    Returns
    -------
    list of pathlib.Path
        The decks written, in lesson order.

    Raises
    ------
    FileNotFoundError
        If nothing was executed under the profile (run ``make course``).
    course.publish.vendor.VendorError
        If reveal.js or MathJax cannot be fetched.
    """
    import nbformat

    lessons = executed.lessons(cfg, source_dir)
    out_dir = Path(out_dir) if out_dir else cfg.profile_results_dir / "slides"
    out_dir.mkdir(parents=True, exist_ok=True)
    vendor.install("reveal.js", out_dir)
    vendor.install("mathjax", out_dir)
    atomic_write(out_dir / "slides.css", STYLE.read_bytes())  # disk full named
    records = records_module.load_records(cfg)
    export = exporter()
    decks = []
    for lesson in lessons:
        if lesson.executed is None:
            continue
        raw = nbformat.read(lesson.executed, as_version=4)
        notebook = executed.for_publishing(raw)
        split_long_markdown(notebook)
        repaginate(notebook)
        deck = {"title": lesson.title, "facts": executed.run_facts(lesson, raw, cfg, records),
                "math": has_math(notebook), "mathjax": "mathjax/es5/tex-chtml-full.js",
                "width": WIDTH, "height": HEIGHT}
        body, _ = export.from_notebook_node(notebook, resources={"deck": deck,
                                                                 "metadata": {"name": lesson.title}})
        decks.append(atomic_write(out_dir / f"{lesson.name}.slides.html", body))
    items = "\n".join(f'<li><a href="{d.name}">{html.escape(lesson.title)}</a></li>'
                      for d, lesson in zip(decks, [x for x in lessons if x.executed is not None]))
    atomic_write(out_dir / "index.html", f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dogs vs. Cats with Keras · slides ({html.escape(cfg.name)})</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 50em; }}</style></head>
<body><h1>Dogs vs. Cats with Keras · slides</h1>
<p>Executed under profile <b>{html.escape(cfg.name)}</b>. Arrow keys move, <kbd>s</kbd> opens the speaker notes,
<kbd>Esc</kbd> the overview.</p>
<ul>
{items}
</ul></body></html>
""")
    return decks


def main(argv=None) -> int:
    """Command line of ``make slides``."""
    return command.build_command(
        argv, prog="python -m course.publish.slides", description="Build reveal.js decks.",
        default_out="results/<profile>/slides", build=build_slides,
        summary=lambda decks, out: f"{len(decks)} decks in {decks[0].parent if decks else out}")


if __name__ == "__main__":
    sys.exit(main())
