"""Writing files so that an interrupted run never leaves half of one behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", **kwargs):
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to (re)write; its folder is created if needed.
    mode : {"w", "wb"}, default "w"
        Text or binary.
    **kwargs
        Passed to :func:`open` (``encoding``, ``newline``...).

    Yields
    ------
    file object
        Write to it; when the ``with`` block ends normally the file replaces
        ``path`` in one rename (readable by everyone, like any ordinary file).
        If the block raises, even ``KeyboardInterrupt``, the temporary file is
        deleted and ``path`` is left as it was.

    Raises
    ------
    ValueError
        If ``mode`` is not a write mode.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` atomically; return the path."""
    with atomic_open(path, "wb") as handle:
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)
    return Path(path)
