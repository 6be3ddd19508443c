"""Reading ``pyproject.toml`` on every Python the course supports (3.10 included).

Python 3.11+ has :mod:`tomllib`; on 3.10 ``tomli`` (the same parser) is used when
installed; else :func:`parse_simple` reads the subset of TOML this project's
``pyproject.toml`` uses: ``[tables]``, ``key = "string"``, ``key = ["strings", ...]``
(over several lines, with comments), ``true``/``false`` and integers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from utils import config


def _toml_module():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            return None
    return tomllib


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
    ValueError
        If the text is not TOML (or, without tomllib/tomli, uses TOML this
        module does not read).
    """
    text = Path(path or config.PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    parser = _toml_module()
    return parser.loads(text) if parser is not None else parse_simple(text)


_TABLE = re.compile(r"^\[([A-Za-z0-9_.\-\"]+)\]\s*(#.*)?$")
_KEY = re.compile(r"^([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=\s*(.*)$")


def _strip_comment(line: str) -> str:
    """The line without a ``#`` comment outside strings."""
    quote, escaped = None, False
    for index, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index].rstrip()
    return line.rstrip()


def _value(text: str):
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if text.startswith(("'", '"', "[")):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            pass
    raise ValueError(f"cannot read this TOML value without tomllib: {text!r}")


def parse_simple(text: str) -> dict:
    """Parse the subset of TOML described in the module docstring.

    Raises
    ------
    ValueError
        On a line outside that subset.
    """
    root: dict = {}
    table = root
    pending_key, pending = None, []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if pending_key is not None:
            pending.append(line)
            if line.endswith("]") and "".join(pending).count("[") == "".join(pending).count("]"):
                table[pending_key] = _value(" ".join(pending))
                pending_key, pending = None, []
            continue
        if not line:
            continue
        match = _TABLE.match(line)
        if match:
            table = root
            for part in match.group(1).split("."):
                table = table.setdefault(part.strip('"'), {})
            continue
        match = _KEY.match(line)
        if not match:
            raise ValueError(f"line {number}: cannot read without tomllib: {raw!r}")
        key, value = match.group(1).strip('"'), match.group(2)
        if value.startswith("[") and value.count("[") != value.count("]"):
            pending_key, pending = key, [value]
        else:
            table[key] = _value(value)
    if pending_key is not None:
        raise ValueError(f"unterminated array for {pending_key!r}")
    return root
