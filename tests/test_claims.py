"""A lesson's claim is asserted under sample and full, only printed under smoke."""

import pytest

from utils import claims, config


@pytest.mark.parametrize("profile", ["sample", "full"])
def test_a_claim_that_fails_stops_the_notebook(profile, capsys):
    cfg = config.get_profile(profile)
    with pytest.raises(claims.ClaimError, match=r"augmentation helps[\s\S]*71.2% vs 72.8%"):
        claims.check(cfg, "augmentation helps", False, "71.2% vs 72.8%, p = 0.21")
    claims.check(cfg, "augmentation helps", True, "78.0% vs 72.8%, p = 0.001")
    assert "claim holds (%s)" % profile in capsys.readouterr().out


def test_smoke_prints_the_claim_without_judging_it(capsys):
    cfg = config.get_profile("smoke")
    claims.check(cfg, "augmentation helps", False, "50.0% vs 53.1%")      # printed, not raised
    out = capsys.readouterr().out
    assert "not checked under smoke" in out and "50.0% vs 53.1%" in out


def _claim_calls(cell_source: str) -> int:
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(cell_source))   # magics (%tensorboard) as the kernel runs them
    return sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "check" and getattr(node.func.value, "id", None) == "claims")


#: The notebooks whose key comparisons are asserted (issue: every lesson proves its point).
LESSONS_WITH_CLAIMS = ("02_mlp", "03_cnn", "04_data_augmentation", "07_results")


def test_every_listed_claim_has_its_check_and_every_check_is_listed():
    import nbformat

    from course.publish import instructor

    for path in sorted((config.PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        checks = sum(_claim_calls(c.source) for c in nb.cells if c.cell_type == "code")
        listed = len(instructor.checked_claims(nb))       # what the instructor's page shows
        assert listed == checks, f"{path.name}: {listed} claim(s) listed in its first cell, {checks} checked in code"
        if path.stem in LESSONS_WITH_CLAIMS:
            assert checks >= 1, f"{path.name} must check its key comparison with claims.check"


def test_no_choice_reads_a_test_figure():
    """A cell that picks (max, min, idxmax, sorted...) must not read test figures: choices are made on validation."""
    import re

    import nbformat

    choice = re.compile(r"\b(idxmax|idxmin|argmax|argmin|max|min|sorted)\(")
    test_figure = re.compile(r"test_accuracy|test_log_loss|test_p_dog|[\"']test (accuracy|log loss)[\"']")
    notebooks = sorted((config.PROJECT_ROOT / "notebooks").rglob("[0-9][0-9]_*.ipynb"))
    offenders = [f"{path.name} · {cell.get('id')}" for path in notebooks
                 for cell in nbformat.read(path, as_version=4).cells
                 if cell.cell_type == "code" and choice.search(cell.source) and test_figure.search(cell.source)]
    assert not offenders, f"a choice next to a test figure (choose on validation): {offenders}"
