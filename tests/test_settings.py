"""utils.settings: every DOGSCATS_* variable declared once, read through it, and the README's table of them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from course.tools import settings_table
from utils import archives, settings

ROOT = Path(__file__).resolve().parent.parent
#: Folders whose modules must read DOGSCATS_* variables through utils.settings.
SCANNED = ("utils", "course", "benchmarks")
#: A crash-test hook, not a setting: it is leaving the production code (utils/files.py).
NOT_SETTINGS = {"DOGSCATS_KILL_AT"}
_NAME = re.compile(r"^DOGSCATS_[A-Z0-9_]+$")


def _modules():
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != ROOT / "utils" / "settings.py":
                yield path


def _is_environ(node) -> bool:
    """``os.environ``, or a name that holds it (``environ``, ``env``)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or \
        (isinstance(node, ast.Name) and node.id in ("environ", "env", "environment"))


def _environ_reads(tree):
    """(line, key node) of every read of one variable: ``environ[k]``, ``environ.get(k)``, ``getenv(k)``, ``k in environ``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            yield node.lineno, node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            if (node.func.attr in ("get", "setdefault") and _is_environ(node.func.value)) or node.func.attr == "getenv":
                yield node.lineno, node.args[0]
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) \
                and any(_is_environ(c) for c in node.comparators):
            yield node.lineno, node.left


def _string_constants(tree) -> dict:
    """Names bound to a ``DOGSCATS_*`` string anywhere in the module (``WEIGHTS_ENV = "DOGSCATS_..."``)."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str) and _NAME.match(node.value.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _variable_read(key, constants) -> str | None:
    """The DOGSCATS_* variable a read's key names, if any (a literal, a constant, an f-string)."""
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value if key.value.startswith("DOGSCATS_") else None
    if isinstance(key, ast.Name) and key.id in constants:
        return constants[key.id]
    if isinstance(key, ast.JoinedStr):
        text = "".join(v.value for v in key.values if isinstance(v, ast.Constant))
        return text if text.startswith("DOGSCATS_") else None
    return None


def _names_variables(tree) -> bool:
    """Whether the module holds a ``DOGSCATS_*`` name as a string of its own (docstrings and messages aside)."""
    return any(isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAME.match(node.value)
               and node.value not in NOT_SETTINGS for node in ast.walk(tree))


def _offenders(tree) -> list:
    """(line, what) of each read of a DOGSCATS_* variable that bypasses utils.settings."""
    constants, found = _string_constants(tree), []
    for line, key in _environ_reads(tree):
        name = _variable_read(key, constants)
        literal = isinstance(key, ast.Constant) or (isinstance(key, ast.Name) and key.id in constants)
        if name and name not in NOT_SETTINGS:
            found.append((line, f"reads {name}"))
        elif not name and not literal and _names_variables(tree):
            # a key computed at run time (a loop over names) in a module that names DOGSCATS_* variables
            found.append((line, "reads a variable named at run time"))
    return found


