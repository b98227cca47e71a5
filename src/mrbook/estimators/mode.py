r"""Estimators layer: mode-based estimators, simple, weighted and penalised, with and without NOME.

A reimplementation of TwoSampleMR 0.7.9's ``mr_mode()`` (``R/mr_mode.R``) and of the
five estimators built on it, ``mr_simple_mode``, ``mr_weighted_mode``,
``mr_penalised_mode``, ``mr_simple_mode_nome`` and ``mr_weighted_mode_nome``.

The causal effect is the mode of a kernel density estimate of the SNP ratio
estimates :math:`\hat\beta_j = \beta_{Yj}/\beta_{Xj}`: consistent when the
largest group of SNPs with the same ratio is that of the valid instruments
(the zero modal pleiotropy assumption, ZEMPA).

Point estimates (R's inner ``beta()``)
    With :math:`k` SNPs, ratio estimates :math:`\hat\beta_j` and standard errors

    .. math::

        s_{j,1} = \sqrt{\frac{\sigma_{Yj}^2}{\beta_{Xj}^2}
                       + \frac{\beta_{Yj}^2\sigma_{Xj}^2}{\beta_{Xj}^4}}\quad
        \text{(second order)},\qquad
        s_{j,2} = \frac{\sigma_{Yj}}{|\beta_{Xj}|}\quad\text{(NOME)},

    the bandwidth is the modified Silverman rule of Bickel (2002)

    .. math::

        h = \max\!\Big(10^{-8},\ \varphi\,\frac{0.9\,\min(\mathrm{sd}(\hat\beta),
            \mathrm{mad}(\hat\beta))}{k^{1/5}}\Big)

    (``sd`` with denominator :math:`k-1`, ``mad`` = 1.4826 × median absolute deviation
    from the median, :math:`\varphi` = ``params.phi`` = 1), the weights are
    :math:`w_j = s_j^{-2}/\sum_i s_i^{-2}` (all :math:`1/k` for the simple mode), and
    the estimate is the grid point of R's ``density(beta, weights = w, bw = h)``
    with the largest density (:func:`mrbook.rmath.density.density_mode`), so it is
    quantised to R's 512-point grid from :math:`\min\hat\beta - 3h` to
    :math:`\max\hat\beta + 3h`.

    * Simple mode: equal weights. "Simple mode (NOME)" has the same point estimate.
    * Weighted mode: weights from :math:`s_{j,1}`; "Weighted mode (NOME)" from
      :math:`s_{j,2}`.
    * Penalised mode: :math:`w_j^* = s_{j,1}^{-2}\min\{1,\ k_p\,P(\chi^2_1 >
      s_{j,1}^{-2}(\hat\beta_j - \hat\beta_{WM})^2)\}`, :math:`k_p` = ``params.penk`` (20),
      with :math:`\hat\beta_{WM}` the weighted mode.

Standard errors (R's ``boot()``)
    A parametric bootstrap of the ratio estimates: ``B1 = matrix(rnorm(nboot*k,
    rep(beta, each = nboot), rep(s1, each = nboot)), nboot, k)`` and then ``B2``
    likewise with :math:`s_{j,2}` (draw :math:`i` goes to replicate ``i % nboot`` and
    SNP ``i // nboot``). In every replicate the bandwidth is recomputed from the
    replicate; the simple, weighted and penalised modes use ``B1`` and the NOME
    modes ``B2``; the weights are the ORIGINAL ones (the penalised weights are
    recomputed against the replicate's weighted mode). The standard error is the
    ``mad()`` of the ``nboot`` replicate estimates,

    .. math::

        \mathrm{CI} = \hat\beta \mp \Phi^{-1}(1 - \alpha/2)\,\mathrm{se},\qquad
        p = 2\,P\big(t_{k-1} > |\hat\beta/\mathrm{se}|\big).

Every one of the five registered estimators reruns :func:`mr_mode_all` as
TwoSampleMR's wrappers call ``mr_mode()``: it makes all of ``mr_mode()``'s draws
(``B1`` and ``B2``, so the random stream advances exactly as in R) and returns
its row. Only the bootstrap densities of its own row are evaluated (``nboot``
instead of ``5 * nboot``); a row does not depend on which other rows are
computed, so it equals the corresponding row of :func:`mr_mode_all`.
With numpy's generator, :func:`mrbook.analysis.run_mr` computes all the mode
rows it is asked for from one such run (:func:`mr_mode_joint`, one set of
draws, as ``mr_mode()`` itself does); with R's generator it calls the wrappers
one by one, drawing as TwoSampleMR's ``mr()`` does.

References
----------
Hartwig FP, Davey Smith G, Bowden J (2017). Robust inference in summary data
Mendelian randomization via the zero modal pleiotropy assumption. Int J Epidemiol
46:1985-1998. doi:10.1093/ije/dyx102

Bickel DR, Frühwirth R (2006). On a fast, robust estimator of the mode:
comparisons to other robust estimators with applications. Comput Stat Data Anal
50:3500-3530. doi:10.1016/j.csda.2005.07.011 (and Bickel DR 2002, Robust estimators
of the mode and skewness of continuous data, Comput Stat Data Anal 39:153-163).

R Core Team. ``stats::density.default`` (R 4.2.2): see :mod:`mrbook.rmath.density`.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..rmath.density import DensityBatch, density_mode, density_modes, keep_heap
from ..rmath.jit import jit_kernel
from ..rmath.rng import rnorm_each
from ._registry import Params, register
from ._stats import na_result

__all__ = ["MODE_METHODS", "mode_bandwidth", "r_mad_rows", "r_sd_rows", "mr_mode_all",
           "mr_mode_joint", "mr_simple_mode", "mr_weighted_mode", "mr_penalised_mode",
           "mr_simple_mode_nome", "mr_weighted_mode_nome"]

_CITE = "Hartwig, Davey Smith & Bowden 2017, doi:10.1093/ije/dyx102"

#: TwoSampleMR's row order of ``mr_mode()``.
MODE_METHODS = ("Simple mode", "Weighted mode", "Penalised mode", "Simple mode (NOME)",
                "Weighted mode (NOME)")

#: bootstrap replicates processed together (bounded temporaries): as many as hold at
#: most ``_CHUNK_ELEMENTS`` draws (all 1000 up to ~1000 SNPs), at least ``_CHUNK``
_CHUNK = 16
_CHUNK_ELEMENTS = 1 << 20

#: ``mad()``'s consistency constant.
MAD_CONSTANT = 1.4826


# ----------------------------------------------------------------------------
# R's sd(), median(), mad() row-wise
# ----------------------------------------------------------------------------

def r_sd_rows(X) -> np.ndarray:
    """R's ``sd()`` of each row: ``sqrt(var(x))`` with R's long-double two-pass algorithm.

    R (``src/library/stats/src/cov.c``) accumulates the mean in long double and
    refines it by one pass of residuals, then sums the squared deviations from the
    (double) mean in long double and divides by :math:`n - 1`.
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    n = X.shape[1]
    xl = X.astype(np.longdouble)
    mean = xl.sum(axis=1) / n
    mean = mean + (xl - mean[:, None]).sum(axis=1) / n
    xm = mean.astype(float)
    dev = X - xm[:, None]
    var = ((dev * dev).astype(np.longdouble).sum(axis=1) / (n - 1)).astype(float)
    return np.sqrt(var)


