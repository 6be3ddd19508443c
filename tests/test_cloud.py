"""On Colab/Kaggle the first cell installs what is missing and finds the photos; in a clone it does nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import platforms
from utils import cloud, config, dependencies, sources

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))


def _header_tool():
    from course.tools import notebook_header

    return notebook_header


def _cell(path, cell_id):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return next(("".join(c["source"]) for c in cells if c.get("id") == cell_id), None)


def test_repository_url_is_one_github_repository():
    url = _header_tool().repository_url()
    assert url.startswith("https://github.com/") and url.count("/") == 4


def test_bad_repository_url_is_refused(tmp_path):
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project.urls]\nRepository = "https://gitlab.com/a/b"\n')
    with pytest.raises(ValueError, match="github.com/OWNER/REPO"):
        _header_tool().repository_url(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badges_open_this_notebook_of_this_repository(path):
    tool = _header_tool()
    url = tool.repository_url()
    relative = path.relative_to(ROOT).as_posix()
    owner_repo = url.removeprefix("https://github.com/")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert [c.get("id") for c in cells[1:3]] == [tool.BADGES_ID, tool.SETUP_ID], "header right after the title"
    badges = _cell(path, tool.BADGES_ID)
    assert f"https://colab.research.google.com/github/{owner_repo}/blob/main/{relative})" in badges
    assert f"https://kaggle.com/kernels/welcome?src={url}/blob/main/{relative})" in badges
    assert (ROOT / relative).is_file()
    assert f'"{url}.git"' in _cell(path, tool.SETUP_ID)


def test_header_tool_is_idempotent_and_reports_nothing_stale():
    out = subprocess.run([sys.executable, str(ROOT / "course" / "tools" / "notebook_header.py"), "--check"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_header_tool_replaces_rather_than_duplicates():
    import nbformat

    tool = _header_tool()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 09 · X"),
                                               nbformat.v4.new_code_cell("x = 1")])
    once = tool.with_header(notebook, "https://github.com/a/b", "notebooks/09_x.ipynb")
    twice = tool.with_header(once, "https://github.com/a/b", "notebooks/09_x.ipynb")
    assert [c.get("id") for c in twice.cells][1:3] == [tool.BADGES_ID, tool.SETUP_ID]
    assert len(twice.cells) == 4 and "".join(twice.cells[3].source) == "x = 1"


GUARD = """
import os, socket, subprocess, sys, json
def refuse(*args, **kwargs):
    raise AssertionError("the platform cell must not touch the network or run a program here")
