"""Colab and Kaggle: what the platform cell of every notebook does there (and nothing in a clone).

The notebook's platform cell (written by ``course/tools/notebook_header.py``) clones the
course with ``git clone --depth 1`` when ``utils`` cannot be imported, puts the
clone first on ``sys.path`` (no package called ``utils`` is ever installed into
site-packages) and calls :func:`setup`, which

1. on Colab, when the cell's ``KEEP_ON_DRIVE`` is true, mounts Google Drive and keeps
   the data, the results and kagglehub's download there (:func:`mount_drive`), so the
   next runtime finds them again;
2. pip-installs the run-time requirements the platform lacks (:mod:`utils.dependencies`:
   ``[project] dependencies`` of ``pyproject.toml``; Colab and Kaggle already have
   TensorFlow, Keras, pandas...). Never Jupyter and its tools (the platform has its
   own), never a TensorFlow or Keras over the platform's: a runtime without them is
   told so. A pip failure is one printed line;
3. finds the photos (:func:`find_platform_data`): a competition or dataset attached to
   a Kaggle notebook under ``/kaggle/input/``; else ``kagglehub``, which inside a Kaggle
   notebook attaches the competition by itself, and elsewhere downloads it with the
   ``KAGGLE_API_TOKEN`` secret of Colab (or the legacy ``KAGGLE_USERNAME`` and
   ``KAGGLE_KEY``, or ``~/.kaggle/``). What it finds becomes ``DOGSCATS_ARCHIVE``, so the
   usual search of :mod:`utils.sources` takes it from there; with nothing found it
   prints what to do on this platform.

The source of the pattern: the Colab notebooks of *Deep Learning with Python*,
3rd ed., fetch this very data set with ``kagglehub.competition_download``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import config, dependencies, settings, sources

#: The Kaggle competition holding the photos: :data:`utils.sources.KAGGLE_COMPETITION` (the Redux edition).
COMPETITION = sources.KAGGLE_COMPETITION

#: Where Kaggle mounts the competitions and datasets attached to a notebook (``DOGSCATS_KAGGLE_INPUT`` in tests).
KAGGLE_INPUT = Path("/kaggle/input")
#: How many folders below :data:`KAGGLE_INPUT` the photos are looked for:
#: ``<slug>/``, ``competitions/<slug>/``, ``datasets/<owner>/<slug>/``.
KAGGLE_INPUT_DEPTH = 3

#: Where Colab mounts Google Drive (``DOGSCATS_DRIVE`` in tests), and the course's folder in ``MyDrive``.
COLAB_DRIVE = Path("/content/drive")
DRIVE_FOLDER = "dogs-vs-cats-keras"

# raw-data names utils.sources recognises (a zip of Kaggle's, or extracted folders)
_DATA_NAMES = re.compile(r"^(dogs-vs-cats(-redux-kernels-edition)?\.zip|train\.zip|test1?\.zip|train|test1?|petimages|"
                         r"kagglecatsanddogs.*\.zip)$", re.IGNORECASE)
# names of a labelled source, preferred when several folders hold data
_LABELLED_NAMES = ("train", "dogs-vs-cats", "petimages", "kagglecatsanddogs")


# --------------------------------------------------------------------------- where we are
def on_colab() -> bool:
    """Whether this Python runs on Google Colab (its package ``google.colab`` is importable)."""
    import importlib.util

    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):  # no package google at all
        return False


def on_kaggle(environ=None) -> bool:
    """Whether this Python runs in a Kaggle notebook (Kaggle sets ``KAGGLE_KERNEL_RUN_TYPE`` there)."""
    environ = os.environ if environ is None else environ
    return bool(environ.get("KAGGLE_KERNEL_RUN_TYPE"))


# --------------------------------------------------------------------------- Google Drive
def drive_mount_point(environ=None) -> Path:
    """Where Google Drive is mounted: ``/content/drive``, or ``DOGSCATS_DRIVE`` (tests)."""
    return settings.read("DOGSCATS_DRIVE", environ) or COLAB_DRIVE


def mount_drive(environ=None, mount=None) -> Path | None:
    """On Colab: mount Google Drive and keep the data, the results and the Kaggle download on it.

    Sets ``DOGSCATS_DATA``, ``DOGSCATS_RESULTS`` and ``KAGGLEHUB_CACHE`` to the
    folders ``data``, ``results`` and ``kagglehub`` of
    ``<mount point>/MyDrive/dogs-vs-cats-keras/`` (created), each only where it is
    not set already, and prints what it did. A notebook opened on a new runtime
    then finds the prepared photos, the records and the trained models there.

    Parameters
    ----------
    environ : mutable mapping, optional
        Default ``os.environ``.
    mount : callable, optional
        ``mount(mount_point: str)``; default ``google.colab.drive.mount``. Without
        it, outside Colab, nothing is done.

    Returns
    -------
    pathlib.Path or None
        The course's folder on Drive; None outside Colab or when the mount failed
        (printed in one line: the work then stays on this runtime).
    """
    environ = os.environ if environ is None else environ
    if mount is None:
        if not on_colab():
            return None
        from google.colab import drive  # only on Colab

        mount = drive.mount
    point = drive_mount_point(environ)
    try:
        mount(str(point))
    except Exception as error:  # Colab raises its own kinds (declined access, timeout)
        print(f"Google Drive was not mounted ({type(error).__name__}: {error}): data and results stay on "
              "this runtime and go with it. Run this cell again to retry, or set KEEP_ON_DRIVE = False.")
        return None
    base = point / "MyDrive" / DRIVE_FOLDER
    lines = []
    for variable, folder, already in (
            ("DOGSCATS_DATA", base / "data", settings.read("DOGSCATS_DATA", environ)),
            ("DOGSCATS_RESULTS", base / "results", settings.read("DOGSCATS_RESULTS", environ)),
            ("KAGGLEHUB_CACHE", base / "kagglehub", (environ.get("KAGGLEHUB_CACHE") or "").strip() or None)):
        if already:
            lines.append(f"  {variable}={already} (set before: left as it is)")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        environ[variable] = str(folder)
        lines.append(f"  {variable}={folder}")
    print(f"Google Drive is mounted at {point}; this notebook keeps its work there for the next runtime:\n"
          + "\n".join(lines))
    return base


# --------------------------------------------------------------------------- finding the photos
def kaggle_input_root(environ=None) -> Path:
    """Where a Kaggle notebook's inputs are: ``/kaggle/input``, or ``DOGSCATS_KAGGLE_INPUT`` (tests)."""
    return settings.read("DOGSCATS_KAGGLE_INPUT", environ) or KAGGLE_INPUT


