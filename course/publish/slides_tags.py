"""Slide metadata for every lesson, from rules: ``python -m course.publish.slides_tags``.

reveal.js (``jupyter nbconvert --to slides``, ``make slides``) and RISE
(``jupyterlab-rise``, presenting live in ``make lab``) read one field per cell,
``cell.metadata.slideshow.slide_type``. Nobody types it by hand: this module
derives it from the cell's content, so a rewritten lesson is tagged again with
one command, and ``tests/test_slides_tags.py`` fails when a notebook's
metadata is not what these rules give.

The rules, in order (the first that applies wins):

1. A tag ``slide:<type>`` on the cell (``slide:skip``, ``slide:notes``,
   ``slide:subslide``, ``slide:fragment``, ``slide:slide``, ``slide:-``)
   overrides everything below.
2. ``skip``: cells that serve the platform, not the lesson: a markdown cell
   holding only Colab/Kaggle badges, a code cell that installs packages or
   fetches the course on Colab/Kaggle.
3. ``slide``: a markdown cell opening with a ``#`` or ``##`` heading (the
   lesson's title slide and one slide per section).
4. ``subslide``: a markdown cell opening with a ``###`` heading (a step).
5. ``notes``: a markdown cell opening with ``> **Note**``: shown in the
   speaker view (press ``s``), not on the slide.
6. ``fragment``: a cell that draws a figure, straight after the sentence that
   introduces it, when both fit on the slide: the figure appears on the next
   key press.
7. ``subslide``: a code cell of more than :data:`LONG_CODE` lines (the deck's
   style collapses it into a scrolling box), or any cell that would push the
   current slide past :data:`SLIDE_LINES` estimated lines.
8. ``-``: everything else continues the current slide.

Outputs are unknown here (notebooks are stored without them): each code cell
counts :data:`OUTPUT_LINES` lines for its output, or :data:`FIGURE_LINES` when
it draws a figure, and the deck's style caps what is taller.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

#: The types RISE and nbconvert understand.
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")

#: Prefix of a cell tag that overrides the rules, e.g. ``slide:skip``.
TAG_PREFIX = "slide:"

#: Estimated lines (of about :data:`LINE_CHARS` characters) that fit on one slide.
SLIDE_LINES = 16
#: Characters per line of markdown text on a slide.
LINE_CHARS = 80
#: A code cell longer than this gets its own sub-slide.
LONG_CODE = 12
#: Lines counted for an ordinary code cell's output, and for a figure.
OUTPUT_LINES = 3
FIGURE_LINES = 9

_BADGE = re.compile(r"colab\.research\.google\.com|kaggle\.com/kernels|badge", re.I)
#: Ids of the badges and setup cells that course/tools/notebook_header.py puts under each title.
PLATFORM_CELL_IDS = ("platform-badges", "platform-setup")
_PLATFORM_SETUP = re.compile(r"google\.colab|KAGGLE_KERNEL_RUN_TYPE|pip install|git clone")
_FIGURE = re.compile(r"\b(plots|charts)\.(plot|show)_\w+\(|\bplt\.|\.imshow\(|\bfig\b|\bfigure\(")


def _text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def override(cell) -> str | None:
    """The slide type a ``slide:<type>`` tag on ``cell`` asks for, or None."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag.startswith(TAG_PREFIX):
            kind = tag[len(TAG_PREFIX):]
            if kind not in SLIDE_TYPES:
                raise ValueError(f"unknown slide type in tag {tag!r}; use one of {SLIDE_TYPES}")
            return kind
    return None


def is_figure_cell(cell) -> bool:
    """Whether a code cell draws a figure (a ``plots.plot_*`` or ``charts.plot_*`` call, ``plt.``, ``imshow``)."""
    return cell.get("cell_type") == "code" and bool(_FIGURE.search(_text(cell)))


def is_platform_cell(cell) -> bool:
    """Whether a cell only serves Colab/Kaggle: badges, or the install/fetch cell.

    The two cells that ``course/tools/notebook_header.py`` writes are known by their ids.
    """
    if cell.get("id") in PLATFORM_CELL_IDS:
        return True
    text = _text(cell).strip()
    if cell.get("cell_type") == "markdown":
        without_badges = re.sub(r"\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)", "", text).strip()
        return bool(text) and not without_badges and bool(_BADGE.search(text))
    return cell.get("cell_type") == "code" and bool(_PLATFORM_SETUP.search(text))


