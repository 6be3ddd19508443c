"""The README's table of ``DOGSCATS_*`` variables, generated from ``utils.settings.SETTINGS``.

Every variable is declared once, in :mod:`utils.settings`; the README shows that
declaration as a table and never types a variable's default or meaning by hand:

    python -m course.tools.settings_table readme            # rewrite the README's table
    python -m course.tools.settings_table readme --check    # exit 1 when the README disagrees
    python -m course.tools.settings_table print             # the table, to standard output

``readme`` replaces what stands between ``<!-- settings:variables -->`` and
``<!-- /settings:variables -->`` in README.md (the same markers rule as
:mod:`course.tools.reference`); ``tests/test_settings.py`` fails when they differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from course.tools import reference  # noqa: E402
from utils import settings  # noqa: E402

README = ROOT / "README.md"
#: The markers' prefix and section name: ``<!-- settings:variables -->``.
PREFIX, SECTION = "settings", "variables"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (no pipe, no line break)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _kind_text(setting: settings.Setting) -> str:
    if setting.kind == "choice":
        return "choice: " + ", ".join(f"`{choice}`" for choice in setting.choices)
    if setting.kind == "bool":
        return "bool: `0` or `1`"
    if setting.kind in ("int", "float") and setting.positive:
        return f"{setting.kind} > 0"
    return setting.kind


def _default_text(setting: settings.Setting) -> str:
    shown = setting.shown_default
    return shown if setting.default_text else f"`{shown}`"


def markdown_table(declared=settings.SETTINGS) -> str:
    """Markdown: one row per declared variable, in declaration order.

    Parameters
    ----------
    declared : sequence of utils.settings.Setting, default utils.settings.SETTINGS

    Returns
    -------
    str
        The table and a line on the ``changes results`` column, without a
        trailing newline.
    """
    lines = ["| variable | type | default | meaning | where it matters | changes results |",
             "|---|---|---|---|---|---|"]
    for setting in declared:
        lines.append("| " + " | ".join([
            f"`{setting.name}`", _cell(_kind_text(setting)), _cell(_default_text(setting)),
            _cell(setting.meaning), _cell(setting.where), "yes" if setting.changes_results else "",
        ]) + " |")
    lines += ["", "*changes results*: a notebook run under another value computes other numbers, so "
              "`make course` executes the notebooks again when it changes (their resume key holds it)."]
    return "\n".join(lines)


def render_readme(text: str, declared=settings.SETTINGS) -> str:
    """``text`` with its ``<!-- settings:variables -->`` block filled.

    Raises
    ------
    ValueError
        If the markers are missing from ``text``.
    """
    return reference.render_readme(text, {SECTION: markdown_table(declared)}, prefix=PREFIX)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    readme = sub.add_parser("readme", help="rewrite the README's table of variables")
    readme.add_argument("--check", action="store_true", help="only check; exit 1 when it differs")
    sub.add_parser("print", help="print the table")
    args = parser.parse_args(argv)
    if args.command == "print":
        print(markdown_table())
        return 0
    from course.tools.readme import update_readme

    return update_readme(README, render_readme, args.check, "python -m course.tools.settings_table readme",
                         "table of variables differs from utils/settings.py")


if __name__ == "__main__":
    sys.exit(main())
