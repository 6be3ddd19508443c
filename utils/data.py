"""From raw Kaggle photos to checked, split, batched images.

The data flow of the course (COURSE_DESIGN.md):

raw archive(s) → safe extraction → validation (every image decoded once; bad
ones quarantined with a reason) → deterministic split into
``data/dogscats/{train,valid,test}/{cats,dogs}/`` plus the ``sample/`` and
``smoke/`` subsets → ``tf.data`` batches.

:func:`prepare` does the first four steps; :func:`get_batches`,
:func:`load_arrays` and :func:`get_unlabelled` serve the notebooks. The raw
archive or folder the learner gives is only ever read: never modified, moved
or deleted (one seed tutorial's ``mv`` destroyed the learner's originals).
"""

from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from utils import config, files, images, sources

#: Version of the split rules; bump it to force every learner's split to be rebuilt.
SPLIT_VERSION = 1

#: Image formats accepted (after decoding with Pillow); others are quarantined.
ACCEPTED_FORMATS = images.ACCEPTED_FORMATS
#: A JPEG at least twice this size (width, height) is checked at a reduced scale
#: (its whole file is still decoded), so a 100-megapixel photo costs little memory.
CHECK_REDUCE_TO = (4096, 4096)
#: File in ``data/`` that serialises :func:`prepare` between processes.
PREPARE_LOCK = ".prepare.lock"
#: Most images of each class in the valid and in the test split of ``full``.
HELD_OUT_PER_CLASS = 500
SPLITS = ("train", "valid", "test")

from utils.sources import DataError, DataNotFoundError  # raised here too


class DataNotPreparedError(DataError):
    """A notebook needs the prepared split, which does not exist yet."""


# --------------------------------------------------------------------------- records
@dataclasses.dataclass
class ImageCheck:
    """What :func:`check_image` found out about one file."""

    ok: bool
    reason: str = ""
    sha256: str = ""
    format: str = ""
    mode: str = ""
    width: int = 0
    height: int = 0
    needs_conversion: bool = False


@dataclasses.dataclass
class PrepareReport:
    """What :func:`prepare` did.

    Attributes
    ----------
    dataset_dir : pathlib.Path
        ``data/dogscats``.
    source : str
        Where the raw images came from.
    counts : dict
        ``{profile: {split: {class: n}}}`` for ``full``, ``sample`` and ``smoke``;
        ``test1`` counts are under the class ``"unlabelled"``.
    quarantined : list of dict
        ``{"file", "origin", "reason"}`` of each file left out of the split.
    duplicates : list of list of str
        Groups of files with identical content (kept together in one split).
    converted : int
        Images re-encoded as RGB JPEG (grayscale, CMYK, RGBA, PNG..., or rotated by EXIF).
    seconds : float
        Wall-clock time of this call.
    reused : bool
        True when an existing split with the same settings was kept (a no-op).
    """

    dataset_dir: Path
    source: str
    counts: dict
    quarantined: list
    duplicates: list
    converted: int
    seconds: float = 0.0
    reused: bool = False

    def summary(self) -> str:
        """A few lines for a notebook or the terminal."""
        full = self.counts.get("full", {})
        lines = [
            f"{'Reused' if self.reused else 'Prepared'} {self.dataset_dir} from {self.source}"
            f" in {self.seconds:.1f} s",
        ]
        for profile, splits in self.counts.items():
            parts = [f"{split} {sum(classes.values()):,}" for split, classes in splits.items()]
            lines.append(f"  {profile:<6}: " + ", ".join(parts))
        lines.append(f"  quarantined: {len(self.quarantined)}, converted to RGB JPEG: "
                     f"{self.converted}, duplicate groups: {len(self.duplicates)}")
        del full
        return "\n".join(lines)


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


