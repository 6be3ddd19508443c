"""Where the raw photos come from: finding, downloading and safely extracting them.

The first step of the data flow: the sources the course
accepts, in order: a path the learner gives (``DOGSCATS_ARCHIVE``), files already
under ``data/``, the Kaggle API when credentials exist. :func:`collect` turns any
of them into a list of labelled files for :func:`utils.data.prepare`. Sources
are only ever read: never modified, moved or deleted.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from utils import config, files

#: File extensions looked at as possible images.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
#: The Kaggle competition the course downloads from and submits to: the 2016 "Redux"
#: edition, scored by log loss (the 2013 ``dogs-vs-cats`` competition was scored by
#: accuracy). Its archive holds the same 25,000 labelled photos (``train.zip``) and
#: 12,500 unlabelled ones (``test.zip``); the 2013 archive (``dogs-vs-cats.zip``, with
#: ``train.zip`` and ``test1.zip``) is read just the same.
KAGGLE_COMPETITION = "dogs-vs-cats-redux-kernels-edition"
#: Where a learner accepts the competition's rules (needed once before any download).
KAGGLE_RULES_URL = f"https://www.kaggle.com/c/{KAGGLE_COMPETITION}/rules"
#: Zip files read as Kaggle's (either edition), and the unlabelled folders inside them.
KAGGLE_ZIPS = ("dogs-vs-cats.zip", f"{KAGGLE_COMPETITION}.zip", "train.zip", "test1.zip", "test.zip")
UNLABELLED_FOLDERS = ("test1", "test")
#: Microsoft's mirror of the same photos (``PetImages/Cat``, ``PetImages/Dog``).
MICROSOFT_URL = ("https://download.microsoft.com/download/3/E/1/"
                 "3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip")
_LABELLED_NAME = re.compile(r"^(cat|dog)s?[._-](\d+)\.([A-Za-z0-9]+)$", re.IGNORECASE)
_TEST1_NAME = re.compile(r"^(\d+)\.([A-Za-z0-9]+)$")
_CLASS_FOLDERS = {"cat": "cats", "cats": "cats", "dog": "dogs", "dogs": "dogs"}



# --------------------------------------------------------------------------- errors
# defined in utils.errors, importable from here as ever
from utils.errors import (DamagedArchiveError, DataError, DataNotFoundError,  # noqa: E402,F401
                          DiskFullError, UnsafeArchiveError)
from utils.archives import ArchiveLimits, Budget, damaged_archive, looks_like_zip, safe_extract  # noqa: E402


HOW_TO_GET_DATA = """\
No Dogs vs. Cats images were found. Get them in one of these ways, then run again:
  1. Kaggle API: accept the rules at {rules_url},
     put your token in ~/.kaggle/kaggle.json (Kaggle > Settings > API > Create New Token);
     the course then downloads {competition}.zip into data/downloads/ by itself.
  2. A file or folder you already have:
       DOGSCATS_ARCHIVE=/path/to/dogs-vs-cats.zip make course
     (also accepted: the Redux edition's zip, train.zip and/or test1.zip or test.zip, a folder holding them, an extracted
     folder of cat.N.jpg / dog.N.jpg, or Microsoft's PetImages with Cat/ and Dog/,
     zipped or not: {microsoft_url}).
  3. Copy dogs-vs-cats.zip (or train.zip and test1.zip) into {downloads}.
