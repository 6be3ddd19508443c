"""What ``make course`` remembers between runs: the resume key, the state file, the lock.

Split from :mod:`course.run.runner` (which re-exports these names). It lives in
:mod:`course`, outside :mod:`utils`, so the resume key hashes every module of
``utils/`` (the package the notebooks import) and nothing of the runner.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import platform
from pathlib import Path

from utils import config, kerascache, settings
from utils.files import atomic_write

STATE_FILE = "state.json"

#: The notebook that prepares the data: it and every later one depend on the
#: data manifest (00, before it, does not, so preparing the data re-runs nothing).
DATA_NOTEBOOK = "01"

def keras_backend_name(environ=None) -> str:
    """The backend Keras will use, without importing it (:func:`utils.kerascache.configured_backend`)."""
    return kerascache.configured_backend(environ)


def environment_versions() -> str:
    """``"python 3.11.9, tensorflow 2.20.0, keras 3.12.0, backend tensorflow"``.

    Part of every notebook's resume key: an upgrade of any of them, or another
    Keras backend, re-executes the notebooks and the summary says which changed.
    Versions come from the installed distributions (:func:`utils.config.versions`).
    """
    found = config.versions()
    return (f"python {platform.python_version()}, tensorflow {found['tensorflow']}, "
            f"keras {found['keras']}, backend {keras_backend_name()}")


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _profile_settings(cfg: config.Profile) -> str:
    """The profile's settings that change what a notebook computes, as JSON."""
    fields = dataclasses.asdict(cfg)
    fields.pop("archive", None)  # where the raw data came from: the manifest tells what it is
    return json.dumps(fields, sort_keys=True, default=str)


def keras_weights_listing() -> str:
    """Names and sizes of the files in Keras' download cache.

    ``$KERAS_HOME/models`` (default ``~/.keras/models``), and
    ``/tmp/.keras/models``, where Keras downloads when the home folder is read-only.
    """
    entries = []
    for folder in kerascache.models_dirs():
        if folder.is_dir():
            entries += [f"{p}:{p.stat().st_size}" for p in sorted(folder.iterdir()) if p.is_file()]
    return ";".join(entries) or "none"


def fingerprint(notebook: Path, cfg: config.Profile, earlier: str,
                project_root: Path = config.PROJECT_ROOT) -> dict:
    """Hashes of everything a notebook's run depends on (see the module docstring)."""
    utils_dir = Path(project_root) / "utils"
    code = hashlib.sha256()
    for path in sorted(utils_dir.glob("*.py")):   # all of utils: the notebooks' package, nothing else
        code.update(path.name.encode())
        code.update(_hash_file(path).encode())
    manifest = cfg.dataset_dir / "manifest.csv"
    return {
        "notebook": _hash_file(notebook),
        "utils": code.hexdigest(),
        "profile": hashlib.sha256(_profile_settings(cfg).encode()).hexdigest(),
        "manifest": (_hash_file(manifest) if manifest.is_file() else "none")
        if notebook.name[:2] >= DATA_NOTEBOOK else "not used",
        "versions": environment_versions(),
        "switches": switches(),
        "earlier": earlier,
    }


#: Environment switches that change what a notebook computes (not only how fast):
#: the settings declared with ``changes_results`` (:mod:`utils.settings`).
SWITCHES = settings.results_switches()


def _switch_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def switches(environ=None) -> str:
    """``"DOGSCATS_PROFILE=smoke, DOGSCATS_SEED=42, DOGSCATS_DEVICES=one, ..."``: part of the resume key.

    Each value as :func:`utils.settings.read` gives it (defaults filled in, so
    unset and set to the default read the same). Another profile or seed,
    another backbone (05–06), data parallelism or mixed precision gives other
    results, so a notebook run under other switches is executed again.

    Raises
    ------
    ValueError
        If a switch has a bad value.
    """
    return ", ".join(f"{name}={_switch_text(settings.read(name, environ))}" for name in SWITCHES)


