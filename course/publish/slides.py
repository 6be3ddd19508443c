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

At build time, when the real outputs are known, :func:`present` lays each
lesson out as slides that present (:func:`layout`): a slide is a point, a
picture or a cell; a markdown cell is cut at its headings and callouts; a prose
block longer than its share of :data:`SLIDE_WORDS` keeps its lead on the slide
and goes whole to the speaker notes (:mod:`course.publish.prose`); a ``> **Note**``
goes to the notes, and whatever follows its heading in the same cell is
presented (so "What we learned" and "Try this" are always slides); a slide that
would show only a heading or a few words is merged with a neighbour; figures
take the height the slide leaves them, and long outputs scroll in their box.
``slide:`` tags (:mod:`course.publish.slides_tags`) win over these rules. The
notebook itself is left as it is.

Usage::

    python -m course.publish.slides [--profile smoke|sample|full] [--out FOLDER]
"""

from __future__ import annotations

import dataclasses
import html
import re
import sys
from pathlib import Path

from course.publish import command, executed, prose, slides_tags, vendor
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


#: Words of prose a slide shows at most; the browser check allows :data:`MAX_WORDS`.
SLIDE_WORDS, MAX_WORDS = 55, 60
#: Fewest words a slide with no cell, figure or table shows besides its heading.
MIN_WORDS = 8
#: Least words a prose block keeps on its slide when several share one.
MIN_LEAD = 15
#: What fits on one 1280×720 slide, in the lines of :func:`shown_lines`.
BUDGET = 20
#: The deck's style caps (slides.css): code boxes, output boxes and tables, in lines.
CODE_CAP, OUTPUT_CAP, TABLE_CAP = 9, 9, 12


def _output_lines(output) -> int:
    data = output.get("data", {})
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    elif output.get("output_type") == "error":
        text = "\n".join(output.get("traceback", []))
    else:
        text = data.get("text/html", "").replace("<tr", "\n<tr") if "text/html" in data else data.get("text/plain", "")
    return min(len(str(text).splitlines()) + 1, OUTPUT_CAP)


#: Height of a figure on a slide in CSS pixels: at least FIGURE_MIN_PX, at most
#: FIGURE_MAX_PX, else what the slide's other content leaves (one line ≈ LINE_PX).
FIGURE_MIN_PX, FIGURE_MAX_PX, LINE_PX = 200, 540, 28
#: Height a slide's content may fill (the slide less its margins and the footer).
USABLE_PX = HEIGHT - 70


def _is_figure(output) -> bool:
    return bool({"image/png", "image/jpeg", "image/svg+xml"} & set(output.get("data", {})))


def _figures(cell) -> list:
    return [o for o in cell.get("outputs", []) if _is_figure(o)]


def fit_figures(cell, room_px: int = FIGURE_MIN_PX * 2) -> int:
    """Share ``room_px`` among a cell's figures, each between the figure bounds.

    Writes ``course_max_height`` into each figure output's metadata (the deck's
    image template gives the image that height) and returns the pixels the
    figures take in all.
    """
    figures = _figures(cell)
    if not figures:
        return 0
    height = min(max(room_px // len(figures), FIGURE_MIN_PX), FIGURE_MAX_PX)
    for output in figures:
        output.setdefault("metadata", {})["course_max_height"] = height
    return height * len(figures)


def shown_lines(cell) -> int:
    """Lines a cell takes on a slide with its real outputs, as the deck's style caps them
    (a figure counted at its least height)."""
    if cell.cell_type != "code":
        if cell.source.lstrip().startswith("|"):
            return min(cell.source.count("\n") + 1, TABLE_CAP)
        return slides_tags.estimated_lines(cell)
    code = min(len(cell.source.rstrip().splitlines()), CODE_CAP) + 1
    figures = -(-FIGURE_MIN_PX * len(_figures(cell)) // LINE_PX)
    text = min(sum(_output_lines(o) for o in cell.get("outputs", []) if not _is_figure(o)), OUTPUT_CAP)
    return code + figures + text   # texts share one scrolling box


@dataclasses.dataclass
class Piece:
    """One thing a deck shows: a heading, a prose block, a cell or table, or speaker notes.

    ``role`` is ``heading``, ``prose``, ``body`` (a code cell, a table, a fenced
    block: what a slide is built around) or ``notes``; ``forced`` the slide type
    a ``slide:`` tag asks for; ``kind`` the type the rules gave the source cell.
    """

    cell: object
    role: str
    kind: str = "-"
    forced: str | None = None
    level: int = 0
    words: int = 0
    lines: int = 0


def _markdown(text: str, cell, number: int, kind: str = "-"):
    import nbformat

    new = nbformat.v4.new_markdown_cell(text, id=f"{str(cell.get('id') or 'cell')[:50]}-p{number}")
    new.metadata["slideshow"] = {"slide_type": kind}
    return new


def _budgets(found: list) -> list[int]:
    """Each prose block's word budget: :data:`SLIDE_WORDS` shared by a run of prose blocks."""
    budgets, run = [0] * len(found), []
    for i, block in enumerate(found + [prose.Block("heading", "")]):
        if i < len(found) and block.kind in ("prose", "list", "quote"):
            run.append(i)
            continue
        for j in run:
            budgets[j] = max(MIN_LEAD, SLIDE_WORDS // len(run))
        run = []
    return budgets


def pieces(notebook) -> list[Piece]:
    """The notebook's cells as :class:`Piece` s: markdown cut into blocks, long prose cut
    to its lead with the whole block as notes (:func:`course.publish.prose.condense`).

    A markdown cell the rules made ``notes`` (a ``> **Note**`` callout) is notes
    up to its first heading: what follows a heading in it is presented.
    """
    found = []
    for cell in notebook.cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type") or "-"
        forced = slides_tags.override(cell)
        if kind == "skip":
            continue
        if cell.cell_type != "markdown":
            found.append(Piece(cell, "notes" if kind == "notes" else "body", kind, forced,
                               lines=shown_lines(cell)))
            continue
        blocks = prose.blocks(cell.source)
        budgets, as_notes, first = _budgets(blocks), kind == "notes", len(found)
        for number, (block, budget) in enumerate(zip(blocks, budgets)):
            if block.kind == "heading":
                as_notes = False
            if as_notes or block.kind == "note":
                found.append(Piece(_markdown(block.text, cell, number, "notes"), "notes"))
                continue
            if block.kind == "heading":
                found.append(Piece(_markdown(block.text, cell, number), "heading", level=block.level, lines=2))
                continue
            if block.kind in ("table", "code"):
                piece = Piece(_markdown(block.text, cell, number), "body")
                piece.lines = shown_lines(piece.cell)
                found.append(piece)
                continue
            cut = prose.condense(block, budget)
            shown = cut.shown + (" " + prose.marker(cut.moved) if cut.notes else "")
            piece = Piece(_markdown(shown, cell, number), "prose", words=prose.count_words(cut.shown))
            piece.lines = slides_tags.estimated_lines({"cell_type": "markdown", "source": cut.shown}) + 1
            found.append(piece)
            if cut.notes:
                found.append(Piece(_markdown(cut.notes, cell, f"{number}n", "notes"), "notes"))
        if len(found) > first:
            found[first].forced, found[first].kind = forced, kind
    return found


@dataclasses.dataclass
class Slide:
    """Pieces shown together; ``kind`` is ``slide`` (a new section) or ``subslide``."""

    kind: str
    pieces: list = dataclasses.field(default_factory=list)

    def shown(self, role=None):
        return [p for p in self.pieces if p.role != "notes" and (role is None or p.role == role)]

    @property
    def words(self) -> int:
        return sum(p.words for p in self.pieces)

    @property
    def lines(self) -> int:
        return sum(p.lines for p in self.shown())

    @property
    def title(self) -> bool:
        return any(p.role == "heading" and p.level == 1 for p in self.pieces)

    @property
    def thin(self) -> bool:
        """No cell, figure or table, and under :data:`MIN_WORDS` words besides the heading."""
        return not self.shown("body") and self.words < MIN_WORDS


def _starts(piece: Piece, slide: Slide | None, following: Piece | None) -> str | None:
    """The slide type ``piece`` opens (a new slide), or None when it joins ``slide``."""
    if slide is None:
        return "slide"
    if piece.role == "notes" or piece.forced in ("-", "fragment"):
        return None
    if piece.forced in ("slide", "subslide"):
        return piece.forced
    full = slide.lines + piece.lines > BUDGET
    if piece.role == "heading":
        only_headings = all(p.role in ("heading", "notes") for p in slide.pieces)
        return None if only_headings and not full else ("slide" if piece.level <= 2 else "subslide")
    if piece.role == "body":
        return "subslide" if slide.shown("body") or slide.title or full else None
    leads_in = following is not None and following.role == "body"
    if slide.shown("body") and leads_in or slide.words + piece.words > SLIDE_WORDS or full:
        return "subslide"
    return None


def _merge_thin(found: list[Slide]) -> list[Slide]:
    """A slide that shows too little takes the next slide of its section in, else joins the one before."""
    merged: list[Slide] = []
    i = 0
    while i < len(found):
        slide = found[i]
        after = found[i + 1] if i + 1 < len(found) else None

        def fits(a, b):
            return a.lines + b.lines <= BUDGET and a.words + b.words <= MAX_WORDS \
                and not (a.shown("body") and b.shown("body"))

        if slide.thin and after is not None and after.kind == "subslide" \
                and after.shown()[0].forced is None and fits(slide, after):
            slide.pieces += after.pieces
            i += 1
        elif slide.thin and merged and slide.kind == "subslide" and slide.shown() \
                and slide.shown()[0].forced is None and fits(merged[-1], slide):
            merged[-1].pieces += slide.pieces
            i += 1
            continue
        merged.append(slide)
        i += 1
    return merged


def layout(notebook) -> list[Slide]:
    """Cut a published notebook into slides: one point, picture or cell each.

    A ``#``/``##`` heading opens a slide, ``###`` a sub-slide; a cell (or a
    table) opens a sub-slide when the slide already shows one, or would
    overflow; prose that leads into a cell goes with that cell; prose stays
    within :data:`SLIDE_WORDS` words per slide. A slide that would show too
    little is merged with a neighbour. ``slide:`` tags win over all of this.
    """
    found = [p for p in pieces(notebook)]
    slides_: list[Slide] = []
    for i, piece in enumerate(found):
        following = next((q for q in found[i + 1:] if q.role != "notes"), None)
        kind = _starts(piece, slides_[-1] if slides_ else None, following)
        if kind:
            slides_.append(Slide(kind))
        slides_[-1].pieces.append(piece)
    return _merge_thin(slides_)


def _fill_figures(slide: Slide) -> None:
    """Give the slide's figures the height its other content leaves them."""
    figure_cells = [p.cell for p in slide.shown("body") if _figures(p.cell)]
    if not figure_cells:
        return
    used = sum(p.lines for p in slide.shown() if p.cell not in figure_cells) * LINE_PX
    used += sum(shown_lines(c) * LINE_PX - FIGURE_MIN_PX * len(_figures(c)) for c in figure_cells)
    room = max(USABLE_PX - used, FIGURE_MIN_PX)
    count = sum(len(_figures(c)) for c in figure_cells)
    for cell in figure_cells:
        fit_figures(cell, room * len(_figures(cell)) // count)


def present(notebook) -> list[Slide]:
    """Lay ``notebook`` out as slides (:func:`layout`), in place: its cells become the deck's.

    Returns the slides, whose pieces' cells now carry the slide types nbconvert reads.
    """
    laid = layout(notebook)
    cells = []
    for slide in laid:
        shown = slide.shown()
        ordered = shown[:1] + [p for p in slide.pieces if p is not (shown[0] if shown else None)]
        for number, piece in enumerate(ordered):
            if piece.role == "notes":
                kind = "notes"
            elif number == 0:
                kind = slide.kind
            else:
                kind = "fragment" if "fragment" in (piece.kind, piece.forced) else "-"
            piece.cell.metadata["slideshow"] = {"slide_type": kind}
            cells.append(piece.cell)
        _fill_figures(slide)
    notebook.cells = cells
    return laid


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
        present(notebook)
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