#: rows up to this long are sorted to find their middle values, longer ones partitioned
_SORT_MAX = 512


def _middle_values(X, inplace: bool = False):
    """The lower and (for even n, else None) upper middle values of each row of ``X``.

    ``inplace=True`` reorders the rows of ``X`` instead of copying it. The middle
    order statistics are the same values whichever way they are found; the fastest
    way depends on n. Up to :data:`_SORT_MAX` values a row is sorted (numpy's
    vectorised sort: ~80 us for 1000 rows of 50, where ``partition`` with the two
    middle positions takes ~550 us and with one ~100 us); beyond, it is partitioned
    at the upper middle position (one ``kth``), and for even n the lower middle
    value is the largest of the values before it. (Sorting and partitioning may
    order a -0.0 and a 0.0 differently, so a zero median may come out with either
    sign: ``mad()`` takes the absolute deviations from it, the same for both.)
    A row holding a NaN gives an undefined value (numpy puts NaN last); the
    callers make it NaN.
    """
    n = X.shape[1]
    half = (n + 1) // 2
    if n <= _SORT_MAX:
        if inplace:
            X.sort(axis=1)
            part = X
        else:
            part = np.sort(X, axis=1)
        return part[:, half - 1], (part[:, half] if n % 2 == 0 else None)
    kth = half - 1 if n % 2 == 1 else half
    if inplace:
        X.partition(kth, axis=1)
        part = X
    else:
        part = np.partition(X, kth, axis=1)
    if n % 2 == 1:
        return part[:, half - 1], None
    return part[:, :half].max(axis=1), part[:, half]