The archive is only read: it is never modified, moved or deleted."""


def how_to_get_data(cfg: config.Profile | None = None) -> str:
    """The instructions printed when no data is found."""
    cfg = cfg or config.current()
    return HOW_TO_GET_DATA.format(microsoft_url=MICROSOFT_URL, downloads=cfg.data_dir / "downloads",
                                  rules_url=KAGGLE_RULES_URL, competition=KAGGLE_COMPETITION)


@dataclasses.dataclass
class Item:
    """One raw file: where it is, the name it gets in the split, and its label.

    ``label`` is ``"cats"``, ``"dogs"``, ``"test1"`` (Kaggle's unlabelled set) or
    ``None`` (the name carries no label).
    """

    path: Path
    name: str
    label: str | None
    origin: str


# --------------------------------------------------------------------------- finding
def natural_key(name: str):
    """Sort ``cat.2.jpg`` before ``cat.10.jpg``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def kaggle_credentials_present() -> bool:
    """True if the Kaggle API could authenticate (token file or environment variables)."""
    env = os.environ
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        return True
    if env.get("KAGGLE_API_TOKEN"):
        return True
    folder = Path(env.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return (folder / "kaggle.json").is_file() or (folder / "access_token").is_file()


def _local_sources(cfg: config.Profile) -> list[Path]:
    """Raw data already under ``data/`` or ``data/downloads/``."""
    found = []
    for folder in (cfg.data_dir / "downloads", cfg.data_dir):
        if not folder.is_dir():
            continue
        for name in sorted(os.listdir(folder)):
            path = folder / name
            lower = name.lower()
            if path.is_file() and lower.endswith(".zip") and (
                    lower in KAGGLE_ZIPS
                    or lower.startswith("kagglecatsanddogs")):
                found.append(path)
            elif path.is_dir() and lower in ("train", "petimages", *UNLABELLED_FOLDERS):
                found.append(path)
    return found


def find_source(cfg: config.Profile | None = None) -> list[Path]:
    """Where the raw images are, without downloading anything.

    Order: ``DOGSCATS_ARCHIVE`` (``cfg.archive``); archives or
    folders already under ``data/downloads/`` or ``data/``.

    Returns
    -------
    list of pathlib.Path
        Files and/or folders; empty when nothing was found.

    Raises
    ------
    DataNotFoundError
        If ``DOGSCATS_ARCHIVE`` is set but points to nothing.
    """
    cfg = cfg or config.current()
    if cfg.archive is not None:
        if not cfg.archive.exists():
            raise DataNotFoundError(
                f"DOGSCATS_ARCHIVE points to {cfg.archive}, which does not exist.\n"
                "Set it to Kaggle's dogs-vs-cats.zip, train.zip, a folder holding them, "
                "or a PetImages folder.")
        return [cfg.archive]
    return _local_sources(cfg)


def download_from_kaggle(cfg: config.Profile | None = None, progress: bool = True) -> Path:
    """Download Kaggle's ``dogs-vs-cats.zip`` into ``data/downloads/`` (atomic).

    Needs Kaggle credentials and the competition's rules accepted once on the site.

    Returns
    -------
    pathlib.Path
        ``data/downloads/dogs-vs-cats.zip``.

    Raises
    ------
    DataNotFoundError
        No credentials, no network, or the rules not accepted; the message says which.
    """
    cfg = cfg or config.current()
    dest = cfg.data_dir / "downloads" / f"{KAGGLE_COMPETITION}.zip"
    if dest.is_file():
        return dest
    if not kaggle_credentials_present():
        raise DataNotFoundError(how_to_get_data(cfg))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".kaggle-"))
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        api.authenticate()
        api.competition_download_files(KAGGLE_COMPETITION, path=str(tmp), quiet=not progress)
        downloaded = sorted(tmp.glob("*.zip"))
        if not downloaded:
            raise DataError("the Kaggle download produced no zip file")
        os.replace(downloaded[0], dest)
    except Exception as error:  # the kaggle package raises many kinds
        raise DataNotFoundError(
            f"The Kaggle download failed: {error}\n"
            "If you are offline, download dogs-vs-cats.zip elsewhere and set DOGSCATS_ARCHIVE.\n"
            f"If Kaggle answered 403, accept the rules at {KAGGLE_RULES_URL} first.") from error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# --------------------------------------------------------------------------- extraction
def _classify(path: Path, relative: PurePosixPath, origin: str) -> Item | None:
    """Label one raw file from its folder (PetImages) or name (Kaggle)."""
    name = path.name
    parents = [part.lower() for part in relative.parts[:-1]]
    ext = path.suffix.lower()
    if name.startswith(".") or name.lower() in ("thumbs.db", "desktop.ini"):
        if parents and parents[-1] in _CLASS_FOLDERS:
            # PetImages ships Thumbs.db inside Cat/ and Dog/: reported, not lost
            return Item(path, name, None, origin)
        return None
    if parents and parents[-1] in _CLASS_FOLDERS and "dogscats" not in parents:
        label = _CLASS_FOLDERS[parents[-1]]
        return Item(path, f"{label[:-1]}.{path.stem}{ext or '.jpg'}", label, origin)
    match = _LABELLED_NAME.match(name)
    if match:
        label = _CLASS_FOLDERS[match.group(1).lower()]
        return Item(path, f"{label[:-1]}.{int(match.group(2))}.{match.group(3).lower()}", label, origin)
    if parents and parents[-1] in UNLABELLED_FOLDERS and _TEST1_NAME.match(name):
        return Item(path, f"{int(_TEST1_NAME.match(name).group(1))}{ext}", "test1", origin)
    if ext in IMAGE_EXTENSIONS:
        return Item(path, name, None, origin)
    return None


