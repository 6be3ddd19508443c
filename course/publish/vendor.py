"""Local copies of reveal.js and MathJax, so that slides and site load nothing from a CDN.

nbconvert points its pages at cdnjs/unpkg by default; a learner offline, or a
page opened from ``file://``, would then lose the slides' engine and the
formulas. :func:`install` fetches the package once from the npm registry with
``npm pack`` (into ``build/vendor/``, which git ignores), and copies only the
files a page loads next to the pages. Nothing third-party is committed.

``DOGSCATS_VENDOR`` (declared in :mod:`utils.settings`) names the folder of the
downloaded tarballs (default ``<repo>/build/vendor``); put
``reveal.js-<version>.tgz`` / ``mathjax-<version>.tgz`` there by hand on a machine
without the npm registry.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

from utils import settings

ROOT = Path(__file__).resolve().parents[2]

#: npm package, version and the files (relative to the package) a page needs.
PACKAGES = {
    "reveal.js": ("4.6.1", ("dist/reveal.js", "dist/reveal.css", "dist/reset.css", "dist/theme/white.css",
                           "dist/theme/fonts/source-sans-pro/", "plugin/notes/notes.js", "LICENSE")),
    "mathjax": ("3.2.2", ("es5/tex-chtml-full.js", "es5/output/chtml/fonts/woff-v2/", "LICENSE")),
}


class VendorError(RuntimeError):
    """A package could not be fetched or unpacked; the message says what to do."""


def cache_dir() -> Path:
    """Where tarballs are kept: ``DOGSCATS_VENDOR`` or ``<repo>/build/vendor``."""
    return settings.read("DOGSCATS_VENDOR") or ROOT / "build" / "vendor"


def tarball(name: str) -> Path:
    """The package's ``.tgz`` in :func:`cache_dir`, fetched with ``npm pack`` when missing.

    Raises
    ------
    KeyError
        If ``name`` is not in :data:`PACKAGES`.
    VendorError
        If npm is missing or the registry cannot be reached.
    """
    version, _ = PACKAGES[name]
    folder = cache_dir()
    path = folder / f"{name}-{version}.tgz"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(f"npm is needed once to fetch {name} {version} (or put {path.name} into {folder})")
    done = subprocess.run([npm, "pack", f"{name}@{version}", "--pack-destination", str(folder), "--silent"],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not path.is_file():
        raise VendorError(f"`npm pack {name}@{version}` failed ({done.stderr.strip()[-300:]}); "
                          f"without the npm registry, copy {path.name} into {folder}")
    return path


def install(name: str, target: Path) -> Path:
    """Unpack the files pages need from package ``name`` into ``target/<name>/``.

    Parameters
    ----------
    name : str
        A key of :data:`PACKAGES`.
    target : pathlib.Path
        The output folder (the slides' or the site's); created if missing.

    Returns
    -------
    pathlib.Path
        ``target/<name>``, the prefix pages use (``reveal.js/dist/reveal.js``).

    Raises
    ------
    VendorError
        If the tarball cannot be fetched, or lacks a file pages need.
    """
    _, wanted = PACKAGES[name]
    destination = Path(target) / name
    stamp = destination / ".version"
    source = tarball(name)
    label = f"{source.name} {' '.join(wanted)}"
    if stamp.is_file() and stamp.read_text() == label:
        return destination
    shutil.rmtree(destination, ignore_errors=True)
    found = set()
    with tarfile.open(source, "r:gz") as archive:
        for member in archive.getmembers():
            relative = member.name.split("/", 1)[-1]  # npm tarballs hold package/...
            match = next((w for w in wanted if relative == w or (w.endswith("/") and relative.startswith(w))), None)
            if match is None or not member.isfile() or ".." in Path(relative).parts:
                continue
            found.add(match)
            out = destination / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as data, open(out, "wb") as handle:
                shutil.copyfileobj(data, handle)
    missing = [w for w in wanted if w not in found]
    if missing:
        raise VendorError(f"{source} lacks {', '.join(missing)}")
    stamp.write_text(label)
    return destination