def _r_mean2(lower, upper) -> np.ndarray:
    """R's ``median()`` from the middle values: ``lower``, or ``mean()`` of the two.

    ``mean()`` of two doubles is a long-double sum divided by 2, rounded to double.
    """
    if upper is None:
        return lower
    return ((lower.astype(np.longdouble) + upper) / 2).astype(float)


def _r_median_rows(X, inplace: bool = False) -> np.ndarray:
    """R's ``median()`` of each row (the mean of the two middle values for even n).

    ``inplace=True`` reorders the rows of ``X`` instead of copying it; see
    :func:`_middle_values`.
    """
    return _r_mean2(*_middle_values(X, inplace))


def r_mad_rows(X) -> np.ndarray:
    """R's ``mad()`` of each row: ``1.4826 * median(abs(x - median(x)))`` (NaN if any NaN).

    With the compiled kernel, one row or rows of at most :data:`_SORT_MAX` values
    are sorted once (:func:`_mad_sorted`); otherwise the median and the median of
    the absolute deviations are found separately. The same values either way.
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    m, k = X.shape
    jit = jit_kernel() if k and (k <= _SORT_MAX or m == 1) else None
    if jit is not None:
        out = _mad_sorted(np.sort(X, axis=1), jit)
    else:
        center = _r_median_rows(X)
        out = MAD_CONSTANT * _r_median_rows(np.abs(X - center[:, None]))
    return np.where(np.isnan(X).any(axis=1), np.nan, out)


def _mad_sorted(S, jit) -> np.ndarray:
    """:func:`r_mad_rows` of rows ``S`` (m, k) sorted ascending, before its NaN check (compiled kernel).

    The median from the middle values, then the middle absolute deviations from it
    by merging the sorted deviations either side of it
    (:func:`~mrbook.rmath._mode_jit.abs_dev_middles`) instead of sorting them: the
    same values as :func:`r_mad_rows`, ties included.
    """
    k = S.shape[1]
    half = (k + 1) // 2
    center = _r_mean2(S[:, half - 1], S[:, half] if k % 2 == 0 else None)
    lower, upper = np.empty(S.shape[0]), np.empty(S.shape[0])
    jit.abs_dev_middles(S, center, lower, upper)
    return MAD_CONSTANT * _r_mean2(lower, upper if k % 2 == 0 else None)


def mode_bandwidth(X, phi: float = 1.0) -> np.ndarray:
    r"""The modified Silverman bandwidth of ``mr_mode``'s ``beta()``, per row.

    .. math::

        h = \max\big(10^{-8},\
            \varphi \cdot 0.9 \min(\mathrm{sd}, \mathrm{mad}) / k^{1/5}\big)

    Parameters
    ----------
    X : array_like, shape (m, k) or (k,)
        Ratio estimates (one sample per row).
    phi : float
        Bandwidth multiplier (``parameters$phi``).

    References
    ----------
    Bickel DR (2002). Comput Stat Data Anal 39:153-163; Hartwig et al. (2017).
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    k = X.shape[1]
    s = 0.9 * np.minimum(r_sd_rows(X), r_mad_rows(X)) / (float(k) ** (1.0 / 5.0))
    return np.maximum(1e-8, s * phi)


