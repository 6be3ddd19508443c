"""Reading ``pyproject.toml``: :mod:`tomllib` on Python 3.11+, ``tomli`` (the same parser) on 3.10.

``tomli`` is a declared dependency on Python 3.10 only (``pyproject.toml``:
``tomli; python_version < "3.11"``). :mod:`utils.cloud` reads the course's
requirements with it; ``course/tools/notebook_header.py`` its repository URL.
"""

from __future__ import annotations

import sys
from pathlib import Path

from utils import config

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib


def load(path=None) -> dict:
    """The parsed ``pyproject.toml`` (default: the project's own).

    Parameters
    ----------
    path : str or pathlib.Path, optional

    Returns
    -------
    dict
        Nested tables, as :func:`tomllib.loads` returns them.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    tomllib.TOMLDecodeError
        If the text is not TOML (a :class:`ValueError`).
    """
    text = Path(path or config.PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)