def test_no_module_reads_a_variable_except_through_the_declaration():
    offenders = []
    for path in _modules():
        for line, what in _offenders(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{path.relative_to(ROOT)}:{line} {what}")
    assert offenders == [], "read it with utils.settings.read instead: " + "; ".join(offenders)


def test_the_scan_sees_every_way_of_reading():
    source = ('import os\nX = "DOGSCATS_X"\nos.environ.get("DOGSCATS_A")\nos.environ[X]\n'
              'os.getenv(f"DOGSCATS_{1}")\n"DOGSCATS_B" in os.environ\nenv = os.environ\nenv.get("DOGSCATS_C")\n'
              'os.environ["DOGSCATS_D"] = "1"\nos.environ.get("HOME")\n')
    tree = ast.parse(source)
    names = [_variable_read(key, _string_constants(tree)) for _, key in _environ_reads(tree)]
    assert sorted(n for n in names if n) == ["DOGSCATS_", "DOGSCATS_A", "DOGSCATS_B", "DOGSCATS_C", "DOGSCATS_X"]
    looped = ast.parse('import os\nNAMES = {"a": "DOGSCATS_A"}\nfor n in NAMES.values():\n    os.environ.get(n)\n')
    assert _offenders(looped) == [(4, "reads a variable named at run time")]
    elsewhere = ast.parse('import os\nfor n in ("HOME", "PATH"):\n    os.environ.get(n)\n')
    assert _offenders(elsewhere) == []


def test_the_platform_cell_reads_only_the_clone_url_itself():
    """Every notebook's platform cell runs before utils is importable (it clones the course), so it
    cannot call utils.settings.read: it reads DOGSCATS_CLONE_URL (tests only, declared in
    utils.settings) with os.environ, and that one read is the only exception the scan accepts."""
    from course.tools import notebook_header

    cell = notebook_header.SETUP_TEMPLATE.format(url="https://github.com/a/b", name="b")
    reads = [what for _, what in _offenders(ast.parse(cell))]
    assert reads == ["reads DOGSCATS_CLONE_URL"], reads
    assert settings.declared("DOGSCATS_CLONE_URL").meaning.startswith("tests only")


def test_every_variable_named_in_the_code_is_declared():
    named = set()
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAME.match(node.value):
                named.add(node.value)
    declared = {s.name for s in settings.SETTINGS}
    assert named - NOT_SETTINGS <= declared, f"not declared in utils.settings: {sorted(named - NOT_SETTINGS - declared)}"
    assert len(declared) == len(settings.SETTINGS), "a variable is declared twice"
    assert not NOT_SETTINGS & declared


def test_readme_table_agrees_with_the_declaration():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table.render_readme(text) == text, \
        "run `python -m course.tools.settings_table readme` and commit README.md"


def test_a_stale_table_is_rewritten_and_missing_markers_refused():
    stale = "a\n<!-- settings:variables -->\n| old |\n<!-- /settings:variables -->\nb\n"
    fresh = settings_table.render_readme(stale)
    assert "| old |" not in fresh and fresh != stale
    assert all(f"| `{s.name}` |" in fresh for s in settings.SETTINGS)
    assert settings_table.render_readme(fresh) == fresh
    with pytest.raises(ValueError, match="settings:variables"):
        settings_table.render_readme("# README\n")
    assert settings_table.main(["readme", "--check"]) == 0


def test_read_gives_typed_values_and_defaults():
    read = settings.read
    assert read("DOGSCATS_PROFILE", {}) == "sample" and read("DOGSCATS_PROFILE", {"DOGSCATS_PROFILE": " FULL "}) == "full"
    assert read("DOGSCATS_PROFILE", {"DOGSCATS_PROFILE": "  "}) == "sample", "blank reads as unset"
    assert read("DOGSCATS_SEED", {"DOGSCATS_SEED": "7"}) == 7 and read("DOGSCATS_SEED", {}) == 42
    assert read("DOGSCATS_MIXED_PRECISION", {"DOGSCATS_MIXED_PRECISION": "Yes"}) is True
    assert read("DOGSCATS_MIXED_PRECISION", {}) is False
    assert read("DOGSCATS_MAX_ARCHIVE_BYTES", {"DOGSCATS_MAX_ARCHIVE_BYTES": "2e10"}) == 20_000_000_000
    assert read("DOGSCATS_MAX_COMPRESSION_RATIO", {"DOGSCATS_MAX_COMPRESSION_RATIO": "250.5"}) == 250.5
    assert read("DOGSCATS_VGG16_WEIGHTS", {"DOGSCATS_VGG16_WEIGHTS": "~/w.h5"}) == Path("~/w.h5").expanduser()
    assert read("DOGSCATS_BACKBONE", {}) is None


@pytest.mark.parametrize("name, text, accepted", [
    ("DOGSCATS_PROFILE", "tiny", "one of smoke, sample, full"),
    ("DOGSCATS_SEED", "4.5", "an integer"),
    ("DOGSCATS_MIXED_PRECISION", "fp16", "0 or 1"),
    ("DOGSCATS_MAX_ARCHIVE_MEMBERS", "1.5", "a positive number"),
    ("DOGSCATS_MAX_ARCHIVE_DEPTH", "0", "a positive number"),
    ("DOGSCATS_MAX_COMPRESSION_RATIO", "inf", "a positive number"),
])
def test_a_bad_value_names_the_variable_and_what_it_accepts(name, text, accepted):
    with pytest.raises(ValueError, match=rf"^{name} must be {re.escape(accepted)}.*not '{re.escape(text)}'"):
        settings.read(name, {name: text})


def test_an_undeclared_name_or_a_bad_declaration_is_refused():
    with pytest.raises(KeyError, match="DOGSCATS_NOPE is not declared"):
        settings.read("DOGSCATS_NOPE", {})
    with pytest.raises(ValueError, match="kind"):
        settings.Setting("DOGSCATS_X", "colour", None, "m", "w")
    with pytest.raises(ValueError, match="choices"):
        settings.Setting("DOGSCATS_X", "choice", None, "m", "w")


def test_declared_defaults_agree_with_the_code_that_holds_them():
    limits = archives.ArchiveLimits()
    for field, name in archives.LIMIT_VARIABLES.items():
        assert getattr(limits, field) == settings.declared(name).default > 0, name
    from utils import efficientnet_lite

    assert efficientnet_lite.NAME in settings.declared("DOGSCATS_BACKBONE").choices


def test_importing_settings_reads_no_environment(monkeypatch):
    """read() looks at the environment when called, never before."""
    monkeypatch.setenv("DOGSCATS_SEED", "5")
    assert settings.read("DOGSCATS_SEED") == 5
    monkeypatch.setenv("DOGSCATS_SEED", "6")
    assert settings.read("DOGSCATS_SEED") == 6
