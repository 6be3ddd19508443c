"""Publish the executed course: slide metadata, reveal.js decks and a static site.

Modules, one job each:

- :mod:`course.publish.slides_tags`: the rules that give every notebook cell its slide
  type (``python -m course.publish.slides_tags``; ``--check`` in the tests);
- :mod:`course.publish.executed`: what ``make course`` left in
  ``results/<profile>/notebooks/`` and what each page says about its run;
- :mod:`course.publish.vendor`: local copies of reveal.js and MathJax from the npm
  registry, so that nothing loads from a CDN;
- :mod:`course.publish.slides`: ``make slides``, one reveal.js deck per lesson;
- :mod:`course.publish.site`: ``make site``, the static website;
- :mod:`course.publish.command`: the command line both share (``--profile``, ``--out``);
- :mod:`course.publish.browser`: the headless-Chromium check of both.

It is part of :mod:`course`, outside :mod:`utils`: ``make course`` re-runs every
notebook when a file in ``utils/`` changes, and publishing changes nothing a
notebook computes.
"""
