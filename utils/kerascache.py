"""Where Keras keeps its settings and downloads: the one place the course computes it.

Keras reads ``$KERAS_HOME`` (default ``~/.keras``): ``keras.json`` there holds
the backend, ``models/`` the downloaded weights. When the home folder is not
writable Keras falls back to ``/tmp/.keras``, so a download may sit there too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

#: Where Keras downloads when the home folder is read-only.
FALLBACK_HOME = Path("/tmp/.keras")


def home(environ=None) -> Path:
    """``$KERAS_HOME``, else ``~/.keras`` (not created).

    Parameters
    ----------
    environ : mapping, optional
        Default ``os.environ``.
    """
    environ = os.environ if environ is None else environ
    given = environ.get("KERAS_HOME")
    return Path(given).expanduser() if given else Path.home() / ".keras"


def models_dir(environ=None) -> Path:
    """The Keras cache of downloaded models: ``<home>/models`` (not created)."""
    return home(environ) / "models"


def models_dirs(environ=None) -> list[Path]:
    """Every folder where Keras may have cached a download: :func:`models_dir`, then ``/tmp/.keras/models``."""
    found = [models_dir(environ)]
    fallback = FALLBACK_HOME / "models"
    return found + ([fallback] if fallback != found[0] else [])


def configured_backend(environ=None) -> str:
    """The backend Keras will use, decided as :func:`keras.backend.backend` does, without importing it.

    ``KERAS_BACKEND`` if set, else ``"backend"`` in ``<home>/keras.json``, else
    ``"tensorflow"`` (Keras' default).
    """
    environ = os.environ if environ is None else environ
    if environ.get("KERAS_BACKEND"):
        return environ["KERAS_BACKEND"]
    try:
        chosen = json.loads((home(environ) / "keras.json").read_text(encoding="utf-8")).get("backend")
    except (OSError, ValueError, AttributeError):
        chosen = None
    return chosen if isinstance(chosen, str) and chosen else "tensorflow"
