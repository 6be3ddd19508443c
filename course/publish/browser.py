"""The built site and decks, opened in headless Chromium: ``python -m course.publish.browser``.

What a person would check by clicking through, done by a browser
(Playwright driving Debian's ``chromium``, or ``DOGSCATS_CHROMIUM``):

- every page loads from ``file://`` and asks the network for nothing;
- every internal link (``href``) points at a file that exists (and an
  ``#anchor`` at an element of that page);
- every lesson page shows its figures (``<img>`` that decoded), and no image
  is broken;
- no page shows a Python traceback; a skipped lesson shows its skip message;
- no page is cut off at the right edge of a 1280 px window;
- on every slide of every deck (:func:`slide_problems`): nothing taller or wider
  than the 1280×720 it is laid out for, at most
  :data:`course.publish.slides.MAX_WORDS` words of prose, no slide with only a
  heading or a few words, no figure that failed to load, and the words cut from a
  slide present in its speaker notes.

It saves screenshots (the landing page, each lesson page's first screen, every
slide of every deck) for a person to look at, prints one line per deck (slides,
words per slide: median and maximum), and returns the problems found as a list
of sentences: empty means all is well.

Usage::

    python -m course.publish.browser [--profile smoke] [--site DIR] [--slides DIR] [--shots DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from utils import config, settings

#: Launch flags for a headless, quiet, offline Chromium.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

TRACEBACK = "Traceback (most recent call last)"


def chromium_path() -> str | None:
    """``DOGSCATS_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the PATH."""
    named = settings.read("DOGSCATS_CHROMIUM")
    return str(named) if named else shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """A headless Chromium with a fresh profile folder; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 720):
        self.size = {"width": width, "height": height}

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        executable = chromium_path()
        if executable is None:
            raise FileNotFoundError("no chromium: `apt-get install chromium`, or set DOGSCATS_CHROMIUM")
        self._profile = tempfile.TemporaryDirectory(prefix="dogscats-chromium-")
        self._playwright = sync_playwright().start()
        self.context = self._playwright.chromium.launch_persistent_context(
            self._profile.name, executable_path=executable, headless=True, args=FLAGS,
            viewport=self.size)
        self.network = []  # every request that left file://
        self.context.route(lambda url: not url.startswith(("file:", "data:", "about:", "blob:")),
                           self._refuse)
        return self

    def _refuse(self, route):
        self.network.append(route.request.url)
        route.abort()

    def open(self, path: Path):
        """A new tab showing ``path`` (``file://``), once it has loaded."""
        page = self.context.new_page()
        page.goto(Path(path).resolve().as_uri(), wait_until="load")
        return page

    def __exit__(self, *exc):
        self.context.close()
        self._playwright.stop()
        self._profile.cleanup()


def _internal_target(page_path: Path, href: str) -> tuple[Path, str] | None:
    """``(file, fragment)`` an internal link points at; None for external links."""
    parts = urlsplit(href)
    if parts.scheme and parts.scheme != "file" or href.startswith("//"):
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path)), parts.fragment
    target = (page_path.parent / unquote(parts.path)).resolve() if parts.path else page_path.resolve()
    return target, parts.fragment