# --------------------------------------------------------------------------- validation
def check_image(path) -> ImageCheck:
    """Decode one file fully and say whether it can enter the split.

    Decoding is :func:`utils.images.decode`, the one decoder the course has
    (``predict_image`` uses it too).

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    ImageCheck
        ``ok=False`` with a ``reason`` for an empty file, a file that is not an
        image, an unsupported format (HEIC without ``pillow-heif`` says how to
        convert it), an image too large, or a truncated/corrupt image.
        Grayscale, CMYK, palette and RGBA images, non-JPEG formats (MPO
        included) and EXIF-rotated photos are accepted with
        ``needs_conversion=True`` (re-encoded as RGB JPEG). ``sha256`` is the
        hex digest of the file's bytes; ``width``/``height`` the file's own size.
    """
    path = Path(path)
    files.checkpoint("check-image")
    try:
        content = path.read_bytes()
    except OSError as error:
        return ImageCheck(False, f"unreadable file: {error}")
    if not content:
        return ImageCheck(False, "empty file (0 bytes)")
    digest = hashlib.sha256(content).hexdigest()
    try:
        decoded = images.decode(content, reduce_to=CHECK_REDUCE_TO)
    except images.ImageDecodeError as error:
        return ImageCheck(False, str(error), digest)
    return ImageCheck(True, "", digest, decoded.format, decoded.mode, decoded.width,
                      decoded.height, not decoded.plain)


def check_images(paths, progress: bool = True, workers: int | None = None) -> list[ImageCheck]:
    """:func:`check_image` on many files in parallel threads, with a progress bar."""
    from tqdm.auto import tqdm

    paths = list(paths)
    workers = workers or min(8, (os.cpu_count() or 1) + 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(check_image, paths, chunksize=32), total=len(paths),
                         desc="Checking images", unit="img", disable=not progress))


def _write_image(src: Path, check: ImageCheck, dest: Path) -> None:
    """Copy a JPEG as it is, or re-encode anything else as an upright RGB JPEG."""
    files.checkpoint("write-image")
    if not check.needs_conversion:
        shutil.copyfile(src, dest)
        return
    decoded = images.decode(Path(src).read_bytes(), reduce_to=CHECK_REDUCE_TO)
    images.save_jpeg(decoded.image, dest)


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


# --------------------------------------------------------------------------- split
def held_out_per_class(n_images: int) -> int:
    """Images of one class in each of valid and test: 10% of the class (rounded), at most 500.

    Raises
    ------
    DataError
        If a class has fewer than 3 images (one each for train, valid, test).
    """
    if n_images < 3:
        raise DataError(f"need at least 3 images of each class to split, found {n_images}")
    return max(1, min(HELD_OUT_PER_CLASS, round(n_images / 10)))


