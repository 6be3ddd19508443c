"""Shared fixtures: where the real images are, a prepared smoke split, image makers.

No test writes into the project's ``data/`` or ``results/``: for the whole
session ``DOGSCATS_DATA`` and ``DOGSCATS_RESULTS`` point to temporary folders
unless the caller set them (``make test`` does, to a temporary folder of its
own), and :func:`prepared_smoke` prepares into ``DOGSCATS_TEST_DATA`` (set by
``make test``, so its passes on three backends prepare one split) or a temporary folder.
Under pytest-xdist (``make test``'s two workers) each worker runs these session fixtures;
:func:`utils.data.prepare` takes a lock, so the second waits for the first's split.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from course.tools import shared_photos
from utils import config, data



def _real_archive() -> Path | None:
    """DOGSCATS_ARCHIVE, else ../shared/data/dogs-vs-cats, else raw data under data/ (:mod:`course.tools.shared_photos`)."""
    return shared_photos.real_archive()


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


_PROTECTED = ("data", "results")


def _snapshot() -> dict:
    """Every file of the project's data/ and results/: size and modification time."""
    found = {}
    for name in _PROTECTED:
        for root, _dirs, names in os.walk(config.PROJECT_ROOT / name):
            for file_name in names:
                path = Path(root) / file_name
                try:
                    info = path.stat()
                except OSError:
                    continue
                found[str(path.relative_to(config.PROJECT_ROOT))] = (info.st_size, info.st_mtime_ns)
    return found


def pytest_sessionstart(session):
    session.config._project_files = _snapshot()


def pytest_sessionfinish(session, exitstatus):
    """Fail the session if any test wrote into the project's data/ or results/."""
    before = getattr(session.config, "_project_files", None)
    if before is None:
        return
    after = _snapshot()
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        listed = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        print(f"\nTests wrote into the project's data/ or results/: {listed}. "
              "Use tmp_path or a temporary DOGSCATS_DATA/DOGSCATS_RESULTS.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_addoption(parser):
    parser.addoption("--fresh-runtime", action="append", default=[], choices=("kaggle", "colab"),
                     help="also run every notebook alone on this simulated platform "
                          "(tests/test_fresh_runtime.py, marker notebook_alone); repeatable")
    parser.addoption("--fresh-runtime-every", action="store_true",
                     help="with --fresh-runtime: every notebook, not only make test's choice (marker every_notebook)")


#: Test modules that build no Keras model and run no Keras op (archives, records, settings, publishing,
#: the runner, the platform cell...): they carry the ``backend_neutral`` marker, and ``make test``
#: runs them once, in its TensorFlow pass; its JAX and PyTorch passes leave them out
#: (``-m "not backend_neutral"``), which keeps room for every notebook on both simulated platforms.
BACKEND_NEUTRAL = frozenset({
    "test_archives", "test_claims", "test_cloud", "test_comparisons", "test_conv_arithmetic", "test_crash", "test_disk",
    "test_files", "test_goldens", "test_notebook_prose", "test_plots", "test_plots_data", "test_progress",
    "test_publish", "test_reference", "test_results", "test_runner", "test_settings", "test_slides_tags",
    "test_sources", "test_stats", "test_submission", "test_vendor",
})


def pytest_collection_modifyitems(config, items):
    """Every test that needs the real images carries the ``real_data`` marker.

    Tests mark themselves (``@pytest.mark.real_data``), so ``-m "not real_data"``
    selects what runs without the photos; one that uses :func:`real_archive` or
    :func:`prepared_smoke` and forgot the marker gets it here.

    The notebook runs on a simulated fresh runtime (marker ``notebook_alone``) run
    only for the platforms named by ``--fresh-runtime`` (``make test`` names one
    per backend pass), and those marked ``every_notebook`` only with
    ``--fresh-runtime-every``; the others are deselected.

    Tests of the modules in :data:`BACKEND_NEUTRAL` carry the ``backend_neutral`` marker.
    """
    platforms = config.getoption("--fresh-runtime")
    kept, dropped = [], []
    for item in items:
        if "real_archive" in getattr(item, "fixturenames", ()) or \
                "prepared_smoke" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_data)
        if item.path.stem in BACKEND_NEUTRAL:
            item.add_marker(pytest.mark.backend_neutral)
        callspec = getattr(item, "callspec", None)
        every = config.getoption("--fresh-runtime-every")
        if item.get_closest_marker("notebook_alone") and (
                callspec is None or callspec.params.get("platform") not in platforms
                or (item.get_closest_marker("every_notebook") and not every)):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def _outputs_outside_the_project(tmp_path_factory):
    """``DOGSCATS_DATA``/``DOGSCATS_RESULTS`` in temporary folders when the caller set none."""
    added = []
    for variable, name in (("DOGSCATS_DATA", "data"), ("DOGSCATS_RESULTS", "results")):
        if not os.environ.get(variable):
            os.environ[variable] = str(tmp_path_factory.mktemp(name))
            added.append(variable)
    yield
    for variable in added:
        os.environ.pop(variable, None)


