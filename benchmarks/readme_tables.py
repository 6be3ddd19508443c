"""The ``--table``, ``--readme`` and ``--check`` options of every benchmark script whose README tables are generated.

A script that uses them defines ``COMMITTED`` (its JSON-lines file), ``README``
(``benchmarks/README.md``), ``read_rows(path)``, ``markdown(rows)`` and
``render_readme(text, path)``; :func:`run` looks them up on the module when it is
called, so a test may point ``README`` or ``COMMITTED`` elsewhere first.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_options(parser: argparse.ArgumentParser, committed: Path) -> None:
    """Add ``--table FILE``, ``--readme`` and ``--check`` to a script's parser (``committed``: its JSON-lines file)."""
    parser.add_argument("--table", type=Path, default=None, help="print this JSON-lines file as the README's tables")
    parser.add_argument("--readme", action="store_true",
                        help=f"write the tables of {Path(committed).name} into benchmarks/README.md")
    parser.add_argument("--check", action="store_true", help="with --readme: only check, exit 1 when stale")


def run(args: argparse.Namespace, module) -> int | None:
    """Do what ``--table`` or ``--readme`` asks and return the exit status; None when neither was given.

    ``--table FILE`` prints ``module.markdown`` of the file's rows; ``--readme`` rewrites
    ``module.README``'s blocks from ``module.COMMITTED`` (:func:`course.tools.readme.update_readme`),
    or with ``--check`` only compares: 1 when they are stale.
    """
    if args.table:
        print(module.markdown(module.read_rows(args.table)))
        return 0
    if args.readme:
        from course.tools.readme import update_readme

        name = Path(module.__file__).stem
        return update_readme(module.README, lambda text: module.render_readme(text, module.COMMITTED), args.check,
                             f".venv/bin/python benchmarks/{name}.py --readme",
                             f"{name}'s README tables differ from {module.COMMITTED.name}")
    return None