def kaggle_input_sources(root: Path | None = None, depth: int = KAGGLE_INPUT_DEPTH) -> list[Path]:
    """Raw data in the competitions and datasets attached to a Kaggle notebook.

    Kaggle mounts them at ``/kaggle/input/<slug>/``, and in newer notebooks at
    ``/kaggle/input/competitions/<slug>/`` and ``/kaggle/input/datasets/<owner>/<slug>/``.
    Looks up to ``depth`` folders below ``root`` for the names :mod:`utils.sources`
    reads (``dogs-vs-cats.zip``, the Redux edition's zip, ``train.zip``,
    ``test.zip``/``test1.zip``, ``train/``, ``test1/``, ``PetImages``,
    ``kagglecatsanddogs_*.zip``); a folder holding some is not searched deeper.

    Parameters
    ----------
    root : pathlib.Path, optional
        Default :func:`kaggle_input_root`.
    depth : int
        How many folder levels below ``root`` are searched.

    Returns
    -------
    list of pathlib.Path
        Shallower folders first, each folder's names sorted; empty when ``root``
        is missing or holds none.
    """
    def entries(folder: Path) -> list[Path]:
        try:
            return sorted(folder.iterdir())
        except OSError:  # missing, or not readable
            return []

    found, level = [], [Path(kaggle_input_root() if root is None else root)]
    for _ in range(depth):
        below = [entry for folder in level for entry in entries(folder)
                 if entry.is_dir() and not entry.name.startswith(".")]
        level = []
        for folder in below:
            hits = [path for path in entries(folder) if _DATA_NAMES.match(path.name)]
            if hits:
                found.extend(hits)
            else:
                level.append(folder)
    return found


