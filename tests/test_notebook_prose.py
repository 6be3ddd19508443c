"""No hand-typed run figures in the notebooks' prose.

The rule (a reader can check it by eye, this test checks it by regular expression):

1. A markdown cell of ``notebooks/`` or ``notebooks/solutions/`` never states a
   percentage or a duration (``82%``, ``9.5 min``, ``30 s``, ``2 hours``) of its own
   text. Outputs are not stored and vary by profile and machine, so a figure of this
   course's runs is printed by a code cell, from the run just made or from
   ``results/<profile>/*.json``; what a learner should expect is said in words
   ("somewhere in the 70s under ``sample``").
2. The one exception is a **published** figure: its line carries a parenthesis that
   starts with ``(source:`` and names where it was published, and, for a percentage,
   says whether it is a ``validation`` or a ``test`` figure, e.g.
   ``96.8% (source: Deep Learning with Python, 1st ed., ch. 5, test accuracy)``.
3. Not figures, so not checked: text inside backticks or fenced code (settings such as
   ``Dropout(0.5)`` belong there), math between ``$`` signs, and a confidence level
   (``95% interval``, ``95% confidence``).
"""

from __future__ import annotations

import json
import re

import pytest

from utils import config

ROOT = config.PROJECT_ROOT
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "notebooks" / "solutions").glob("*.ipynb"))

PERCENT = re.compile(r"\d(?:[\d,]*\d)?(?:\.\d+)?\s?%")
DURATION = re.compile(
    r"\b\d+(?:[.,]\d+)?(?:\s?(?:ms|secs?|seconds?|mins?|minutes?|hrs?|hours?)|\s(?:s|h))\b(?!-)")
CONFIDENCE_LEVEL = re.compile(r"\b\d{2}(?:\.\d+)?\s?%\s+(?:\w+\s+)?(?:interval|confidence|CI)\b", re.I)
SOURCE = re.compile(r"\(source:[^)]*\)", re.I)


def _prose(markdown: str) -> list[str]:
    """The markdown's lines with code (fenced, inline), math and HTML comments removed."""
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    markdown = re.sub(r"<!--.*?-->", " ", markdown, flags=re.S)
    markdown = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    lines = []
    for line in markdown.splitlines():
        line = re.sub(r"`[^`]*`", " ", line)
        line = re.sub(r"\$[^$]*\$", " ", line)
        line = re.sub(r"\]\([^)]*\)", "]", line)     # link targets: URLs are not prose
        lines.append(line)
    return lines


def unattributed_figures(markdown: str) -> list[str]:
    """The lines of ``markdown`` that state a run-like figure without a published source.

    Returns
    -------
    list of str
        Each offending line, stripped, with the figures found, e.g.
        ``"'82.0%': cnn_aug scores 82.0% under sample"``.
    """
    found = []
    for line in _prose(markdown):
        checked = CONFIDENCE_LEVEL.sub(" ", line)
        percents = PERCENT.findall(checked)
        durations = DURATION.findall(checked)
        if not percents and not durations:
            continue
        source = SOURCE.search(line)
        if source and (not percents or re.search(r"\b(validation|test)\b", line, re.I)):
            continue
        figures = ", ".join(repr(f) for f in percents + durations)
        found.append(f"{figures}: {line.strip()}")
    return found


@pytest.mark.parametrize(
    "text, bad",
    [
        ("`cnn_aug` scores 82.0% under sample.", True),
        ("An epoch takes 9.1 s on two cores.", True),
        ("Training takes about 26 min.", True),
        ("It reached 96.8% (source: Deep Learning with Python, 1st ed., test accuracy).", False),
        ("It reached 96.8% (source: Deep Learning with Python, 1st ed.).", True),
        ("Seed 000 trained for 5 hours (source: seed 000's README).", False),
        ("Each model gets a 95% interval.", False),
        ("A 95% confidence interval is wide.", False),
        ("Set `Dropout(0.5)` or `RandomZoom(0.2)` with `epochs=30`.", False),
        ("```python\nacc = 0.82  # 82%\n```", False),
        ("Somewhere in the 70s under `sample`, a few minutes on a CPU.", False),
        ("The 2 cats of 5 sources", False),
        ("A 3-hour run", False),
    ],
)
def test_the_rule_catches_run_figures_and_lets_sources_and_settings_through(text, bad):
    assert bool(unattributed_figures(text)) is bad, unattributed_figures(text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_markdown_states_no_run_figure_of_its_own(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = [f"cell {cell.get('id')}: {line}"
             for cell in cells if cell["cell_type"] == "markdown"
             for line in unattributed_figures("".join(cell["source"]))]
    assert not found, (
        "markdown states a figure without a published source; print run figures from a "
        "code cell, or cite a published one as '(source: ..., validation|test ...)' "
        "(see this file's docstring):\n" + "\n".join(found))