socket.socket.connect = refuse
socket.create_connection = refuse
subprocess.run = subprocess.Popen = refuse
before = (os.getcwd(), list(sys.path), dict(os.environ), sorted(os.listdir(".")))
"""

AFTER = """
after = (os.getcwd(), list(sys.path), dict(os.environ), sorted(os.listdir(".")))
assert after == before, "the platform cell changed something"
import utils
print(json.dumps({"utils": utils.__file__}))
"""


@pytest.mark.parametrize("path", NOTEBOOKS[:1] + NOTEBOOKS[-1:], ids=lambda p: p.name)
def test_platform_cell_is_a_no_op_in_a_clone(path):
    source = _cell(path, _header_tool().SETUP_ID)
    out = subprocess.run([sys.executable, "-c", GUARD + source + "\n" + AFTER], cwd=ROOT / "notebooks",
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert Path(json.loads(out.stdout.strip().splitlines()[-1])["utils"]).parent == ROOT / "utils"


def _template_cell(url="https://github.com/a/b", relative="notebooks/00_setup.ipynb") -> str:
    """The platform cell the header tool gives a notebook now (the stored notebooks follow it)."""
    return _header_tool().header_cells(url, relative)[1].source


FAKE_CLONE = (
    "import subprocess, os, sys, json, types\n"
    "calls = []\n"
    "def fake_run(cmd, **kwargs):\n"
    "    calls.append(cmd)\n"
    "    os.makedirs(os.path.join(cmd[-1], 'notebooks'))\n"
    "    os.makedirs(os.path.join(cmd[-1], 'utils'))\n"
    "    open(os.path.join(cmd[-1], 'utils', '__init__.py'), 'w').close()\n"
    "    open(os.path.join(cmd[-1], 'utils', 'cloud.py'), 'w').write("
    "'def setup(keep_on_drive=False):\\n    print(\"SETUP\", keep_on_drive)\\n')\n"
    "    return types.SimpleNamespace(returncode=int(os.environ.get('FAKE_GIT_STATUS', '0')))\n"
    "subprocess.run = fake_run\n"
)


def _run_fake_clone(tmp_path, **env_extra):
    code = FAKE_CLONE + _template_cell() + "\nprint(json.dumps({'calls': calls, 'cwd': os.getcwd()}))\n"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DOGSCATS_CLONE_URL")}
    return subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**env, **env_extra})


def test_platform_cell_clones_and_sets_up_when_the_course_is_absent(tmp_path):
    """Where utils is not importable, the cell clones, chdirs into notebooks/ and calls cloud.setup(KEEP_ON_DRIVE)."""
    out = _run_fake_clone(tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert "SETUP True" in lines, "KEEP_ON_DRIVE = True reaches cloud.setup"
    result = json.loads(lines[-1])
    assert result["calls"] == [["git", "clone", "--quiet", "--depth", "1", "https://github.com/a/b.git", "b"]]
    assert Path(result["cwd"]) == tmp_path / "b" / "notebooks"


def test_platform_cell_clones_the_tests_url_and_says_what_to_do_when_git_fails(tmp_path):
    """DOGSCATS_CLONE_URL (tests only) replaces the address; a failed clone names it and Kaggle's Internet switch."""
    out = _run_fake_clone(tmp_path, DOGSCATS_CLONE_URL="file:///somewhere/course.git")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1])["calls"][0][-2] == "file:///somewhere/course.git"
    again = tmp_path / "again"
    again.mkdir()
    failed = _run_fake_clone(again, FAKE_GIT_STATUS="128")
    assert failed.returncode != 0 and "SETUP" not in failed.stdout
    assert "Could not clone https://github.com/a/b.git" in failed.stderr and "Internet on" in failed.stderr


def test_badge_links_and_clone_url_come_from_pyproject(tmp_path):
    """The one address: [project.urls] Repository of pyproject.toml builds the badges and the clone URL."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project.urls]\nRepository = "https://github.com/someone/elsewhere/"\n')
    tool = _header_tool()
    url = tool.repository_url(pyproject)
    assert url == "https://github.com/someone/elsewhere"
    badges, setup = tool.header_cells(url, "notebooks/03_cnn.ipynb")
    assert ("(https://colab.research.google.com/github/someone/elsewhere/blob/main/notebooks/03_cnn.ipynb)"
            in badges.source)
    assert ("(https://kaggle.com/kernels/welcome?src=https://github.com/someone/elsewhere/blob/main/"
            "notebooks/03_cnn.ipynb)" in badges.source)
    assert '"https://github.com/someone/elsewhere.git"' in setup.source
    assert '"elsewhere"' in setup.source and "dogs-vs-cats-keras" not in setup.source


def test_a_pip_failure_is_one_line_and_the_photos_are_still_looked_for(monkeypatch, capsys):
    """A real pip failure (no index: nothing can be found): one line with the retry command, nothing raised."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: ["dogscats-no-such-package==0.0"])
    searched = []
    monkeypatch.setattr(cloud, "find_platform_data", lambda environ=None: searched.append(True) or [])
    assert cloud.setup(environ={}) == []
    assert searched == [True], "the photo search runs after a pip failure"
    lines = [line for line in capsys.readouterr().out.splitlines() if "Could not install" in line]
    assert len(lines) == 1
    assert "dogscats-no-such-package==0.0 (pip exited with status 1)" in lines[0]
    assert "`%pip install dogscats-no-such-package==0.0`" in lines[0] and "run this cell again" in lines[0]
    refused = dependencies.install(["x"], runner=lambda cmd, check: (_ for _ in ()).throw(OSError("no pip")))
    assert refused is False and "OSError: no pip" in capsys.readouterr().out