#: Names of the inputs of :func:`fingerprint`, as the summary reports changes.
INPUT_NAMES = {"notebook": "the notebook", "utils": "utils/*.py", "profile": "the profile's settings",
               "manifest": "the data manifest", "earlier": "an earlier notebook",
               "switches": ", ".join(SWITCHES[:-1]) + " or " + SWITCHES[-1],
               "versions": "Python/TensorFlow/Keras versions or the Keras backend"}


def weights_digest() -> str:
    """What a skipped lesson may have lacked: a skip is retried when this changes.

    SHA-256 of :func:`keras_weights_listing` and of ``DOGSCATS_VGG16_WEIGHTS``
    (the weights file a learner may name instead, with its size).
    """
    named = settings.read("DOGSCATS_VGG16_WEIGHTS")
    size = named.stat().st_size if named is not None and named.is_file() else None
    text = f"{keras_weights_listing()}|{named or ''}:{size}"
    return hashlib.sha256(text.encode()).hexdigest()


def changed_inputs(previous: dict, prints: dict) -> list[str]:
    """Which of a notebook's inputs differ from its last recorded run (readable names)."""
    recorded = previous.get("inputs")
    if not isinstance(recorded, dict):
        return ["never run" if not previous else "no record of its inputs"]
    changed = []
    for k in prints:
        if recorded.get(k) == prints[k]:
            continue
        if k == "versions" and isinstance(recorded.get(k), str):
            was = dict(part.split(" ", 1) for part in recorded[k].split(", ") if " " in part)
            now = dict(part.split(" ", 1) for part in prints[k].split(", ") if " " in part)
            moved = [f"{name} {was.get(name, '?')} → {now[name]}" for name in now
                     if was.get(name) != now[name]]
            changed.append(", ".join(moved) or INPUT_NAMES[k])
        else:
            changed.append(INPUT_NAMES.get(k, k))
    return changed


def key_of(prints: dict) -> str:
    """One SHA-256 hex digest for a :func:`fingerprint`."""
    return hashlib.sha256(json.dumps(prints, sort_keys=True).encode()).hexdigest()


def load_state(path: Path, profile: str) -> dict:
    """Per-notebook state of earlier runs; empty when missing, unreadable or another profile's."""
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get("profile") != profile:
        return {}
    notebooks = state.get("notebooks")
    return notebooks if isinstance(notebooks, dict) else {}


def save_state(path: Path, profile: str, notebooks: dict) -> None:
    atomic_write(path, json.dumps({"profile": profile, "notebooks": notebooks}, indent=2) + "\n")



def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class RunInProgressError(RuntimeError):
    """Another run of the course is using the same profile's outputs right now."""


class ProfileLock:
    """An exclusive lock on ``results/<profile>/notebooks`` for the length of a run.

    Two runs under one profile would overwrite each other's notebooks and
    state; under different profiles they never meet. A :class:`filelock.FileLock`
    on ``.lock`` (an OS lock on every system, Windows included), released by
    the system even if the process dies: no stale lock to remove by hand. Who
    holds it is written to ``.lock.owner`` for the message.

    Parameters
    ----------
    folder : path
        The profile's ``notebooks`` output folder.
    wait : float, default 0
        Seconds to wait for another run to finish before giving up (``-1``: forever).

    Raises
    ------
    RunInProgressError
        On entering, when another process holds the lock after ``wait`` seconds.
    """

    def __init__(self, folder, wait: float = 0):
        self.folder = Path(folder)
        self.wait = wait
        self.lock = None

    def __enter__(self):
        import filelock

        self.folder.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(self.folder / ".lock")
        try:
            lock.acquire(timeout=self.wait)
        except filelock.Timeout:
            try:
                holder = (self.folder / ".lock.owner").read_text(encoding="utf-8").strip()
            except OSError:
                holder = ""
            raise RunInProgressError(
                f"another run of the course is using {self.folder} ({holder or 'another process'}); "
                "wait for it to finish, or use another DOGSCATS_PROFILE") from None
        self.lock = lock
        atomic_write(self.folder / ".lock.owner", f"pid {os.getpid()}, started {now()}\n")
        return self

    def __exit__(self, *exc):
        if self.lock is not None:
            (self.folder / ".lock.owner").unlink(missing_ok=True)
            self.lock.release()
            self.lock = None
        return False
