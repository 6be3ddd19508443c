"""make slides and make site publish make course's copies: slides that present, tables for people, instructor pages.

The course here is three tiny lessons with the outputs ``make course`` would
have left (a report line, a figure, a skip), so the tests take seconds and
never touch the project's results/. The real course's site is checked by
``make course slides site site-check`` (not yet part of .ci/run: see the README).
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import os
import re

import nbformat
import pytest

from course.publish import browser, executed, instructor, prose, site, slides, slides_tags, tables
from course.run import runner
from utils import config, errors

HARDWARE = "CPU only (2 cores: Test CPU)"
SKIP_REASON = "no ImageNet weights here.\nSet DOGSCATS_VGG16_WEIGHTS to the file."


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot([0, 1, 2], [1, 0.5, 0.2], label="loss")
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _lesson(title, cells):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat it teaches.")]
                                        + cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    slides_tags.apply(notebook)
    return notebook


def _executed_course(root):
    """Sources in root/notebooks, executed copies + state in root/results/smoke/notebooks."""
    figure = nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"})

    def setup():
        return nbformat.v4.new_code_cell("config.report(cfg)",
                                         outputs=[_stream(f"Profile     : smoke\nHardware    : {HARDWARE}\n")])

    long_text = "\n\n".join(f"Paragraph {i}: " + "words that explain the step " * 8 for i in range(12))
    lessons = {
        "00_intro": _lesson("00 · Intro", [setup(), nbformat.v4.new_markdown_cell("## Formula\n\nSize $\\frac{N-F}{S}+1$.\n\n"
                                                                               + long_text)]),
        "01_figure": _lesson("01 · A figure", [
            setup(), nbformat.v4.new_markdown_cell("## Curves\n\nThe loss falls."),
            nbformat.v4.new_code_cell("charts.plot_history(history)", outputs=[figure]),
            nbformat.v4.new_markdown_cell("## Try this\n\n1. Train for twice the epochs; predict first whether "
                                          "validation accuracy rises."),
            nbformat.v4.new_markdown_cell("## What we learned\n\n- Curves show when a network starts to memorise "
                                          "its photos.")]),
        "02_skip": _lesson("02 · Skipped", [setup(), nbformat.v4.new_code_cell("vgg16.load()", outputs=[
            nbformat.v4.new_output("error", ename="LessonSkipped", evalue=errors.SKIP_MARKER + SKIP_REASON,
                                   traceback=["\x1b[31m-----\x1b[0m", "LessonSkipped    Traceback (most recent call last)",
                                              "Cell In[3], line 1", "LessonSkipped: " + SKIP_REASON])])]),
    }
    solution = _lesson("01 · Solutions", [nbformat.v4.new_code_cell("history = train(epochs=20)",
                                                                    outputs=[_stream("trained 20 epochs\n")])])
    sources, out = root / "notebooks", root / "results" / "smoke" / "notebooks"
    (sources / "solutions").mkdir(parents=True)
    out.mkdir(parents=True)
    state = {}
    for name, notebook in lessons.items():
        executed_copy = nbformat.from_dict(json.loads(nbformat.writes(notebook)))
        for cell in notebook.cells:
            cell.outputs = [] if cell.cell_type == "code" else cell.get("outputs")
            if cell.cell_type != "code":
                cell.pop("outputs", None)
        nbformat.write(notebook, sources / f"{name}.ipynb")
        nbformat.write(executed_copy, out / f"{name}.ipynb")
        skipped = name == "02_skip"
        state[name] = {"status": runner.SKIPPED if skipped else runner.OK, "reason": SKIP_REASON if skipped else None,
                       "finished": "2026-12-02T05:00:00+00:00"}
    nbformat.write(solution, sources / "solutions" / "01_figure_solutions.ipynb")
    runner.save_state(out / runner.STATE_FILE, "smoke", state)
    record = {"model_id": "cnn_small", "profile": "smoke", "test_accuracy": 0.6, "commit": "abc1234",
              "hardware": {"cpu": "Test CPU", "cpu_cores": 2, "gpus": [], "platform": "x"}}
    (root / "results" / "smoke" / "cnn_small.json").write_text(json.dumps(record))
    return sources


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """(cfg, sources, site index, decks): the tiny course, built once for this module."""
    root = tmp_path_factory.mktemp("course")
    old = os.environ.get("DOGSCATS_RESULTS")
    os.environ["DOGSCATS_RESULTS"] = str(root / "results")
    try:
        cfg = config.get_profile("smoke")
        sources = _executed_course(root)
        index = site.build_site(cfg, source_dir=sources)
        decks = slides.build_slides(cfg, source_dir=sources)
        yield cfg, sources, index, decks
    finally:
        if old is None:
            os.environ.pop("DOGSCATS_RESULTS", None)
        else:
            os.environ["DOGSCATS_RESULTS"] = old


def test_nothing_is_written_into_the_projects_results(course):
    cfg, _, index, decks = course
    assert config.PROJECT_ROOT / "results" not in index.parents
    assert index == cfg.profile_results_dir / "site" / "index.html"
    assert decks[0].parent == cfg.profile_results_dir / "slides"


def test_landing_page_has_the_course_map_and_the_results_from_the_records(course):
    _, _, index, _ = course
    page = index.read_text()
    for title, href in (("00 · Intro", "00_intro.html"), ("01 · A figure", "01_figure.html"),
                        ("02 · Skipped", "02_skip.html")):
        assert title in page and f'href="{href}"' in page
    assert "What it teaches." in page
    assert "cnn_small" in page and "60.0%" in page      # the record, through tables.results_html
    assert 'href="records/cnn_small.json"' in page and (index.parent / "records" / "cnn_small.json").is_file()
    assert 'href="instructor/01_figure.html"' in page
    assert "Published figures" in page and "Chollet" in page
    assert "no ImageNet weights here." in page           # the skip, said on the map


def _soup(path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(), "html.parser")


def test_every_lesson_page_says_profile_commit_and_hardware_and_links_its_neighbours(course):
    _, _, index, _ = course
    pages = {name: _soup(index.parent / f"{name}.html") for name in ("00_intro", "01_figure", "02_skip")}
    for name, page in pages.items():
        facts = page.select_one(".run-facts")
        assert facts.select_one(".profile").text == "smoke", name
        assert facts.select_one(".hardware").text == HARDWARE, name
        assert facts.select_one(".commit").text.strip(), name
    assert pages["00_intro"].select_one(".commit").text != "abc1234"   # 00 wrote no record
    assert pages["01_figure"].select_one(".commit").text != "abc1234"  # nor 01: cnn_small is 03's

    def link(page, rel):
        found = page.select_one(f'nav a[rel="{rel}"]')
        return found["href"] if found else None

    assert (link(pages["00_intro"], "prev"), link(pages["00_intro"], "next")) == (None, "01_figure.html")
    assert (link(pages["01_figure"], "prev"), link(pages["01_figure"], "next")) == ("00_intro.html", "02_skip.html")
    assert (link(pages["02_skip"], "prev"), link(pages["02_skip"], "next")) == ("01_figure.html", None)


def test_a_skipped_lesson_shows_its_message_not_a_traceback(course):
    page = (course[2].parent / "02_skip.html").read_text()
    assert "Lesson skipped." in page and "Set DOGSCATS_VGG16_WEIGHTS to the file." in page
    assert "Traceback" not in page


def test_solutions_are_folded_after_the_exercises(course):
    page = (course[2].parent / "01_figure.html").read_text()
    details = page.index('<details class="solutions">')
    assert page.index("Try this") < details < page.index("What we learned")
    assert details < page.index("trained 20 epochs") < page.index("</details>", details)
    assert _soup(course[2].parent / "01_figure.html").select_one("details.solutions summary").text.startswith("Solutions")
    assert "<details" not in (course[2].parent / "00_intro.html").read_text()


def test_pages_and_decks_load_nothing_from_the_network(course):
    _, _, index, decks = course
    remote = re.compile(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', re.I)
    for path in list(index.parent.glob("*.html")) + list(decks):
        assert not remote.search(path.read_text()), path.name
    assert (index.parent / site.MATHJAX).is_file()          # 00 has a formula
    assert (decks[0].parent / "reveal.js" / "dist" / "reveal.js").is_file()


def test_a_deck_shows_each_long_paragraphs_lead_and_keeps_it_whole_in_the_notes(course):
    deck = _soup(course[3][0])
    notes = " ".join(aside.get_text(" ") for aside in deck.select("aside.notes"))
    shown = " ".join(cell.get_text(" ") for cell in deck.select(".jp-MarkdownOutput") if not cell.find_parent("aside"))
    for i in range(12):
        assert f"Paragraph {i}:" in shown and f"Paragraph {i}:" in notes
    assert notes.count("words that explain the step") == 12 * 8
    assert deck.select(".moved-to-notes")

def test_building_logs_no_warning(course, caplog):
    cfg, sources, _, _ = course
    with caplog.at_level(logging.WARNING):
        site.build_site(cfg, source_dir=sources)
        slides.build_slides(cfg, source_dir=sources)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_no_executed_notebook_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DOGSCATS_RESULTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make course"):
        executed.lessons(config.get_profile("smoke"))


def _md(text, kind=None):
    cell = nbformat.v4.new_markdown_cell(text)
    if kind:
        cell.metadata["tags"] = [f"slide:{kind}"]
    return cell


def _laid(cells):
    notebook = nbformat.v4.new_notebook(cells=cells)
    slides_tags.apply(notebook)
    return slides.present(notebook)


def test_words_are_counted_as_a_reader_sees_them():
    assert prose.count_words("**Rotation** is `40/360` of a [turn](https://x.example/a/b) · ok") == 7
    assert prose.count_words("- one\n- two three\n\n## Heading") == 4
    kinds = [b.kind for b in prose.blocks("# T\n\nA paragraph\non two lines.\n\n- a\n- b\n\n| x |\n|---|\n\n"
                                          "> **Note** aside.\n\n```\ncode\n\nmore\n```\n\n> **On a CPU** slow.")]
    assert kinds == ["heading", "prose", "list", "table", "note", "code", "quote"]


def test_a_long_paragraph_keeps_whole_sentences_or_clauses_and_the_rest_goes_to_the_notes():
    text = "First sentence is short. " + "The second one goes on, " * 20 + "and ends."
    cut = prose.condense(prose.Block("prose", text), 20)
    assert cut.shown == "First sentence is short." and cut.notes == text
    assert cut.moved == prose.count_words(text) - 4
    one = prose.condense(prose.Block("prose", "Alpha beta gamma, " * 30 + "end."), 20)
    assert one.shown.endswith("gamma …") and prose.count_words(one.shown) <= 20
    code = prose.lead("Call `a very long inline code span that must stay whole` " + "word " * 30, 6)
    assert code.count("`") % 2 == 0
    items = prose.condense(prose.Block("list", "\n".join(f"- Item {i} says a thing. Then many more words follow to explain it well."
                                                       for i in range(6))), 40)
    assert items.shown.splitlines()[0] == "- Item 0 says a thing." and prose.count_words(items.shown) <= 40
    short = prose.condense(prose.Block("prose", "Short."), 20)
    assert (short.shown, short.notes, short.moved) == ("Short.", None, 0)


def test_notes_callouts_go_to_the_notes_and_what_follows_their_heading_is_presented():
    code = nbformat.v4.new_code_cell("fit()", outputs=[nbformat.v4.new_output("stream", name="stdout", text="ok\n")])
    laid = _laid([_md("# 06 · Lesson\n\nWhat it teaches."), code,
                  _md("> **Note** only the full profile predicts.\n\n## What we learned\n- Freezing keeps "
                      "the features.\n- Clipping caps the log loss.\n\n## Try this\n1. ★ Change the bound and "
                      "predict the effect first.")])
    headings = [s.shown("heading")[0].cell.source for s in laid if s.shown("heading")]
    assert headings == ["# 06 · Lesson", "## What we learned", "## Try this"]
    note = next(p for s in laid for p in s.pieces if "only the full profile" in p.cell.source)
    assert note.role == "notes" and note.cell.metadata.slideshow.slide_type == "notes"
    assert laid[0].shown("body"), "a title with one short sentence takes the next cell in"
    callout = _laid([_md("## Padding\n\n> **Note** the seed pads its borders.\n\nNow compare the two models "
                         "on the same photos, side by side."), code])
    shown = " ".join(p.cell.source for p in callout[0].shown())
    assert "Now compare the two models" in shown and "the seed pads" not in shown


def test_each_cell_gets_its_slide_with_the_prose_that_leads_into_it_and_tags_win():
    def code(text):
        return nbformat.v4.new_code_cell(text, outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")])

    laid = _laid([_md("## Section\n\nWhy the first step is needed, in a sentence of ten words."), code("a()"),
                  _md("Why the second step follows, in a sentence of about ten words."), code("b()"),
                  _md("## Forced together"), code("c()"), code("d()")])
    assert [len(s.shown("body")) for s in laid] == [1, 1, 1, 1]
    assert "second step" in laid[1].shown()[0].cell.source
    forced = _laid([_md("## S\n\nA sentence about the two cells below, long enough to stand."), code("a()"),
                    code("b()")])
    forced_tag = _laid([_md("## S\n\nA sentence about the two cells below, long enough to stand."), code("a()"),
                        nbformat.v4.new_code_cell("b()", metadata={"tags": ["slide:-"]})])
    assert (len(forced), len(forced_tag)) == (2, 1)
    assert all(s.words <= slides.SLIDE_WORDS for s in laid)


def test_figures_take_the_height_their_slide_leaves_and_long_logs_scroll():
    figure = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    log = nbformat.v4.new_output("stream", name="stdout", text="epoch\n" * 200)
    one = nbformat.v4.new_code_cell("charts.plot_history(h)", outputs=[figure])
    _laid([_md("## Curves\n\nThe loss falls while the network learns."), one])
    assert slides.FIGURE_MIN_PX * 2 <= one.outputs[0]["metadata"]["course_max_height"] <= slides.FIGURE_MAX_PX
    two = nbformat.v4.new_code_cell("two()", outputs=[copy.deepcopy(figure), copy.deepcopy(figure)])
    slides.fit_figures(two, 500)
    assert [o["metadata"]["course_max_height"] for o in two.outputs] == [250, 250]
    assert slides.shown_lines(nbformat.v4.new_code_cell("fit()", outputs=[log])) == 2 + slides.OUTPUT_CAP


def test_results_table_is_for_people_percent_with_interval_rounded_seconds_units_in_headers():
    assert tables.percent_interval(0.872, 0.850, 0.891) == "87.2% (85.0–89.1)"
    assert tables.percent_interval(0.5) == "50.0%" and tables.percent_interval(float("nan")) == "—"
    with pytest.raises(ValueError, match="fractions"):
        tables.percent_interval(87.2)
    assert (tables.whole(4.8), tables.whole(5406.4), tables.whole(None)) == ("5", "5,406", "—")
    record = {"model_id": "cnn_small", "test_accuracy": 0.75, "test_count": 1000, "train_seconds": 4.8,
              "image_size": [150, 150], "params": 82081, "test_log_loss": 0.5123, "images_per_second": 5406.4}
    row = tables.results_rows([record])[0]
    assert row["test accuracy (95% interval)"].startswith("75.0% (72.")
    assert (row["train time (s)"], row["image size (px)"], row["test log loss"]) == ("5", "150×150", "0.51")
    assert len(tables.COLUMNS) <= 8 and all("second" not in c or "(s)" in c for c in tables.COLUMNS)
    page = tables.results_html([record])
    assert 'href="records/cnn_small.json"' in page and "5406" not in page and "images per second" not in page


def test_instructor_pages_give_time_per_profile_claims_exercises_and_questions(course, tmp_path):
    cfg, sources, index, _ = course
    page = (index.parent / "instructor" / "01_figure.html").read_text()
    assert "Curves show when a network starts to memorise its photos." in page        # What we learned
    assert "Train for twice the epochs" in page                                       # Try this
    assert 'href="../01_figure.html"' in page
    reference = tmp_path / "reference" / "sample"
    reference.mkdir(parents=True)
    (reference / "run.json").write_text(json.dumps({"profile": "sample", "commit": "abc1234", "hardware": {
        "cpu": "Test CPU", "cpu_cores": 2, "gpus": []}, "notebooks": {"04_x": {"status": "ok", "seconds": 574.4}}}))
    assert instructor.times("04_x", tmp_path / "reference") == [
        {"profile": "sample", "time": "9 min 34 s", "where": "2 CPU cores (Test CPU), commit abc1234"}]
    assert instructor.times("05_y", tmp_path / "reference")[0]["time"] == "—"


def test_every_lesson_has_questions_with_answers_in_the_notes_file(tmp_path):
    asked = instructor.questions()
    lessons = [p.stem for p in slides_tags.lesson_notebooks() if p.parent.name == "notebooks"]
    assert lessons and all(len(asked.get(name, [])) >= 2 for name in lessons), "two questions per lesson at least"
    assert any("validation accuracy above training accuracy" in q["question"] for q in asked["02_mlp"])
    bad = tmp_path / "notes.toml"
    bad.write_text('[[03_cnn]]\nquestion = "Why?"\n')
    with pytest.raises(ValueError, match="lacks"):
        instructor.questions(bad)


# -- in a real browser --------------------------------------------------------------

def _browser_or_skip():
    missing = []
    if browser.chromium_path() is None:
        missing.append("chromium (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI must run the browser test; missing " + ", ".join(missing))
        pytest.skip("no " + ", ".join(missing))


@pytest.mark.slow
def test_site_and_slides_pass_in_headless_chromium(course, tmp_path):
    _browser_or_skip()
    _, _, index, decks = course
    shots = tmp_path / "screenshots"
    problems = browser.check(index.parent, decks[0].parent, shots)
    assert problems == []
    assert {"index.png", "00_intro.png", "01_figure.png", "02_skip.png"} <= {p.name for p in shots.glob("*.png")}
    assert list((shots / "slides").glob("00_intro.slides-*.png"))
    assert (shots / "instructor-01_figure.png").is_file()


@pytest.mark.slow
def test_the_browser_check_finds_broken_links_tracebacks_missing_figures_and_overflow(course, tmp_path):
    _browser_or_skip()
    _, _, index, decks = course
    broken = tmp_path / "site"
    broken.mkdir()
    for name in ("index.html", "01_figure.html"):   # two pages keep the test short
        (broken / name).write_text((index.parent / name).read_text())
    (broken / "site.css").write_text("")
    index_page = (broken / "index.html").read_text()
    (broken / "index.html").write_text(index_page.replace(
        "</main>", '<a href="gone.html">x</a><div style="width: 2000px">a wide table</div></main>'))
    lesson = (broken / "01_figure.html").read_text()
    lesson = re.sub(r'<img [^>]*src="data:image/png[^"]*"', '<img src="missing.png"', lesson)
    (broken / "01_figure.html").write_text(lesson.replace("</main>", "<pre>Traceback (most recent call last)</pre></main>"))
    deck_dir = tmp_path / "slides"
    deck_dir.mkdir()
    (deck_dir / "reveal.js").symlink_to(decks[0].parent / "reveal.js")
    tall = "".join(f"<p>line {i}</p>" for i in range(80))
    deck = decks[0].read_text().replace('<div class="slides">', f'<div class="slides"><section><h2>Tall</h2>{tall}</section>', 1)
    wordy = "<div class='jp-MarkdownOutput'><p>" + "word " * 80 + "<span class='moved-to-notes' data-words='40'></span></p></div>"
    thin = "<div class='jp-MarkdownOutput'><h2>Alone</h2><p>One line.</p></div>"
    deck = deck.replace('<div class="slides">', f'<div class="slides"><section>{wordy}<img src="gone.png"></section>'
                        f'<section>{thin}</section>', 1)
    (deck_dir / "99_tall.slides.html").write_text(deck)
    problems = browser.check(broken, deck_dir, tmp_path / "shots")
    text = "\n".join(problems)
    assert "index.html: link 'gone.html' points at a missing file" in text
    assert re.search(r"index.html: \d+ px wide, cut off at the right edge of a 1280 px window", text)
    assert "01_figure.html: shows a Python traceback" in text
    assert "01_figure.html: 1 broken image(s)" in text
    assert "01_figure.html: shows none of its figures" in text
    assert re.search(r"99_tall.slides.html: slide 3 \('Tall'\) is \d+×\d+, over 1280×720", text)
    assert "99_tall.slides.html: slide 1 ('') shows 80 words of prose, over 60" in text
    assert "99_tall.slides.html: slide 1 (''): 1 image(s) failed to load" in text
    assert "99_tall.slides.html: slide 1 (''): 40 words left the slide but its notes hold 0" in text
    assert "99_tall.slides.html: slide 2 ('Alone') is near-empty" in text
    assert len(list((tmp_path / "shots" / "slides").glob("99_tall.slides-*.png"))) >= 4   # every slide


def test_run_facts_take_the_lessons_own_records_and_say_when_the_notebook_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("DOGSCATS_RESULTS", str(tmp_path))
    cfg = config.get_profile("smoke")
    source = tmp_path / "03_cnn.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), source)
    record = {"model_id": "cnn_small", "commit": "abc1234",
              "hardware": {"cpu": "Test CPU", "cpu_cores": 4, "gpus": ["GPU:0"], "platform": "x"}}
    lesson = executed.Lesson("03_cnn", "03 · CNN", "", source, source, runner.OK)
    facts = executed.run_facts(lesson, nbformat.v4.new_notebook(), cfg, [record])
    assert facts["commit"] == "abc1234"
    assert facts["hardware"] == config.describe_hardware(record["hardware"])
    lesson.name, lesson.inputs = "00_setup", {"notebook": "an older hash", "utils": "x"}
    facts = executed.run_facts(lesson, nbformat.v4.new_notebook(), cfg, [record])
    assert facts["commit"].endswith("(changed since: run make course again)")
    assert facts["hardware"] == "unknown"


def test_published_pages_load_no_badge_image_and_drop_the_platform_cell():
    """The site must not fetch Colab/Kaggle badge images (no page needs the network)."""
    import nbformat

    from course.publish import executed

    badges = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://c.example/nb) "
              "[![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://k.example/nb)\n\n"
              "On Colab or Kaggle, run the next cell first.")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 09 · X", id="title"),
        nbformat.v4.new_markdown_cell(badges, id="platform-badges"),
        nbformat.v4.new_code_cell("import utils.config", id="platform-setup"),
        nbformat.v4.new_code_cell("1 + 1", id="lesson")])
    published = executed.for_publishing(notebook)
    assert [c.id for c in published.cells] == ["title", "platform-badges", "lesson"]
    text = published.cells[1].source
    assert "![" not in text and ".svg" not in text and "next cell" not in text
    assert "[Open in Colab](https://c.example/nb)" in text and "[Open in Kaggle](https://k.example/nb)" in text
    assert [c.id for c in notebook.cells][2] == "platform-setup", "the caller's notebook is not changed"


def test_site_and_slides_commands_report_a_missing_course_and_exit_2(tmp_path, monkeypatch, capsys):
    """``make site`` and ``make slides`` with nothing executed: the reason on stderr, status 2."""
    monkeypatch.setenv("DOGSCATS_RESULTS", str(tmp_path))
    for command in (site.main, slides.main):
        assert command(["--profile", "smoke", "--out", str(tmp_path / "out")]) == 2
        assert "make course" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