def check_site(site_dir: Path, shots: Path, browser: Browser) -> list[str]:
    """Problems found on every page of the site in ``site_dir``; screenshots into ``shots``."""
    problems, site_dir = [], Path(site_dir)
    pages = sorted(site_dir.glob("*.html")) + sorted(site_dir.glob("instructor/*.html"))
    if not (site_dir / "index.html").is_file():
        return [f"no index.html in {site_dir}"]
    shots.mkdir(parents=True, exist_ok=True)
    for path in pages:
        page = browser.open(path)
        where = str(path.relative_to(site_dir))
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            target = _internal_target(path, href)
            if target is None:
                continue
            file, fragment = target
            if not file.is_file():
                problems.append(f"{where}: link {href!r} points at a missing file")
            elif fragment and file == path.resolve() and not page.evaluate(  # ids may keep %-escapes
                    "ids => ids.some(id => document.getElementById(id))", [fragment, unquote(fragment)]):
                problems.append(f"{where}: link {href!r} points at a missing anchor")
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        if wide > browser.size["width"]:
            problems.append(f"{where}: {wide} px wide, cut off at the right edge of a "
                            f"{browser.size['width']} px window")
        text = page.inner_text("body")
        if TRACEBACK in text:
            problems.append(f"{where}: shows a Python traceback")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
        broken = sum(1 for complete, width in images if not complete or width == 0)
        if broken:
            problems.append(f"{where}: {broken} broken image(s)")
        if path.name != "index.html" and path.parent == site_dir:
            marker = page.query_selector(".run-facts .status")
            status = (marker.get_attribute("class") or "") if marker else ""
            if "skipped" in status:
                if not page.query_selector(".lesson-skipped"):
                    problems.append(f"{where}: skipped, but shows no skip message")
            elif page.query_selector(".lesson-skipped") is None and page.eval_on_selector_all(
                    ".jp-OutputArea-output img", "els => els.filter(e => e.naturalWidth > 0).length") == 0 \
                    and _expects_figures(page):
                problems.append(f"{where}: shows none of its figures")
            for fact in ("profile", "commit", "hardware"):
                if not page.query_selector(f".run-facts .{fact}"):
                    problems.append(f"{where}: does not say its {fact}")
        name = path.stem if path.parent == site_dir else f"{path.parent.name}-{path.stem}"
        page.screenshot(path=str(shots / f"{name}.png"), full_page=path.name == "index.html")
        page.close()
    return problems


def _expects_figures(page) -> bool:
    """Whether a page's code draws figures (an image output is then expected)."""
    return bool(page.evaluate(
        "() => [...document.querySelectorAll('.jp-InputArea-editor')]"
        ".some(e => /(plots|charts)\\.(plot|show)_|plt\\.|imshow\\(/.test(e.innerText))"))


#: Run in a deck for the slide on screen: its size and what it shows, as the rules count them
#: (words as course.publish.prose.count_words counts them: tokens holding a letter or digit).
_MEASURE = """() => {
    const s = Reveal.getCurrentSlide();
    const words = text => text.split(/\\s+/).filter(w => /[\\p{L}\\p{N}]/u.test(w)).length;
    const shown = [...s.querySelectorAll('.jp-MarkdownOutput')].filter(e => !e.closest('aside'));
    let prose = 0;
    for (const cell of shown) {
        const copy = cell.cloneNode(true);
        copy.querySelectorAll('h1,h2,h3,h4,h5,h6,table,pre,mjx-container,.moved-to-notes,.anchor-link')
            .forEach(e => e.remove());
        prose += words(copy.textContent);
    }
    const outside = sel => [...s.querySelectorAll(sel)].filter(e => !e.closest('aside'));
    const images = outside('img');
    const moved = [...s.querySelectorAll('.moved-to-notes')]
        .reduce((sum, e) => sum + Number(e.dataset.words || 0), 0);
    const notes = [...s.querySelectorAll('aside.notes')].reduce((sum, e) => sum + words(e.textContent), 0);
    const heading = (s.querySelector('h1,h2,h3')?.textContent || '').replace('¶', '').trim();
    return {height: s.scrollHeight, width: s.scrollWidth, heading, prose,
            body: outside('.jp-CodeCell, table, pre, img').length > 0,
            broken: images.filter(e => !e.complete || e.naturalWidth === 0).length,
            moved, notes};
}"""


def slide_problems(deck: str, number: int, shown: dict, size: tuple[int, int]) -> list[str]:
    """What is wrong with one slide, measured by :data:`_MEASURE`, as sentences.

    Too tall or wide for ``size``; more than :data:`course.publish.slides.MAX_WORDS`
    words of prose; nothing but a heading or a few words (no cell, figure or table
    and under :data:`course.publish.slides.MIN_WORDS` words); a figure that did not
    load; words cut from the slide that its speaker notes do not hold.
    """
    from course.publish import slides

    where = f"{deck}: slide {number} ({shown['heading'][:40]!r})"
    problems = []
    if shown["height"] > size[1] or shown["width"] > size[0]:
        problems.append(f"{where} is {shown['width']}×{shown['height']}, over {size[0]}×{size[1]}")
    if shown["prose"] > slides.MAX_WORDS:
        problems.append(f"{where} shows {shown['prose']} words of prose, over {slides.MAX_WORDS}")
    if not shown["body"] and shown["prose"] < slides.MIN_WORDS:
        problems.append(f"{where} is near-empty: {shown['prose']} word(s) besides its heading, no cell or figure")
    if shown["broken"]:
        problems.append(f"{where}: {shown['broken']} image(s) failed to load")
    if shown["notes"] < shown["moved"]:
        problems.append(f"{where}: {shown['moved']} words left the slide but its notes hold {shown['notes']}")
    return problems


