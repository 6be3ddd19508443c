"""Give every notebook its Colab and Kaggle badges and its platform cell, after the title.

Usage (from the project's root; safe to run again, e.g. after a merge)::

    python -m course.tools.notebook_header          # rewrite notebooks/*.ipynb (and notebooks/solutions/)
    python -m course.tools.notebook_header --check  # exit 1 if a notebook's header is missing or stale

The repository's address comes from one line, ``[project.urls] Repository`` in
``pyproject.toml``. Each notebook gets, right after its title cell, a markdown
cell ``platform-badges`` (two badge links) and a code cell ``platform-setup``
(clone the course when it is not importable, then :func:`utils.cloud.setup`, with the
cell's visible switch ``KEEP_ON_DRIVE`` for Colab). The clone's address can be replaced by
``DOGSCATS_CLONE_URL``, for tests only (``tests/platforms.py`` clones a local bare
repository of the working tree): the cell reads it with ``os.environ`` because
:mod:`utils.settings` is not importable before the clone.
Existing cells with those ids are replaced, so the notebooks stay as they were
otherwise (cell ids, no outputs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
BADGES_ID = "platform-badges"
SETUP_ID = "platform-setup"

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
KAGGLE_BADGE = "https://kaggle.com/static/images/open-in-kaggle.svg"

SETUP_TEMPLATE = '''\
# Colab or Kaggle: fetch the course and what this platform lacks. In a clone of the course: nothing.
KEEP_ON_DRIVE = True  # Colab: keep data, results and the Kaggle download on your Google Drive
try:
    import utils.config
except ImportError:
    import os, subprocess, sys
    sys.modules.pop("utils", None)   # another package called utils is not the course
    # DOGSCATS_CLONE_URL: tests only (a local copy of the course), read here as utils is not here yet
    clone_url = os.environ.get("DOGSCATS_CLONE_URL") or "{url}.git"
    if not os.path.isdir("{name}") and subprocess.run(
            ["git", "clone", "--quiet", "--depth", "1", clone_url, "{name}"]).returncode:
        raise RuntimeError(f"Could not clone {{clone_url}}: on Kaggle, Settings > Internet on; then run this again.")
    sys.path.insert(0, os.path.abspath("{name}"))
    os.chdir(os.path.join("{name}", "notebooks"))
    from utils import cloud
    cloud.setup(keep_on_drive=KEEP_ON_DRIVE)   # Drive; pip-installs what is missing; finds the photos'''


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """``https://github.com/OWNER/REPO`` from ``[project.urls] Repository``.

    Raises
    ------
    ValueError
        If the URL is missing or not a GitHub repository's.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from utils import pyproject as pyproject_toml  # tomllib, or tomli on Python 3.10

    url = pyproject_toml.load(pyproject).get("project", {}).get("urls", {}).get("Repository", "")
    url = url.rstrip("/")
    parts = url.split("/")
    if not url.startswith("https://github.com/") or len(parts) != 5 or not all(parts[3:]):
        raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/REPO, not {url!r}")
    return url


def notebook_paths(root: Path = ROOT) -> list[Path]:
    """Lesson notebooks, then solutions (``notebooks/solutions/*.ipynb``) when that folder exists."""
    return sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "notebooks" / "solutions").glob("*.ipynb"))


def badge_links(url: str, relative: str) -> dict:
    """Colab and Kaggle links opening ``relative`` (e.g. ``notebooks/03_cnn.ipynb``) on ``main``."""
    owner_repo = url.removeprefix("https://github.com/")
    return {
        "colab": f"https://colab.research.google.com/github/{owner_repo}/blob/main/{relative}",
        "kaggle": f"https://kaggle.com/kernels/welcome?src={url}/blob/main/{relative}",
    }


def header_cells(url: str, relative: str):
    """The two cells: badges (markdown) and platform setup (code)."""
    links = badge_links(url, relative)
    badges = (f"[![Open In Colab]({COLAB_BADGE})]({links['colab']}) "
              f"[![Open In Kaggle]({KAGGLE_BADGE})]({links['kaggle']})\n\n"
              "On Colab or Kaggle, run the next cell first: it fetches the course and "
              "finds the photos. In a clone of the course it does nothing.")
    name = url.rsplit("/", 1)[-1]
    markdown = nbformat.v4.new_markdown_cell(badges)
    markdown["id"] = BADGES_ID
    code = nbformat.v4.new_code_cell(SETUP_TEMPLATE.format(url=url, name=name))
    code["id"] = SETUP_ID
    for cell in (markdown, code):  # they serve the platform, not the lesson: no slide
        cell["metadata"] = {"slideshow": {"slide_type": "skip"}}
    return markdown, code


def with_header(notebook, url: str, relative: str):
    """``notebook`` with the header cells placed after its first (title) cell; returns it."""
    cells = [c for c in notebook.cells if c.get("id") not in (BADGES_ID, SETUP_ID)]
    notebook.cells = cells[:1] + list(header_cells(url, relative)) + cells[1:]
    return notebook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    url = repository_url()
    stale = []
    for path in notebook_paths():
        text = path.read_text(encoding="utf-8")
        notebook = nbformat.reads(text, as_version=4)
        relative = path.relative_to(ROOT).as_posix()
        new = nbformat.writes(with_header(notebook, url, relative)) + "\n"
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    verb = "stale" if args.check else "rewritten"
    print(f"{len(stale)} notebook(s) {verb}" + "".join(f"\n  {p.relative_to(ROOT)}" for p in stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
