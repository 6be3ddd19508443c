"""Each notebook opened alone on a fresh Colab or Kaggle runtime (simulated: tests/platforms.py).

What a learner's click on a badge gives: one ``.ipynb`` in an empty folder of a runtime
that has no course. The platform cell must clone it (here: a local bare repository of
the working tree), find the photos as that platform offers them, and the notebook must
then run to its end with no error and no warning.

The cheap tests run the platform cell alone (what a learner sees in it); the notebook
runs (marker ``notebook_alone``, about a minute each under ``smoke``) run for the platforms
named by ``--fresh-runtime``: ``make test`` simulates Kaggle in its JAX pass and Colab in
its PyTorch pass; ``make test-fresh`` runs both on TensorFlow.
"""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path

import pytest

from course.tools import notebook_header
from tests import platforms
from utils import sources

ROOT = platforms.ROOT
PLATFORMS = ("kaggle", "colab")
RUNTIMES = {"kaggle": platforms.kaggle_runtime, "colab": platforms.colab_runtime}
NOTEBOOKS = [path.relative_to(ROOT).as_posix() for path in notebook_header.notebook_paths()]
CLONE_NAME = notebook_header.repository_url().rsplit("/", 1)[-1]


#: The runs ``make test`` makes (tests/conftest.py's ``--fresh-runtime``): every lesson notebook,
#: 00 to 07, on both platforms (Kaggle in the JAX pass, Colab in the PyTorch pass). Each takes ten
#: seconds to a minute and a half on 2 cores (a kernel of its own, the clone, the split prepared,
#: stand-ins trained). ``make test-fresh`` (``--fresh-runtime-every``) adds the solutions, which keeps
#: ``make test`` under 30 minutes on 2 cores.
TEST_RUNS = [(platform, nb) for platform in PLATFORMS for nb in NOTEBOOKS if "/solutions/" not in nb]


def _runs() -> list:
    """Every (platform, notebook) pair; those outside :data:`TEST_RUNS` are marked ``every_notebook``."""
    return [pytest.param(platform, nb, marks=() if (platform, nb) in TEST_RUNS else pytest.mark.every_notebook)
            for platform in PLATFORMS for nb in NOTEBOOKS]


# printed after the platform cell, as JSON: what the rest of the notebook will see
REPORT = """
import json, os, sys, utils
print(json.dumps({"utils": utils.__file__, "cwd": os.getcwd(), "path0": sys.path[0],
                  "archive": os.environ.get("DOGSCATS_ARCHIVE"), "data": os.environ.get("DOGSCATS_DATA"),
                  "results": os.environ.get("DOGSCATS_RESULTS")}))
"""


@pytest.fixture(scope="session")
def other_photos(real_archive, tmp_path_factory) -> Path:
    """What Colab's kagglehub download serves in the notebook runs: part of the shared photos, another split."""
    return platforms.photo_subset(real_archive, tmp_path_factory.mktemp("other-photos"))


@pytest.fixture(scope="session")
def course_repository(tmp_path_factory) -> Path:
    """The working tree as a local bare repository, built once a session."""
    return platforms.bare_repository(tmp_path_factory.mktemp("course-repository"))


def _same_files(found: Path, archive: Path) -> None:
    """``found`` (a folder, or one file) holds the same photos' archives as the shared ``archive``."""
    expected = platforms.archive_files(archive)
    folder = found if found.is_dir() else found.parent
    for source in expected:
        assert (folder / source.name).is_file(), f"{source.name} is missing from {folder}"
        assert filecmp.cmp(folder / source.name, source, shallow=False), f"{folder / source.name} differs"


def _visible_stderr(text: str) -> list[str]:
    return [line for line in text.replace("\r", "\n").splitlines()
            if line.strip() and not platforms._PROGRESS_BAR.match(line)]


