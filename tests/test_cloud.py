"""On Colab/Kaggle the first cell installs what is missing and finds the photos; in a clone it does nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils import cloud, config, sources

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


def test_platform_cell_clones_and_sets_up_when_the_course_is_absent(tmp_path):
    """Where utils is not importable, the cell clones, chdirs into notebooks/ and calls cloud.setup()."""
    source = _cell(NOTEBOOKS[0], _header_tool().SETUP_ID)
    url = _header_tool().repository_url()
    name = url.rsplit("/", 1)[-1]
    fake = (
        "import subprocess, os, sys, json\n"
        "calls = []\n"
        "def fake_run(cmd, check):\n"
        "    calls.append(cmd)\n"
        "    os.makedirs(os.path.join(cmd[-1], 'notebooks'))\n"
        "    os.makedirs(os.path.join(cmd[-1], 'utils'))\n"
        "    open(os.path.join(cmd[-1], 'utils', '__init__.py'), 'w').close()\n"
        "    open(os.path.join(cmd[-1], 'utils', 'cloud.py'), 'w').write('def setup():\\n    print(\"SETUP\")\\n')\n"
        "subprocess.run = fake_run\n"
    )
    code = fake + source + "\nprint(json.dumps({'calls': calls, 'cwd': os.getcwd()}))\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert "SETUP" in lines
    result = json.loads(lines[-1])
    assert result["calls"] == [["git", "clone", "--depth", "1", f"{url}.git", name]]
    assert Path(result["cwd"]) == tmp_path / name / "notebooks"


def test_missing_requirements_skips_what_is_installed_and_jupyter():
    required = ["tensorflow>=2.17,<2.22", "kagglehub>=0.3,<2", "jupyterlab>=4.2,<5", "jax[cpu]>=0.4"]
    installed = {"tensorflow"}.__contains__
    assert cloud.missing_requirements(required, installed) == ["kagglehub>=0.3,<2", "jax[cpu]>=0.4"]
    assert "tensorflow>=2.17,<2.22" in cloud.requirements()
    assert cloud.missing_requirements() == [], "this environment has every requirement"


def test_missing_requirements_leaves_out_what_this_python_does_not_need():
    """``tomli; python_version < '3.11'`` is installed on 3.10 only; a marker that holds keeps it."""
    required = ["tomli>=1.1,<3; python_version < '3.0'", "tomli>=1.1,<3; python_version >= '3.0'"]
    assert cloud.missing_requirements(required, installed=lambda name: False) == required[1:]


def test_install_runs_pip_only_for_missing(capsys):
    calls = []
    cloud.install([], runner=lambda *a, **k: calls.append(a))
    assert calls == []
    cloud.install(["kagglehub>=0.3"], runner=lambda cmd, check: calls.append(cmd))
    assert calls[0][1:4] == ["-m", "pip", "install"] and calls[0][-1] == "kagglehub>=0.3"


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
    """A stand-in for ``google.colab.userdata``: Colab's two errors, by their names."""
    import types

    class SecretNotFoundError(Exception):
        pass

    class NotebookAccessError(Exception):
        pass

    def get(name):
        if name in not_granted:
            raise NotebookAccessError(name)
        if name not in secrets:
            raise SecretNotFoundError(name)
        return secrets[name]

    colab = types.ModuleType("google.colab")
    colab.userdata = types.SimpleNamespace(get=get)
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)


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
