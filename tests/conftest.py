"""Shared fixtures: where the real images are, a prepared smoke split, image makers."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from utils import config, data, sources

SHARED_DATA = config.PROJECT_ROOT.parent / "shared" / "data" / "dogs-vs-cats"


def _real_archive() -> Path | None:
    """DOGSCATS_ARCHIVE, else ../shared/data/dogs-vs-cats, else raw data under data/."""
    if os.environ.get("DOGSCATS_ARCHIVE"):
        path = Path(os.environ["DOGSCATS_ARCHIVE"]).expanduser()
        return path if path.exists() else None
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    found = sources.find_source(config.get_profile("smoke"))
    return found[0] if found else None


@pytest.fixture(scope="session")
def real_archive() -> Path:
    """The real Kaggle images: skipped when absent, except under CI=true where that fails."""
    path = _real_archive()
    if path is None:
        message = ("the real Dogs vs. Cats images were not found: set DOGSCATS_ARCHIVE to "
                   "dogs-vs-cats.zip, train.zip or a folder holding them")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI must not pass by skipping real-data tests)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def prepared_smoke(real_archive) -> config.Profile:
    """A smoke-profile cfg whose split is prepared from the real images (in data/, reused)."""
    cfg = config.get_profile("smoke")
    data.prepare(cfg, source=real_archive, progress=False)
    return cfg


def image_bytes(size=(24, 32), mode="RGB", fmt="JPEG", seed=0) -> bytes:
    """A random-noise image encoded in memory, distinct for each seed.

    ``size`` is ``(width, height)`` in pixels, as Pillow takes it.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1, "RGBA": 4, "CMYK": 4}[mode]
    array = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(array[..., 0] if channels == 1 else array, mode=mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def make_image():
    """Write a random image file: ``make_image(path, mode="RGB", fmt="JPEG", seed=0)``."""

    def write(path, mode="RGB", fmt="JPEG", seed=0, size=(24, 32)):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes(size=size, mode=mode, fmt=fmt, seed=seed))
        return path

    return write
