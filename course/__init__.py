"""What runs the course around the notebooks: never imported by :mod:`utils`.

Subpackages, one job each:

- :mod:`course.run`: ``make course``, the headless runner (execute one notebook,
  resume keys and the lock, the progress line, the summary and ``index.html``);
- :mod:`course.publish`: ``make slides``, ``make site``, ``make site-check``;
- :mod:`course.tools`: maintainers' commands (reference tables, notebook
  headers, the ``#@save`` exporter).

The direction is one way: :mod:`course` imports :mod:`utils`, never the reverse
(``tests/test_repository.py`` checks it). Changing anything here re-runs no
notebook; changing anything in ``utils/`` re-runs them all.
"""