def estimated_lines(cell) -> int:
    """Lines a cell takes on a slide: wrapped markdown, or code plus its expected output."""
    text = _text(cell).rstrip()
    if cell.get("cell_type") == "code":
        return len(text.splitlines()) + (FIGURE_LINES if is_figure_cell(cell) else OUTPUT_LINES)
    return sum(max(1, math.ceil(len(line) / LINE_CHARS)) for line in text.splitlines() if line.strip())


def slide_types(cells) -> list[str]:
    """The slide type of each cell, by the rules in this module's docstring.

    Parameters
    ----------
    cells : list of dict
        Notebook cells (``nbformat`` nodes or plain dicts).

    Returns
    -------
    list of str
        One of :data:`SLIDE_TYPES` per cell.

    Raises
    ------
    ValueError
        If a ``slide:`` tag names an unknown type.
    """
    types, used, previous = [], 0, None
    for cell in cells:
        kind, size = override(cell), estimated_lines(cell)
        text = _text(cell).lstrip()
        if kind is None:
            if is_platform_cell(cell):
                kind = "skip"
            elif cell.get("cell_type") == "markdown" and re.match(r"##?\s", text):
                kind = "slide"
            elif cell.get("cell_type") == "markdown" and re.match(r"###\s", text):
                kind = "subslide"
            elif cell.get("cell_type") == "markdown" and text.startswith("> **Note**"):
                kind = "notes"
            elif is_figure_cell(cell) and previous is not None and previous.get("cell_type") == "markdown" \
                    and types[-1] not in ("skip", "notes") and used + size <= SLIDE_LINES:
                kind = "fragment"
            elif cell.get("cell_type") == "code" and len(text.splitlines()) > LONG_CODE:
                kind = "subslide"
            elif used + size > SLIDE_LINES:
                kind = "subslide"
            else:
                kind = "-"
        if kind in ("slide", "subslide"):
            used = size
        elif kind not in ("skip", "notes"):
            used += size
        types.append(kind)
        previous = cell
    return types


def apply(notebook) -> int:
    """Set every cell's ``metadata.slideshow.slide_type``; return how many changed."""
    changed = 0
    for cell, kind in zip(notebook.cells, slide_types(notebook.cells)):
        if cell.metadata.get("slideshow") != {"slide_type": kind}:
            cell.metadata["slideshow"] = {"slide_type": kind}
            changed += 1
    return changed


def mismatches(notebook) -> list[str]:
    """``"cell 3 (id): has 'slide', rules give '-'"`` for every cell the rules would change."""
    found = []
    for number, (cell, kind) in enumerate(zip(notebook.cells, slide_types(notebook.cells)), 1):
        have = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        if have != kind:
            found.append(f"cell {number} ({cell.get('id', '?')}): has {have!r}, rules give {kind!r}")
    return found


def lesson_notebooks(root: Path | None = None) -> list[Path]:
    """The notebooks to tag: ``notebooks/NN_*.ipynb`` and ``notebooks/solutions/*.ipynb``."""
    root = Path(root) if root else Path(__file__).resolve().parents[2] / "notebooks"
    return sorted(root.glob("[0-9][0-9]_*.ipynb")) + sorted((root / "solutions").glob("*.ipynb"))


def main(argv=None) -> int:
    """Tag the notebooks in place (or, with ``--check``, list what differs and exit 1)."""
    import nbformat

    parser = argparse.ArgumentParser(prog="python -m course.publish.slides_tags", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every lesson and solution)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook differs")
    args = parser.parse_args(argv)
    status = 0
    for path in args.paths or lesson_notebooks():
        notebook = nbformat.read(path, as_version=4)
        if args.check:
            wrong = mismatches(notebook)
            if wrong:
                status = 1
                print(f"{path}: {len(wrong)} cell(s) differ from the rules; run `make tag-slides`")
                print("  " + "\n  ".join(wrong[:10]))
        elif apply(notebook):
            nbformat.write(notebook, path)
            print(f"{path}: slide metadata updated")
    return status


if __name__ == "__main__":
    sys.exit(main())