def collect(paths, workdir, *, limits: ArchiveLimits | None = None) -> list[Item]:
    """Every raw file under ``paths``, labelled, with nested archives extracted to ``workdir``.

    Parameters
    ----------
    paths : list of pathlib.Path
        Zip files (Kaggle's ``dogs-vs-cats.zip`` holding ``train.zip`` and
        ``test1.zip``, a bare ``train.zip``/``test1.zip``, Microsoft's
        ``kagglecatsanddogs_*.zip``) and/or folders (holding such zips, an
        extracted ``train/`` of ``cat.N.jpg``/``dog.N.jpg``, ``test1/`` of ``N.jpg``,
        or ``PetImages/Cat`` and ``PetImages/Dog``). Only read.
    workdir : pathlib.Path
        A scratch folder of ours for extracted archives.
    limits : utils.archives.ArchiveLimits, optional
        Caps on what all archives together may extract (nested ones included);
        default :meth:`~utils.archives.ArchiveLimits.from_env`.

    Returns
    -------
    list of Item
        Sorted by name; labels ``"cats"``, ``"dogs"``, ``"test1"`` or ``None``.

    Raises
    ------
    UnsafeArchiveError
        From :func:`utils.archives.safe_extract` (a hostile name or an exceeded
        limit), or archives nested deeper than ``limits.max_depth``.
    DamagedArchiveError
        A zip cut short (no central directory) or failing its CRC: download it again.
    DiskFullError
        The disk holding ``workdir`` filled up while extracting.
    DataError
        A file that is no zip archive at all, or from :func:`utils.archives.safe_extract`.
    """
    workdir = Path(workdir)
    items: list[Item] = []
    counter = 0
    budget = Budget(limits)

    def visit(path: Path, origin_prefix: str, depth: int = 0):
        nonlocal counter
        if path.is_file():
            if not zipfile.is_zipfile(path):
                if looks_like_zip(path):
                    raise damaged_archive(path, "its central directory is missing")
                raise DataError(
                    f"{path} is not a zip archive or a folder. Give DOGSCATS_ARCHIVE a zip file "
                    "(dogs-vs-cats.zip, train.zip, test1.zip, kagglecatsanddogs_*.zip) or a folder.")
            if depth + 1 > budget.limits.max_depth:
                raise budget.refuse(path, f"it is an archive nested {depth + 1} deep "
                                    f"({origin_prefix}{path.name})", "max_depth",
                                    budget.limits.max_depth)
            counter += 1
            target = workdir / f"{counter:02d}-{path.stem}"
            safe_extract(path, target, budget=budget)
            visit_folder(target, f"{origin_prefix}{path.name}:", depth + 1)
        elif path.is_dir():
            visit_folder(path, origin_prefix, depth)
        else:
            raise DataNotFoundError(f"{path} does not exist.")

    def visit_folder(folder: Path, origin_prefix: str, depth: int):
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in ("__MACOSX",) and not d.startswith("."))
            if Path(root).name == "dogscats" and "prepare.json" in names:
                dirs[:] = []  # our own prepared split, never a source
                continue
            for name in sorted(names):
                path = Path(root) / name
                relative = PurePosixPath(path.relative_to(folder).as_posix())
                if name.lower().endswith(".zip") and (zipfile.is_zipfile(path) or looks_like_zip(path)):
                    parent = "" if str(relative.parent) == "." else f"{relative.parent}/"
                    visit(path, f"{origin_prefix}{parent}", depth)
                    continue
                item = _classify(path, relative, f"{origin_prefix}{relative}")
                if item is not None:
                    items.append(item)

    for path in paths:
        visit(Path(path), "")
    return sorted(items, key=lambda item: (natural_key(item.name), item.origin))
