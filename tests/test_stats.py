"""The Wilson interval and McNemar's exact test give the worked values and refuse bad or unpaired input."""

import math

import numpy as np
import pytest

from utils import stats


def _wilson_by_hand(k, n, z=1.959963984540054):
    """Wilson (1927): (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)


@pytest.mark.parametrize("k, n", [(970, 1000), (50, 100), (0, 20), (20, 20), (989, 1000)])
def test_wilson_matches_the_formula(k, n):
    low, high = stats.wilson_interval(k, n)
    want_low, want_high = _wilson_by_hand(k, n)
    assert low == pytest.approx(want_low, abs=1e-9) and high == pytest.approx(want_high, abs=1e-9)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_known_value_and_width():
    low, high = stats.wilson_interval(970, 1000)
    assert round(low, 3) == 0.957 and round(high, 3) == 0.979
    assert stats.wilson_interval(20, 20)[1] == pytest.approx(1.0)     # stays inside [0, 1]
    narrow = stats.wilson_interval(9700, 10000)
    assert narrow[1] - narrow[0] < high - low                           # more photos, narrower


@pytest.mark.parametrize("args", [(5, 0), (6, 5), (-1, 5), (2.5, 5), (True, 5)])
def test_wilson_rejects_bad_counts(args):
    with pytest.raises(ValueError):
        stats.wilson_interval(*args)


def test_wilson_rejects_bad_confidence():
    with pytest.raises(ValueError, match="confidence"):
        stats.wilson_interval(5, 10, confidence=1.0)


def test_accuracy_interval_counts():
    result = stats.accuracy_interval([0, 1, 1, 0], [0, 1, 0, 0])
    assert result["accuracy"] == 0.75 and result["correct"] == 3 and result["count"] == 4
    assert result["low"] < 0.75 < result["high"]
    with pytest.raises(ValueError):
        stats.accuracy_interval([0, 1], [0])
    with pytest.raises(ValueError):
        stats.accuracy_interval([], [])


def test_mcnemar_exact_p_value_by_hand():
    # 10 photos: A alone right on 6, B alone right on 1, both right on 3
    y = np.ones(10, int)
    a = np.array([1] * 6 + [0] + [1] * 3)
    b = np.array([0] * 6 + [1] + [1] * 3)
    result = stats.mcnemar_exact(y, a, b)
    assert (result["only_a"], result["only_b"], result["both"], result["neither"]) == (6, 1, 3, 0)
    # two-sided exact: 2 · P(X ≤ 1), X ~ Binomial(7, 1/2) = 2 · 8/128
    assert result["p_value"] == pytest.approx(16 / 128)
    assert result["accuracy_a"] == 0.9 and result["accuracy_b"] == 0.4
    swapped = stats.mcnemar_exact(y, b, a)
    assert swapped["p_value"] == pytest.approx(result["p_value"])      # symmetric


def test_mcnemar_identical_models_and_ties():
    y = np.array([0, 1, 0, 1])
    same = stats.mcnemar_exact(y, [0, 1, 1, 1], [0, 1, 1, 1])
    assert same["p_value"] == 1.0 and same["only_a"] == same["only_b"] == 0
    tie = stats.mcnemar_exact(y, [0, 1, 1, 0], [1, 0, 0, 1])
    assert tie["only_a"] == tie["only_b"] == 2 and tie["p_value"] == pytest.approx(1.0)


def test_mcnemar_many_one_sided_disagreements_are_significant():
    y = np.zeros(1000, int)
    a = np.zeros(1000, int)
    b = np.zeros(1000, int)
    b[:40] = 1                       # B wrong on 40 photos A gets right
    assert stats.mcnemar_exact(y, a, b)["p_value"] < 1e-9


def test_mcnemar_rejects_unpaired_arrays():
    with pytest.raises(ValueError):
        stats.mcnemar_exact([0, 1], [0, 1], [0])
    with pytest.raises(ValueError):
        stats.mcnemar_exact([], [], [])


def test_holm_matches_the_step_down_by_hand():
    # sorted 0.01, 0.02, 0.04, 0.30 → ×4, ×3, ×2, ×1 = 0.04, 0.06, 0.08, 0.30 (already increasing)
    adjusted = stats.holm([0.30, 0.01, 0.04, 0.02])
    assert np.allclose(adjusted, [0.30, 0.04, 0.08, 0.06])
    # the running maximum: a later, smaller product is lifted to the one before it; capped at 1
    assert np.allclose(stats.holm([0.02, 0.021, 0.9]), [0.06, 0.06, 0.9])
    assert np.allclose(stats.holm([0.5, 0.6]), [1.0, 1.0])
    assert stats.holm([]).size == 0


def test_holm_refuses_what_is_no_p_value():
    with pytest.raises(ValueError, match="p-values"):
        stats.holm([0.1, 1.5])
    with pytest.raises(ValueError, match="p-values"):
        stats.holm([float("nan")])
