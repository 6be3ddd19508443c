"""How sure is a test accuracy, and is one model really better than another on the same photos?

* :func:`wilson_interval`: the Wilson score 95% interval of an accuracy
  (k right out of n). Unlike "p ± 1.96·√(p(1−p)/n)" it stays inside [0, 1]
  and behaves near 100%, where transfer learning lives.
* :func:`mcnemar_exact`: McNemar's exact test for two classifiers scored on
  the *same* photos. Only the photos on which they disagree count: ``b``
  photos only model A got right, ``c`` only model B; if both were equally
  good each disagreement would go either way with probability 1/2, so the
  two-sided p-value is the binomial probability of a split at least as
  uneven as ``b`` : ``c``. Pairing makes it far more sensitive than
  comparing two intervals.

Both call SciPy (``scipy.stats.binomtest``, a declared dependency).

Sources: E. B. Wilson, "Probable inference, the law of succession, and
statistical inference", JASA 22 (1927) 209–212; A. Agresti and B. A. Coull,
"Approximate is better than 'exact' for interval estimation of binomial
proportions", The American Statistician 52 (1998) 119–126; Q. McNemar,
"Note on the sampling error of the difference between correlated proportions
or percentages", Psychometrika 12 (1947) 153–157; T. G. Dietterich,
"Approximate statistical tests for comparing supervised classification
learning algorithms", Neural Computation 10 (1998) 1895–1923 (McNemar's test
for two classifiers on one test set).
"""

from __future__ import annotations

import numpy as np


def wilson_interval(correct: int, total: int, confidence: float = 0.95) -> tuple:
    """Wilson score interval of a proportion (an accuracy): ``(low, high)``.

    Parameters
    ----------
    correct : int
        Photos classified right, ``0 <= correct <= total``.
    total : int
        Photos scored, ``total >= 1``.
    confidence : float, default 0.95

    Returns
    -------
    tuple of float
        ``(low, high)``, fractions in [0, 1]; e.g. 970 of 1,000 →
        about (0.957, 0.979).

    Raises
    ------
    ValueError
        If the counts are not integers with ``0 <= correct <= total``,
        ``total >= 1``, or ``confidence`` is not in (0, 1).
    """
    from scipy import stats

    for label, value in (("correct", correct), ("total", total)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{label} must be an integer, not {value!r}")
    if total < 1 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total >= 1, got {correct} of {total}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), not {confidence!r}")
    interval = stats.binomtest(int(correct), int(total)).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


def accuracy_interval(y_true, y_pred, confidence: float = 0.95) -> dict:
    """Accuracy of predicted labels with its Wilson interval.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        True and predicted labels (0 = cat, 1 = dog), n ≥ 1.

    Returns
    -------
    dict
        ``accuracy``, ``low``, ``high`` (fractions), ``correct``, ``count``.

    Raises
    ------
    ValueError
        If the arrays are empty or of different lengths.
    """
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    if y_true.size == 0 or y_true.shape != y_pred.shape:
        raise ValueError(f"need two label arrays of one non-zero length, got {y_true.shape} and {y_pred.shape}")
    correct = int((y_true == y_pred).sum())
    low, high = wilson_interval(correct, int(y_true.size), confidence)
    return {"accuracy": correct / y_true.size, "low": low, "high": high,
            "correct": correct, "count": int(y_true.size)}


def mcnemar_exact(y_true, pred_a, pred_b) -> dict:
    """McNemar's exact test: do two classifiers differ in accuracy on the same photos?

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True labels of the n photos, n ≥ 1.
    pred_a, pred_b : array-like of int, shape (n,)
        Labels predicted by models A and B for the *same* photos, in the same order.

    Returns
    -------
    dict
        ``only_a`` (b: photos only A got right), ``only_b`` (c), ``both``,
        ``neither``, ``count`` (n), ``accuracy_a``, ``accuracy_b``, and
        ``p_value``: two-sided exact binomial p-value of b against
        Binomial(b + c, 1/2); 1.0 when the models never disagree.

    Raises
    ------
    ValueError
        If the arrays are empty or of different lengths.
    """
    from scipy import stats

    y_true, a, b = (np.asarray(v).reshape(-1) for v in (y_true, pred_a, pred_b))
    if y_true.size == 0 or not (y_true.shape == a.shape == b.shape):
        raise ValueError(f"need three label arrays of one non-zero length, got "
                         f"{y_true.shape}, {a.shape}, {b.shape}")
    right_a, right_b = a == y_true, b == y_true
    only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    disagreements = only_a + only_b
    p_value = 1.0 if disagreements == 0 else float(stats.binomtest(only_a, disagreements, 0.5).pvalue)
    return {"only_a": only_a, "only_b": only_b, "both": int((right_a & right_b).sum()),
            "neither": int((~right_a & ~right_b).sum()), "count": int(y_true.size),
            "accuracy_a": float(right_a.mean()), "accuracy_b": float(right_b.mean()),
            "p_value": min(1.0, p_value)}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of several p-values tested on the same photos.

    Run many tests and some come out "significant" by luck; Holm (1979) keeps
    the chance of even one false claim among them under the level: sort the
    m p-values, multiply the k-th smallest by m − k + 1, carry the running
    maximum upwards, cap at 1. Reject where the adjusted p-value is below the
    level. Less strict than Bonferroni (every p × m), never less safe.

    Parameters
    ----------
    p_values : array-like of float in [0, 1], shape (m,)

    Returns
    -------
    numpy.ndarray, float64, shape (m,)
        The adjusted p-values, in the input's order.

    Raises
    ------
    ValueError
        If a p-value is outside [0, 1] or not a number.

    Source: S. Holm, "A simple sequentially rejective multiple test procedure",
    Scandinavian Journal of Statistics 6 (1979) 65–70.
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p-values must be numbers in [0, 1], got {p.tolist()}")
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted
