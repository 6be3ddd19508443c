"""Writing the split: assign groups of identical photos to train/valid/test and write them.

:func:`build_split` is the heart of :func:`utils.data.prepare`: it takes the
checked raw items, quarantines what cannot be trusted, assigns each group of
identical images to one split (:func:`assign_splits`) and writes the folders,
the subsets and the CSV reports into a scratch folder that ``prepare`` then
swaps into place.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import shutil
from pathlib import Path

import numpy as np

from utils import audit, config, files, images, sources
from utils.progress import bar as progress_bar
from utils.sources import DataError

#: Most images of each class in the valid and in the test split of ``full``.
HELD_OUT_PER_CLASS = 500
SPLITS = config.SPLITS


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


def _write_image(src: Path, check: audit.ImageCheck, dest: Path) -> None:
    """Copy a JPEG as it is, or re-encode anything else as an upright RGB JPEG."""
    files.checkpoint("write-image")
    if not check.needs_conversion:
        shutil.copyfile(src, dest)
        return
    decoded = images.decode(Path(src).read_bytes(), reduce_to=audit.CHECK_REDUCE_TO)
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


def _safe_quarantine_name(origin: str, used: set) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", origin).strip("._") or "file"
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{n}_{name}"
    used.add(candidate)
    return candidate



class _Quarantine:
    """Files left out of the split: copied to ``quarantine/`` with a reason each."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir()
        self.rows: list[dict] = []
        self._used: set = set()

    def add(self, item: sources.Item, reason: str) -> None:
        name = _safe_quarantine_name(item.origin, self._used)
        shutil.copyfile(item.path, self.folder / name)
        self.rows.append({"file": f"quarantine/{name}", "origin": item.origin, "reason": reason})


class _SplitWriter:
    """Writes images into ``build`` and keeps the manifest, the counts and the conversions."""

    def __init__(self, build: Path, total: int, progress: bool):
        self.build = build
        self.subsets = {name: config.get_profile(name) for name in ("sample", "smoke")}
        self.manifest: list[dict] = []
        self.counts = {"full": {}, "sample": {}, "smoke": {}}
        self.converted = 0
        self.bar = progress_bar(total=total, desc="Writing split", unit="img", disable=not progress)

    def write(self, item, check, folder: str, name: str, label: str, inside: dict) -> None:
        """One image into ``folder/name``, linked into each subset whose ``inside`` is true."""
        dest = self.build / folder / name
        _write_image(item.path, check, dest)
        self.converted += check.needs_conversion
        split = folder.split("/")[0]
        for subset, chosen in inside.items():
            if chosen:
                _link_or_copy(dest, self.build / subset / folder / name)
                _count(self.counts[subset], split, label)
        _count(self.counts["full"], split, label)
        self.manifest.append({
            "file": f"{folder}/{name}", "source": item.origin,
            "class": "" if label == "unlabelled" else label, "split": split,
            "sha256": check.sha256, "width": check.width, "height": check.height,
            "format": check.format, "converted": int(check.needs_conversion),
            **{subset: int(chosen) for subset, chosen in inside.items()}})
        self.bar.update()


def build_split(items: list[sources.Item], build: Path, cfg: config.Profile, progress: bool) -> PrepareReport:
    """Check, split and write every item into ``build`` (the future ``data/dogscats``).

    Raises
    ------
    DataError
        If a class has fewer than 3 distinct valid images.
    """
    checks = audit.check_images([item.path for item in items], progress=progress)
    quarantine = _Quarantine(build / "quarantine")
    labelled, unlabelled = _sort_checked(items, checks, quarantine)
    groups = _group_identical(_drop_conflicting(labelled, quarantine))
    duplicates = [[item.origin for item, _ in members] for members in groups.values() if len(members) > 1]
    assignment = assign_splits(_hashes_by_class(groups), cfg.seed)

    writer = _SplitWriter(build, sum(len(m) for m in groups.values()) + len(unlabelled), progress)
    _make_folders(build, writer.subsets)
    _write_labelled(writer, assignment, groups)
    _write_unlabelled(writer, unlabelled, quarantine)
    writer.bar.close()
    _write_reports(build, writer.manifest, quarantine.rows, duplicates)
    return PrepareReport(cfg.dataset_dir, "", writer.counts, quarantine.rows, duplicates, writer.converted)


