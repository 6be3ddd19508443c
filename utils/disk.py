"""Disk space: what preparing the photos needs, what is free, and "disk full" said as such.

A full disk is never an archive's fault. Every write of the course goes
through :func:`reporting_disk_full`, which turns ``ENOSPC`` or ``EDQUOT`` into
one :class:`~utils.errors.DiskFullError` naming the folder, its free space and
what to do. :func:`check_space` adds up what :func:`utils.data.prepare` will
write (from the archives' central directories, nested archives included) and
refuses to start when it cannot fit. :func:`report_needs` shows a learner, in
00_setup, the space and time each profile takes, from the committed reference
runs (``reference/<profile>/``) and the archive or split on this machine.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import zipfile
from pathlib import Path

from utils import references as reference_runs
from utils.errors import DiskFullError

#: ``errno`` values that mean "no room left": the disk is full, or the user's quota is.
DISK_FULL_ERRNOS = frozenset(code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None))
                             if code is not None)
#: Added to the estimate of :func:`preparation_needs`: CSV reports, folder entries,
#: images re-encoded as JPEG a little larger than their originals.
MARGIN_BYTES = 20 * 10**6
#: Archives inside archives looked into by :func:`archive_sizes` (Kaggle's: 2).
MAX_DEPTH = 3
#: What to do when the disk is full, by what was being written.
ADVICE = {
    "data": "free space there, or set DOGSCATS_DATA to a larger disk",
    "results": "free space there (old results/<profile>/models), or set DOGSCATS_RESULTS "
               "to a larger disk",
    None: "free space there, or set DOGSCATS_DATA / DOGSCATS_RESULTS to a larger disk",
}


def format_size(n_bytes) -> str:
    """``1234567890`` → ``"1.2 GB"``, ``45_000_000`` → ``"45 MB"`` (decimal units); None → ``"?"``."""
    if n_bytes is None:
        return "?"
    if n_bytes >= 10**9:
        return f"{n_bytes / 10**9:.1f} GB"
    if n_bytes >= 10**6:
        return f"{n_bytes / 10**6:.0f} MB"
    return f"{n_bytes / 10**3:.0f} kB"


def free_bytes(folder) -> int | None:
    """Free bytes on the disk holding ``folder`` (or its nearest existing parent); None if unknown."""
    path = Path(folder).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def is_disk_full(error: BaseException) -> bool:
    """True for an :class:`OSError` whose ``errno`` is ``ENOSPC`` or ``EDQUOT``."""
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS


def disk_full_error(folder, error: OSError | None = None, *, what: str = "writing",
                    kind: str | None = None) -> DiskFullError:
    """The :class:`DiskFullError` for a write into ``folder`` that ran out of space.

    Parameters
    ----------
    folder : str or pathlib.Path
        Where the write was going; its free space is measured now.
    error : OSError, optional
        The original error (its ``errno`` is kept; default ``ENOSPC``).
    what : str
        What was being written, e.g. ``"extracting train.zip"``.
    kind : {"data", "results", None}
        Picks the advice (:data:`ADVICE`): which variable moves it to another disk.
    """
    folder = Path(folder)
    free = free_bytes(folder)
    code = error.errno if error is not None and error.errno else errno.ENOSPC
    cause = "quota exceeded" if code == getattr(errno, "EDQUOT", None) else "disk full"
    message = (f"{cause.capitalize()}: {what} in {folder} stopped, {format_size(free)} free "
               f"there. Nothing half-written was kept; {ADVICE.get(kind, ADVICE[None])}, "
               "then run again.")
    full = DiskFullError(code, message, folder, free)
    full.what = what
    return full


def _inside(path: Path, folder: Path) -> bool:
    path, folder = Path(path).absolute(), Path(folder).absolute()
    return path == folder or folder in path.parents


@contextlib.contextmanager
def reporting_disk_full(folder, what: str = "writing", kind: str | None = None):
    """Turn ``ENOSPC``/``EDQUOT`` raised inside the block into a :class:`DiskFullError`.

    A :class:`DiskFullError` raised deeper, for a folder inside ``folder``
    (e.g. a scratch folder of :func:`utils.data.prepare`), is said again for
    ``folder``, the one the learner knows, with the deeper step in brackets.
    Other errors, and the space check's error, pass unchanged.

    Raises
    ------
    DiskFullError
        From :func:`disk_full_error`, chained to the original :class:`OSError`.
    """
    try:
        yield
    except DiskFullError as error:
        inner = getattr(error, "what", None)
        if inner is None or error.needed_bytes is not None or Path(error.folder) == Path(folder) \
                or not _inside(error.folder, folder):
            raise
        raise disk_full_error(folder, error, what=f"{what} ({inner})", kind=kind) from error
    except OSError as error:
        if is_disk_full(error):
            raise disk_full_error(folder, error, what=what, kind=kind) from error
        raise


# --------------------------------------------------------------------------- what preparation needs
def archive_sizes(path, _depth: int = 1) -> tuple[int, int]:
    """Bytes that extracting ``path`` writes, and bytes of the files it finally yields.

    Read from central directories alone (no member is extracted); an archive
    inside an archive is opened in place, up to :data:`MAX_DEPTH`.

    Parameters
    ----------
    path : str or pathlib.Path
        A zip file, a folder (its files count as yielded, nothing is extracted),
        or anything else (counts as nothing).

    Returns
    -------
    (int, int)
        ``(extracted, yielded)``: every member of every archive, nested ones
        included; and the non-archive files among them (the photos, which the
        split then copies once more).
    """
    path = Path(path)
    if path.is_dir():
        extracted = yielded = 0
        for root, _dirs, names in os.walk(path):
            for name in names:
                inner = Path(root) / name
                if name.lower().endswith(".zip") and zipfile.is_zipfile(inner):
                    more = archive_sizes(inner, _depth)
                    extracted, yielded = extracted + more[0], yielded + more[1]
                else:
                    yielded += inner.stat().st_size
        return extracted, yielded
    try:
        with zipfile.ZipFile(path) as handle:
            return _zip_sizes(handle, _depth)
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0, 0


def _zip_sizes(handle: zipfile.ZipFile, depth: int) -> tuple[int, int]:
    extracted = yielded = 0
    for info in handle.infolist():
        if info.is_dir():
            continue
        extracted += info.file_size
        if info.filename.lower().endswith(".zip") and depth < MAX_DEPTH:
            try:
                with handle.open(info) as member, zipfile.ZipFile(member) as inner:
                    more = _zip_sizes(inner, depth + 1)
                extracted, yielded = extracted + more[0], yielded + more[1]
                continue
            except (zipfile.BadZipFile, OSError, ValueError, EOFError):
                pass
        yielded += info.file_size
    return extracted, yielded


def preparation_needs(paths) -> int:
    """Bytes :func:`utils.data.prepare` writes at its peak for these sources.

    The archives extracted into a scratch folder, plus the photos copied once
    into the new split (the ``sample``/``smoke`` subsets are hard links), plus
    :data:`MARGIN_BYTES`. An existing split is only replaced at the end, so
    its space is not counted as free.
    """
    total = MARGIN_BYTES
    for path in paths:
        extracted, yielded = archive_sizes(path)
        total += extracted + yielded
    return total


def check_space(paths, folder) -> int:
    """Stop before preparing when the sources cannot fit in ``folder``; return the bytes needed.

    Parameters
    ----------
    paths : list of pathlib.Path
        The raw sources (zips and/or folders), only read.
    folder : pathlib.Path
        The data folder the split is built in.

    Raises
    ------
    DiskFullError
        "needs about X GB in <folder>, Y GB free: free space or set DOGSCATS_DATA
        to a larger disk", before anything is written.
    """
    needed = preparation_needs(paths)
    free = free_bytes(folder)
    if free is not None and free < needed:
        names = ", ".join(Path(p).name for p in paths)
        raise DiskFullError(
            errno.ENOSPC,
            f"Preparing the photos of {names} needs about {format_size(needed)} in {folder}, "
            f"{format_size(free)} free: free space or set DOGSCATS_DATA to a larger disk. "
            "Nothing was written.", Path(folder), free, needed)
    return needed


def folder_bytes(folder) -> int:
    """Bytes the files under ``folder`` take, each hard-linked file counted once (0 if missing)."""
    seen, total = set(), 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            info = (Path(root) / name).stat()
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


# --------------------------------------------------------------------------- what each profile takes
def reference_needs(reference_dir) -> list[dict]:
    """Time and model sizes of each profile's committed reference run.

    Parameters
    ----------
    reference_dir : pathlib.Path
        ``reference/``, holding ``<profile>/run.json`` and ``<profile>/records/*.json``
        (written by ``python -m course.tools.reference save``).

    Returns
    -------
    list of dict
        One per profile found, in the order smoke, sample, full: ``profile``,
        ``seconds`` (the notebooks' run times added up), ``notebooks`` (how
        many ran), ``model_bytes`` (trained parameters × 4 bytes, float32),
        ``hardware`` (the run's ``hardware`` dict), ``commit``, ``partial`` (the
        run left out notebooks that another profile's reference run has).
    """
    references = {profile: reference_runs.load_reference_run(profile, reference_dir)
                  for profile in reference_runs.reference_profiles(reference_dir)}
    every_notebook = {name for reference in references.values() for name in reference["run"].get("notebooks", {})}
    rows = []
    for profile, reference in references.items():
        run, notebooks = reference["run"], reference["run"].get("notebooks", {})
        params = sum(int(record.get("params") or 0) for record in reference["records"])
        rows.append({"profile": profile,
                     "seconds": sum(entry.get("seconds") or 0 for entry in notebooks.values()),
                     "notebooks": len(notebooks), "model_bytes": 4 * params,
                     "hardware": run.get("hardware") or {}, "commit": run.get("commit", "?"),
                     "partial": not every_notebook <= set(notebooks)})
    return rows


def report_needs(cfg, raw_sources=(), reference_dir=None) -> None:
    """Print the disk space and time each profile takes, next to the free space here.

    Parameters
    ----------
    cfg : utils.config.Profile
        Its ``data_dir`` and ``results_dir`` are where the space is measured.
    raw_sources : list of pathlib.Path
        The raw archives/folders found (:func:`utils.sources.find_source`); the
        preparation need is measured from them, else from the prepared split.
    reference_dir : pathlib.Path, optional
        Default ``reference/`` of the project.
    """
    from utils import config

    reference_dir = Path(reference_dir or config.PROJECT_ROOT / "reference")
    if cfg.dataset_dir.is_dir():
        print(f"Prepared split : {format_size(folder_bytes(cfg.dataset_dir))} in {cfg.dataset_dir}")
    elif raw_sources:
        print(f"Preparing      : about {format_size(preparation_needs(raw_sources))} in "
              f"{cfg.data_dir} (the split serves every profile)")
    print(f"Free space     : {format_size(free_bytes(cfg.data_dir))} where the data goes "
          f"({cfg.data_dir}), {format_size(free_bytes(cfg.results_dir))} for results")
    print("Reference runs : time for the notebooks, trained weights (float32) under results")
    for row in reference_needs(reference_dir):
        hardware = row["hardware"]
        where = f"{hardware.get('cpu_cores', '?')} CPU cores" + (
            f", {len(hardware['gpus'])} GPU(s)" if hardware.get("gpus") else "")
        minutes = f"{row['seconds'] / 60:.0f} min" if row["seconds"] >= 120 else f"{row['seconds']:.0f} s"
        print(f"  {row['profile']:<6}: {minutes:>7} for {row['notebooks']} notebooks"
              f"{' (partial run)' if row['partial'] else ''}, models {format_size(row['model_bytes'])} "
              f"(reference run {row['commit']}, {where})")
