"""Colab and Kaggle: what the first cell of every notebook does there (and nothing in a clone).

The notebook's platform cell (written by ``course/tools/notebook_header.py``) clones the
course with ``git clone --depth 1`` when ``utils`` cannot be imported, puts the
clone first on ``sys.path`` (no package called ``utils`` is ever installed into
site-packages) and calls :func:`setup`, which

1. pip-installs the course's requirements that the platform lacks
   (:func:`missing_requirements`: Colab and Kaggle already have TensorFlow,
   Keras, pandas...; only what is not installed at all is added), and
2. finds the photos (:func:`find_platform_data`): a Kaggle dataset attached to
   the notebook under ``/kaggle/input/``, else ``kagglehub`` with the
   ``KAGGLE_API_TOKEN`` (or ``KAGGLE_USERNAME``/``KAGGLE_KEY``) secrets of Colab or
   ``~/.kaggle/kaggle.json``. What it finds becomes ``DOGSCATS_ARCHIVE``, so the
   usual search of :mod:`utils.sources` takes it from there; with nothing found
   it prints the same instructions as everywhere else.

The source of the pattern: the Colab notebooks of *Deep Learning with Python*,
3rd ed., fetch this very data set with ``kagglehub.competition_download``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from . import config, sources

#: The Kaggle competition holding the photos: :data:`utils.sources.KAGGLE_COMPETITION`.
COMPETITION = sources.KAGGLE_COMPETITION

#: Where Kaggle mounts the datasets attached to a notebook.
KAGGLE_INPUT = Path("/kaggle/input")

#: Requirements a notebook never needs on a hosted platform (it has Jupyter).
NOT_NEEDED_THERE = ("jupyterlab", "ipykernel", "nbclient", "nbconvert", "nbformat")

# raw-data names utils.sources recognises (a zip of Kaggle's, or extracted folders)
_DATA_NAMES = re.compile(r"^(dogs-vs-cats(-redux-kernels-edition)?\.zip|train\.zip|test1?\.zip|train|test1?|petimages|"
                         r"kagglecatsanddogs.*\.zip)$", re.IGNORECASE)


def requirements(pyproject: Path | None = None) -> list[str]:
    """The ``[project] dependencies`` of ``pyproject.toml`` (the one list the course keeps).

    Raises
    ------
    FileNotFoundError
        If there is no ``pyproject.toml``.
    """
    from utils import pyproject as pyproject_toml

    path = Path(pyproject or config.PROJECT_ROOT / "pyproject.toml")
    return list(pyproject_toml.load(path)["project"]["dependencies"])


def missing_requirements(required=None, installed=None) -> list[str]:
    """The requirements with no installed distribution (versions are not second-guessed).

    Parameters
    ----------
    required : list of str, optional
        Requirement strings (default :func:`requirements`); those named in
        :data:`NOT_NEEDED_THERE` are left out.
    installed : callable, optional
        ``name -> bool``; default: ``importlib.metadata`` finds the
        distribution (``tensorflow-cpu`` counts as ``tensorflow``).

    Returns
    -------
    list of str
        The requirement strings to pass to ``pip install``; those whose
        environment marker rules this Python out (``tomli; python_version < "3.11"``
        on 3.11+) are left out too.
    """
    from importlib import metadata

    from packaging.markers import Marker

    def is_installed(name):
        for candidate in (name, name + "-cpu"):
            try:
                metadata.version(candidate)
                return True
            except metadata.PackageNotFoundError:
                pass
        return False

    installed = installed or is_installed
    missing = []
    for requirement in (requirements() if required is None else required):
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()
        marker = requirement.partition(";")[2].strip()
        if name in NOT_NEEDED_THERE or (marker and not Marker(marker).evaluate()):
            continue
        if not installed(name):
            missing.append(requirement)
    return missing


def install(requirements_list, runner=subprocess.run) -> None:
    """``pip install`` the given requirement strings into this kernel's Python (none: nothing)."""
    if requirements_list:
        print("Installing what this platform lacks:", ", ".join(requirements_list))
        runner([sys.executable, "-m", "pip", "install", "--quiet", *requirements_list], check=True)


def kaggle_input_sources(root: Path = KAGGLE_INPUT) -> list[Path]:
    """Raw data in the datasets attached to a Kaggle notebook (``/kaggle/input/<name>/...``).

    Looks two folders deep for the names :mod:`utils.sources` reads
    (``dogs-vs-cats.zip``, ``train.zip``, ``test1.zip``, ``train/``, ``test1/``,
    ``PetImages``, ``kagglecatsanddogs_*.zip``).

    Returns
    -------
    list of pathlib.Path
        Sorted; empty when ``root`` is missing or holds none.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for dataset in sorted(root.iterdir()):
        if not dataset.is_dir():
            continue
        for depth in (dataset, *sorted(p for p in dataset.iterdir() if p.is_dir())):
            hits = [p for p in sorted(depth.iterdir()) if _DATA_NAMES.match(p.name)]
            if hits:
                found.extend(hits)
                break
    return found


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


def download_with_kagglehub(competition: str = COMPETITION) -> Path:
    """Download the competition's files with ``kagglehub`` (cached by kagglehub); return the folder.

    Raises
    ------
    utils.sources.DataNotFoundError
        When the download fails (offline, no token, rules not accepted), with
        the course's instructions and kagglehub's reason.
    """
    from . import sources

    try:
        import kagglehub

        return Path(kagglehub.competition_download(competition))
    except Exception as error:  # kagglehub raises many kinds (HTTP, auth, OS)
        raise sources.DataNotFoundError(
            f"kagglehub could not download {competition!r}: {type(error).__name__}: {error}\n"
            f"Accept the rules once at {sources.KAGGLE_RULES_URL} and check the "
            "token and the connection.\n\n" + sources.how_to_get_data()) from error


def find_platform_data(cfg=None, environ=None, kaggle_input: Path = KAGGLE_INPUT) -> list[Path]:
    """Find the photos on a hosted platform and point ``DOGSCATS_ARCHIVE`` at them.

    Order: what :func:`utils.sources.find_source` already finds (or a prepared
    split); datasets attached under ``/kaggle/input``; a ``kagglehub``
    download when a Kaggle token is there (Colab secrets, environment
    variables or ``~/.kaggle/kaggle.json``). Otherwise prints
    :func:`utils.sources.how_to_get_data` and returns ``[]``.

    Returns
    -------
    list of pathlib.Path
        The sources found (``DOGSCATS_ARCHIVE`` names the first).

    Raises
    ------
    utils.sources.DataNotFoundError
        When a token is there but the download fails (see :func:`download_with_kagglehub`).
    """
    from . import data, sources

    environ = os.environ if environ is None else environ
    cfg = cfg or config.current()
    found = sources.find_source(cfg)
    if found or data.is_prepared(cfg):
        return list(found)
    attached = kaggle_input_sources(kaggle_input)
    if not attached:
        colab_secrets_to_environment(environ)
        if sources.kaggle_credentials_present():
            attached = [download_with_kagglehub()]
    if attached:
        folder = attached[0] if len(attached) == 1 else attached[0].parent
        environ["DOGSCATS_ARCHIVE"] = str(folder)
        print(f"Photos found: DOGSCATS_ARCHIVE={folder}")
        return [folder]
    print(sources.how_to_get_data(cfg))
    return []


def setup() -> None:
    """What the platform cell calls after cloning: install what is missing, find the photos."""
    install(missing_requirements())
    find_platform_data()
