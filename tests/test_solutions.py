"""Every lesson's "Try this" exercises have a solutions notebook, stored clean, that nbval runs.

``make test`` collects ``notebooks/`` recursively, so ``notebooks/solutions/*.ipynb``
run under ``smoke`` right after the lessons (whose saved models and records they may
read); these tests check that each lesson has one and that it has the course's shape.
"""

from __future__ import annotations

import json
import re

import pytest

from utils import config

ROOT = config.PROJECT_ROOT
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = ROOT / "notebooks" / "solutions"


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _exercises(path) -> list[str]:
    """The numbered items of the lesson's "## Try this" cell."""
    for cell in _cells(path):
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "## Try this" in text:
            return re.findall(r"^\s*\d+\.\s", text.split("## Try this", 1)[1], flags=re.M)
    return []


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_every_lesson_with_exercises_has_a_solutions_notebook(lesson):
    exercises = _exercises(lesson)
    solution = SOLUTIONS / f"{lesson.stem}_solutions.ipynb"
    if not exercises:
        pytest.fail(f"{lesson.name} has no numbered exercises under '## Try this'")
    assert solution.is_file(), f"{lesson.name} has {len(exercises)} exercises but no {solution.name}"
    sections = [c for c in _cells(solution) if c["cell_type"] == "markdown"
                and re.search(r"^## ", "".join(c["source"]), flags=re.M)]
    # one section per exercise, plus the closing "What we learned"
    assert len(sections) >= len(exercises), \
        f"{solution.name} has {len(sections)} sections for {len(exercises)} exercises"


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.ipynb")), ids=lambda p: p.name)
def test_a_solutions_notebook_is_stored_clean_and_has_the_course_shape(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    assert "".join(cells[0]["source"]).startswith(f"# {path.name[:2]} · "), "title cell '# NN · …'"
    ids = [c.get("id") for c in cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell has a stable, unique id"
    setup = next(c for c in cells if c["cell_type"] == "code" and c.get("id") != "platform-setup")
    assert "cfg = config.current()" in "".join(setup["source"])
    for cell in cells:
        assert set(cell.get("metadata", {})) <= {"slideshow", "tags"}
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]
    assert any("## What we learned" in "".join(c["source"]) for c in cells[-3:])
    lesson = ROOT / "notebooks" / f"{path.stem.removesuffix('_solutions')}.ipynb"
    assert lesson.is_file(), f"{path.name} names no lesson"