def _boot_bandwidth(XT, X, phi: float, jit=None) -> np.ndarray:
    """:func:`mode_bandwidth` of bootstrap replicates, with the sd in double precision.

    ``XT`` holds the replicates as columns (``k`` x ``m``, as drawn) and ``X`` as
    rows (``m`` x ``k``). R accumulates ``sd()``'s sums in long double; here they
    are double (two-pass, as R), which changes a bandwidth by at most a few units
    in the last place (a few times 1e-16, relative) and costs a tenth of the
    long-double arithmetic. The point estimates keep :func:`r_sd_rows`. With the
    compiled kernel (``jit``, :func:`mrbook.rmath._mode_jit.column_sds`) the sums
    are the same, in the same order, in one pass each, and the middle absolute
    deviations of ``mad()`` are merged from the sorted rows
    (:func:`~mrbook.rmath._mode_jit.abs_dev_middles`) instead of sorted again.
    """
    k = XT.shape[0]
    if jit is not None:
        sd = np.empty(XT.shape[1])
        jit.column_sds(np.ascontiguousarray(XT), sd)
    else:
        mean = XT.sum(axis=0) / k
        dev = XT - mean
        mean += dev.sum(axis=0) / k
        np.subtract(XT, mean, out=dev)
        sd = np.sqrt(np.einsum("ij,ij->j", dev, dev) / (k - 1))
    # mad(): as r_mad_rows (a row with a NaN has sd NaN, whatever its mad)
    if jit is not None and k <= _SORT_MAX:
        mad = _mad_sorted(np.sort(X, axis=1), jit)          # the rows sorted once
    else:
        dev = X - _r_median_rows(X)[:, None]
        np.abs(dev, out=dev)
        mad = MAD_CONSTANT * _r_median_rows(dev, inplace=True)
    s = 0.9 * np.minimum(sd, mad) / (float(k) ** (1.0 / 5.0))
    return np.maximum(1e-8, s * phi)


