"""The course's errors, in one place: a lesson skipped, and the data flow's (re-exported by :mod:`utils.sources` and :mod:`utils.data`)."""

from __future__ import annotations


#: Prefix of the message of every :class:`LessonSkipped` error; ``make course``
#: looks for it to report a notebook as skipped rather than failed.
SKIP_MARKER = "lesson skipped: "


class LessonSkipped(RuntimeError):
    """A lesson cannot run on this machine for a reason the learner can fix.

    Raised by a notebook cell (e.g. VGG16 without ImageNet weights under the
    ``sample`` profile). ``make course`` reports the notebook as *skipped* with
    the message, which says what to do, and goes on with the next notebook.
    The message always starts with :data:`SKIP_MARKER`.

    Shown as its message alone: no chained traceback of the errors that led to
    it (``__suppress_context__``), and in Jupyter no traceback at all
    (IPython's ``_render_traceback_`` hook), since the reason says it all.
    """

    def __init__(self, reason: str):
        super().__init__(SKIP_MARKER + reason)
        self.reason = reason
        self.__suppress_context__ = True

    def _render_traceback_(self) -> list:
        """What IPython shows instead of a traceback: the message, one line per line."""
        return f"{type(self).__name__}: {self}".splitlines()


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


class DamagedArchiveError(DataError):
    """A file that starts like a zip archive but cannot be read to its end.

    Its central directory is missing (a download cut short) or a member fails
    its CRC check. The message gives the file's size (and the expected size
    when known) and says to download it again; a file that is no zip at all is
    a plain :class:`DataError` instead.
    """


class DiskFullError(OSError):
    """A write failed because the disk (or the user's quota) is full: ``ENOSPC`` or ``EDQUOT``.

    Raised by every write of the course (extraction, preparation, records,
    saved models, executed notebooks, site, slides) and by the space check
    :func:`utils.disk.check_space` before preparation starts. It is an
    :class:`OSError` with the original ``errno``, so code catching ``OSError``
    still catches it; never an archive's fault.

    Attributes
    ----------
    folder : pathlib.Path
        Where the write was going.
    free_bytes : int or None
        Free space there when the error was raised, in bytes (None if unknown).
    needed_bytes : int or None
        What the failed step needed, in bytes, when known (the space check).
    """

    def __init__(self, errno: int, message: str, folder, free_bytes=None, needed_bytes=None):
        super().__init__(errno, message)
        self.message = message
        self.folder = folder
        self.free_bytes = free_bytes
        self.needed_bytes = needed_bytes

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return (type(self), (self.errno, self.message, self.folder, self.free_bytes,
                             self.needed_bytes))