def _archive_of(attached: list[Path]) -> Path:
    """The one path for ``DOGSCATS_ARCHIVE``: the file when one was found, else the folder with the labelled photos."""
    if len(attached) == 1:
        return attached[0]
    folders = list(dict.fromkeys(path.parent for path in attached))
    for folder in folders:
        if any(p.parent == folder and p.name.lower().startswith(_LABELLED_NAMES) for p in attached):
            return folder
    return folders[0]


#: Colab secrets the course copies into the environment: kagglehub 1.0's token, or the two legacy names.
KAGGLE_SECRETS = ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY")


def colab_secrets_to_environment(environ=None) -> bool:
    """Copy Colab's Kaggle secrets into the environment, where kagglehub and the Kaggle API read them.

    ``KAGGLE_API_TOKEN`` (the token kagglehub 1.0 reads) or the legacy pair
    ``KAGGLE_USERNAME`` + ``KAGGLE_KEY``, as saved under Colab's key icon
    (Secrets). A secret that exists but is not granted to this notebook is
    named in a printed line that says how to grant it (Colab raises
    ``NotebookAccessError`` for it, ``SecretNotFoundError`` for a missing one).

    Parameters
    ----------
    environ : mutable mapping, optional
        Default ``os.environ``.

    Returns
    -------
    bool
        True when a usable set of credentials was copied (False outside Colab,
        or without granted secrets).
    """
    environ = os.environ if environ is None else environ
    try:
        from google.colab import userdata  # only on Colab
    except ImportError:
        return False
    values, not_granted = {}, []
    for name in KAGGLE_SECRETS:
        try:
            value = userdata.get(name)
        except Exception as error:  # Colab's own error classes, by name: nothing to import outside Colab
            if "access" in type(error).__name__.lower():
                not_granted.append(name)
            continue
        if value:
            values[name] = value
    if not_granted:
        print(f"Colab has the secret(s) {', '.join(not_granted)} but this notebook may not read them: "
              "open the key icon (Secrets) on the left, switch on 'Notebook access' for each, "
              "then run this cell again.")
    if values.get("KAGGLE_API_TOKEN"):
        environ["KAGGLE_API_TOKEN"] = values["KAGGLE_API_TOKEN"]
        return True
    if values.get("KAGGLE_USERNAME") and values.get("KAGGLE_KEY"):
        environ.update({name: values[name] for name in ("KAGGLE_USERNAME", "KAGGLE_KEY")})
        return True
    return False


KAGGLE_STEPS = (
    "In this Kaggle notebook: open Add Input (the panel on the right) > Competitions, search for "
    "'Dogs vs. Cats Redux: Kernels Edition' and add it; accept its rules once at {rules_url}; "
    "switch on Settings > Internet; then run this cell again.")
COLAB_STEPS = (
    "On Colab: create a Kaggle API token (kaggle.com > Settings > API > Generate New Token), save it "
    "as the secret KAGGLE_API_TOKEN (the key icon on the left > Add new secret; the older pair "
    "KAGGLE_USERNAME and KAGGLE_KEY works too), switch on its 'Notebook access', accept the "
    "competition's rules once at {rules_url}, then run this cell again.")


def platform_steps(environ=None) -> str:
    """What to do on this platform to get the photos (Kaggle's or Colab's steps; empty elsewhere)."""
    if on_kaggle(environ):
        return KAGGLE_STEPS.format(rules_url=sources.KAGGLE_RULES_URL)
    if on_colab():
        return COLAB_STEPS.format(rules_url=sources.KAGGLE_RULES_URL)
    return ""


def download_with_kagglehub(competition: str = COMPETITION, environ=None) -> Path:
    """Download the competition's files with ``kagglehub`` (cached by kagglehub); return the folder.

    Inside a Kaggle notebook kagglehub attaches the competition to the notebook
    (no token needed; the rules must have been accepted); elsewhere it
    downloads with the token in the environment (``KAGGLEHUB_CACHE`` says where).

    Raises
    ------
    utils.sources.DataNotFoundError
        When the download fails (offline, no token, rules not accepted), with
        kagglehub's reason, the rules page and what to do on this platform.
    """
    try:
        import warnings

        from tqdm import TqdmWarning

        with warnings.catch_warnings():  # as utils.progress.bar: where ipywidgets is missing, the text bar
            warnings.simplefilter("ignore", TqdmWarning)  # is drawn without "IProgress not found"
            import kagglehub

        return Path(kagglehub.competition_download(competition))
    except Exception as error:  # kagglehub raises many kinds (HTTP, auth, OS)
        steps = platform_steps(environ)
        raise sources.DataNotFoundError(
            f"kagglehub could not download {competition!r}: {type(error).__name__}: {error}\n"
            f"A 401 means Kaggle refused the token (create a new one); a 403 that the competition's rules "
            f"are not accepted yet: accept them once at {sources.KAGGLE_RULES_URL} with the token's "
            "account. Otherwise check the connection.\n" + (steps + "\n" if steps else "")
            + "\n" + sources.how_to_get_data()) from error