def _norm_weights(se) -> np.ndarray:
    """``se^-2 / sum(se^-2)`` per row (R sums in long double; 0/0 gives NaN as in R)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        inv = np.power(se, -2.0)
        tot = inv.astype(np.longdouble).sum(axis=-1, keepdims=True).astype(float)
        return inv / tot


def _penalised_weights(b_iv, se1, b_wm, penk) -> np.ndarray:
    """Normalised penalised weights, following R's rounding chain.

    ``weights <- 1/se1^2``; ``penalty <- pchisq(weights*(b_iv - b_wm)^2, 1,
    lower.tail = FALSE)``; ``pen.weights <- weights*pmin(1, penalty*penk)``; then
    ``beta(seBetaIV.in = sqrt(1/pen.weights))`` normalises ``seBetaIV.in^-2``.
    """
    w = 1.0 / (se1 * se1)
    b_wm = np.asarray(b_wm, dtype=float)
    d = b_iv - (b_wm[:, None] if b_wm.ndim else b_wm)
    # pchisq(q, df = 1, lower.tail = FALSE) = erfc(sqrt(q / 2))
    penalty = special.erfc(np.sqrt(0.5 * (w * (d * d))))
    pw = w * np.minimum(1.0, penalty * penk)
    with np.errstate(divide="ignore", over="ignore"):
        se_pen = np.sqrt(1.0 / pw)                  # Inf where the penalty underflows: weight 0
    return _norm_weights(se_pen)


# ----------------------------------------------------------------------------
# mr_mode()
# ----------------------------------------------------------------------------

def _inputs(bx, by, sx, sy):
    bx, by, sx, sy = (np.asarray(v, dtype=float).ravel() for v in (bx, by, sx, sy))
    ok = np.isfinite(bx) & np.isfinite(by) & np.isfinite(sx) & np.isfinite(sy)
    return bx[ok], by[ok], sx[ok], sy[ok]


def _qnorm_upper(alpha: float) -> float:
    return float(special.ndtri(1.0 - alpha / 2.0))


def _mode_rows(bx, by, sx, sy, params: Params, rng, methods) -> list[dict]:
    """The rows of ``mr_mode()`` named in ``methods`` (a subset of :data:`MODE_METHODS`).

    Every call makes ``mr_mode()``'s draws, ``B1`` then ``B2`` (so the random
    stream advances as in R), but evaluates only the bootstrap densities the
    requested rows need: ``nboot`` for one row instead of ``5 * nboot``. A row's
    values do not depend on which other rows are requested.
    """
    bx, by, sx, sy = _inputs(bx, by, sx, sy)
    k = bx.size
    if k < 3:
        return []
    if rng is None:
        raise ValueError("mr_mode_all needs a random source (mrbook.rmath.rng.make_rng)")
    phi, nboot, alpha, penk = float(params.phi), int(params.nboot), float(params.alpha), \
        float(params.penk)
    want = set(methods)
    simple = "Simple mode" in want or "Simple mode (NOME)" in want
    pen = "Penalised mode" in want
    weighted = "Weighted mode" in want or pen

    b_iv = by / bx
    se1 = np.sqrt((sy * sy) / (bx * bx) + ((by * by) * (sx * sx)) / (bx ** 4))
    se2 = sy / np.abs(bx)
    w_simple = np.full(k, 1.0 / k)          # rep(1, k)^-2 / sum(rep(1, k)^-2)
    w1 = _norm_weights(se1)
    w2 = _norm_weights(se2)

    # point estimates (R's FFT density, exactly), only those needed
    h0 = mode_bandwidth(b_iv[None, :], phi)
    names, ws = [], []
    for name, w, need in (("s", w_simple, simple), ("w", w1, weighted),
                          ("wn", w2, "Weighted mode (NOME)" in want)):
        if need:
            names.append(name)
            ws.append(w)
    est = dict(zip(names, density_mode(b_iv[None, :], np.stack(ws), h0, exact=True))) \
        if ws else {}
    if pen:
        w_pen = _penalised_weights(b_iv, se1, est["w"], penk)
        est["p"] = density_mode(b_iv[None, :], w_pen[None, :], h0, exact=True)[0]

    # bootstrap: B1 then B2, column-major nboot x k matrices. R's generator draws both
    # always (its stream then advances exactly as in R); numpy's stream is mrbook's own,
    # so it draws only what the requested rows use
    keep_heap()
    B1 = rnorm_each(rng, b_iv, se1, nboot)
    need2 = "Simple mode (NOME)" in want or "Weighted mode (NOME)" in want
    if need2 or getattr(rng, "kind", None) != "numpy":
        B2 = rnorm_each(rng, b_iv, se2, nboot)
    else:
        B2 = None
    boot = {}
    chunk = max(_CHUNK, _CHUNK_ELEMENTS // k)
    for B, jobs in ((B1, (("Simple mode", simple, "s"), ("Weighted mode", weighted, "w"),
                          ("Penalised mode", pen, "p"))),
                    (B2, (("Simple mode (NOME)", "Simple mode (NOME)" in want, "s"),
                          ("Weighted mode (NOME)", "Weighted mode (NOME)" in want, "wn")))):
        jobs = [(name, key) for name, need, key in jobs if need]
        if not jobs:
            continue
        for name, _ in jobs:
            boot[name] = np.empty(nboot)
        jit = None if pen else jit_kernel()
        for s in range(0, nboot, chunk):       # blocks of replicates bound the temporaries
            sl = slice(s, s + chunk)
            xt = B[:, sl]                          # replicates as columns, as drawn
            x = np.ascontiguousarray(xt.T)         # and as rows
            if jit is not None:
                # compiled: the sds, mad()'s middle deviations and the modes per
                # replicate (the replicates sorted by numpy for the medians: see
                # _boot_bandwidth), uncertified rows by numpy
                h = _boot_bandwidth(xt, x, phi, jit)
                ws = {"s": w_simple, "w": w1, "wn": w2}
                res = density_modes(x, np.stack([ws[key] for _, key in jobs]), h)
                for q, (name, _) in enumerate(jobs):
                    boot[name][sl] = res[q]
                continue
            batch = DensityBatch(x, _boot_bandwidth(xt, x, phi), xmin=xt.min(axis=0),
                                 xmax=xt.max(axis=0))
            b_wm = None
            for name, key in jobs:
                if key == "s":
                    boot[name][sl] = batch.mode(w_simple)
                elif key == "w":
                    b_wm = batch.mode(w1)
                    if name in want:
                        boot[name][sl] = b_wm
                elif key == "p":
                    boot[name][sl] = batch.mode(_penalised_weights(x, se1, b_wm, penk))
                else:
                    boot[name][sl] = batch.mode(w2)

    z = _qnorm_upper(alpha)
    key_of = {"Simple mode": "s", "Weighted mode": "w", "Penalised mode": "p",
              "Simple mode (NOME)": "s", "Weighted mode (NOME)": "wn"}
    out = []
    for name in MODE_METHODS:
        if name not in want:
            continue
        b = float(est[key_of[name]])
        se = float(r_mad_rows(boot[name][None, :])[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            pval = float(2.0 * special.stdtr(k - 1, -np.abs(b / se)))
        out.append({"method": name, "nsnp": k, "b": b, "se": se, "ci_low": b - z * se,
                    "ci_upp": b + z * se, "pval": pval})
    return out


def mr_mode_all(bx, by, sx, sy, params: Params = Params(), rng=None) -> list[dict]:
    r"""TwoSampleMR's ``mr_mode(dat)``: all five mode-based estimates in one run.

    Parameters
    ----------
    bx, by, sx, sy : array_like, shape (k,)
        SNP-exposure and SNP-outcome effects and their standard errors
        (harmonised, ``mr_keep`` rows; non-finite rows are dropped).
    params : Params
        ``nboot``, ``penk``, ``phi``, ``alpha``.
    rng : BootstrapRNG
        Random source (:func:`mrbook.rmath.rng.make_rng`); ``2 * nboot * k`` normal draws.

    Returns
    -------
    list of dict
        One row per method in :data:`MODE_METHODS` order, with keys ``method``,
        ``nsnp``, ``b``, ``se``, ``ci_low``, ``ci_upp``, ``pval``; an empty list
        when there are fewer than 3 SNPs (R: "Need at least 3 SNPs", NULL).

    Notes
    -----
    See the module docstring for the formulas. The ``5 * nboot`` bootstrap
    densities are evaluated by :class:`mrbook.rmath.density.DensityBatch` (the
    simple, weighted and penalised modes share one batch of ``B1`` replicates).

    Examples
    --------
    >>> import numpy as np
    >>> from mrbook.rmath.rng import make_rng
    >>> rng = np.random.default_rng(42)
    >>> bx = rng.uniform(0.05, 0.2, 30)
    >>> by = 0.4 * bx + rng.normal(0, 0.005, 30)
    >>> rows = mr_mode_all(bx, by, np.full(30, 0.01), np.full(30, 0.005),
    ...                    Params(nboot=200), make_rng(1))
    >>> [r["method"] for r in rows][:2]
    ['Simple mode', 'Weighted mode']
    >>> all(abs(r["b"] - 0.4) < 0.1 for r in rows)
    True

    References
    ----------
    Hartwig FP, Davey Smith G, Bowden J (2017). Int J Epidemiol 46:1985-1998.
    doi:10.1093/ije/dyx102
    """
    return _mode_rows(bx, by, sx, sy, params, rng, MODE_METHODS)


def _result(row: dict) -> dict:
    return {"b": row["b"], "se": row["se"], "pval": row["pval"], "nsnp": row["nsnp"],
            "ci_low": row["ci_low"], "ci_upp": row["ci_upp"]}


def _one(method: str, bx, by, sx, sy, params, rng) -> dict:
    rows = _mode_rows(bx, by, sx, sy, params, rng, (method,))
    return _result(rows[0]) if rows else na_result()


def mr_mode_joint(bx, by, sx, sy, params: Params, rng, names) -> dict[str, dict]:
    r"""Several mode-based estimates from ONE run of ``mr_mode()``: shared bootstrap draws.

    TwoSampleMR's ``mr_mode(dat)`` computes all five mode-based rows from one
    pair of bootstrap matrices ``B1``, ``B2``; its ``mr()`` instead calls each
    wrapper (``mr_simple_mode``, ``mr_weighted_mode`` ...), and every call
    re-runs ``mr_mode()`` with new draws. This returns the rows named in
    ``names`` as the single ``mr_mode()`` run does (:func:`mr_mode_all`'s rows),
    so the draws, bandwidths and grids are made once for all of them. Each
    standard error is still the MAD of that method's own ``nboot`` bootstrap
    estimates; the methods merely share the replicates.

    Parameters
    ----------
    bx, by, sx, sy, params, rng
        As :func:`mr_mode_all`.
    names : iterable of str
        Display names out of :data:`MODE_METHODS`.

    Returns
    -------
    dict
        ``{name: result}`` with the estimator contract's keys (NaN results when
        there are fewer than 3 SNPs).
    """
    names = list(names)
    rows = {r["method"]: r for r in _mode_rows(bx, by, sx, sy, params, rng, names)}
    return {n: _result(rows[n]) if n in rows else na_result() for n in names}


@register("mr_simple_mode", "Simple mode", min_snps=3, default=True, stochastic=True,
          citation=_CITE, joint=mr_mode_joint)
def mr_simple_mode(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Simple mode: the mode of the unweighted density of the ratio estimates.

    Returns :func:`mr_mode_all`'s "Simple mode" row (making all of its draws), as
    TwoSampleMR's ``mr_simple_mode`` does. SE: MAD of the bootstrap modes; p from
    :math:`t_{k-1}`.

    References
    ----------
    Hartwig FP et al. (2017). Int J Epidemiol 46:1985-1998. doi:10.1093/ije/dyx102
    """
    return _one("Simple mode", bx, by, sx, sy, params, rng)


