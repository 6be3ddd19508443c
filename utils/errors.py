"""The errors of the data flow, in one place (re-exported by :mod:`utils.sources` and :mod:`utils.data`)."""

from __future__ import annotations


class DataError(RuntimeError):
    """Something about the raw data prevents preparing it; the message says what to do."""


class DataNotFoundError(DataError):
    """No raw data and no prepared data could be found."""


class UnsafeArchiveError(DataError):
    """An archive is refused before anything is written.

    Either a member would be written outside its folder (absolute path, ``..``,
    drive letter, link, a name clashing with a folder), or the archive exceeds
    one of the limits of :class:`utils.archives.ArchiveLimits` (too large when
    extracted, too many members, compressed too well, nested too deep). The
    message names the member or the limit and how to raise it.
    """
