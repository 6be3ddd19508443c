"""Extracting zip archives without trusting them: names, sizes, ratios, nesting.

The raw photos arrive as zip files a learner downloaded from somewhere. Before
a single byte is written, :func:`safe_extract` reads the archive's central
directory and refuses it (:class:`~utils.errors.UnsafeArchiveError`) when

- a member would land outside the destination: an absolute path (``/x``,
  ``\\\\server\\x``), a drive letter (``C:x``), a ``..`` component (with ``/`` or
  ``\\``), a symbolic link, or a file whose name is also a folder's name once
  case is ignored;
- the archive exceeds one of the :class:`ArchiveLimits`: uncompressed bytes,
  member count, compression ratio (a "zip bomb" of zeros expands a thousand
  times), or the depth of archives inside archives.

The limits are checked again while streaming, since a header can lie about a
member's size. Two members whose names differ only in case (``Cat/1.jpg`` and
``cat/1.jpg``), which would overwrite each other on a case-insensitive file
system (Windows, macOS), are both kept: the later one is extracted under a
separate folder ``case-N/`` with its path otherwise unchanged.

Defaults are generous for the real data: Kaggle's ``dogs-vs-cats.zip``
(about 0.85 GB holding ``train.zip`` and ``test1.zip``, 37,500 JPEGs in all,
nesting depth 2) and Microsoft's ``kagglecatsanddogs_5340.zip`` (about 0.8 GB,
25,000 JPEGs). Override them with environment variables (see
:meth:`ArchiveLimits.from_env`) or by passing ``limits=`` to
:func:`safe_extract`, :func:`utils.sources.collect` or :func:`utils.data.prepare`.
"""

from __future__ import annotations

import dataclasses
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from utils import disk, files, settings
from utils.errors import DamagedArchiveError, DataError, UnsafeArchiveError

#: Environment variable of each limit (field of :class:`ArchiveLimits`).
LIMIT_VARIABLES = {
    "max_bytes": "DOGSCATS_MAX_ARCHIVE_BYTES",
    "max_members": "DOGSCATS_MAX_ARCHIVE_MEMBERS",
    "max_ratio": "DOGSCATS_MAX_COMPRESSION_RATIO",
    "max_depth": "DOGSCATS_MAX_ARCHIVE_DEPTH",
}

#: A member smaller than this (uncompressed) is never refused for its ratio:
#: small text files legitimately compress 100 times.
RATIO_FLOOR_BYTES = 1 << 20

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclasses.dataclass(frozen=True)
class ArchiveLimits:
    """How much one call of :func:`utils.sources.collect` may extract.

    Attributes
    ----------
    max_bytes : int, default 20 GB
        Uncompressed bytes of all archives together, nested ones included
        (Kaggle's data: about 1.7 GB with its inner zips; PetImages: 0.8 GB).
    max_members : int, default 200,000
        Files of all archives together (Kaggle: 37,505; PetImages: 25,002).
    max_ratio : float, default 100
        Largest uncompressed/compressed ratio of one member of 1 MB or more,
        and of a whole archive (uncompressed bytes / archive file size).
        JPEGs barely compress (ratio about 1); a zip bomb of zeros reaches 1,000.
    max_depth : int, default 3
        Archives inside archives: 1 = the archive given, 2 = a zip inside it
        (Kaggle's ``train.zip`` inside ``dogs-vs-cats.zip``).
    """

    # the defaults are declared once, with their variables, in utils.settings
    max_bytes: int = settings.declared(LIMIT_VARIABLES["max_bytes"]).default
    max_members: int = settings.declared(LIMIT_VARIABLES["max_members"]).default
    max_ratio: float = settings.declared(LIMIT_VARIABLES["max_ratio"]).default
    max_depth: int = settings.declared(LIMIT_VARIABLES["max_depth"]).default

    @classmethod
    def from_env(cls, environ=None) -> "ArchiveLimits":
        """The defaults, each overridden by its variable in :data:`LIMIT_VARIABLES` when set.

        Raises
        ------
        ValueError
            If a variable is not a positive number (``2e10`` is accepted for bytes).
        """
        return cls(**{field: settings.read(variable, environ) for field, variable in LIMIT_VARIABLES.items()})