def assign_splits(hashes_by_class: dict, seed: int) -> dict:
    """Deterministically assign groups of identical images to train/valid/test.

    Parameters
    ----------
    hashes_by_class : dict of str to list of str
        For each class, the SHA-256 of each *distinct* image, in any order.
    seed : int

    Returns
    -------
    dict of str to dict of str to list of str
        ``{class: {"train": [...], "valid": [...], "test": [...]}}``: each hash in
        exactly one split, each list in a shuffled order that the profiles'
        subsets take their first images from.
    """
    result = {}
    for offset, label in enumerate(sorted(hashes_by_class)):
        ordered = sorted(hashes_by_class[label])
        rng = np.random.default_rng(seed + offset)
        shuffled = [ordered[i] for i in rng.permutation(len(ordered))]
        held = held_out_per_class(len(shuffled))
        result[label] = {
            "test": shuffled[:held],
            "valid": shuffled[held:2 * held],
            "train": shuffled[2 * held:],
        }
    return result


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
    every image once (:func:`check_image`), quarantining bad files with a reason
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

    scratch = Path(tempfile.mkdtemp(dir=cfg.data_dir, prefix=".tmp-raw-"))
    build = Path(tempfile.mkdtemp(dir=cfg.data_dir, prefix=".tmp-dogscats-"))
    try:
        items = sources.collect(paths, scratch, limits=limits)
        report = _build(items, build, cfg, progress)
        report.source = ", ".join(str(p) for p in paths)
        state["counts"] = report.counts
        state["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        state["source"] = report.source
        if hasattr(os, "sync"):
            os.sync()  # every image on disk before the split is declared complete
        files.atomic_write(build / "prepare.json", json.dumps(state, indent=2) + "\n")
        files.swap_folder(build, cfg.dataset_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(build, ignore_errors=True)
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


def _safe_quarantine_name(origin: str, used: set) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", origin).strip("._") or "file"
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{n}_{name}"
    used.add(candidate)
    return candidate


def _build(items: list[sources.Item], build: Path, cfg: config.Profile, progress: bool) -> PrepareReport:
    """Check, split and write every item into ``build`` (the future ``data/dogscats``)."""
    from tqdm.auto import tqdm

    checks = check_images([item.path for item in items], progress=progress)
    quarantine_dir = build / "quarantine"
    quarantine_dir.mkdir()
    quarantined, used_names = [], set()

    def to_quarantine(item: sources.Item, reason: str):
        name = _safe_quarantine_name(item.origin, used_names)
        shutil.copyfile(item.path, quarantine_dir / name)
        quarantined.append({"file": f"quarantine/{name}", "origin": item.origin, "reason": reason})

    labelled, unlabelled = [], []
    for item, check in zip(items, checks):
        if item.label is None:
            to_quarantine(item, "no label in the file name (expected cat.N.jpg or dog.N.jpg)")
        elif not check.ok:
            to_quarantine(item, check.reason)
        elif item.label == "test1":
            unlabelled.append((item, check))
        else:
            labelled.append((item, check))

    # identical content under both labels cannot be trusted either way
    labels_of_hash: dict[str, set] = {}
    for item, check in labelled:
        labels_of_hash.setdefault(check.sha256, set()).add(item.label)
    conflicting = {h for h, labels in labels_of_hash.items() if len(labels) > 1}
    kept = []
    for item, check in labelled:
        if check.sha256 in conflicting:
            to_quarantine(item, "the same image appears as both a cat and a dog")
        else:
            kept.append((item, check))

    groups: dict[str, list] = {}
    for item, check in kept:
        groups.setdefault(check.sha256, []).append((item, check))
    duplicates = [[item.origin for item, _ in members] for members in groups.values() if len(members) > 1]
    by_class: dict[str, list] = {}
    for digest, members in groups.items():
        by_class.setdefault(members[0][0].label, []).append(digest)
    for label in config.CLASS_NAMES:
        if len(by_class.get(label, [])) < 3:
            raise DataError(
                f"Only {len(by_class.get(label, []))} valid {label} images were found in the "
                f"source; at least 3 of each class are needed. Is this the Dogs vs. Cats data?")
    assignment = assign_splits(by_class, cfg.seed)

    subsets = {name: config.get_profile(name) for name in ("sample", "smoke")}
    manifest, used, converted = [], set(), 0
    counts = {"full": {}, "sample": {}, "smoke": {}}
    folders = [build / split / label for split in SPLITS for label in config.CLASS_NAMES]
    folders += [build / name / split / label for name in subsets
                for split in SPLITS for label in config.CLASS_NAMES]
    for folder in folders:
        folder.mkdir(parents=True)
    total = sum(len(m) for m in groups.values()) + len(unlabelled)
    bar = tqdm(total=total, desc="Writing split", unit="img", disable=not progress)
    for label in config.CLASS_NAMES:
        for split in SPLITS:
            limits = {name: getattr(p, f"{split}_per_class") for name, p in subsets.items()}
            for position, digest in enumerate(assignment[label][split]):
                for item, check in groups[digest]:
                    name = _unique(Path(item.name).stem + ".jpg", used)
                    dest = build / split / label / name
                    _write_image(item.path, check, dest)
                    converted += check.needs_conversion
                    member = {}
                    for subset, limit in limits.items():
                        inside = limit is None or position < limit
                        member[subset] = int(inside)
                        if inside:
                            _link_or_copy(dest, build / subset / split / label / name)
                            _count(counts[subset], split, label)
                    _count(counts["full"], split, label)
                    manifest.append({
                        "file": f"{split}/{label}/{name}", "source": item.origin, "class": label,
                        "split": split, "sha256": check.sha256, "width": check.width,
                        "height": check.height, "format": check.format,
                        "converted": int(check.needs_conversion), **member})
                    bar.update()
    unlabelled.sort(key=lambda pair: sources.natural_key(pair[0].name))
    for folder in [build / "test1"] + [build / name / "test1" for name in subsets]:
        folder.mkdir(parents=True)
    seen_ids = set()
    for position, (item, check) in enumerate(unlabelled):
        name = Path(item.name).stem + ".jpg"
        if name in seen_ids:
            to_quarantine(item, "duplicate test1 id")
            continue
        seen_ids.add(name)
        dest = build / "test1" / name
        _write_image(item.path, check, dest)
        converted += check.needs_conversion
        member = {}
        for subset, profile in subsets.items():
            inside = profile.test1_limit is None or len(seen_ids) <= profile.test1_limit
            member[subset] = int(inside)
            if inside:
                _link_or_copy(dest, build / subset / "test1" / name)
                _count(counts[subset], "test1", "unlabelled")
        _count(counts["full"], "test1", "unlabelled")
        manifest.append({"file": f"test1/{name}", "source": item.origin, "class": "",
                         "split": "test1", "sha256": check.sha256, "width": check.width,
                         "height": check.height, "format": check.format,
                         "converted": int(check.needs_conversion), **member})
        bar.update()
    bar.close()
    del position

    _write_csv(build / "manifest.csv", manifest,
               ["file", "source", "class", "split", "sha256", "width", "height", "format",
                "converted", "sample", "smoke"])
    _write_csv(build / "quarantine.csv", quarantined, ["file", "origin", "reason"])
    _write_csv(build / "duplicates.csv",
               [{"files": ";".join(group)} for group in duplicates], ["files"])
    return PrepareReport(cfg.dataset_dir, "", counts, quarantined, duplicates, converted)


def _unique(name: str, used: set) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        stem, ext = os.path.splitext(name)
        candidate = f"{stem}-{n}{ext}"
    used.add(candidate)
    return candidate


def _count(table: dict, split: str, label: str) -> None:
    table.setdefault(split, {}).setdefault(label, 0)
    table[split][label] += 1


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------------- checks
def file_hashes(folder) -> "pandas.DataFrame":
    """SHA-256 of every image file in a prepared split, read from disk.

    Parameters
    ----------
    folder : path
        A split folder such as ``cfg.split_dir`` (holding ``train/valid/test``).

    Returns
    -------
    pandas.DataFrame
        Columns ``file``, ``split``, ``class``, ``sha256``; one row per image of
        ``train``, ``valid`` and ``test``.
    """
    import pandas as pd

    folder = Path(folder)
    rows = []
    for split in SPLITS:
        for label in config.CLASS_NAMES:
            for path in sorted((folder / split / label).glob("*")):
                rows.append({"file": f"{split}/{label}/{path.name}", "split": split, "class": label,
                             "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    return pd.DataFrame(rows, columns=["file", "split", "class", "sha256"])


def find_leaks(hashes) -> "pandas.DataFrame":
    """Images whose content sits in more than one split.

    Parameters
    ----------
    hashes : pandas.DataFrame
        With columns ``split`` and ``sha256`` (e.g. from :func:`file_hashes` or the manifest).

    Returns
    -------
    pandas.DataFrame
        One row per leaking hash: ``sha256``, ``splits`` (sorted, joined by ``+``),
        ``files``; empty when the split is clean.
    """
    import pandas as pd

    labelled = hashes[hashes["split"].isin(SPLITS)]
    grouped = labelled.groupby("sha256")
    rows = []
    for digest, group in grouped:
        splits = sorted(set(group["split"]))
        if len(splits) > 1:
            rows.append({"sha256": digest, "splits": "+".join(splits),
                         "files": ";".join(group["file"]) if "file" in group else ""})
    return pd.DataFrame(rows, columns=["sha256", "splits", "files"])


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


def count_images(cfg: config.Profile | None = None) -> dict:
    """Images per split and class for ``cfg``'s profile, counted on disk.

    Returns
    -------
    dict
        ``{"train": {"cats": n, "dogs": n}, "valid": {...}, "test": {...}}``.
    """
    cfg = cfg or config.current()
    return {split: {label: sum(1 for _ in (cfg.split_dir / split / label).glob("*.jpg"))
                    for label in config.CLASS_NAMES} for split in SPLITS}


# --------------------------------------------------------------------------- loading
def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")


def _check_size(image_size) -> tuple:
    try:
        height, width = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (height, width), not {image_size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"image_size must be positive, not {image_size!r}")
    return height, width


def get_batches(split: str, image_size, batch_size: int | None = None, shuffle: bool | None = None,
                cfg: config.Profile | None = None, cache: bool = False):
    """Batches of one split of the prepared images, ready for ``model.fit``.

    Parameters
    ----------
    split : {"train", "valid", "test"}
    image_size : tuple of int
        ``(height, width)`` in pixels; images are resized bilinearly (aspect
        ratio not kept), as :func:`keras.utils.image_dataset_from_directory` does.
    batch_size : int, optional
        Default ``cfg.batch_size``.
    shuffle : bool, optional
        Default True for ``train`` only. Shuffled with ``cfg.seed``.
    cfg : utils.config.Profile, optional
        Default :func:`utils.config.current`.
    cache : bool, default False
        Keep decoded images in memory after the first epoch (n·h·w·3·4 bytes):
        much faster epochs where that fits; reshuffled every epoch.

    Returns
    -------
    tf.data.Dataset
        Yields ``(images, labels)``: images ``(batch, h, w, 3)`` float32 in [0, 255],
        labels ``(batch, 1)`` float32, 0 = cat, 1 = dog. Prefetched. Attributes
        ``class_names == ["cats", "dogs"]`` and ``file_paths`` (in unshuffled order).

    Raises
    ------
    ValueError
        Unknown split, bad image size or batch size.
    DataNotPreparedError
        If the split has not been prepared.
    """
    import keras
    import tensorflow as tf

    cfg = cfg or config.current()
    _check_split(split)
    image_size = _check_size(image_size)
    batch_size = cfg.batch_size if batch_size is None else batch_size
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    shuffle = (split == "train") if shuffle is None else bool(shuffle)
    require_prepared(cfg)
    folder = cfg.split_dir / split
    common = dict(labels="inferred", label_mode="binary", class_names=list(config.CLASS_NAMES),
                  color_mode="rgb", image_size=image_size, interpolation="bilinear",
                  seed=cfg.seed, verbose=False)
    if cache:
        dataset = keras.utils.image_dataset_from_directory(folder, batch_size=None, shuffle=False,
                                                           **common)
        paths = list(dataset.file_paths)
        dataset = dataset.cache()
        if shuffle:
            dataset = dataset.shuffle(len(paths), seed=cfg.seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size)
    else:
        dataset = keras.utils.image_dataset_from_directory(folder, batch_size=batch_size,
                                                           shuffle=shuffle, **common)
        paths = list(dataset.file_paths)
        if shuffle:  # report files in their sorted order, as for unshuffled data
            paths = sorted(paths, key=lambda p: (Path(p).parent.name, sources.natural_key(Path(p).name)))
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    dataset.class_names = list(config.CLASS_NAMES)
    dataset.file_paths = paths
    return dataset


def load_image(path, image_size) -> np.ndarray:
    """Read one image exactly as :func:`get_batches` does.

    Parameters
    ----------
    path : str or pathlib.Path
    image_size : tuple of int
        ``(height, width)`` in pixels.

    Returns
    -------
    numpy.ndarray, shape (height, width, 3), float32 in [0, 255]

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it cannot be decoded as an image, or ``image_size`` is invalid.
    """
    import tensorflow as tf

    image_size = _check_size(image_size)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}")
    try:
        image = tf.image.decode_image(tf.io.read_file(str(path)), channels=3,
                                      expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ValueError(f"{path} is not an image TensorFlow can decode: {error.message}") from None
    return tf.image.resize(image, image_size, method="bilinear").numpy().astype(np.float32)


def load_arrays(split: str, image_size, cfg: config.Profile | None = None):
    """A whole split in memory, for lessons that need arrays (e.g. the MLP).

    Cached on disk in ``data/cache/<profile>/`` as ``.npz``; the cache is
    rebuilt whenever the prepared split changes.

    Returns
    -------
    x : numpy.ndarray, shape (n, height, width, 3), float32 in [0, 255]
    y : numpy.ndarray, shape (n,), int32: 0 = cat, 1 = dog
        In the order of ``get_batches(split, image_size, shuffle=False).file_paths``.
    """
    cfg = cfg or config.current()
    _check_split(split)
    height, width = _check_size(image_size)
    require_prepared(cfg)
    stamp = int((cfg.dataset_dir / "prepare.json").stat().st_mtime_ns)
    cache = cfg.cache_dir / f"{split}_{height}x{width}_{stamp}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            return stored["x"], stored["y"]
    dataset = get_batches(split, (height, width), batch_size=256, shuffle=False, cfg=cfg)
    xs, ys = [], []
    for images, labels in dataset:
        xs.append(images.numpy())
        ys.append(labels.numpy().reshape(-1).astype(np.int32))
    x = np.concatenate(xs) if xs else np.zeros((0, height, width, 3), np.float32)
    y = np.concatenate(ys) if ys else np.zeros((0,), np.int32)
    for old in cfg.cache_dir.glob(f"{split}_{height}x{width}_*.npz"):
        old.unlink(missing_ok=True)
    with files.atomic_open(cache, "wb") as handle:
        np.savez(handle, x=x, y=y)
    return x, y


def get_unlabelled(image_size, batch_size: int | None = None, cfg: config.Profile | None = None):
    """Kaggle's unlabelled ``test1`` images, for a submission, with their ids.

    Returns
    -------
    dataset : tf.data.Dataset
        Yields images only, ``(batch, h, w, 3)`` float32 in [0, 255], in a fixed order.
    ids : numpy.ndarray, shape (n,), int64
        The Kaggle id (``N`` of ``N.jpg``) of each image, in the dataset's order.

    Raises
    ------
    DataNotPreparedError
        If the split has not been prepared.
    DataError
        If the profile has no ``test1`` images.
    """
    import keras
    import tensorflow as tf

    cfg = cfg or config.current()
    image_size = _check_size(image_size)
    require_prepared(cfg)
    folder = cfg.split_dir / "test1"
    if not folder.is_dir() or not any(folder.glob("*.jpg")):
        raise DataError(f"No unlabelled test1 images in {folder}: the source had no test1.zip.")
    dataset = keras.utils.image_dataset_from_directory(
        folder, labels=None, image_size=image_size, batch_size=batch_size or cfg.batch_size,
        shuffle=False, interpolation="bilinear", verbose=False)
    ids = np.array([int(Path(p).stem) for p in dataset.file_paths], dtype=np.int64)
    return dataset.prefetch(tf.data.AUTOTUNE), ids
