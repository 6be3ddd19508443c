"""The repository stays clean: dependencies in step, notebooks stored bare, utils imported without side effects."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from utils import config, pyproject

ROOT = config.PROJECT_ROOT
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def _environment_pip_requirements() -> list[str]:
    """The pip list of environment.yml, read without a YAML library (it is a plain list)."""
    lines = (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    found = []
    for line in lines[start + 1:]:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not stripped.startswith("- "):
            break
        found.append(stripped[2:].strip())
    return found


def test_environment_yml_matches_pyproject():
    project = pyproject.load()["project"]
    wanted = project["dependencies"] + [requirement for group in ("lab", "dev")
                                        for requirement in project["optional-dependencies"][group]]
    listed = [r for r in _environment_pip_requirements() if not r.startswith("-e")]
    assert sorted(map(_normalise, listed)) == sorted(map(_normalise, wanted)), (
        "environment.yml and pyproject.toml list different dependencies")


def test_notebooks_are_numbered_in_order():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(len(numbers))), [p.name for p in NOTEBOOKS]
    assert all(re.match(r"^\d\d_[a-z0-9_]+\.ipynb$", p.name) for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs_and_with_clean_metadata(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert set(notebook["metadata"]) <= {"kernelspec", "language_info"}, notebook["metadata"].keys()
    assert notebook["metadata"].get("kernelspec", {}).get("name", "python3") == "python3"
    ids = [cell.get("id") for cell in notebook["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), "every cell has a stable, unique id"
    for cell in notebook["cells"]:
        # only the slide type (course/publish/slides_tags.py) and tags may be stored
        assert set(cell.get("metadata", {})) <= {"slideshow", "tags"}, \
            f"cell {cell.get('id')} has metadata {cell['metadata']}"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {cell['id']} has stored outputs"
            assert cell["execution_count"] is None, f"cell {cell['id']} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_course_shape(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and first.startswith(f"# {path.name[:2]} · ")
    # after the title: the Colab/Kaggle badges and platform cell (course/tools/notebook_header.py)
    lesson = [cells[0]] + [c for c in cells[1:] if c.get("id") not in ("platform-badges", "platform-setup")]
    assert len(lesson) == len(cells) - 2, "every notebook has its platform header"
    cells = lesson
    setup = "".join(cells[1]["source"])
    assert "cfg = config.current()" in setup and "config.report(cfg)" in setup
    # Keras' global settings change in a call the learner sees, before anything is built or reported
    assert 0 <= setup.find("devices.configure()") < setup.find("config.report(cfg)"), \
        "the setup cell calls devices.configure() before config.report(cfg)"
    last = "".join(cells[-1]["source"]) + "".join(cells[-2]["source"])
    assert "## What we learned" in last or "## What we learned" in "".join(
        "".join(c["source"]) for c in cells[-3:])


def test_importing_utils_does_no_work(tmp_path):
    """Importing every module touches no disk and changes no Keras or matplotlib setting."""
    code = (
        "import os, sys, importlib, pkgutil\n"
        "import matplotlib\n"
        "before = dict(matplotlib.rcParams)\n"
        "import utils\n"
        "for m in pkgutil.iter_modules(utils.__path__):\n"
        "    importlib.import_module('utils.' + m.name)\n"
        "after = dict(matplotlib.rcParams)\n"
        "changed = sorted(k for k in before if before[k] != after[k])\n"
        "import keras\n"
        "print(changed, keras.config.floatx(), keras.config.image_data_format())\n"
    )
    env = {**__import__("os").environ, "DOGSCATS_PROFILE": "no-such-profile",
           "DOGSCATS_DATA": str(tmp_path / "data"), "DOGSCATS_RESULTS": str(tmp_path / "results"),
           "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[] float32 channels_last", out.stdout
    assert list(tmp_path.iterdir()) == [], "importing utils must not write files"


def _module_level_utils_imports(path) -> set:
    """Modules of ``utils`` that ``path`` imports at module level (not inside functions)."""
    import ast

    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module == "utils":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("utils."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("utils.")}
    return found


def test_utils_module_map_lists_every_module():
    """``utils/__init__.py``'s docstring draws the map: one line a module, none missing or stale."""
    import utils

    modules = {p.stem for p in (ROOT / "utils").glob("*.py") if p.stem != "__init__"}
    listed = {m.group(1) for m in re.finditer(r"^    (\w+)\s{2,}\S", utils.__doc__, re.M)}
    assert listed == modules, f"missing: {sorted(modules - listed)}, stale: {sorted(listed - modules)}"


def test_utils_imports_form_no_cycle():
    """Module-level imports between ``utils`` modules go one way (lazy imports inside functions aside)."""
    graph = {p.stem: _module_level_utils_imports(p) for p in (ROOT / "utils").glob("*.py")}
    state = {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", "import cycle: " + " -> ".join(path + [name])
        state[name] = "open"
        for target in sorted(graph.get(name, ())):
            visit(target, path + [name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])


def _all_imports(source: str, package: str) -> set:
    """Modules of ``package`` that ``source`` imports anywhere (module level or inside functions)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and package == "utils":
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == package:
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + "."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith(package + ".")}
            found |= {package for a in node.names if a.name == package}
    return found


def test_course_imports_utils_and_never_the_reverse():
    """``utils`` is what the notebooks use; the runner and publishing (``course``) sit on top of it."""
    offenders = [p.name for p in (ROOT / "utils").glob("*.py")
                 if "course" in {n.split(".")[0] for n in _imported_names(p.read_text(encoding="utf-8"))}]
    assert offenders == [], f"utils modules importing the course package: {offenders}"
    users = [p for p in (ROOT / "course").rglob("*.py")
             if "utils" in {n.split(".")[0] for n in _imported_names(p.read_text(encoding="utf-8"))}]
    assert users, "course builds on utils"


def _imported_names(source: str) -> set:
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _notebook_code(path) -> str:
    """A notebook's code cells as Python: IPython's magics (``%tensorboard``) turned into calls, as the kernel does."""
    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    python = TransformerManager().transform_cell
    return "\n".join(python("".join(cell["source"])) for cell in cells if cell["cell_type"] == "code")


def test_every_utils_module_serves_a_notebook():
    """No module of ``utils`` is dead weight: each is imported by a notebook, directly or through another."""
    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    reached = set()
    for path in notebooks:
        reached |= _all_imports(_notebook_code(path), "utils")
    graph = {p.stem: _all_imports(p.read_text(encoding="utf-8"), "utils") for p in (ROOT / "utils").glob("*.py")}
    todo = list(reached)
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    modules = {p.stem for p in (ROOT / "utils").glob("*.py") if p.stem != "__init__"}
    assert modules - reached == set(), f"utils modules no notebook reaches: {sorted(modules - reached)}"


def test_backend_neutral_test_modules_exist_and_touch_no_keras():
    """make test runs tests/conftest.py's BACKEND_NEUTRAL modules on TensorFlow only: none may build or run a model."""
    from tests.conftest import BACKEND_NEUTRAL

    uses_a_backend = re.compile(r"^\s*(import keras|from keras)|\butils\.lessons\b|\blessons\.build|training\.fit|"
                                r"keras\.(Model|Sequential|layers|ops)\b|evaluate\.predict|get_batches", re.M)
    for name in sorted(BACKEND_NEUTRAL):
        path = ROOT / "tests" / f"{name}.py"
        assert path.is_file(), f"tests/conftest.py's BACKEND_NEUTRAL names {name}, which does not exist"
        found = uses_a_backend.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{name} uses a Keras backend ({found.group(0).strip()!r}): remove it from BACKEND_NEUTRAL"