class Budget:
    """What is left of the :class:`ArchiveLimits` while archives are extracted.

    One budget is shared by an archive and every archive nested in it, so a
    zip of a hundred zips cannot multiply the limits.
    """

    def __init__(self, limits: ArchiveLimits | None = None):
        self.limits = limits or ArchiveLimits.from_env()
        self.bytes = 0
        self.members = 0

    def refuse(self, archive, what: str, field: str, value) -> UnsafeArchiveError:
        """The error for an exceeded limit: which one, and how to raise it."""
        variable = LIMIT_VARIABLES[field]
        return UnsafeArchiveError(
            f"{archive} was not extracted: {what}, more than the limit of {value:,} "
            f"({field}). Nothing of it was written. If you trust this archive, raise the "
            f"limit: {variable}=<number> make course, or pass "
            f"limits=ArchiveLimits({field}=...) (utils.archives).")


def member_is_unsafe(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member must not be extracted (a few words), or None if it is safe."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE.match(name):
        return "drive letter"
    if ".." in PurePosixPath(name).parts:
        return "'..' in path"
    if "\x00" in name:
        return "NUL byte in name"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return None


def _check_names(archive: Path, members: list) -> dict:
    """Refuse escaping names; give a clash-free relative path to every member.

    Returns
    -------
    dict of zipfile.ZipInfo to pathlib.PurePosixPath
        Where each member goes, relative to the destination.
    """
    bad = [(info.filename, why) for info in members if (why := member_is_unsafe(info))]
    refused = {name for name, _ in bad}
    targets, seen = {}, {}
    folders = set()
    for info in members:
        if info.filename in refused:
            continue
        relative = PurePosixPath(*[p for p in info.filename.replace("\\", "/").split("/")
                                   if p not in ("", ".")])
        if not relative.parts:
            bad.append((info.filename, "empty name"))
            continue
        folded = str(relative).casefold()
        n = seen.get(folded, 0) + 1
        seen[folded] = n
        targets[info] = relative if n == 1 else PurePosixPath(f"case-{n}", relative)
        folders.update(str(parent).casefold() for parent in relative.parents if str(parent) != ".")
    clashing = [info.filename for info, rel in targets.items()
                if rel.parts[0][:5] != "case-" and str(rel).casefold() in folders]
    bad += [(name, "a file and a folder share this name") for name in clashing]
    if bad:
        listed = "; ".join(f"{name!r} ({why})" for name, why in bad[:5])
        raise UnsafeArchiveError(
            f"{archive} holds {len(bad)} member(s) that would be written outside the "
            f"data folder: {listed}. Nothing was extracted; use the original Kaggle archive.")
    return targets


def _check_sizes(archive: Path, members: list, budget: Budget) -> None:
    """Refuse, from the central directory alone, an archive that exceeds the limits."""
    limits = budget.limits
    if budget.members + len(members) > limits.max_members:
        raise budget.refuse(archive, f"it holds {len(members):,} files (with the archives "
                            f"before it, {budget.members + len(members):,})",
                            "max_members", limits.max_members)
    total = sum(info.file_size for info in members)
    if budget.bytes + total > limits.max_bytes:
        raise budget.refuse(archive, f"it would expand to {total:,} bytes (with the archives "
                            f"before it, {budget.bytes + total:,})", "max_bytes", limits.max_bytes)
    for info in members:
        if info.file_size >= RATIO_FLOOR_BYTES and \
                info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise budget.refuse(archive, f"member {info.filename!r} expands {ratio:,.0f} times "
                                f"({info.compress_size:,} to {info.file_size:,} bytes)",
                                "max_ratio", limits.max_ratio)
    size = archive.stat().st_size
    if total >= RATIO_FLOOR_BYTES and total > limits.max_ratio * max(size, 1):
        raise budget.refuse(archive, f"it expands {total / max(size, 1):,.0f} times "
                            f"({size:,} to {total:,} bytes)", "max_ratio", limits.max_ratio)


#: The first bytes of a zip file (a local file header); an empty zip starts with ``PK\x05\x06``.
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")


def looks_like_zip(path) -> bool:
    """True when ``path`` is a file that starts like a zip archive, readable or not."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) in ZIP_SIGNATURES
    except OSError:
        return False


def damaged_archive(archive, why: str = "", expected_bytes: int | None = None) -> DamagedArchiveError:
    """The error for a zip that cannot be read to its end (cut short, or failing its CRC).

    Parameters
    ----------
    archive : path
        The damaged file; its size on disk is given in the message.
    why : str, optional
        A few words on what is wrong (a member failing its check...).
    expected_bytes : int, optional
        The size it should have, when known (e.g. declared by an enclosing archive).
    """
    archive = Path(archive)
    try:
        amount = disk.format_size(archive.stat().st_size)
    except OSError:
        amount = "?"
    if expected_bytes:
        amount += f" of the expected {disk.format_size(expected_bytes)}"
    detail = f"; {why}" if why else ""
    return DamagedArchiveError(
        f"{archive} is damaged or cut short ({amount}{detail}): download it again "
        "(an interrupted download leaves such a file). It was only read; nothing of it was kept.")


def _copy_member(handle: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                 archive: Path, budget: Budget) -> None:
    """Stream one member to ``target``, never past its declared size or the byte budget.

    On any error the half-written ``target`` is deleted.
    """
    try:
        written = _stream_member(handle, info, target, archive, budget)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    budget.bytes += written
    files.checkpoint("extract")


def _stream_member(handle, info, target: Path, archive: Path, budget: Budget) -> int:
    """The bytes of one member, copied to ``target``; errors say whose fault they are."""
    written = 0
    try:
        with handle.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > info.file_size or budget.bytes + written > budget.limits.max_bytes:
                    raise UnsafeArchiveError(
                        f"{archive}: member {info.filename!r} holds more than the "
                        f"{info.file_size:,} bytes its header declares; the archive is refused.")
                out.write(chunk)
    except UnsafeArchiveError:
        raise
    except OSError as error:
        if disk.is_disk_full(error):  # the disk's fault, never the archive's: safe_extract says so
            raise
        raise DataError(f"{archive}: member {info.filename!r} cannot be read ({error}). "
                        "Download the archive again.") from None
    except (zipfile.BadZipFile, EOFError) as error:  # CRC mismatch, data cut short
        raise damaged_archive(archive, f"member {info.filename!r} fails its check ({error})") from None
    except (RuntimeError, NotImplementedError) as error:
        raise DataError(f"{archive}: member {info.filename!r} cannot be read ({error}). "
                        "Download the archive again.") from None
    return written


def safe_extract(archive, dest, *, budget: Budget | None = None,
                 limits: ArchiveLimits | None = None) -> list[Path]:
    """Extract a zip archive into ``dest`` after checking every member and limit.

    Parameters
    ----------
    archive : str or pathlib.Path
        A zip file; it is only read.
    dest : str or pathlib.Path
        Folder to extract into (created only once every check passed).
    budget : Budget, optional
        Shared with the other archives of one :func:`utils.sources.collect` call.
    limits : ArchiveLimits, optional
        For a fresh budget; default :meth:`ArchiveLimits.from_env`.

    Returns
    -------
    list of pathlib.Path
        The extracted files.

    Raises
    ------
    UnsafeArchiveError
        A member would escape ``dest`` or lies about its size, or a limit is
        exceeded (the message names it and its variable). Nothing is written
        when the central directory already shows it.
    DamagedArchiveError
        It starts like a zip but its central directory is missing (cut short)
        or a member fails its CRC check.
    DiskFullError
        The disk holding ``dest`` is full (never blamed on the archive).
    DataError
        If the file is not a zip archive, holds no files or cannot be read.
    """
    archive, dest = Path(archive), Path(dest)
    budget = budget or Budget(limits)
    try:
        handle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        if looks_like_zip(archive):
            raise damaged_archive(archive, "its central directory is missing") from None
        raise DataError(f"{archive} is not a readable zip archive ({error}).") from error
    with handle:
        members = [info for info in handle.infolist() if not info.is_dir()]
        targets = _check_names(archive, members)
        if not members:
            raise DataError(f"{archive} holds no files.")
        _check_sizes(archive, members, budget)
        budget.members += len(members)
        with disk.reporting_disk_full(dest, what=f"extracting {archive.name}", kind="data"):
            return _extract_members(handle, members, targets, archive, dest, budget)


def _extract_members(handle, members, targets, archive: Path, dest: Path, budget: Budget) -> list[Path]:
    """Write every checked member under ``dest``; return the files written."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written = []
    for info in members:
        target = (dest / targets[info]).resolve()
        if root not in target.parents:
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} escapes {dest}")
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_member(handle, info, target, archive, budget)
        written.append(target)
    return written