@pytest.fixture(scope="session")
def test_data_dir(tmp_path_factory) -> Path:
    """The data folder the real-data tests prepare into: never the project's ``data/``.

    ``DOGSCATS_TEST_DATA`` when set (``make test`` keeps one for its three passes,
    apart from the folder its golden notebooks prepare and read while the unit tests
    run), else a fresh temporary folder.
    """
    given = os.environ.get("DOGSCATS_TEST_DATA")
    if given:
        path = Path(given).expanduser().resolve()
        if not _inside(path, config.PROJECT_ROOT / "data"):
            return path
    return tmp_path_factory.mktemp("prepared")


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or below it (both resolved)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


@pytest.fixture(scope="session")
def prepared_smoke(real_archive, test_data_dir, tmp_path_factory) -> config.Profile:
    """A smoke-profile cfg whose split is prepared from the real images, in a test folder."""
    assert not _inside(test_data_dir, config.PROJECT_ROOT / "data"), "never the learner's own data/"
    cfg = config.get_profile("smoke", data_dir=test_data_dir,
                             results_dir=tmp_path_factory.mktemp("results"))
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


def killer(spec: str):
    """A stand-in for :func:`utils.files.checkpoint` that kills this process at a named step.

    ``spec`` is ``"step"`` (the first call with that step name) or ``"step@N"``
    (the N-th, counted from the moment it is installed). The kill is a real
    ``SIGKILL``: no clean-up, no ``finally``. The crash tests install it in a
    forked child (``files.checkpoint = killer("swap")``); production code
    only marks its steps.
    """
    name, _, nth = spec.partition("@")
    wanted = int(nth) if nth else 1
    calls, lock = [0], threading.Lock()

    def checkpoint(step: str) -> None:
        if step != name:
            return
        with lock:
            calls[0] += 1
            count = calls[0]
        if count == wanted:
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))

    return checkpoint


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(kib)``: a folder on a tmpfs of that many KiB, unmounted afterwards.

    Gives real ``ENOSPC`` errors; skipped where mounting is not allowed (not
    root, or a container without the capability).
    """
    mounted = []

    def make(kib: int) -> Path:
        folder = tmp_path / f"disk-{len(mounted)}"
        folder.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({result.stderr.strip() or 'not root'})")
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def pytest_terminal_summary(terminalreporter):
    """Keep the golden comparison's ignored share in sight: compared and ignored code cells per notebook."""
    from course.tools import goldens

    if not (goldens.GOLDEN_DIR / goldens.PROFILE).is_dir():
        return
    terminalreporter.write_sep("-", "golden comparison (tests/golden/ignore.toml): code cells per notebook")
    for line in goldens.summary_lines():
        terminalreporter.write_line(line)
    if _CELL_STDERR:
        terminalreporter.write_sep("-", "stderr written by notebook cells (not compared; goldens hold none)")
        for nodeid, text in _CELL_STDERR.items():
            terminalreporter.write_line(f"{nodeid}: {text[:2000]!r}")


# -- nbval: what a cell writes to stderr ------------------------------------------------------
#: stderr text the notebook cells wrote during this run, by test id (shown in the summary).
_CELL_STDERR: dict[str, str] = {}


class _NbvalStderr:
    """nbval does not compare stderr: a kernel's stray stderr line failed CI once, with no text to read.

    The goldens hold none (``tests/test_goldens.py::test_golden_outputs_are_clean`` refuses
    warnings and stderr in them, so a regenerated golden shows a new warning at once), and
    whatever a cell writes to stderr in a run is printed in the run's summary instead.
    Registered as a plugin of its own (``pytest_configure``), because conftest hooks reach only
    files under ``tests/`` and the golden pass runs composed notebooks from a temporary folder.
    """

    @staticmethod
    def pytest_collectstart(collector):
        if str(getattr(collector, "path", "")).endswith(".ipynb") and hasattr(collector, "skip_compare"):
            collector.skip_compare += ("stderr",)

    @staticmethod
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        yield
        outputs = getattr(item, "test_outputs", None) if call.when == "call" else None
        text = "".join(out.get("text", "") for out in outputs or () if out.get("name") == "stderr")
        if text.strip():
            _CELL_STDERR[f"{item.path.name} · {item.name}"] = text


def pytest_configure(config):
    config.pluginmanager.register(_NbvalStderr(), "dogscats-nbval-stderr")
    # the kernels nbval starts inherit this environment: as make course's, no TensorBoard server (03)
    from utils import settings

    settings.apply_headless()