def test_a_runtime_without_tensorflow_is_told_so_not_given_one(monkeypatch, capsys):
    monkeypatch.setattr(dependencies, "_is_installed", lambda name: name not in ("tensorflow", "keras"))
    monkeypatch.setattr(dependencies, "install", lambda requirements: requirements and pytest.fail(f"installs {requirements}"))
    monkeypatch.setattr(cloud, "find_platform_data", lambda environ=None: [])
    cloud.setup(environ={})
    out = capsys.readouterr().out
    assert "This runtime has no tensorflow and no keras" in out and "does not install its own" in out


def test_attached_kaggle_dataset_is_found(tmp_path):
    root = tmp_path / "input"
    (root / "dogs-vs-cats").mkdir(parents=True)
    (root / "dogs-vs-cats" / "train.zip").write_bytes(b"")
    (root / "dogs-vs-cats" / "test1.zip").write_bytes(b"")
    (root / "unrelated" / "deep").mkdir(parents=True)
    (root / "unrelated" / "deep" / "notes.txt").write_text("x")
    assert cloud.kaggle_input_sources(root) == [root / "dogs-vs-cats" / "test1.zip",
                                                root / "dogs-vs-cats" / "train.zip"]
    assert cloud.kaggle_input_sources(tmp_path / "absent") == []
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "r", archive=None)
    environ = {}
    assert cloud.find_platform_data(cfg, environ=environ, kaggle_input=root) == [root / "dogs-vs-cats"]
    assert environ["DOGSCATS_ARCHIVE"] == str(root / "dogs-vs-cats")


def test_nothing_found_prints_the_usual_instructions(tmp_path, monkeypatch, capsys):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-token"))
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "r", archive=None)
    assert cloud.find_platform_data(cfg, environ={}, kaggle_input=tmp_path / "none") == []
    assert "No Dogs vs. Cats images were found" in capsys.readouterr().out


def test_kagglehub_download_fails_offline_with_a_clear_message(tmp_path, monkeypatch):
    """The real kagglehub call, with the network refused: DataNotFoundError that says what to do."""
    pytest.importorskip("kagglehub")
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("KAGGLE_USERNAME", "nobody")
    monkeypatch.setenv("KAGGLE_KEY", "0" * 32)
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "cache"))
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "r", archive=None)
    with pytest.raises(sources.DataNotFoundError, match="kagglehub could not download 'dogs-vs-cats-redux-kernels-edition'") as error:
        cloud.find_platform_data(cfg, environ={}, kaggle_input=tmp_path / "none")
    assert "No Dogs vs. Cats images were found" in str(error.value)


def _stub_colab(monkeypatch, secrets: dict, not_granted=()):
    """The simulated Colab runtime's ``google.colab.userdata`` (tests/platforms.py), loaded into this process."""
    import types

    userdata = types.ModuleType("google.colab.userdata")
    exec(platforms.colab_userdata_source(secrets, not_granted), userdata.__dict__)
    colab = types.ModuleType("google.colab")
    colab.userdata = userdata
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.userdata", userdata)


def test_colab_token_secret_is_copied(monkeypatch):
    _stub_colab(monkeypatch, {"KAGGLE_API_TOKEN": "KGAT_abc"})
    environ = {}
    assert cloud.colab_secrets_to_environment(environ) is True
    assert environ == {"KAGGLE_API_TOKEN": "KGAT_abc"}


def test_colab_legacy_pair_is_copied_and_half_a_pair_is_not(monkeypatch):
    _stub_colab(monkeypatch, {"KAGGLE_USERNAME": "ann", "KAGGLE_KEY": "k"})
    environ = {}
    assert cloud.colab_secrets_to_environment(environ) is True
    assert environ == {"KAGGLE_USERNAME": "ann", "KAGGLE_KEY": "k"}
    _stub_colab(monkeypatch, {"KAGGLE_USERNAME": "ann"})
    environ = {}
    assert cloud.colab_secrets_to_environment(environ) is False and environ == {}


def test_colab_secret_not_granted_gets_its_own_message(monkeypatch, capsys):
    _stub_colab(monkeypatch, {"KAGGLE_API_TOKEN": "KGAT_abc"}, not_granted=("KAGGLE_API_TOKEN",))
    environ = {}
    assert cloud.colab_secrets_to_environment(environ) is False and environ == {}
    out = capsys.readouterr().out
    assert "KAGGLE_API_TOKEN" in out and "Notebook access" in out


