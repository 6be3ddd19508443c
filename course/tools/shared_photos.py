"""Where the real photos are for the tests and the goldens: one rule for both.

``DOGSCATS_ARCHIVE`` when set, else the shared ``../shared/data/dogs-vs-cats`` beside
the project (CI's layout), else raw data a learner dropped under ``data/`` (only read).
"""

from __future__ import annotations

from pathlib import Path

from utils import config, settings, sources

#: The shared photos beside the project (the Makefile's ``SHARED_DATA`` names the same folder).
SHARED_DATA = config.PROJECT_ROOT.parent / "shared" / "data" / "dogs-vs-cats"


def real_archive(environ=None) -> Path | None:
    """The real Kaggle photos: a file or folder ``utils.data.prepare`` accepts, or None when there are none.

    Parameters
    ----------
    environ : mapping, optional
        Where ``DOGSCATS_ARCHIVE`` is looked up (default: ``os.environ``).

    Returns
    -------
    pathlib.Path or None
        ``DOGSCATS_ARCHIVE`` if set (None if that path does not exist), else :data:`SHARED_DATA`
        if it is a folder, else the first source :func:`utils.sources.find_source` finds
        under the project's ``data/``.
    """
    if settings.is_set("DOGSCATS_ARCHIVE", environ):
        path = Path(settings.read("DOGSCATS_ARCHIVE", environ)).expanduser()
        return path if path.exists() else None
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    found = sources.find_source(config.get_profile("smoke", data_dir=config.PROJECT_ROOT / "data"))
    return found[0] if found else None
