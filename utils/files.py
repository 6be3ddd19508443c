"""Writing files so that an interrupted run, or a full disk, never leaves half of one behind.

Every write goes to a hidden temporary file beside its target, is synced, then
renamed (:func:`atomic_open`, :func:`atomic_write`, :func:`save_model`); a
full disk (``ENOSPC``/``EDQUOT``) becomes :class:`~utils.errors.DiskFullError`
naming the folder and its free space (:mod:`utils.disk`).

:func:`checkpoint` marks the named steps where a crash matters; it does nothing
here. The crash tests (``tests/test_crash.py``) replace it in a child process
with one that kills that process at a chosen step.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from utils import disk


def checkpoint(step: str) -> None:
    """Mark a step where a kill must leave no damage; a no-op (the crash tests replace it).

    Steps named in the code: ``extract`` (after each archive member),
    ``check-image`` (each image decoded), ``write-image`` (each image written
    into the new split), ``swap`` (between the two renames that put a new split
    in place), ``swap-done`` (before the old split is deleted), ``atomic-write``
    (an atomic file written but not yet renamed: records, models, notebooks).
    Callers look it up as ``files.checkpoint`` so that a replacement is seen.
    """


def fsync_dir(folder) -> None:
    """Make a rename or a new file in ``folder`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """A temporary path beside ``path``, renamed to ``path`` only when the block succeeds.

    The one temporary-file/sync/rename sequence of :func:`atomic_open` and
    :func:`save_model`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to (re)write; its folder is created if needed.
    suffix : str, default ".tmp"
        End of the temporary name (``.tmp.keras`` for Keras, which checks it).

    Yields
    ------
    pathlib.Path
        An empty hidden file ``.<name>.*<suffix>`` to write. When the block ends
        normally it is synced to disk (``fsync``), made readable by everyone
        (like any ordinary file), renamed to ``path`` in one step and the folder
        is synced, so even a power cut leaves either the old or the new file.
        If the block raises, even ``KeyboardInterrupt``, the temporary file is
        deleted and ``path`` is left as it was; a process killed outright leaves
        at most the hidden temporary (:func:`remove_stale_temporaries`).

    Raises
    ------
    utils.errors.DiskFullError
        When the disk or quota is full (``ENOSPC``/``EDQUOT``), naming the folder
        and its free space; nothing of the new file is left.
    """
    path = Path(path)
    with disk.reporting_disk_full(path.parent, what=f"writing {path.name}"):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
        try:
            yield Path(tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private
            checkpoint("atomic-write")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)


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
        Write to it; see :func:`atomic_path` for what happens when the block
        ends, raises, or the process is killed.

    Raises
    ------
    ValueError
        If ``mode`` is not a write mode.
    utils.errors.DiskFullError
        When the disk is full; ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle


def atomic_write(path, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` atomically; return the path.

    Raises
    ------
    utils.errors.DiskFullError
        When the disk is full; ``path`` is left as it was.
    """
    with atomic_open(path, "wb") as handle:
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)
    return Path(path)


def save_model(model, path) -> Path:
    """``model.save(path)`` atomically: to a temporary ``.keras`` file beside it, then renamed.

    Parameters
    ----------
    model : keras.Model
    path : str or pathlib.Path
        Ends with ``.keras`` (Keras requires it).

    Returns
    -------
    pathlib.Path
        ``path``; a kill at any moment leaves the previous file or the new one.

    Raises
    ------
    utils.errors.DiskFullError
        When the disk is full; the previous file is left as it was.
    """
    with atomic_path(path, suffix=".tmp.keras") as tmp:
        model.save(tmp, overwrite=True)
    return Path(path)


def remove_stale_temporaries(folder, pattern: str = ".*.tmp*") -> int:
    """Delete temporary files a killed writer left in ``folder``; return how many.

    Only hidden names matching ``pattern`` (those :func:`atomic_open` and
    :func:`save_model` create) are touched.
    """
    removed = 0
    folder = Path(folder)
    if folder.is_dir():
        for stale in folder.glob(pattern):
            if stale.is_file():
                stale.unlink(missing_ok=True)
                removed += 1
    return removed


# -- folders: build aside, swap in with renames, recover after a kill ------------------

def swap_folder(build, final) -> None:
    """Put the complete folder ``build`` in place of ``final`` with renames only.

    The old ``final`` is renamed to ``.old-<name>-<pid>`` first and deleted
    only once ``build`` is in place, so a kill at any moment leaves a complete
    folder: ``final`` itself, or ``build``/the old one under their hidden
    names, which :func:`recover_folder` puts back. Call it with ``build`` named
    ``.tmp-<name>-*`` beside ``final`` and holding its completion marker.
    """
    import shutil

    build, final = Path(build), Path(final)
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.replace(final, old)
        checkpoint("swap")
    os.replace(build, final)
    fsync_dir(final.parent)
    checkpoint("swap-done")
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_folder(final, marker: str) -> str:
    """Repair what a run killed inside :func:`swap_folder` (or while building) left.

    Parameters
    ----------
    final : path
        The folder, e.g. ``data/dogscats``.
    marker : str
        A file a folder holds only once complete (e.g. ``prepare.json``).

    Returns
    -------
    str
        What was done: ``""`` (nothing to do), or a sentence naming the folder
        put back in place. Leftovers (incomplete builds, superseded old
        folders) are deleted; the last complete folder never is.
    """
    import shutil

    final = Path(final)
    parent = final.parent
    builds = [p for p in parent.glob(f".tmp-{final.name}-*") if p.is_dir()]
    olds = [p for p in parent.glob(f".old-{final.name}-*") if p.is_dir()]
    done = ""
    if not final.exists():
        complete = [p for p in builds + olds if (p / marker).is_file()]
        if complete:
            # a new build ready to go in is newer than any old folder
            complete.sort(key=lambda p: (p.name.startswith(".tmp-"), (p / marker).stat().st_mtime))
            chosen = complete[-1]
            os.replace(chosen, final)
            fsync_dir(parent)
            kind = "new" if chosen.name.startswith(".tmp-") else "previous"
            done = f"put the {kind} {final.name} back in place after an interrupted run ({chosen.name})"
    for leftover in builds + olds:
        if leftover.exists():
            shutil.rmtree(leftover, ignore_errors=True)
    return done