# -- Kaggle: what is attached, and kagglehub where nothing is ------------------------------------
@pytest.mark.parametrize("layout", ["dogs-vs-cats-redux-kernels-edition",
                                    "competitions/dogs-vs-cats-redux-kernels-edition",
                                    "datasets/someone/dogs-vs-cats"])
def test_kaggle_inputs_are_found_up_to_three_folders_deep(tmp_path, monkeypatch, layout):
    root = tmp_path / "input"
    (root / layout).mkdir(parents=True)
    for name in ("train.zip", "test.zip", "sample_submission.csv"):
        (root / layout / name).write_bytes(b"")
    (root / "unrelated" / "a" / "b" / "c").mkdir(parents=True)
    (root / "unrelated" / "a" / "b" / "c" / "train.zip").write_bytes(b"")  # four deep: not looked at
    assert cloud.kaggle_input_sources(root) == [root / layout / "test.zip", root / layout / "train.zip"]
    monkeypatch.setenv("DOGSCATS_KAGGLE_INPUT", str(root))
    assert cloud.kaggle_input_root() == root and cloud.kaggle_input_sources() == cloud.kaggle_input_sources(root)
    monkeypatch.delenv("DOGSCATS_KAGGLE_INPUT")
    assert cloud.kaggle_input_root() == Path("/kaggle/input")


def test_the_labelled_folder_wins_when_several_inputs_are_attached(tmp_path):
    root = tmp_path / "input"
    for folder, name in (("a-test-only", "test1.zip"), ("competitions/redux", "train.zip"),
                         ("competitions/redux", "test.zip")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_bytes(b"")
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "r", archive=None)
    environ = {}
    assert cloud.find_platform_data(cfg, environ=environ, kaggle_input=root) == [root / "competitions" / "redux"]


def _stub_kagglehub(monkeypatch, result=None, error=None):
    """A stand-in kagglehub whose competition_download returns ``result`` or raises ``error``; returns its calls."""
    import types

    calls = []

    def competition_download(handle):
        calls.append(handle)
        if error is not None:
            raise error
        return str(result)

    monkeypatch.setitem(sys.modules, "kagglehub", types.SimpleNamespace(competition_download=competition_download))
    return calls


def _no_token(monkeypatch, tmp_path):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-token"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_inside_kaggle_with_nothing_attached_kagglehub_attaches_the_redux_competition(tmp_path, monkeypatch, capsys):
    """No token needed inside a Kaggle notebook: kagglehub attaches the competition there."""
    _no_token(monkeypatch, tmp_path)
    (tmp_path / "mounted").mkdir()
    calls = _stub_kagglehub(monkeypatch, result=tmp_path / "mounted")
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "r", archive=None)
    environ = {"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}
    assert cloud.find_platform_data(cfg, environ=environ, kaggle_input=tmp_path / "nothing") == [tmp_path / "mounted"]
    assert calls == [sources.KAGGLE_COMPETITION] == ["dogs-vs-cats-redux-kernels-edition"]
    assert environ["DOGSCATS_ARCHIVE"] == str(tmp_path / "mounted")
    assert f"Photos found: DOGSCATS_ARCHIVE={tmp_path / 'mounted'}" in capsys.readouterr().out


def test_inside_kaggle_a_failed_attach_says_exactly_what_to_do(tmp_path, monkeypatch):
    _no_token(monkeypatch, tmp_path)
    _stub_kagglehub(monkeypatch, error=RuntimeError("403 Client Error"))
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "r", archive=None)
    with pytest.raises(sources.DataNotFoundError) as error:
        cloud.find_platform_data(cfg, environ={"KAGGLE_KERNEL_RUN_TYPE": "Interactive"},
                                 kaggle_input=tmp_path / "nothing")
    message = str(error.value)
    for words in ("RuntimeError: 403 Client Error", "Add Input", "Competitions", "Dogs vs. Cats Redux",
                  sources.KAGGLE_RULES_URL, "Settings > Internet", "run this cell again"):
        assert words in message, words


