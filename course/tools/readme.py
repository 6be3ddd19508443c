"""Rewrite, or check, the generated parts of ``README.md``: one rule for every generator."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable


def update_readme(readme: Path, render: Callable[[str], str], check: bool, command: str, what: str) -> int:
    """Replace ``readme``'s text by ``render(text)``, or with ``check`` only compare; return an exit status.

    Parameters
    ----------
    readme : pathlib.Path
        The README to rewrite.
    render : callable
        Takes the README's text, returns it with the generated parts regenerated.
    check : bool
        Write nothing; return 1 (and say which command fixes it) when the README is stale.
    command : str
        The command that regenerates it, e.g. ``"python -m course.tools.reference readme"``.
    what : str
        What is generated, for the message: ``"generated tables differ from reference/"``.

    Returns
    -------
    int
        0 when the README is (now) up to date, 1 when ``check`` found it stale.
    """
    from utils.files import atomic_write

    text = readme.read_text(encoding="utf-8")
    new = render(text)
    if check:
        if new != text:
            print(f"{readme.name}'s {what}: run `{command}`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        atomic_write(readme, new)
        print(f"{readme.name} updated")
    return 0
