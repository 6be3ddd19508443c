"""What the notebooks need installed (pyproject's run-time dependencies), and pip for what a platform lacks."""

from __future__ import annotations

import subprocess
import sys

from utils import dependencies


def test_missing_requirements_skips_what_is_installed_and_jupyter():
    required = ["tensorflow>=2.17,<2.22", "kagglehub>=0.3,<2", "jupyterlab>=4.2,<5", "jax[cpu]>=0.4"]
    installed = {"tensorflow"}.__contains__
    assert dependencies.missing_requirements(required, installed) == ["kagglehub>=0.3,<2", "jax[cpu]>=0.4"]
    assert "tensorflow>=2.17,<2.22" in dependencies.requirements()
    assert dependencies.missing_requirements() == [], "this environment has every requirement"


def test_missing_requirements_leaves_out_what_this_python_does_not_need():
    """``tomli; python_version < '3.11'`` is installed on 3.10 only; a marker that holds keeps it."""
    required = ["tomli>=1.1,<3; python_version < '3.0'", "tomli>=1.1,<3; python_version >= '3.0'"]
    assert dependencies.missing_requirements(required, installed=lambda name: False) == required[1:]


def test_install_runs_pip_only_for_missing(capsys):
    calls = []

    def runner(cmd, check):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)

    assert dependencies.install([], runner=runner) is True and calls == []
    assert dependencies.install(["kagglehub>=0.3"], runner=runner) is True
    assert calls[0][1:4] == ["-m", "pip", "install"] and calls[0][-1] == "kagglehub>=0.3"


def test_run_time_requirements_leave_jupyter_and_the_platforms_libraries_out():
    """pyproject's [project] dependencies hold what notebooks import; Jupyter and course/'s tools are `lab`."""
    project = __import__("utils.pyproject", fromlist=["load"]).load()["project"]
    run_time = {dependencies._requirement_name(r) for r in project["dependencies"]}
    lab = {dependencies._requirement_name(r) for r in project["optional-dependencies"]["lab"]}
    assert not run_time & set(dependencies.NOT_NEEDED_THERE), "Jupyter is no run-time requirement"
    assert {"jupyterlab", "nbclient", "nbconvert", "nbformat", "ipykernel", "jinja2"} <= lab
    assert {"tensorflow", "keras", "kagglehub", "tqdm"} <= run_time
    nothing_installed = dependencies.missing_requirements(installed=lambda name: False)
    not_for_this_python = {"tomli"} if sys.version_info >= (3, 11) else set()
    assert {dependencies._requirement_name(r) for r in nothing_installed} == \
        run_time - set(dependencies.PLATFORM_OWNED) - not_for_this_python
    assert dependencies.missing_platform_libraries(installed=lambda name: name != "keras") == ["keras"]