def test_outside_kaggle_and_colab_without_a_token_nothing_is_downloaded(tmp_path, monkeypatch, capsys):
    _no_token(monkeypatch, tmp_path)
    calls = _stub_kagglehub(monkeypatch, error=AssertionError("must not be called"))
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "r", archive=None)
    assert cloud.find_platform_data(cfg, environ={}, kaggle_input=tmp_path / "nothing") == []
    assert calls == []
    out = capsys.readouterr().out
    assert "No Dogs vs. Cats images were found" in out and "Add Input" not in out


def test_every_rules_message_names_the_redux_rules_page(tmp_path):
    assert sources.KAGGLE_RULES_URL == "https://www.kaggle.com/c/dogs-vs-cats-redux-kernels-edition/rules"
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "r", archive=None)
    assert sources.KAGGLE_RULES_URL in sources.how_to_get_data(cfg)
    assert sources.KAGGLE_RULES_URL in cloud.KAGGLE_STEPS.format(rules_url=sources.KAGGLE_RULES_URL)
    assert sources.KAGGLE_RULES_URL in cloud.COLAB_STEPS.format(rules_url=sources.KAGGLE_RULES_URL)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    colab_kaggle = readme[readme.index("## On Colab or Kaggle"):]
    colab_kaggle = colab_kaggle[:colab_kaggle.index("\n## ", 5)]
    assert sources.KAGGLE_RULES_URL in colab_kaggle and "Redux" in colab_kaggle
    assert "Internet" in colab_kaggle and "KAGGLE_API_TOKEN" in colab_kaggle and "KEEP_ON_DRIVE" in colab_kaggle


# -- Colab: Google Drive -----------------------------------------------------------------------
def test_drive_keeps_data_results_and_the_kaggle_download(tmp_path, monkeypatch, capsys):
    mounted = []

    def mount(point):
        mounted.append(point)
        (Path(point) / "MyDrive").mkdir(parents=True)

    environ = {"DOGSCATS_DRIVE": str(tmp_path / "drive"), "DOGSCATS_RESULTS": str(tmp_path / "mine")}
    base = cloud.mount_drive(environ, mount=mount)
    assert mounted == [str(tmp_path / "drive")]
    assert base == tmp_path / "drive" / "MyDrive" / "dogs-vs-cats-keras"
    assert environ["DOGSCATS_DATA"] == str(base / "data") and (base / "data").is_dir()
    assert environ["KAGGLEHUB_CACHE"] == str(base / "kagglehub") and (base / "kagglehub").is_dir()
    assert environ["DOGSCATS_RESULTS"] == str(tmp_path / "mine"), "a variable set before is left as it is"
    out = capsys.readouterr().out
    assert "Google Drive is mounted at" in out and f"DOGSCATS_DATA={base / 'data'}" in out
    assert "DOGSCATS_RESULTS=" in out and "left as it is" in out
    assert cloud.drive_mount_point({}) == Path("/content/drive")


def test_a_drive_that_would_not_mount_is_one_line_and_changes_nothing(tmp_path, capsys):
    def refuse(point):
        raise ValueError("mount failed: credential propagation was unsuccessful")

    environ = {"DOGSCATS_DRIVE": str(tmp_path / "drive")}
    assert cloud.mount_drive(environ, mount=refuse) is None
    assert environ == {"DOGSCATS_DRIVE": str(tmp_path / "drive")}
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "Google Drive was not mounted" in lines[0] and "KEEP_ON_DRIVE = False" in lines[0]


def test_drive_is_left_alone_outside_colab(tmp_path, monkeypatch):
    monkeypatch.setattr(cloud, "on_colab", lambda: False)
    environ = {"DOGSCATS_DRIVE": str(tmp_path / "drive")}
    assert cloud.mount_drive(environ) is None and not (tmp_path / "drive").exists()
    searched = []
    monkeypatch.setattr(cloud, "find_platform_data", lambda environ=None: searched.append(1) or [])
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: [])
    cloud.setup(keep_on_drive=True, environ=environ)
    assert searched == [1] and not (tmp_path / "drive").exists() and "DOGSCATS_DATA" not in environ
