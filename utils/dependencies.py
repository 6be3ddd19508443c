"""What the notebooks need installed, and installing what a hosted platform lacks (:func:`utils.cloud.setup`).

The run-time requirements are ``[project] dependencies`` of ``pyproject.toml``
(:func:`requirements`). On Colab or Kaggle, :func:`missing_requirements` lists those
with no installed distribution, leaving out Jupyter and its tools
(:data:`NOT_NEEDED_THERE`: the platform has its own) and TensorFlow and Keras
(:data:`PLATFORM_OWNED`: never installed over the platform's; a runtime without them
is told so, :func:`missing_platform_libraries`); :func:`install` pip-installs them.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from . import config

#: Requirements a notebook never needs on a hosted platform: it has its own Jupyter.
NOT_NEEDED_THERE = ("jupyterlab", "jupyterlab-rise", "rise", "notebook", "jupyter", "ipykernel",
                    "nbclient", "nbconvert", "nbformat")
#: Libraries the platform provides, built for its GPU or TPU: never installed over them.
PLATFORM_OWNED = ("tensorflow", "keras")


def requirements(pyproject: Path | None = None) -> list[str]:
    """The ``[project] dependencies`` of ``pyproject.toml``: what the notebooks import when they run.

    Jupyter and the tools of ``course/`` are the optional group ``lab``, not in this list.

    Raises
    ------
    FileNotFoundError
        If there is no ``pyproject.toml``.
    """
    from utils import pyproject as pyproject_toml

    path = Path(pyproject or config.PROJECT_ROOT / "pyproject.toml")
    return list(pyproject_toml.load(path)["project"]["dependencies"])


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _is_installed(name: str) -> bool:
    """Whether a distribution ``name`` is installed (``tensorflow-cpu`` counts as ``tensorflow``)."""
    from importlib import metadata

    for candidate in (name, name + "-cpu"):
        try:
            metadata.version(candidate)
            return True
        except metadata.PackageNotFoundError:
            pass
    return False


def _marker_holds(marker: str) -> bool:
    """Whether an environment marker (``python_version < '3.11'``) holds for this Python."""
    if not marker:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:  # no packaging: install what the marker guards, pip evaluates it again
        return True
    return Marker(marker).evaluate()


def missing_requirements(required=None, installed=None) -> list[str]:
    """The requirements with no installed distribution (versions are not second-guessed).

    Parameters
    ----------
    required : list of str, optional
        Requirement strings (default :func:`requirements`). Those named in
        :data:`NOT_NEEDED_THERE` (Jupyter) or :data:`PLATFORM_OWNED`
        (TensorFlow, Keras: :func:`missing_platform_libraries`) are left out.
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
    installed = installed or _is_installed
    missing = []
    for requirement in (requirements() if required is None else required):
        name = _requirement_name(requirement)
        if name in NOT_NEEDED_THERE or name in PLATFORM_OWNED:
            continue
        if not _marker_holds(requirement.partition(";")[2].strip()):
            continue
        if not installed(name):
            missing.append(requirement)
    return missing


def missing_platform_libraries(installed=None) -> list[str]:
    """The names of :data:`PLATFORM_OWNED` (``tensorflow``, ``keras``) this Python lacks.

    Parameters
    ----------
    installed : callable, optional
        ``name -> bool``, as in :func:`missing_requirements`.
    """
    installed = installed or _is_installed
    return [name for name in PLATFORM_OWNED if not installed(name)]


def install(requirements_list, runner=subprocess.run) -> bool:
    """``pip install`` the given requirement strings into this kernel's Python.

    Parameters
    ----------
    requirements_list : list of str
        Requirement strings; none: nothing is run.
    runner : callable, optional
        ``runner(command, check=False)`` returning an object with ``returncode``
        (default :func:`subprocess.run`).

    Returns
    -------
    bool
        True when pip succeeded or there was nothing to install. A failure is
        never raised: one printed line says what failed and the command to retry
        (the photo search runs all the same).
    """
    if not requirements_list:
        return True
    print("Installing what this platform lacks:", ", ".join(requirements_list))
    command = [sys.executable, "-m", "pip", "install", "--quiet", *requirements_list]
    try:
        status = runner(command, check=False).returncode
    except (OSError, subprocess.SubprocessError) as error:
        reason = f"{type(error).__name__}: {error}"
    else:
        if status == 0:
            return True
        reason = f"pip exited with status {status}"
    retry = "%pip install " + " ".join(shlex.quote(r) for r in requirements_list)
    print(f"Could not install {', '.join(requirements_list)} ({reason}). To see why, run `{retry}` in a new "
          "cell (on Kaggle switch on Settings > Internet first), then run this cell again.")
    return False
