"""Sensitivity layer: MR Steiger directionality test and Steiger filtering, as TwoSampleMR.

Reimplements ``R/steiger.R`` (``directionality_test``, ``mr_steiger``,
``steiger_sensitivity``), ``R/steiger_filtering.R`` and ``R/add_rsq.r``
(``add_rsq``, ``get_r_from_pn``, ``get_r_from_bsen``, ``get_r_from_lor``,
``contingency``, ``get_population_allele_frequency``, ``effective_n``) of
TwoSampleMR 0.7.9, and ``psych::r.test`` for two independent correlations.

Inputs are harmonised tables with TwoSampleMR's column names (``SNP``,
``beta.exposure``, ``se.exposure``, ``pval.exposure``, ``samplesize.exposure``,
the same for ``.outcome``, optionally ``r.*``, ``rsq.*``, ``units.*``, ``eaf.*``,
``ncase.*``, ``ncontrol.*``, ``prevalence.*``, ``id.*``, ``exposure``,
``outcome``). Results use snake_case columns.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import special

from ..pairs import single_pair

__all__ = [
    "get_r_from_pn", "get_p_from_r2n", "get_r_from_bsen", "get_r_from_lor", "contingency",
    "get_population_allele_frequency", "effective_n", "r_test_independent",
    "steiger_sensitivity", "mr_steiger", "mr_steiger_full", "directionality_test", "add_rsq",
    "steiger_filtering",
]

DIRECTIONALITY_COLUMNS = ["id_exposure", "id_outcome", "exposure", "outcome", "snp_r2_exposure",
                          "snp_r2_outcome", "correct_causal_direction", "steiger_pval"]
MR_STEIGER_KEYS = ["r2_exp", "r2_out", "r2_exp_adj", "r2_out_adj", "correct_causal_direction",
                   "steiger_test", "correct_causal_direction_adj", "steiger_test_adj", "vz", "vz0",
                   "vz1", "sensitivity_ratio"]


# --------------------------------------------------------------------------------------
# R numerics: qf, pf and optim's Nelder-Mead
# --------------------------------------------------------------------------------------

def _qf_df1_upper(p: np.ndarray, df2: np.ndarray) -> np.ndarray:
    """R's ``qf(p, 1, df2, lower.tail = FALSE)``.

    R's ``qf`` returns ``qchisq(p, 1, lower = FALSE)`` when ``df2 > 4e5`` and
    otherwise ``(1/qbeta(p, df2/2, 1/2) - 1) * df2``, which is evaluated here
    without cancellation as ``df2 * y / (1 - y)`` with ``y`` the upper
    ``Beta(1/2, df2/2)`` quantile (the two agree to R's own rounding, ~1e-12).
    ``p = 0`` gives ``Inf`` and ``p = 1`` gives 0; ``p`` outside [0, 1] NaN.
    """
    p = np.asarray(p, dtype=float)
    df2 = np.broadcast_to(np.asarray(df2, dtype=float), p.shape)
    out = np.full(p.shape, np.nan)
    with np.errstate(all="ignore"):
        valid = (p >= 0) & (p <= 1) & (df2 > 0)
        out[valid & (p == 0)] = np.inf
        out[valid & (p == 1)] = 0.0
        inner = valid & (p > 0) & (p < 1)
        big = inner & (df2 > 4e5)
        out[big] = special.chdtri(1.0, p[big])          # = stats.chi2.isf(p, 1)
        small = inner & ~big
        nu, ps = df2[small], p[small]
        # x = qbeta(p, df2/2, 1/2) (lower tail), taken as 1 - y with y the upper
        # Beta(1/2, df2/2) quantile when x is near 1 (the usual case), directly
        # otherwise; then R's own (1/x - 1) * df2, so its rounding is reproduced.
        y = special.betainccinv(0.5, nu / 2.0, ps)
        x = np.where(y < 0.5, 1.0 - y, special.betaincinv(nu / 2.0, 0.5, ps))
        out[small] = (1.0 / x - 1.0) * nu
    return out


def get_p_from_r2n(r2, n):
    """TwoSampleMR ``get_p_from_r2n``: ``pf(r2 (n-2)/(1-r2), 1, n-1, lower = FALSE)``."""
    r2 = np.asarray(r2, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(all="ignore"):
        fval = r2 * (n - 2) / (1 - r2)
        # stats.f.sf(fval, 1, n - 1) without its call overhead: fdtrc is what it
        # evaluates, and below the support (fval < 0, valid df) R's pf gives 1 as stats does
        return np.where((fval < 0) & (n > 1), 1.0, special.fdtrc(1.0, n - 1, fval))[()]


_BIG = 1.0e35


def _r_nelder_mead(fn, x0, abstol=-math.inf, reltol=1.490116119384765625e-08,
                   alpha=1.0, beta=0.5, gamma=2.0, maxit=500):
    """R's ``optim(x0, fn)`` (method "Nelder-Mead", defaults): ``nmmin`` of R's
    ``src/appl/optim.c``, ported step for step. Returns ``(par, value, fail)``."""
    bvec = np.array(x0, dtype=float).ravel()
    n = bvec.size
    f = fn(bvec.copy())
    if not math.isfinite(f):
        raise ValueError("function cannot be evaluated at initial parameters")
    funcount = 1
    convtol = reltol * (abs(f) + reltol)
    n1 = n + 1
    c = n + 2
    p = np.zeros((n + 1, n + 2))
    p[n1 - 1, 0] = f
    p[:n, 0] = bvec
    L = 1
    size = 0.0
    step = 0.0
    for i in range(n):
        if 0.1 * abs(bvec[i]) > step:
            step = 0.1 * abs(bvec[i])
    if step == 0.0:
        step = 0.1
    for j in range(2, n1 + 1):
        p[:n, j - 1] = bvec
        trystep = step
        while p[j - 2, j - 1] == bvec[j - 2]:
            p[j - 2, j - 1] = bvec[j - 2] + trystep
            trystep *= 10
        size += trystep
    oldsize = size
    calcvert = True
    fail = 0
    while True:
        if calcvert:
            for j in range(n1):
                if j + 1 != L:
                    bvec = p[:n, j].copy()
                    f = fn(bvec.copy())
                    if not math.isfinite(f):
                        f = _BIG
                    funcount += 1
                    p[n1 - 1, j] = f
            calcvert = False
        vl = p[n1 - 1, L - 1]
        vh = vl
        h = L
        for j in range(1, n1 + 1):
            if j != L:
                f = p[n1 - 1, j - 1]
                if f < vl:
                    L = j
                    vl = f
                if f > vh:
                    h = j
                    vh = f
        if vh <= vl + convtol or vl <= abstol:
            break
        for i in range(n):
            temp = -p[i, h - 1]
            for j in range(n1):
                temp += p[i, j]
            p[i, c - 1] = temp / n
        bvec = (1.0 + alpha) * p[:n, c - 1] - alpha * p[:n, h - 1]
        f = fn(bvec.copy())
        if not math.isfinite(f):
            f = _BIG
        funcount += 1
        vr = f
        if vr < vl:
            p[n1 - 1, c - 1] = f
            for i in range(n):
                f = gamma * bvec[i] + (1 - gamma) * p[i, c - 1]
                p[i, c - 1] = bvec[i]
                bvec[i] = f
            f = fn(bvec.copy())
            if not math.isfinite(f):
                f = _BIG
            funcount += 1
            if f < vr:
                p[:n, h - 1] = bvec
                p[n1 - 1, h - 1] = f
            else:
                p[:n, h - 1] = p[:n, c - 1]
                p[n1 - 1, h - 1] = vr
        else:
            if vr < vh:
                p[:n, h - 1] = bvec
                p[n1 - 1, h - 1] = vr
            bvec = (1 - beta) * p[:n, h - 1] + beta * p[:n, c - 1]
            f = fn(bvec.copy())
            if not math.isfinite(f):
                f = _BIG
            funcount += 1
            if f < p[n1 - 1, h - 1]:
                p[:n, h - 1] = bvec
                p[n1 - 1, h - 1] = f
            elif vr >= vh:
                calcvert = True
                size = 0.0
                for j in range(n1):
                    if j + 1 != L:
                        p[:n, j] = beta * (p[:n, j] - p[:n, L - 1]) + p[:n, L - 1]
                        size += float(np.sum(np.abs(p[:n, j] - p[:n, L - 1])))
                if size < oldsize:
                    oldsize = size
                else:
                    fail = 10
                    break
        if funcount > maxit:
            break
    if funcount > maxit:
        fail = 1
    return p[:n, L - 1].copy(), float(p[n1 - 1, L - 1]), fail


# --------------------------------------------------------------------------------------
# variance explained per SNP
# --------------------------------------------------------------------------------------

def get_r_from_pn(p, n) -> np.ndarray:
    """Correlation of a SNP with a quantitative trait from its p-value and sample size.

    TwoSampleMR's ``get_r_from_pn``.

    Parameters
    ----------
    p : array_like
        P-values.
    n : array_like
        Sample sizes (a scalar is used for all p).

    Returns
    -------
    numpy.ndarray
        :math:`r = \\sqrt{R^2}` (non-negative); NaN where ``p == 0`` (with a
        warning, as R).

    Notes
    -----
    :math:`F = F^{-1}_{1, n-1}(1-p)` (R's ``qf(p, 1, n-1, lower.tail = FALSE)``,
    which switches to :math:`\\chi^2_1` when :math:`n - 1 > 4\\cdot10^5`) and
    :math:`R^2 = F/(n - 2 + F)` (note the mixed :math:`n-1` / :math:`n-2`). Where
    F is not finite and p > 0, R's ``optim(0.001, ...)`` (Nelder-Mead) minimises
    :math:`|-\\log_{10} p(R^2) + \\log_{10} p|`; that search is reproduced.
    """
    p = np.atleast_1d(np.asarray(p, dtype=float)).ravel()
    n = np.atleast_1d(np.asarray(n, dtype=float)).ravel()
    if p.size > 1 and n.size == 1:
        n = np.repeat(n, p.size)
    if p.size == 0:
        return np.empty(0)
    if n.size != p.size:
        n = np.resize(n, p.size)
    fval = _qf_df1_upper(p, n - 1)
    with np.errstate(all="ignore"):
        r2 = fval / (n - 2 + fval)
    for i in np.flatnonzero(~np.isfinite(fval)):
        if p[i] == 0:
            r2[i] = np.nan
            warnings.warn("P-value of 0 cannot be converted to R value", stacklevel=2)
        elif not np.isnan(p[i]):
            ni, pi = n[i], p[i]

            def obj(x, ni=ni, pi=pi):
                with np.errstate(all="ignore"):
                    return abs(-np.log10(get_p_from_r2n(x[0], ni)) - -np.log10(pi))

            r2[i] = _r_nelder_mead(obj, [0.001])[0][0]
    with np.errstate(invalid="ignore"):
        return np.sqrt(r2)


def get_r_from_bsen(b, se, n) -> np.ndarray:
    """Signed correlation from effect, standard error and sample size.

    TwoSampleMR ``get_r_from_bsen``: :math:`F = (b/se)^2`,
    :math:`R^2 = F/(n - 2 + F)`, :math:`r = \\operatorname{sign}(b)\\sqrt{R^2}`.
    """
    b = np.asarray(b, dtype=float)
    se = np.asarray(se, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(all="ignore"):
        f = (b / se) ** 2
        r2 = f / (n - 2 + f)
        return np.sqrt(r2) * np.sign(b)


def _r_round(x: float, digits: int) -> float:
    return float(round(float(x), int(digits)))


def _zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall(x, digits = getOption("digits"))`` (default 7)."""
    x = np.asarray(x, dtype=float)
    ok = ~np.isnan(x)
    if not ok.any():
        return x
    mx = float(np.max(np.abs(x[ok])))
    d = max(0, digits - math.ceil(math.log10(mx))) if mx > 0 else digits
    return np.array([_r_round(v, d) if not math.isnan(v) else v for v in x.ravel()]).reshape(x.shape)


def contingency(af: float, prop: float, odds_ratio: float, eps: float = 1e-15,
                zap_digits: int | None = None) -> np.ndarray:
    """2x2 table of allele (rows) by case/control (columns) frequencies.

    TwoSampleMR ``contingency``: solves the quadratic for the case/allele-1 cell
    given the allele frequency ``af``, the case proportion ``prop`` and the odds
    ratio, passes each candidate table through ``zapsmall`` and returns the first
    table with no negative cell (all NaN if none).

    ``zapsmall`` rounds to ``getOption("digits")`` significant digits: 7 in a fresh
    R session (``zap_digits=7``), while the reference outputs in
    ``../shared/reference`` were produced with a large ``digits`` option, where
    ``zapsmall`` changes nothing (``zap_digits=None``, the default, matches them to
    1e-16; 7 digits moves r² by ~1e-7 relative).
    """
    a = odds_ratio - 1
    b = (af + prop) * (1 - odds_ratio) - 1
    c_ = odds_ratio * af * prop
    if abs(a) < eps:
        zs = [-c_ / b]
    else:
        d = b ** 2 - 4 * a * c_
        s = [0.0] if d < eps * eps else [-1.0, 1.0]
        zs = [(-b + si * math.sqrt(max(0.0, d))) / (2 * a) for si in s]
    for z in zs:
        # matrix(c(a, prop-a, af-a, 1+a-af-prop), 2, 2): column-major
        m = np.array([[z, af - z], [prop - z, 1 + z - af - prop]])
        if zap_digits is not None:
            m = _zapsmall(m, zap_digits)
        if np.all(m >= 0):
            return m
    return np.full((2, 2), np.nan)


def get_population_allele_frequency(af, prop, odds_ratio, prevalence) -> np.ndarray:
    """Population allele frequency from case/control data (TwoSampleMR).

    :math:`f = f_{controls}(1 - K) + f_{cases} K` with the case and control
    frequencies read off :func:`contingency` and K the prevalence.
    """
    af = np.atleast_1d(np.asarray(af, dtype=float)).copy()
    prop = np.broadcast_to(np.asarray(prop, dtype=float), af.shape)
    odds_ratio = np.broadcast_to(np.asarray(odds_ratio, dtype=float), af.shape)
    prevalence = np.broadcast_to(np.asarray(prevalence, dtype=float), af.shape)
    for i in range(af.size):
        co = contingency(af[i], prop[i], odds_ratio[i])
        af_controls = co[0, 1] / (co[0, 1] + co[1, 1])
        af_cases = co[0, 0] / (co[0, 0] + co[1, 0])
        af[i] = af_controls * (1 - prevalence[i]) + af_cases * prevalence[i]
    return af


def get_r_from_lor(lor, af, ncase, ncontrol, prevalence, model: str = "logit",
                   correction: bool = False) -> np.ndarray:
    """Signed correlation on the liability scale from a log odds ratio.

    TwoSampleMR ``get_r_from_lor`` (Lee et al. 2012, equation 10):
    :math:`V_G = \\mathrm{lor}^2 f(1-f)` with f the population allele frequency,
    :math:`r^2 = V_G/(V_G + V_E)`, :math:`V_E = \\pi^2/3` (logit) or 1 (probit),
    optionally divided by 0.58; :math:`r = \\operatorname{sign}(\\mathrm{lor})\\sqrt{r^2}`.

    References
    ----------
    Lee SH, Goddard ME, Wray NR, Visscher PM (2012). A better coefficient of
    determination for genetic profile analysis. Genetic Epidemiology 36:214-224.
    doi:10.1002/gepi.21614
    """
    lor = np.atleast_1d(np.asarray(lor, dtype=float))
    af = np.atleast_1d(np.asarray(af, dtype=float))
    if lor.size != af.size:
        raise ValueError("lor and af must have the same length")
    ncase = np.broadcast_to(np.asarray(ncase, dtype=float), lor.shape)
    ncontrol = np.broadcast_to(np.asarray(ncontrol, dtype=float), lor.shape)
    prevalence = np.broadcast_to(np.asarray(prevalence, dtype=float), lor.shape)
    if model == "logit":
        ve = math.pi ** 2 / 3
    elif model == "probit":
        ve = 1.0
    else:
        raise ValueError("Model must be probit or logit")
    r = np.empty(lor.size)
    for i in range(lor.size):
        popaf = get_population_allele_frequency(af[i], ncase[i] / (ncase[i] + ncontrol[i]),
                                                math.exp(lor[i]), prevalence[i])[0]
        vg = lor[i] ** 2 * popaf * (1 - popaf)
        ri = vg / (vg + ve)
        if correction:
            ri = ri / 0.58
        r[i] = math.sqrt(ri) * np.sign(lor[i]) if ri >= 0 else math.nan
    return r


def effective_n(ncase, ncontrol):
    """Effective sample size of a case-control study, :math:`2/(1/n_{case} + 1/n_{control})`."""
    ncase = np.asarray(ncase, dtype=float)
    ncontrol = np.asarray(ncontrol, dtype=float)
    with np.errstate(divide="ignore"):
        return 2.0 / (1.0 / ncase + 1.0 / ncontrol)


# --------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------

def _fisherz(r):
    with np.errstate(all="ignore"):
        return 0.5 * np.log((1 + r) / (1 - r))


def r_test_independent(n, n2, r12, r34):
    """``psych::r.test(n, r12, r34, n2)``: difference of two independent correlations.

    Returns
    -------
    z : ndarray or float
        :math:`|z(r_{12}) - z(r_{34})| / \\sqrt{1/(n-3) + 1/(n_2-3)}` with Fisher's
        :math:`z(r) = \\tfrac12\\log((1+r)/(1-r))`.
    p : ndarray or float
        :math:`2\\Phi(-z)` (computed in the tail, so p below 1e-16 keep their digits,
        as TwoSampleMR's ``pnorm(-abs(z)) * 2``).
    """
    n = np.asarray(n, dtype=float)
    n2 = np.asarray(n2, dtype=float)
    with np.errstate(all="ignore"):
        se = np.sqrt(1 / (n - 3) + 1 / (n2 - 3))
        z = np.abs((_fisherz(np.asarray(r12, dtype=float)) - _fisherz(np.asarray(r34, dtype=float))) / se)
    p = 2.0 * special.ndtr(-z)                    # = 2 stats.norm.sf(z)
    if np.ndim(z) == 0:
        return float(z), float(p)
    return z, p


def steiger_sensitivity(rgx_o: float, rgy_o: float) -> dict:
    """Sensitivity of the Steiger test to measurement error (TwoSampleMR).

    Parameters
    ----------
    rgx_o, rgy_o : float
        Observed SNP-exposure and SNP-outcome correlations (``mr_steiger`` passes
        the correlations, not their squares).

    Returns
    -------
    dict
        ``vz`` (volume of the error-parameter space), ``vz0`` (volume giving the
        wrong direction), ``vz1 = |vz - vz0|``, ``sensitivity_ratio = vz1/vz0``.

    Notes
    -----
    With :math:`a = \\max`, :math:`b = \\min` of the two:
    :math:`v_z = a\\log a - b\\log b + ab(\\log b - \\log a)`,
    :math:`v_{z0} = -2b - b\\log a - ab\\log a + 2ab`.
    """
    if rgy_o > rgx_o:
        a, b = rgy_o, rgx_o
    else:
        a, b = rgx_o, rgy_o
    with np.errstate(all="ignore"):
        la, lb = np.log(a), np.log(b)
        vz = a * la - b * lb + a * b * (lb - la)
        vz0 = -2 * b - b * la - a * b * la + 2 * a * b
        vz1 = abs(vz - vz0)
        ratio = vz1 / vz0 if vz0 != 0 else (math.inf if vz1 > 0 else math.nan)
    return {"vz": float(vz), "vz0": float(vz0), "vz1": float(vz1), "sensitivity_ratio": float(ratio)}


def _vec(x, n: int) -> np.ndarray:
    if x is None:
        return np.full(n, np.nan)
    a = np.atleast_1d(np.asarray(x, dtype=float)).ravel().copy()
    if a.size == 1 and n != 1:
        a = np.repeat(a, n)
    return a


def _fill_r(r: np.ndarray, p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``r[ir] <- get_r_from_pn(p[ir & !ip], n[ir & !ip])`` with R's recycling."""
    ir = np.isnan(r)
    if ir.any():
        ip = np.isnan(p) | np.isnan(n)
        sel = ir & ~ip
        vals = get_r_from_pn(p[sel], n[sel]) if sel.any() else np.empty(0)
        if vals.size:
            r[ir] = np.resize(vals, int(ir.sum()))
    return r


def mr_steiger(p_exp, p_out, n_exp, n_out, r_exp=None, r_out=None, r_xxo: float = 1.0,
               r_yyo: float = 1.0) -> dict:
    """MR Steiger test of directionality (TwoSampleMR ``mr_steiger``).

    Parameters
    ----------
    p_exp, p_out : array_like
        SNP-exposure and SNP-outcome p-values.
    n_exp, n_out : array_like
        Sample sizes.
    r_exp, r_out : array_like, optional
        SNP-trait correlations; missing entries are computed with
        :func:`get_r_from_pn` (quantitative-trait approximation).
    r_xxo, r_yyo : float, default 1
        Measurement precision of exposure and outcome.

    Returns
    -------
    dict
        ``r2_exp``, ``r2_out``, ``r2_exp_adj``, ``r2_out_adj``,
        ``correct_causal_direction``, ``steiger_test``,
        ``correct_causal_direction_adj``, ``steiger_test_adj``, ``vz``, ``vz0``,
        ``vz1``, ``sensitivity_ratio`` (the R list without the plot).

    Notes
    -----
    :math:`r_X = \\sqrt{\\sum_j r_{Xj}^2}`, :math:`r_Y` likewise (R's filter
    ``!is.na(r_exp) | is.na(r_out)`` is kept, including its use of the already
    summed :math:`r_X` for the outcome). The test compares the two by Fisher's z
    with :math:`n = \\bar n_X` and :math:`n_2 = \\bar n_Y`:
    :math:`z = |\\operatorname{atanh} r_X - \\operatorname{atanh} r_Y| /
    \\sqrt{1/(n-3) + 1/(n_2-3)}`, :math:`p = 2\\Phi(-z)`; the causal direction
    is "correct" when :math:`r_X > r_Y`.

    References
    ----------
    Hemani G, Tilling K, Davey Smith G (2017). Orienting the causal relationship
    between imprecisely measured traits using GWAS summary data. PLoS Genetics
    13(11):e1007081. doi:10.1371/journal.pgen.1007081
    """
    p_exp = np.atleast_1d(np.asarray(p_exp, dtype=float)).ravel()
    k = p_exp.size
    p_out = _vec(p_out, k)
    n_exp = _vec(n_exp, k)
    n_out = _vec(n_out, k)
    r_exp = np.abs(_vec(r_exp, k))
    r_out = np.abs(_vec(r_out, k))
    r_exp = _fill_r(r_exp, p_exp, n_exp)
    r_out = _fill_r(r_out, p_out, n_out)
    keep = ~np.isnan(r_exp) | np.isnan(r_out)
    rx = float(np.sqrt(np.sum(r_exp[keep] ** 2)))
    keep2 = (not math.isnan(rx)) | np.isnan(r_out)
    ry = float(np.sqrt(np.sum(r_out[keep2] ** 2)))
    if not (0 <= r_xxo <= 1) or not (0 <= r_yyo <= 1):
        raise ValueError("r_xxo and r_yyo must be in [0, 1]")
    with np.errstate(all="ignore"):
        rx_adj = float(np.sqrt(rx ** 2 / r_xxo ** 2))
        ry_adj = float(np.sqrt(ry ** 2 / r_yyo ** 2))
    sens = steiger_sensitivity(rx, ry)
    nx, ny = float(np.mean(n_exp)), float(np.mean(n_out))
    _, p = r_test_independent(nx, ny, rx, ry)
    _, p_adj = r_test_independent(nx, ny, rx_adj, ry_adj)
    return {
        "r2_exp": rx ** 2, "r2_out": ry ** 2, "r2_exp_adj": rx_adj ** 2, "r2_out_adj": ry_adj ** 2,
        "correct_causal_direction": bool(rx > ry), "steiger_test": p,
        "correct_causal_direction_adj": bool(rx_adj > ry_adj), "steiger_test_adj": p_adj,
        **sens,
    }


# --------------------------------------------------------------------------------------
# data-frame level
# --------------------------------------------------------------------------------------

def _col(x: pd.DataFrame, name: str) -> np.ndarray:
    if name in x.columns:
        return pd.to_numeric(x[name], errors="coerce").to_numpy(dtype=float)
    return np.full(len(x), np.nan)


def _first(x: pd.DataFrame, name: str):
    if name in x.columns and len(x):
        v = x[name].iloc[0]
        return None if pd.isna(v) else v
    return None


def _pairs(dat: pd.DataFrame, sort: bool):
    keys = [c for c in ("id.exposure", "id.outcome") if c in dat.columns]
    if not keys:
        yield (None, None), dat
        return
    one = single_pair(dat, keys)
    if one is not None:  # the usual case: the one group groupby would give, without groupby
        ids = dict(zip(keys, one))
        yield (ids.get("id.exposure"), ids.get("id.outcome")), dat
        return
    for key, x in dat.groupby(keys, sort=sort, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        ids = dict(zip(keys, key))
        yield (ids.get("id.exposure"), ids.get("id.outcome")), x


def _has_inputs(dat: pd.DataFrame) -> bool:
    if {"r.exposure", "r.outcome"} <= set(dat.columns):
        return True
    return {"pval.exposure", "pval.outcome", "samplesize.exposure", "samplesize.outcome"} <= set(dat.columns)


def _steiger_pair(x: pd.DataFrame) -> dict:
    return mr_steiger(_col(x, "pval.exposure"), _col(x, "pval.outcome"),
                      _col(x, "samplesize.exposure"), _col(x, "samplesize.outcome"),
                      _col(x, "r.exposure"), _col(x, "r.outcome"))


def mr_steiger_full(dat: pd.DataFrame) -> pd.DataFrame:
    """:func:`mr_steiger` for every (``id.exposure``, ``id.outcome``) pair of a table.

    Uses all rows of each pair (not only ``mr_keep``), like
    :func:`directionality_test`. Returns one row per pair: ``id_exposure``,
    ``id_outcome`` and the keys of :func:`mr_steiger`; an empty table when
    neither ``r.*`` nor ``pval.*`` with ``samplesize.*`` are present.
    """
    cols = ["id_exposure", "id_outcome"] + MR_STEIGER_KEYS
    if not _has_inputs(dat):
        return pd.DataFrame(columns=cols)
    rows = []
    for (ide, ido), x in _pairs(dat, sort=True):
        rows.append({"id_exposure": ide, "id_outcome": ido, **_steiger_pair(x)})
    return pd.DataFrame(rows, columns=cols)


def directionality_test(dat: pd.DataFrame) -> pd.DataFrame:
    """MR Steiger directionality test per exposure-outcome pair (TwoSampleMR).

    Parameters
    ----------
    dat : pandas.DataFrame
        Harmonised data with TwoSampleMR column names. Needs ``r.exposure`` and
        ``r.outcome``, or ``pval.*`` and ``samplesize.*`` for both traits (then r
        is approximated with :func:`get_r_from_pn`, assuming quantitative traits).
        Pairs are defined by ``id.exposure`` and ``id.outcome`` (one pair if
        absent). **All rows** of a pair are used, not only ``mr_keep`` ones.

    Returns
    -------
    pandas.DataFrame
        One row per pair (sorted by ids, as ``plyr::ddply``): ``id_exposure``,
        ``id_outcome``, ``exposure``, ``outcome``, ``snp_r2_exposure`` (
        :math:`\\sum r_{Xj}^2`), ``snp_r2_outcome``, ``correct_causal_direction``
        (bool), ``steiger_pval``. Empty (with these columns) when the required
        columns are missing, where R returns NULL.

    Notes
    -----
    See :func:`mr_steiger`.

    References
    ----------
    Hemani G, Tilling K, Davey Smith G (2017). PLoS Genetics 13(11):e1007081.
    doi:10.1371/journal.pgen.1007081
    """
    if not _has_inputs(dat):
        return pd.DataFrame(columns=DIRECTIONALITY_COLUMNS)
    rows = []
    for (ide, ido), x in _pairs(dat, sort=True):
        b = _steiger_pair(x)
        rows.append({
            "id_exposure": ide, "id_outcome": ido,
            "exposure": _first(x, "exposure"), "outcome": _first(x, "outcome"),
            "snp_r2_exposure": b["r2_exp"], "snp_r2_outcome": b["r2_out"],
            "correct_causal_direction": b["correct_causal_direction"],
            "steiger_pval": b["steiger_test"],
        })
    return pd.DataFrame(rows, columns=DIRECTIONALITY_COLUMNS)


def _add_rsq_one(x: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``add_rsq_one(dat, what)``: per-SNP r² and effective sample size of one trait."""
    n_rows = len(x)
    units = x[f"units.{what}"] if f"units.{what}" in x.columns else pd.Series([np.nan] * n_rows)
    if units.nunique(dropna=False) > 1:
        raise ValueError(f"units.{what} must be the same for all SNPs of a trait")
    samplesize = _col(x, f"samplesize.{what}")
    if f"rsq.{what}" in x.columns:
        rsq = _col(x, f"rsq.{what}")
        if f"effective_n.{what}" in x.columns:
            eff = _col(x, f"effective_n.{what}")
        else:  # R would fail here; the sample size is the natural value
            eff = samplesize
        return rsq, eff
    unit0 = units.iloc[0] if n_rows else np.nan
    rsq = np.full(n_rows, np.nan)
    eff = np.full(n_rows, np.nan)
    beta = _col(x, f"beta.{what}")
    if isinstance(unit0, str) and unit0 == "log odds":
        if f"prevalence.{what}" in x.columns:
            prevalence = _col(x, f"prevalence.{what}")
        else:
            prevalence = np.full(n_rows, 0.1)
            warnings.warn(f"Assuming {what} prevalence of 0.1. Alternatively, add prevalence.{what} "
                          "column and re-run.", stacklevel=3)
        eaf = _col(x, f"eaf.{what}")
        ncase = _col(x, f"ncase.{what}")
        ncontrol = _col(x, f"ncontrol.{what}")
        ind = ~(np.isnan(beta) | np.isnan(eaf) | np.isnan(ncase) | np.isnan(ncontrol)
                | np.isnan(prevalence))
        if ind.any():
            rsq[ind] = get_r_from_lor(beta[ind], eaf[ind], ncase[ind], ncontrol[ind], prevalence[ind]) ** 2
            eff[ind] = effective_n(ncase[ind], ncontrol[ind])
        return rsq, eff
    is_sd = bool(n_rows) and all(isinstance(u, str) and "SD" in u for u in units)
    if is_sd and f"eaf.{what}" in x.columns and not np.isnan(_col(x, f"eaf.{what}")).any():
        eaf = _col(x, f"eaf.{what}")
        return 2 * beta ** 2 * eaf * (1 - eaf), samplesize
    ind = ~(np.isnan(_col(x, f"pval.{what}")) | np.isnan(samplesize))
    if ind.any():
        rsq[ind] = get_r_from_bsen(beta[ind], _col(x, f"se.{what}")[ind], samplesize[ind]) ** 2
        eff = samplesize
    return rsq, eff


def add_rsq(dat: pd.DataFrame) -> pd.DataFrame:
    """Variance explained by each SNP in exposure and outcome (TwoSampleMR ``add_rsq``).

    Returns a copy of ``dat`` with ``rsq_exposure``, ``rsq_outcome``,
    ``effective_n_exposure`` and ``effective_n_outcome``, computed per trait
    (``id.exposure`` / ``id.outcome`` groups) by the first rule that applies:

    1. an existing ``rsq.<trait>`` column is used as given;
    2. ``units.<trait> == "log odds"``: :func:`get_r_from_lor` squared, from
       ``beta``, ``eaf``, ``ncase``, ``ncontrol`` and ``prevalence`` (0.1 with a
       warning when the column is absent); effective n from cases and controls;
    3. units containing ``"SD"`` and no missing ``eaf``:
       :math:`2\\beta^2 f(1-f)`; effective n = sample size;
    4. otherwise :math:`F/(n-2+F)`, :math:`F=(\\beta/se)^2` (:func:`get_r_from_bsen`)
       for rows with a p-value and a sample size; effective n = sample size.

    R's clamp of p-values below 1e-300 (used only by the older p-value rule) is not
    applied to the returned data. Where R would stop (SD units without any ``eaf``
    column) rule 4 is used.
    """
    out = dat.copy()
    for what in ("exposure", "outcome"):
        rsq = np.full(len(out), np.nan)
        eff = np.full(len(out), np.nan)
        key = f"id.{what}"
        groups = out.groupby(key, sort=False, dropna=False).indices if key in out.columns \
            else {None: np.arange(len(out))}
        for _, idx in groups.items():
            r, e = _add_rsq_one(out.iloc[idx], what)
            rsq[idx] = r
            eff[idx] = e
        out[f"rsq_{what}"] = rsq
        out[f"effective_n_{what}"] = eff
    return out


def steiger_filtering(dat: pd.DataFrame) -> pd.DataFrame:
    """Steiger test per SNP (TwoSampleMR ``steiger_filtering``).

    Parameters
    ----------
    dat : pandas.DataFrame
        Harmonised data (all rows are kept and tested).

    Returns
    -------
    pandas.DataFrame
        A copy of ``dat`` (pairs in order of first appearance, rows in data order
        within a pair) with ``rsq_exposure``, ``rsq_outcome``,
        ``effective_n_exposure``, ``effective_n_outcome`` (see :func:`add_rsq`),
        ``steiger_dir`` (``rsq_exposure > rsq_outcome``; nullable boolean, NA
        where an r² is missing, as R) and ``steiger_pval``.

    Notes
    -----
    Per SNP, :func:`r_test_independent` with :math:`n = n_{eff,X}`,
    :math:`n_2 = n_{eff,Y}`, :math:`r_{12} = \\sqrt{r^2_X}`, :math:`r_{34} =
    \\sqrt{r^2_Y}`, and ``steiger_pval`` :math:`= 2\\Phi(-|z|)`.

    References
    ----------
    Hemani G, Tilling K, Davey Smith G (2017). PLoS Genetics 13(11):e1007081.
    doi:10.1371/journal.pgen.1007081
    """
    parts = []
    for _, x in _pairs(dat, sort=False):
        for what in ("exposure", "outcome"):
            if f"units.{what}" in x.columns and x[f"units.{what}"].nunique(dropna=False) > 1:
                raise ValueError(f"units.{what} must be the same for all SNPs of a pair")
        y = add_rsq(x)
        z, p = r_test_independent(y["effective_n_exposure"].to_numpy(float),
                                  y["effective_n_outcome"].to_numpy(float),
                                  np.sqrt(y["rsq_exposure"].to_numpy(float)),
                                  np.sqrt(y["rsq_outcome"].to_numpy(float)))
        rx, ry = y["rsq_exposure"].to_numpy(float), y["rsq_outcome"].to_numpy(float)
        y["steiger_dir"] = pd.array([None if (math.isnan(a) or math.isnan(b)) else bool(a > b)
                                     for a, b in zip(rx, ry)], dtype="boolean")
        y["steiger_pval"] = np.atleast_1d(p)
        parts.append(y)
    if not parts:
        return dat.assign(rsq_exposure=[], rsq_outcome=[], effective_n_exposure=[],
                          effective_n_outcome=[], steiger_dir=[], steiger_pval=[])
    return pd.concat(parts)