@register("mr_weighted_mode", "Weighted mode", min_snps=3, default=True, stochastic=True,
          citation=_CITE, joint=mr_mode_joint)
def mr_weighted_mode(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Weighted mode: density weights :math:`\propto s_{j,1}^{-2}` (second-order SEs).

    Returns :func:`mr_mode_all`'s "Weighted mode" row (making all of its draws).

    References
    ----------
    Hartwig FP et al. (2017). Int J Epidemiol 46:1985-1998. doi:10.1093/ije/dyx102
    """
    return _one("Weighted mode", bx, by, sx, sy, params, rng)


@register("mr_weighted_mode_nome", "Weighted mode (NOME)", min_snps=3, default=False,
          stochastic=True, citation=_CITE, joint=mr_mode_joint)
def mr_weighted_mode_nome(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Weighted mode under NOME: weights :math:`\propto (\sigma_{Yj}/\beta_{Xj})^{-2}`.

    Returns :func:`mr_mode_all`'s "Weighted mode (NOME)" row (making all of its draws).

    References
    ----------
    Hartwig FP et al. (2017). Int J Epidemiol 46:1985-1998. doi:10.1093/ije/dyx102
    """
    return _one("Weighted mode (NOME)", bx, by, sx, sy, params, rng)


@register("mr_simple_mode_nome", "Simple mode (NOME)", min_snps=3, default=False,
          stochastic=True, citation=_CITE, joint=mr_mode_joint)
def mr_simple_mode_nome(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Simple mode with the NOME bootstrap (ratio estimates drawn with first-order SEs).

    Same point estimate as the simple mode. Returns :func:`mr_mode_all`'s
    "Simple mode (NOME)" row (making all of its draws).

    References
    ----------
    Hartwig FP et al. (2017). Int J Epidemiol 46:1985-1998. doi:10.1093/ije/dyx102
    """
    return _one("Simple mode (NOME)", bx, by, sx, sy, params, rng)


@register("mr_penalised_mode", "Penalised mode", min_snps=3, default=False, stochastic=True,
          citation=_CITE, joint=mr_mode_joint)
def mr_penalised_mode(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Penalised mode: weighted mode with penalised weights (penalty constant ``penk``).

    :math:`w_j^* = s_{j,1}^{-2}\min\{1, k_p P(\chi^2_1 > s_{j,1}^{-2}(\hat\beta_j -
    \hat\beta_{WM})^2)\}` against the weighted mode. Returns :func:`mr_mode_all`'s
    "Penalised mode" row (making all of its draws).

    References
    ----------
    Hartwig FP et al. (2017). Int J Epidemiol 46:1985-1998. doi:10.1093/ije/dyx102
    """
    return _one("Penalised mode", bx, by, sx, sy, params, rng)