def check_deck(deck: Path, shots: Path, browser: Browser, summary: list | None = None) -> list[str]:
    """Problems on every slide of one reveal.js deck (:func:`slide_problems`), a failed start
    or a traceback; a screenshot of every slide goes to ``shots/<deck>-NN.png``.

    ``summary``, when given, receives ``{"deck", "slides", "median", "max"}`` (words per slide).
    """
    page = browser.open(deck)
    try:
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=15000)
    except Exception:
        page.close()
        return [f"{deck.name}: reveal.js did not start"]
    problems = []
    size = tuple(page.evaluate("() => [Reveal.getConfig().width, Reveal.getConfig().height]"))
    places = page.evaluate("() => Reveal.getSlides().map(s => { const at = Reveal.getIndices(s); "
                           "return [at.h, at.v || 0]; })")
    shots.mkdir(parents=True, exist_ok=True)
    words = []
    for number, (h, v) in enumerate(places, 1):
        page.evaluate("([h, v]) => Reveal.slide(h, v, 1e9)", [h, v])   # every fragment shown
        shown = page.evaluate(_MEASURE)
        words.append(shown["prose"])
        problems += slide_problems(deck.name, number, shown, size)
        page.screenshot(path=str(shots / f"{deck.stem}-{number:02d}.png"))
    if TRACEBACK in page.inner_text("body"):
        problems.append(f"{deck.name}: shows a Python traceback")
    page.close()
    if summary is not None and words:
        summary.append({"deck": deck.name, "slides": len(words), "median": statistics.median(words), "max": max(words)})
    return problems


def summary_line(entry: dict) -> str:
    """``04_x.slides.html: 38 slides, words per slide median 24, max 55``."""
    return (f"{entry['deck']}: {entry['slides']} slides, words per slide median {entry['median']:g}, "
            f"max {entry['max']}")


def check(site_dir: Path | None, slides_dir: Path | None, shots: Path, decks: int | None = None,
          summary: list | None = None) -> list[str]:
    """Check the site and every slide of the decks (all, or the first ``decks``); every problem,
    as sentences. ``summary`` receives one entry per deck checked (:func:`check_deck`)."""
    problems = []
    with Browser() as browser:
        if site_dir is not None:
            problems += check_site(site_dir, shots, browser)
        if slides_dir is not None:
            found = sorted(Path(slides_dir).glob("*.slides.html"))
            if not found:
                problems.append(f"no deck (*.slides.html) in {slides_dir}")
            for deck in found[:decks]:
                problems += check_deck(deck, shots / "slides", browser, summary)
        problems += [f"asked the network for {url}" for url in dict.fromkeys(browser.network)]
    return problems


def main(argv=None) -> int:
    """Command line of ``make site-check``: exit 1 and list the problems, if any."""
    parser = argparse.ArgumentParser(prog="python -m course.publish.browser", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=config.PROFILE_NAMES, help="default: DOGSCATS_PROFILE, else sample")
    parser.add_argument("--site", type=Path, help="default results/<profile>/site")
    parser.add_argument("--slides", type=Path, help="default results/<profile>/slides")
    parser.add_argument("--shots", type=Path, help="default <site>/screenshots")
    args = parser.parse_args(argv)
    cfg = config.get_profile(args.profile) if args.profile else config.current()
    site_dir = args.site or cfg.profile_results_dir / "site"
    slides_dir = args.slides or cfg.profile_results_dir / "slides"
    shots = args.shots or site_dir / "screenshots"
    summary: list[dict] = []
    problems = check(site_dir, slides_dir, shots, summary=summary)
    for entry in summary:
        print(summary_line(entry))
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s); screenshots in {shots}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