def _sort_checked(items, checks, quarantine: _Quarantine) -> tuple[list, list]:
    """Quarantine unlabelled-by-name and unreadable files; return (labelled, test1) pairs."""
    labelled, unlabelled = [], []
    for item, check in zip(items, checks):
        if item.label is None:
            quarantine.add(item, "no label in the file name (expected cat.N.jpg or dog.N.jpg)")
        elif not check.ok:
            quarantine.add(item, check.reason)
        elif item.label == "test1":
            unlabelled.append((item, check))
        else:
            labelled.append((item, check))
    return labelled, unlabelled


def _drop_conflicting(labelled: list, quarantine: _Quarantine) -> list:
    """Quarantine identical content under both labels: it cannot be trusted either way."""
    labels_of_hash: dict[str, set] = {}
    for item, check in labelled:
        labels_of_hash.setdefault(check.sha256, set()).add(item.label)
    conflicting = {h for h, labels in labels_of_hash.items() if len(labels) > 1}
    kept = []
    for item, check in labelled:
        if check.sha256 in conflicting:
            quarantine.add(item, "the same image appears as both a cat and a dog")
        else:
            kept.append((item, check))
    return kept


def _group_identical(kept: list) -> dict:
    """``{sha256: [(item, check), ...]}``: identical photos travel together."""
    groups: dict[str, list] = {}
    for item, check in kept:
        groups.setdefault(check.sha256, []).append((item, check))
    return groups


def _hashes_by_class(groups: dict) -> dict:
    """``{class: [sha256, ...]}``, refusing a class with fewer than 3 distinct images."""
    by_class: dict[str, list] = {}
    for digest, members in groups.items():
        by_class.setdefault(members[0][0].label, []).append(digest)
    for label in config.CLASS_NAMES:
        if len(by_class.get(label, [])) < 3:
            raise DataError(
                f"Only {len(by_class.get(label, []))} valid {label} images were found in the "
                f"source; at least 3 of each class are needed. Is this the Dogs vs. Cats data?")
    return by_class


def _make_folders(build: Path, subsets: dict) -> None:
    folders = [build / split / label for split in SPLITS for label in config.CLASS_NAMES]
    folders += [build / name / split / label for name in subsets
                for split in SPLITS for label in config.CLASS_NAMES]
    folders += [build / "test1"] + [build / name / "test1" for name in subsets]
    for folder in folders:
        folder.mkdir(parents=True)


def _write_labelled(writer: _SplitWriter, assignment: dict, groups: dict) -> None:
    """Each group into its split; a subset takes the first images of each shuffled list."""
    used: set = set()
    for label in config.CLASS_NAMES:
        for split in SPLITS:
            limits = {name: getattr(p, f"{split}_per_class") for name, p in writer.subsets.items()}
            for position, digest in enumerate(assignment[label][split]):
                inside = {subset: limit is None or position < limit for subset, limit in limits.items()}
                for item, check in groups[digest]:
                    name = _unique(Path(item.name).stem + ".jpg", used)
                    writer.write(item, check, f"{split}/{label}", name, label, inside)


def _write_unlabelled(writer: _SplitWriter, unlabelled: list, quarantine: _Quarantine) -> None:
    """Kaggle's test1 photos in id order; a repeated id is quarantined."""
    unlabelled.sort(key=lambda pair: sources.natural_key(pair[0].name))
    seen_ids: set = set()
    for item, check in unlabelled:
        name = Path(item.name).stem + ".jpg"
        if name in seen_ids:
            quarantine.add(item, "duplicate test1 id")
            continue
        seen_ids.add(name)
        inside = {subset: p.test1_limit is None or len(seen_ids) <= p.test1_limit
                  for subset, p in writer.subsets.items()}
        writer.write(item, check, "test1", name, "unlabelled", inside)


def _write_reports(build: Path, manifest: list, quarantined: list, duplicates: list) -> None:
    _write_csv(build / "manifest.csv", manifest,
               ["file", "source", "class", "split", "sha256", "width", "height", "format",
                "converted", "sample", "smoke"])
    _write_csv(build / "quarantine.csv", quarantined, ["file", "origin", "reason"])
    _write_csv(build / "duplicates.csv",
               [{"files": ";".join(group)} for group in duplicates], ["files"])


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