@pytest.mark.fresh_runtime
@pytest.mark.real_data
@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_platform_cell_alone_clones_the_course_and_finds_the_photos(platform, tmp_path, real_archive,
                                                                       course_repository):
    """What a learner sees in the platform cell of a fresh runtime: the clone, Drive on Colab, the photos."""
    env = RUNTIMES[platform](tmp_path / "runtime", real_archive, repository=course_repository)
    work = tmp_path / "work"
    out = platforms.run_platform_cell(env, work, code_after=REPORT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert _visible_stderr(out.stderr) == [], "the platform cell wrote to stderr"
    report = json.loads(out.stdout.strip().splitlines()[-1])
    clone = work / CLONE_NAME
    assert Path(report["utils"]) == clone / "utils" / "__init__.py", "utils comes from the clone"
    assert Path(report["cwd"]) == clone / "notebooks" and Path(report["path0"]) == clone
    assert (clone / "pyproject.toml").read_bytes() == (ROOT / "pyproject.toml").read_bytes(), \
        "the clone is this working tree"
    assert "Photos found: DOGSCATS_ARCHIVE=" in out.stdout
    archive = Path(report["archive"])
    _same_files(archive, real_archive)
    if platform == "kaggle":
        assert archive == tmp_path / "runtime" / "kaggle" / "input" / sources.KAGGLE_COMPETITION
        assert "Google Drive" not in out.stdout, "KEEP_ON_DRIVE is for Colab only"
        assert report["data"] is None, "on Kaggle the data stays in the clone"
    else:
        drive = tmp_path / "runtime" / "drive" / "MyDrive" / "dogs-vs-cats-keras"
        assert "Google Drive is mounted at" in out.stdout
        assert Path(report["data"]) == drive / "data" and Path(report["results"]) == drive / "results"
        assert drive / "kagglehub" in archive.parents, "the Kaggle download is kept on Drive"
        seen = platforms.kaggle_stand_in(real_archive).requests_seen
        assert ("POST", "/api/v1/competitions.CompetitionApiService/DownloadDataFiles",
                f"Bearer {platforms.KAGGLE_TOKEN}") in seen, "the Colab secret reached kagglehub"


@pytest.mark.fresh_runtime
@pytest.mark.real_data
def test_colab_with_a_token_kaggle_refuses_says_what_to_do(tmp_path, real_archive, course_repository):
    """A token Kaggle answers 401 for: the cell stops with kagglehub's reason, the rules page and the secret's name."""
    env = platforms.colab_runtime(tmp_path / "runtime", real_archive, repository=course_repository)
    wrong = platforms.colab_package(tmp_path / "other-secrets", secrets={"KAGGLE_API_TOKEN": "KGAT_revoked"})
    env["PYTHONPATH"] = os.pathsep.join([str(wrong), env["PYTHONPATH"]])
    out = platforms.run_platform_cell(env, tmp_path / "work")
    assert out.returncode != 0
    assert "DataNotFoundError: kagglehub could not download 'dogs-vs-cats-redux-kernels-edition'" in out.stderr
    assert "401" in out.stderr and sources.KAGGLE_RULES_URL in out.stderr and "KAGGLE_API_TOKEN" in out.stderr


@pytest.mark.fresh_runtime
@pytest.mark.real_data
def test_colab_with_a_secret_not_granted_names_it(tmp_path, real_archive, course_repository):
    env = platforms.colab_runtime(tmp_path / "runtime", real_archive, repository=course_repository)
    hidden = platforms.colab_package(tmp_path / "hidden", not_granted=("KAGGLE_API_TOKEN",))
    env["PYTHONPATH"] = os.pathsep.join([str(hidden), env["PYTHONPATH"]])
    out = platforms.run_platform_cell(env, tmp_path / "work")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Colab has the secret(s) KAGGLE_API_TOKEN but this notebook may not read them" in out.stdout
    assert "Notebook access" in out.stdout and "No Dogs vs. Cats images were found" in out.stdout


def _require_current_header(relative: str) -> None:
    cells = json.loads((ROOT / relative).read_text(encoding="utf-8"))["cells"]
    stored = next(("".join(c["source"]) for c in cells if c.get("id") == notebook_header.SETUP_ID), None)
    expected = notebook_header.header_cells(notebook_header.repository_url(), relative)[1].source
    assert stored == expected, (f"{relative}'s platform cell is not the template's: run "
                                "`python -m course.tools.notebook_header`")


@pytest.mark.fresh_runtime
@pytest.mark.notebook_alone
@pytest.mark.real_data
@pytest.mark.parametrize(("platform", "notebook"), _runs(), ids=lambda value: Path(value).stem)
def test_a_notebook_opened_alone_runs_to_its_end(platform, notebook, tmp_path, real_archive, other_photos,
                                                 course_repository):
    """Runs only with ``--fresh-runtime PLATFORM`` (tests/conftest.py): ``make test`` simulates
    Kaggle in its JAX pass and Colab in its PyTorch pass, on that pass's Keras backend.

    Kaggle attaches the shared photos themselves, so a notebook opened first copies the
    committed reference records of what it builds on; Colab's download is another set of
    photos (:func:`tests.platforms.photo_subset`), so it trains short stand-ins instead."""
    _require_current_header(notebook)
    photos = real_archive if platform == "kaggle" else other_photos
    env = RUNTIMES[platform](tmp_path / "runtime", photos, repository=course_repository)
    env["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "tensorflow")   # the backend the learner picked
    executed = platforms.run_notebook_alone(notebook, env, tmp_path / "work", timeout=1800)
    assert platforms.error_outputs(executed) == []
    printed = platforms.cell_text(executed, notebook_header.SETUP_ID)
    assert "Photos found: DOGSCATS_ARCHIVE=" in printed, printed
    everything = "\n".join(platforms.cell_text(executed, c.get("id")) for c in executed.cells if c.cell_type == "code")
    if "filled_in = prerequisites.ensure_records(" in "\n".join(c.source for c in executed.cells):
        copied, trained = "copied the reference run's record" in everything, "trained now with the short recipe" in everything
        if platform == "kaggle":   # the reference run's photos: records copied (a model it loads is trained)
            assert copied or trained, f"{notebook} opened first on Kaggle filled in nothing"
        else:                      # other photos: nothing copied, stand-ins trained
            assert trained and not copied, f"{notebook} opened first on Colab: copied {copied}, trained {trained}"
    if platform == "colab":
        assert "Google Drive is mounted at" in printed
    assert platforms.stderr_lines(executed) == [], "a cell wrote a warning or log line to stderr"