def find_platform_data(cfg=None, environ=None, kaggle_input: Path | None = None) -> list[Path]:
    """Find the photos on a hosted platform, point ``DOGSCATS_ARCHIVE`` at them and say where they are.

    Order: what :func:`utils.sources.find_source` already finds (or a prepared
    split); competitions and datasets attached under ``/kaggle/input``
    (:func:`kaggle_input_sources`); a ``kagglehub`` download, inside a Kaggle
    notebook always, elsewhere when a Kaggle token is there (Colab secrets,
    environment variables or ``~/.kaggle/``). Otherwise prints this platform's
    steps and :func:`utils.sources.how_to_get_data`, and returns ``[]``.

    Parameters
    ----------
    cfg : utils.config.Profile, optional
        Default :func:`utils.config.current`.
    environ : mutable mapping, optional
        Where ``DOGSCATS_ARCHIVE`` (and Colab's secrets) are written; default ``os.environ``.
    kaggle_input : pathlib.Path, optional
        Default :func:`kaggle_input_root`.

    Returns
    -------
    list of pathlib.Path
        The sources found (``DOGSCATS_ARCHIVE`` names the first); empty when the
        split is prepared already or nothing was found.

    Raises
    ------
    utils.sources.DataNotFoundError
        When a download was possible but failed (see :func:`download_with_kagglehub`).
    """
    from . import data

    environ = os.environ if environ is None else environ
    cfg = cfg or config.current()
    found = sources.find_source(cfg)
    if found:
        print(f"Photos found: {', '.join(map(str, found))}")
        return list(found)
    if data.is_prepared(cfg):
        print(f"Photos found: prepared already in {cfg.split_dir}")
        return []
    attached = kaggle_input_sources(kaggle_input)
    if not attached:
        colab_secrets_to_environment(environ)
        if on_kaggle(environ) or sources.kaggle_credentials_present():
            attached = [download_with_kagglehub(environ=environ)]
    if attached:
        archive = _archive_of(attached)
        environ["DOGSCATS_ARCHIVE"] = str(archive)
        print(f"Photos found: DOGSCATS_ARCHIVE={archive}")
        return [archive]
    steps = platform_steps(environ)
    print((steps + "\n\n" if steps else "") + sources.how_to_get_data(cfg))
    return []


def setup(keep_on_drive: bool = False, environ=None) -> list[Path]:
    """What the platform cell calls after cloning: Drive, what is missing, the photos.

    Parameters
    ----------
    keep_on_drive : bool
        The cell's ``KEEP_ON_DRIVE``: on Colab, keep the data, the results and the
        Kaggle download on Google Drive (:func:`mount_drive`); ignored elsewhere.
    environ : mutable mapping, optional
        Default ``os.environ``.

    Returns
    -------
    list of pathlib.Path
        What :func:`find_platform_data` found.

    Raises
    ------
    utils.sources.DataNotFoundError
        When a Kaggle download was possible but failed, saying what to do. A pip
        failure is printed, never raised.
    """
    environ = os.environ if environ is None else environ
    if keep_on_drive:
        mount_drive(environ)
    lacking = dependencies.missing_platform_libraries()
    if lacking:
        print(f"This runtime has no {' and no '.join(lacking)}: the course does not install its own over "
              "a platform's. Choose the platform's standard Python 3 runtime (Colab's and Kaggle's come "
              "with TensorFlow and Keras); on your own machine, install the course with `make env`.")
    dependencies.install(dependencies.missing_requirements())
    return find_platform_data(environ=environ)
