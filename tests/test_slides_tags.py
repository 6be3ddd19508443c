"""Every cell gets its slide type from course.publish.slides_tags, and the committed notebooks follow it."""

from __future__ import annotations

import nbformat
import pytest

from course.publish import slides_tags


def md(text, **metadata):
    return nbformat.v4.new_markdown_cell(text, metadata=metadata)


def code(text, **metadata):
    return nbformat.v4.new_code_cell(text, metadata=metadata)


@pytest.mark.parametrize("path", slides_tags.lesson_notebooks(), ids=lambda p: p.name)
def test_committed_notebooks_carry_the_rules_slide_metadata(path):
    notebook = nbformat.read(path, as_version=4)
    wrong = slides_tags.mismatches(notebook)
    assert not wrong, f"{path.name}: run `make tag-slides` (python -m course.publish.slides_tags):\n" + "\n".join(wrong)


def test_every_lesson_opens_with_a_title_slide_and_has_sections():
    for path in slides_tags.lesson_notebooks():
        types = slides_tags.slide_types(nbformat.read(path, as_version=4).cells)
        shown = [t for t in types if t != "skip"]
        assert shown[0] == "slide", path.name
        assert types.count("slide") >= 2, path.name


def test_headings_open_slides_and_steps_subslides():
    cells = [md("# 03 · Title\n\nIntro."), code("x = 1"), md("## A section\n\nText."),
             md("### (a) A step\n\nMore."), code("y = 2")]
    assert slides_tags.slide_types(cells) == ["slide", "-", "slide", "subslide", "-"]


def test_notes_and_platform_cells():
    badge = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             "(https://colab.research.google.com/github/x/y/blob/main/notebooks/00_setup.ipynb)")
    cells = [md(badge), code("import sys\nif 'google.colab' in sys.modules:\n    !pip install x"),
             md("# Title"), md("> **Note** For the instructor.")]
    assert slides_tags.slide_types(cells) == ["skip", "skip", "slide", "notes"]


def test_a_badge_beside_text_is_not_skipped():
    cell = md("[![Open In Colab](https://colab.research.google.com/badge.svg)](https://colab.research.google.com/x)"
              " and some words the lesson needs")
    assert slides_tags.slide_types([md("# T"), cell]) == ["slide", "-"]


def test_a_figure_after_its_sentence_is_a_fragment_unless_the_slide_is_full():
    short = [md("## Curves\n\nThe loss falls."), code("charts.plot_history(history)")]
    assert slides_tags.slide_types(short) == ["slide", "fragment"]
    long_text = "\n".join(f"line {i} " + "word " * 15 for i in range(14))
    full = [md("## Curves\n\n" + long_text), code("charts.plot_history(history)")]
    assert slides_tags.slide_types(full) == ["slide", "subslide"]


def test_long_code_gets_its_own_subslide():
    long_code = "\n".join(f"a{i} = {i}" for i in range(slides_tags.LONG_CODE + 1))
    cells = [md("## S"), code("x = 1"), code(long_code)]
    assert slides_tags.slide_types(cells) == ["slide", "-", "subslide"]


def test_a_tag_overrides_the_rules_and_an_unknown_one_is_refused():
    cells = [md("## S", tags=["slide:skip"]), code("x = 1", tags=["other", "slide:notes"])]
    assert slides_tags.slide_types(cells) == ["skip", "notes"]
    with pytest.raises(ValueError, match="slide:big"):
        slides_tags.slide_types([md("x", tags=["slide:big"])])


def test_apply_is_idempotent_and_check_reports_what_differs(tmp_path, capsys):
    notebook = nbformat.v4.new_notebook(cells=[md("# T"), code("x = 1"), md("## S")])
    path = tmp_path / "01_x.ipynb"
    nbformat.write(notebook, path)
    assert slides_tags.main(["--check", str(path)]) == 1
    assert "3 cell(s) differ" in capsys.readouterr().out
    assert slides_tags.main([str(path)]) == 0
    tagged = nbformat.read(path, as_version=4)
    assert [c.metadata["slideshow"]["slide_type"] for c in tagged.cells] == ["slide", "-", "slide"]
    assert slides_tags.apply(tagged) == 0
    assert slides_tags.main(["--check", str(path)]) == 0
