"""A lesson's claim is asserted under sample and full, only printed under smoke."""

import pytest

from utils import claims, config


@pytest.mark.parametrize("profile", ["sample", "full"])
def test_a_claim_that_fails_stops_the_notebook(profile, capsys):
    cfg = config.get_profile(profile)
    with pytest.raises(claims.ClaimError, match=r"augmentation helps[\s\S]*71.2% vs 72.8%"):
        claims.check(cfg, "augmentation helps", False, "71.2% vs 72.8%, p = 0.21")
    assert claims.check(cfg, "augmentation helps", True, "78.0% vs 72.8%, p = 0.001")
    assert "claim holds (%s)" % profile in capsys.readouterr().out


def test_smoke_prints_the_claim_without_judging_it(capsys):
    cfg = config.get_profile("smoke")
    assert claims.check(cfg, "augmentation helps", False, "50.0% vs 53.1%") is False
    out = capsys.readouterr().out
    assert "not checked under smoke" in out and "50.0% vs 53.1%" in out
