"""What one recording can conclude about a side difference: its detection limit and verdict.

Healthy people vary from one repetition of a movement to the next, a lot in
casual laughter (one healthy person's two laughs differed between the eyes
by -21 and +26 percentage points). So a side difference is judged against
the recording's own event-to-event spread, not against one fixed limit:

* ``detectable`` is the half-width of the 95% confidence interval of the
  mean paired side difference: ``t * s / sqrt(n)``, the smallest side
  difference this recording could tell from none. ``s`` pools the
  recording's own between-event SD (``n - 1`` degrees of freedom) with the
  healthy between-event SD of that movement (``prior_df`` degrees of freedom,
  :mod:`synkan.grade.normative`), so one or two events still get an honest,
  wide interval instead of none. With several movements tested, ``t`` is
  Bonferroni-corrected (``n_tests``).
* The recording is **conclusive** when that interval lies wholly above the
  healthy limit (synkinesis, graded) or, uncorrected, wholly below it (ruled
  out during that movement). Else it
  says what it rules out (side differences above the interval's top) and
  how many repetitions would decide.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import CONFIDENCE, MAX_REPETITIONS_ASKED, PRIOR_DF


@dataclass(frozen=True)
class Conclusion:
    """The verdict on one movement's side difference (all in the direction's unit).

    Attributes
    ----------
    estimate : float
        Median paired side difference, signed towards the side judged
        (positive: that side moves more).
    se : float
        Standard error of the mean difference (pooled SD / sqrt(n)).
    detectable : float
        Half-width of the (corrected) 95% confidence interval.
    n_events : int
    positive, negative : bool
        The interval lies wholly above / below ``limit``.
    limit : float
        The healthy limit it was judged against.
    repetitions_needed : int or None
        Events in all that would make it conclusive at the same spread (None
        when conclusive; :data:`~synkan.config.MAX_REPETITIONS_ASKED` means "at
        least that many").
    rules_out_above : float
        Side differences above this are ruled out (the uncorrected interval's top).
    """

    estimate: float
    se: float
    detectable: float
    n_events: int
    positive: bool
    negative: bool
    limit: float
    repetitions_needed: int | None
    rules_out_above: float

    @property
    def conclusive(self) -> bool:
        """Either verdict holds."""
        return self.positive or self.negative


def pooled_sd(differences: np.ndarray, prior_sd: float, prior_df: float = PRIOR_DF) -> tuple[float, float]:
    """``(sd, degrees of freedom)``: the recording's between-event SD pooled with a prior SD.

    Examples
    --------
    >>> sd, df = pooled_sd(np.array([10.0]), prior_sd=4.0, prior_df=4)
    >>> float(sd), float(df)
    (4.0, 4.0)
    >>> sd, df = pooled_sd(np.array([0.0, 2.0, 4.0, 6.0, 8.0]), prior_sd=4.0, prior_df=4)
    >>> round(float(sd), 2), float(df)
    (3.61, 8.0)
    """
    d = np.asarray(differences, float)
    own_df = max(len(d) - 1, 0)
    own_ss = float(np.var(d, ddof=1)) * own_df if own_df else 0.0
    df = own_df + prior_df
    return math.sqrt((own_ss + prior_df * prior_sd ** 2) / df), float(df)


def t_quantile(df: float, n_tests: int = 1, confidence: float = CONFIDENCE) -> float:
    """Two-sided Student t quantile, Bonferroni-corrected for ``n_tests``."""
    from scipy.stats import t  # on first use, after tracking (see synkan._util.memory)

    return float(t.ppf(1 - (1 - confidence) / (2 * max(n_tests, 1)), df))


def conclude(differences: np.ndarray, limit: float, prior_sd: float, n_tests: int = 1,
             prior_df: float = PRIOR_DF) -> Conclusion:
    """Judge paired side differences (already signed towards the side judged) against a healthy ``limit``.

    Examples
    --------
    Five clear repetitions of a 30 pp difference conclude; one does not:

    >>> five = conclude(np.array([28.0, 31, 30, 33, 29]), limit=10, prior_sd=5)
    >>> five.conclusive, five.positive, round(five.detectable, 1)
    (True, True, 3.9)
    >>> one = conclude(np.array([14.0]), limit=10, prior_sd=5)
    >>> one.conclusive, one.repetitions_needed
    (False, 8)
    """
    d = np.asarray(differences, float)
    n = len(d)
    estimate = float(np.median(d))
    sd, df = pooled_sd(d, prior_sd, prior_df)
    se = sd / math.sqrt(n)
    # Claiming synkinesis is corrected for the movements tested; ruling it out
    # during one movement is a claim about that movement alone.
    half, half_one = t_quantile(df, n_tests) * se, t_quantile(df) * se
    positive, negative = estimate - half > limit, estimate + half_one < limit
    needed = None
    if not (positive or negative):
        needed = _repetitions_needed(abs(estimate - limit), sd, n, prior_df, n_tests)
    return Conclusion(estimate, se, half, n, positive, negative, limit, needed, estimate + half_one)


def _repetitions_needed(margin: float, sd: float, n: int, prior_df: float, n_tests: int) -> int:
    """Fewest events whose interval half-width falls below ``margin`` at this spread (capped)."""
    for total in range(n + 1, MAX_REPETITIONS_ASKED + 1):
        if t_quantile(total - 1 + prior_df, n_tests) * sd / math.sqrt(total) < margin:
            return total
    return MAX_REPETITIONS_ASKED
