"""Estimators layer: small numerical helpers shared by the estimators (R's p-value conventions)."""

from __future__ import annotations

import numpy as np
from scipy import special


def p_normal(z) -> np.ndarray | float:
    """Two-sided normal p-value, R's ``2 * pnorm(abs(z), lower.tail = FALSE)``."""
    return 2.0 * special.ndtr(-np.abs(z))


def p_t(t, df) -> np.ndarray | float:
    """Two-sided t p-value, R's ``2 * pt(abs(t), df, lower.tail = FALSE)``.

    Uses the cephes kernel directly (``scipy.special.stdtr``): the same values
    as ``scipy.stats.t.sf`` at a fiftieth of the call overhead.
    """
    return 2.0 * special.stdtr(df, -np.abs(t))


def p_chisq(q, df) -> np.ndarray | float:
    """Upper chi-square tail, R's ``pchisq(q, df, lower.tail = FALSE)`` (cephes ``chdtrc``)."""
    return special.chdtrc(df, q)


def sign0(x: np.ndarray) -> np.ndarray:
    """TwoSampleMR's ``sign0``: the sign with 0 mapped to +1."""
    s = np.sign(x)
    s[s == 0] = 1.0
    return s


def r_sd(x: np.ndarray, axis=None) -> np.ndarray:
    """R's ``sd()`` (denominator n - 1)."""
    return np.std(x, axis=axis, ddof=1)


def r_mad(x: np.ndarray, axis=None) -> np.ndarray:
    """R's ``mad()``: 1.4826 * median(|x - median(x)|)."""
    med = np.median(x, axis=axis, keepdims=True)
    return 1.4826 * np.median(np.abs(x - med), axis=axis)


NA = {"b": np.nan, "se": np.nan, "pval": np.nan, "nsnp": np.nan}


def na_result(**extra) -> dict:
    """The all-NA result TwoSampleMR returns when a method cannot run."""
    out = dict(NA)
    out.update(extra)
    return out
