"""Checking images and a prepared split: can a file enter it, and does anything leak?

:func:`check_image` decodes one file with :func:`utils.images.decode` (the one
decoder the course has) and says whether it may enter the split;
:func:`utils.data.prepare` calls :func:`check_images` on every raw file. After
preparation, :func:`file_hashes`, :func:`find_leaks` and :func:`count_images`
let a notebook verify the split on disk.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
from pathlib import Path

from utils import config, files, images
from utils.progress import bar as progress_bar

#: The labelled splits, in the order the course uses them.
SPLITS = config.SPLITS
#: A JPEG at least twice this size (width, height) is checked at a reduced scale
#: (its whole file is still decoded), so a 100-megapixel photo costs little memory.
CHECK_REDUCE_TO = (4096, 4096)


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
    paths = list(paths)
    workers = workers or min(8, (os.cpu_count() or 1) + 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(progress_bar(pool.map(check_image, paths, chunksize=32), total=len(paths),
                         desc="Checking images", unit="img", disable=not progress))


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


def split_fingerprint(hashes) -> str:
    """One SHA-256 for a whole split: which image content sits in which split and class.

    Parameters
    ----------
    hashes : pandas.DataFrame
        With columns ``split``, ``class`` and ``sha256`` (e.g. from :func:`file_hashes`).

    Returns
    -------
    str
        64 hex digits; the same on every machine for the same photos and seed,
        different as soon as one photo changes split or class. File names and
        row order do not enter it.
    """
    lines = sorted(f"{split}/{label}/{digest}" for split, label, digest
                   in zip(hashes["split"], hashes["class"], hashes["sha256"]))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


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

