"""Writing files so that an interrupted run never leaves half of one behind.

Also the test hook :func:`checkpoint`: the crash tests set ``DOGSCATS_KILL_AT``
to make a process kill itself (``SIGKILL``, no clean-up at all) at a named step,
so they can show that the next run recovers, without guessing at timings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path

#: Environment variable naming the step at which :func:`checkpoint` kills the process.
KILL_VARIABLE = "DOGSCATS_KILL_AT"

_calls: dict = {}
_calls_lock = threading.Lock()


def checkpoint(step: str) -> None:
    """Kill this process with ``SIGKILL`` here when ``DOGSCATS_KILL_AT`` names ``step``.

    A crash-test hook; it does nothing unless the variable is set.
    ``DOGSCATS_KILL_AT=step`` kills at the first call with that step name,
    ``DOGSCATS_KILL_AT=step@N`` at the N-th (counted in this process).

    Steps named in the code: ``extract`` (after each archive member),
    ``check-image`` (each image decoded), ``write-image`` (each image written
    into the new split), ``swap`` (between the two renames that put a new split
    in place), ``swap-done`` (before the old split is deleted), ``atomic-write``
    (an atomic file written but not yet renamed: records, models, notebooks).
    """
    wanted = os.environ.get(KILL_VARIABLE)
    if not wanted:
        return
    name, _, nth = wanted.partition("@")
    if name != step:
        return
    with _calls_lock:
        _calls[step] = _calls.get(step, 0) + 1
        count = _calls[step]
    if count == (int(nth) if nth else 1):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


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
        Write to it; when the ``with`` block ends normally the content is
        flushed to disk (``fsync``), the file replaces ``path`` in one rename
        (readable by everyone, like any ordinary file) and the folder is synced,
        so even a power cut leaves either the old or the new file. If the block
        raises, even ``KeyboardInterrupt``, the temporary file is deleted and
        ``path`` is left as it was; a process killed outright leaves at most a
        hidden ``.<name>.*.tmp`` beside it, never a half-written ``path``.

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
            handle.flush()
            os.fsync(handle.fileno())
        _move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _move_into_place(tmp, path: Path) -> None:
    """Rename the finished, synced temporary file ``tmp`` to ``path`` (readable by all)."""
    os.chmod(tmp, 0o644)  # mkstemp makes it private
    checkpoint("atomic-write")
    os.replace(tmp, path)


def atomic_write(path, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` atomically; return the path."""
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
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.keras")
    os.close(fd)
    try:
        model.save(tmp, overwrite=True)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        _move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


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


def best_model_checkpoint(path, monitor: str = "val_loss", mode: str = "min"):
    """A Keras callback that saves the best model so far with :func:`save_model` (atomically).

    The same choice as ``keras.callbacks.ModelCheckpoint(path, monitor, mode,
    save_best_only=True)``: after each epoch whose ``monitor`` improves on the
    best so far (strictly lower for ``mode="min"``, higher for ``"max"``), but
    a kill while saving leaves the previous best file, never half of one.

    Parameters
    ----------
    path : str or pathlib.Path
        ``<model_id>.keras``.
    monitor : str, default "val_loss"
        A key of the epoch's logs.
    mode : {"min", "max"}

    Returns
    -------
    keras.callbacks.Callback

    Raises
    ------
    ValueError
        If ``mode`` is neither ``"min"`` nor ``"max"``.
    """
    import math

    import keras

    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
    sign = 1.0 if mode == "min" else -1.0

    class AtomicBestModel(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best = math.inf

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is None or not math.isfinite(float(value)):
                return
            if sign * float(value) < self.best:
                self.best = sign * float(value)
                save_model(self.model, path)

    return AtomicBestModel()
