"""A lesson checks its own point: the claim its prose makes, asserted on this run's numbers.

Under ``smoke`` (a few dozen photos, one epoch) accuracies mean nothing, so a
claim is printed and not checked; under ``sample`` and ``full`` it must hold,
or the notebook stops with the evidence (and ``make course`` fails). If a
claim stops holding, change the experiment or the prose, never the check.
"""

from __future__ import annotations

#: Profiles whose numbers are too small to judge a claim on.
UNCHECKED_PROFILES = ("smoke",)


class ClaimError(AssertionError):
    """A lesson's claim did not hold in this run."""


def check(cfg, claim: str, holds: bool, evidence: str) -> None:
    """Assert ``claim`` (one sentence of the lesson's prose) on this run's ``evidence``.

    Parameters
    ----------
    cfg : utils.config.Profile
        The profile run; under ``smoke`` nothing is asserted.
    claim : str
        What the prose says, e.g. ``"augmentation beats the plain network (p < 0.05)"``.
    holds : bool
        Whether this run's numbers show it.
    evidence : str
        The numbers, printed in either case (accuracies, interval, p-value).

    Raises
    ------
    ClaimError
        Under ``sample`` or ``full`` when ``holds`` is false.
    """
    if cfg.name in UNCHECKED_PROFILES:
        print(f"claim, not checked under {cfg.name} (too few photos to mean anything): {claim}\n  {evidence}")
        return
    if not holds:
        raise ClaimError(f"this lesson's claim does not hold in this {cfg.name} run: {claim}\n  {evidence}")
    print(f"claim holds ({cfg.name}): {claim}\n  {evidence}")
