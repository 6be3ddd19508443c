"""Preparing the data: from raw Kaggle photos to checked, split folders.

The data flow of the course:

raw archive(s) → safe extraction (:mod:`utils.sources`) → validation, every
image decoded once (:mod:`utils.audit`; bad ones quarantined with a reason) →
deterministic split into ``data/dogscats/{train,valid,test}/{cats,dogs}/`` plus
the ``sample/`` and ``smoke/`` subsets (:mod:`utils.splitting`) → batches
(:mod:`utils.loading`).

:func:`prepare` runs the first three steps under a lock and swaps the result
into place; :func:`is_prepared`, :func:`require_prepared` and
:func:`read_manifest` tell the notebooks what is there. The raw archive or
folder the learner gives is only ever read: never modified, moved or deleted
(one seed tutorial's ``mv`` destroyed the learner's originals).
"""


from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from utils import config, disk, files, sources
from utils.sources import DataError, DataNotFoundError  # noqa: F401  (raised here too)
from utils.splitting import HELD_OUT_PER_CLASS, PrepareReport, build_split

#: Version of the split rules; bump it to force every learner's split to be rebuilt.
SPLIT_VERSION = 1
#: File in ``data/`` that serialises :func:`prepare` between processes.
PREPARE_LOCK = ".prepare.lock"
SPLITS = config.SPLITS


class DataNotPreparedError(DataError):
    """A notebook needs the prepared split, which does not exist yet."""


# --------------------------------------------------------------------------- records
# --------------------------------------------------------------------------- sources
def is_prepared(cfg: config.Profile | None = None) -> bool:
    """True if the split of ``cfg``'s profile exists (``prepare`` finished once)."""
    cfg = cfg or config.current()
    return (cfg.dataset_dir / "prepare.json").is_file() and (cfg.split_dir / "train").is_dir()


def check_available(cfg: config.Profile | None = None) -> None:
    """Make sure data can be had before a long run starts.

    Passes when the split is prepared, raw data is found (:func:`utils.sources.find_source`) or
    Kaggle credentials exist.

    Raises
    ------
    DataNotFoundError
        With :func:`utils.sources.how_to_get_data`'s instructions.
    """
    cfg = cfg or config.current()
    if is_prepared(cfg) or sources.find_source(cfg) or sources.kaggle_credentials_present():
        return
    raise DataNotFoundError(sources.how_to_get_data(cfg))


def require_prepared(cfg: config.Profile | None = None) -> None:
    """Stop a notebook early, with what to do, when the split is missing.

    Raises
    ------
    DataNotPreparedError
        If :func:`is_prepared` is False.
    """
    cfg = cfg or config.current()
    if not is_prepared(cfg):
        raise DataNotPreparedError(
            f"The prepared images of profile {cfg.name!r} are missing ({cfg.split_dir}).\n"
            "Run notebooks/01_data_preparation.ipynb first (or `make course`, which runs "
            "every notebook in order).")


def _fingerprint(paths) -> dict:
    """Cheap identity of the raw sources: sizes and times, not contents."""
    entries = []
    for path in paths:
        path = Path(path)
        if path.is_file():
            info = path.stat()
            entries.append([str(path.resolve()), info.st_size, int(info.st_mtime)])
        else:
            total, count, latest = 0, 0, 0
            for root, _dirs, names in os.walk(path):
                for name in names:
                    info = (Path(root) / name).stat()
                    total, count = total + info.st_size, count + 1
                    latest = max(latest, int(info.st_mtime))
            entries.append([str(path.resolve()), total, count, latest])
    return {"sources": entries}


def _settings(seed: int) -> dict:
    sizes = {}
    for name in ("sample", "smoke"):
        profile = config.get_profile(name)
        sizes[name] = [profile.train_per_class, profile.valid_per_class,
                       profile.test_per_class, profile.test1_limit]
    return {"split_version": SPLIT_VERSION, "seed": seed, "held_out": HELD_OUT_PER_CLASS,
            "subsets": sizes}


def _clean_stale(cfg: config.Profile) -> str:
    """After a killed run: put the last complete split back, delete the rest (under the lock)."""
    recovered = files.recover_folder(cfg.dataset_dir, "prepare.json")
    for stale in cfg.data_dir.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return recovered


def _prepare_lock(cfg: config.Profile, progress: bool):
    """An exclusive lock on ``data/`` for one :func:`prepare` at a time (waits for another)."""
    import filelock

    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(cfg.data_dir / PREPARE_LOCK)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        print(f"Another run is preparing the images in {cfg.data_dir}; waiting for it to finish...",
              flush=True)
        lock.acquire()
    return lock


def prepare(cfg: config.Profile | None = None, *, source=None, progress: bool = True,
            force: bool = False, limits: sources.ArchiveLimits | None = None) -> PrepareReport:
    """Turn raw photos into the checked, split folders every notebook reads.

    Steps: find the raw data (:func:`utils.sources.find_source`, else the Kaggle API when
    credentials exist); extract archives safely into a scratch folder; decode
    every image once (:func:`utils.audit.check_image`), quarantining bad files with a reason
    and re-encoding grayscale/CMYK/RGBA/non-JPEG images as RGB JPEG; group
    identical images by SHA-256 so a duplicate can never sit in two splits;
    split each class deterministically (sorted names + ``cfg.seed``); write
    ``data/dogscats/{train,valid,test}/{cats,dogs}``, ``test1/``, the subsets
    ``sample/`` and ``smoke/`` (hard links where possible), ``manifest.csv``,
    ``quarantine.csv`` + ``quarantine/``, ``duplicates.csv`` and ``prepare.json``.

    Everything is built in a temporary folder and renamed into place at the end
    (:func:`utils.files.swap_folder`), so a run killed at any moment leaves the
    last complete split, which the next run puts back if needed and reuses or
    rebuilds; it never deletes it first. Two processes preparing the same
    ``data/`` take turns (a file lock): the second waits, then reuses the split.
    With the same sources and settings, a second call is a no-op (``report.reused``).

    Parameters
    ----------
    cfg : utils.config.Profile, optional
        Default :func:`utils.config.current`. The split serves every profile.
    source : path or list of paths, optional
        Overrides :func:`utils.sources.find_source`.
    progress : bool, default True
        Show progress bars.
    force : bool, default False
        Rebuild even if nothing changed.
    limits : utils.archives.ArchiveLimits, optional
        Caps on extracting archives (size, members, ratio, nesting); default
        from the ``DOGSCATS_MAX_ARCHIVE_*`` variables, else generous defaults.

    Returns
    -------
    PrepareReport

    Raises
    ------
    DataNotFoundError
        No raw data anywhere (the message says how to get it).
    utils.sources.UnsafeArchiveError
        An archive member would escape the data folder, or an archive exceeds a limit.
    utils.errors.DamagedArchiveError
        An archive is cut short (no central directory) or fails its CRC: download it again.
    utils.errors.DiskFullError
        The sources cannot fit in ``cfg.data_dir`` (checked before extracting),
        or the disk filled up on the way; nothing half-written is kept.
    DataError
        An archive is unreadable or empty, or a class has fewer than 3 valid images.
    """
    start = time.perf_counter()
    cfg = cfg or config.current()
    lock = _prepare_lock(cfg, progress)
    try:
        recovered = _clean_stale(cfg)
        if recovered and progress:
            print(recovered.capitalize() + ".", flush=True)
        return _prepare_locked(cfg, source, progress, force, limits, start)
    finally:
        lock.release()


def _prepare_locked(cfg, source, progress, force, limits, start) -> PrepareReport:
    if source is None:
        paths = sources.find_source(cfg)
        if not paths:
            if is_prepared(cfg) and not force:
                return _reuse_report(cfg, start)
            paths = [sources.download_from_kaggle(cfg, progress=progress)]
    else:
        paths = [Path(p) for p in (source if isinstance(source, (list, tuple)) else [source])]
    paths = [Path(p).resolve() for p in paths]
    for path in paths:
        if not path.exists():
            raise DataNotFoundError(f"{path} does not exist.\n" + sources.how_to_get_data(cfg))

    state = {"fingerprint": _fingerprint(paths), "settings": _settings(cfg.seed)}
    state_file = cfg.dataset_dir / "prepare.json"
    if not force and state_file.is_file():
        try:
            previous = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous = {}
        if {k: previous.get(k) for k in state} == state:
            return _reuse_report(cfg, start)

    disk.check_space(paths, cfg.data_dir)  # before a single byte is extracted
    scratch = build = None
    try:
        with disk.reporting_disk_full(cfg.data_dir, what="preparing the photos", kind="data"):
            scratch = Path(tempfile.mkdtemp(dir=cfg.data_dir, prefix=".tmp-raw-"))
            build = Path(tempfile.mkdtemp(dir=cfg.data_dir, prefix=".tmp-dogscats-"))
            items = sources.collect(paths, scratch, limits=limits)
            report = build_split(items, build, cfg, progress)
            report.source = ", ".join(str(p) for p in paths)
            state["counts"] = report.counts
            state["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            state["source"] = report.source
            if hasattr(os, "sync"):
                os.sync()  # every image on disk before the split is declared complete
            files.atomic_write(build / "prepare.json", json.dumps(state, indent=2) + "\n")
            files.swap_folder(build, cfg.dataset_dir)
    finally:
        for folder in (scratch, build):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
    report.seconds = time.perf_counter() - start
    return report


def _reuse_report(cfg: config.Profile, start: float) -> PrepareReport:
    state = json.loads((cfg.dataset_dir / "prepare.json").read_text(encoding="utf-8"))
    quarantined = read_csv_rows(cfg.dataset_dir / "quarantine.csv")
    duplicates = [row["files"].split(";") for row in read_csv_rows(cfg.dataset_dir / "duplicates.csv")]
    converted = sum(row["converted"] == "1" for row in read_csv_rows(cfg.dataset_dir / "manifest.csv"))
    return PrepareReport(cfg.dataset_dir, state.get("source", "?"), state.get("counts", {}),
                         quarantined, duplicates, converted,
                         seconds=time.perf_counter() - start, reused=True)


def read_csv_rows(path) -> list[dict]:
    """Rows of a CSV file as dicts (empty list if the file is missing)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))



def read_manifest(cfg: config.Profile | None = None) -> "pandas.DataFrame":
    """The manifest of the prepared split (every image: file, class, split, SHA-256...).

    Raises
    ------
    DataNotPreparedError
        If the split has not been prepared.
    """
    import pandas as pd

    cfg = cfg or config.current()
    require_prepared(cfg)
    return pd.read_csv(cfg.dataset_dir / "manifest.csv", dtype={"class": str}, keep_default_na=False)
