"""Sensitivity layer: MR-PRESSO, the global test, the outlier test and the distortion test.

A line-by-line reimplementation of ``mr_presso()`` of the MR-PRESSO R package
(rondolab/MR-PRESSO, ``R/mr_presso.R`` at commit 3e3c92d, version 1.0) for one
exposure. Every deterministic number (the observed residual sum of squares, the
"Raw" and "Outlier-corrected" fits, the per-SNP observed residuals) agrees with R
to rounding error; the empirical p-values are Monte-Carlo quantities which agree
with R draw for draw when the random source reproduces R's generator
(``make_rng(seed, "r")``), because the random numbers are consumed in the order
MR-PRESSO consumes them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special

from ..rmath.rng import BootstrapRNG, make_rng

__all__ = ["PressoNotRun", "mr_presso", "format_empirical_pvalue"]

#: The message MR-PRESSO stops with when there are too few SNPs (its spelling).
NOT_ENOUGH_IVS = "Not enough intrumental variables"
#: The message MR-PRESSO stops with when k >= NbDistribution.
NOT_ENOUGH_DRAWS = "Not enough elements to compute empirical P-values, increase NbDistribution"
#: The warning MR-PRESSO gives when no outlier-corrected fit exists.
NO_OUTLIER_WARNING = ("No outlier were identified, therefore the results for the "
                      "outlier-corrected MR are set to NA")


class PressoNotRun(ValueError):
    """MR-PRESSO cannot run on these data (too few SNPs, or k >= NbDistribution).

    The message is MR-PRESSO's own (``"Not enough intrumental variables"``, with
    its spelling), so a caller can report the method as not run in the words of
    the reference implementation.
    """


def _r_num(x: float) -> str:
    """A double as R's ``paste0`` prints it (15 significant digits)."""
    return f"{x:.15g}"


def format_empirical_pvalue(p: float, n_distribution: int, k: int = 1) -> str:
    """Display an empirical p-value the way MR-PRESSO prints it.

    An empirical p-value of 0 is written ``"<k/NbDistribution"`` (``k = 1`` for the
    global and distortion tests, the number of SNPs for the Bonferroni-corrected
    outlier test); any other value is printed as R prints a double.

    Parameters
    ----------
    p : float
        The numeric p-value (0 for "smaller than the resolution").
    n_distribution : int
        Number of simulated data sets.
    k : int, optional
        Numerator of the resolution, 1 by default.

    Returns
    -------
    str

    Examples
    --------
    >>> format_empirical_pvalue(0.0, 1000)
    '<0.001'
    >>> format_empirical_pvalue(0.0, 1000, k=79)
    '<0.079'
    >>> format_empirical_pvalue(0.557, 1000)
    '0.557'
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "NA"
    if p == 0:
        return "<" + _r_num(k / n_distribution)
    return _r_num(float(p))


def _wls_origin(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict:
    """``summary(lm(y ~ -1 + x, weights = w))$coefficients`` (one regressor)."""
    n = x.size
    sw = np.sqrt(w)
    xw, yw = x * sw, y * sw
    sxx = float(np.dot(xw, xw))
    b = float(np.dot(xw, yw)) / sxx
    df = n - 1
    rss = float(np.sum((yw - b * xw) ** 2))
    sigma2 = rss / df if df > 0 else math.nan
    se = math.sqrt(sigma2 / sxx) if df > 0 else math.nan
    t = b / se if df > 0 else math.nan
    p = float(2.0 * special.stdtr(df, -abs(t))) if df > 0 else math.nan   # 2 t.sf(|t|)
    return {"b": b, "se": se, "t_stat": t, "pval": p, "nsnp": int(n)}


def _loo_sums(a: np.ndarray) -> np.ndarray:
    """Leave-one-out sums along the last axis: ``out[..., i] = sum_{j != i} a[..., j]``.

    Each sum is accumulated directly (no ``total - a_i`` cancellation) for up to
    256 SNPs; above that the total-minus-one form keeps the cost linear.
    """
    k = a.shape[-1]
    if k <= 256:
        mask = 1.0 - np.eye(k)
        return a @ mask
    return a.sum(axis=-1, keepdims=True) - a


def _as_rng(rng) -> BootstrapRNG:
    if rng is None:
        return make_rng(1234)
    if isinstance(rng, (int, np.integer)):
        return make_rng(int(rng))
    return rng


def _r_first_of_permutations(rng, size: int, n_draws: int) -> np.ndarray:
    """First elements of ``n_draws`` successive R permutations ``sample.int(size)``.

    Equal to ``[rng.sample(size, size)[0] for _ in range(n_draws)]`` on R's
    generator, stream position included, but much faster. R's ``do_sample``
    draws ``R_unif_index(n)`` for ``n = size, size-1, ..., 1``; with
    ``Sample_kind = "Rejection"`` and ``n <= 2^15`` each try consumes one
    ``unif_rand()``: ``v = floor(65536 u) & (2^ceil(log2 n) - 1)``, accepted when
    ``v < n``. The first pick of a permutation is its first element (the
    swapping only affects later picks, which MR-PRESSO discards). Uniforms are
    requested in blocks no larger than the number of picks still to make, so the
    stream is never read past the last pick.
    """
    # state r = picks made in the current permutation; it draws R_unif_index(size - r)
    ns = [size - r for r in range(size)]
    masks = [(1 << math.ceil(math.log2(n))) - 1 for n in ns]
    first: list[int] = []
    total = n_draws * size
    c = 0  # picks made so far
    r = 0
    while c < total:
        block = np.floor(np.asarray(rng.unif_rand(total - c)) * 65536.0).astype(np.int64)
        for v in block.tolist():
            v &= masks[r]
            if v < ns[r]:
                if r == 0:
                    first.append(v)
                r += 1
                c += 1
                if r == size:
                    r = 0
    out = np.asarray(first, dtype=np.int64)
    return out


def _first_of_permutations(rng: BootstrapRNG, pool: np.ndarray, n_draws: int) -> np.ndarray:
    """``replicate(n_draws, sample(pool)[1])`` with R's semantics (0-based result).

    R's ``sample(x)`` on a vector of length m > 1 permutes it, consuming m index
    draws, of which only the first element is kept. With a single element j, R's
    ``sample(j)`` means ``sample.int(j)`` (a permutation of ``1:j``): that quirk is
    reproduced. With an R-exact random source every permutation is drawn through
    ``rng.sample`` so that the stream is consumed exactly as in R; with any other
    source the first elements are drawn directly (same distribution, vectorised).
    """
    m = pool.size
    if m == 1:
        # sample(j) with a single number j >= 1 samples from 1:j (R's documented quirk)
        values = np.arange(int(pool[0]) + 1)  # 0-based rows 0..j-1, i.e. 1..j in R
    else:
        values = pool
    size = values.size
    if getattr(rng, "kind", None) == "r":
        if size <= 32768 and hasattr(rng, "unif_rand"):
            return values[_r_first_of_permutations(rng, size, n_draws)]
        first = np.empty(n_draws, dtype=np.int64)
        for i in range(n_draws):
            first[i] = int(rng.sample(size, size)[0])
        return values[first]
    u = np.asarray(rng.runif(n_draws), dtype=float)
    idx = np.minimum((u * size).astype(np.int64), size - 1)
    return values[idx]


def mr_presso(bx, by, sx, sy, snps=None, n_distribution: int = 1000,
              sig_threshold: float = 0.05, outlier_test: bool = True,
              distortion_test: bool = True, rng=None) -> dict:
    """MR-PRESSO (Mendelian Randomization Pleiotropy RESidual Sum and Outlier).

    Reproduces ``MRPRESSO::mr_presso(BetaOutcome, BetaExposure, SdOutcome,
    SdExposure, data, OUTLIERtest, DISTORTIONtest, SignifThreshold,
    NbDistribution)`` for one exposure, including the order in which random
    numbers are drawn.

    Parameters
    ----------
    bx, by : array_like
        SNP-exposure and SNP-outcome effects (harmonised).
    sx, sy : array_like
        Their standard errors.
    snps : sequence of str, optional
        SNP names, used in the outlier and distortion tables (default ``"1"``,
        ``"2"`` ... as R's row names).
    n_distribution : int, default 1000
        ``NbDistribution``: number of simulated data sets.
    sig_threshold : float, default 0.05
        ``SignifThreshold``: the global test p below which the outlier test runs,
        and the Bonferroni-corrected outlier p at or below which a SNP is an
        outlier.
    outlier_test, distortion_test : bool, default True
        ``OUTLIERtest`` and ``DISTORTIONtest`` (TwoSampleMR's ``run_mr_presso``
        sets both).
    rng : BootstrapRNG or int, optional
        Random source (see :mod:`mrbook.rmath.rng`); an int is a seed for
        ``make_rng(seed)``; None means ``make_rng(1234)``. Use
        ``make_rng(seed, "r")`` to reproduce R after ``set.seed(seed)``.

    Returns
    -------
    dict
        ``main`` : DataFrame with rows ``analysis`` = "Raw" and
        "Outlier-corrected" and columns ``b``, ``se``, ``t_stat``, ``pval``,
        ``nsnp`` (NaN for "Outlier-corrected" when no outlier-free fit exists,
        exactly as MR-PRESSO).
        ``global_test`` : dict ``rss_obs``, ``pval`` (numeric; 0 means
        ``< 1/n_distribution``), ``n_distribution``.
        ``outlier_test`` : DataFrame ``snp``, ``rss_obs``, ``pval``
        (Bonferroni-corrected, numeric) or None when the test did not run
        (global p >= ``sig_threshold`` or ``outlier_test=False``).
        ``distortion_test`` : dict ``outliers`` (SNP names), ``outliers_indices``
        (1-based rows, as R), ``distortion_coefficient`` (in %), ``pval``, ``note``
        (MR-PRESSO's text when there is no or only outliers) or None when the test
        did not run.
        ``nsnp`` : number of SNPs used; ``warnings`` : list of MR-PRESSO's warnings.

    Raises
    ------
    PressoNotRun
        With MR-PRESSO's message if k <= 3 (``"Not enough intrumental
        variables"``) or k >= ``n_distribution``.

    Notes
    -----
    Rows with a missing value are dropped. Both effects are multiplied by
    :math:`\\operatorname{sign}(\\hat\\beta_{X})` (0 stays 0) and
    :math:`w_j = 1/\\sigma_{Yj}^2`. With :math:`X_j = \\hat\\beta_{Xj}\\sqrt{w_j}`
    and :math:`Y_j = \\hat\\beta_{Yj}\\sqrt{w_j}`, the leave-one-out IVW estimate
    is :math:`\\hat\\beta_{(-i)} = \\sum_{j\\ne i} X_jY_j / \\sum_{j\\ne i} X_j^2` and

    .. math:: RSS_{obs} = \\sum_i \\left(Y_i - \\hat\\beta_{(-i)} X_i\\right)^2 .

    Each of the ``n_distribution`` simulated data sets draws first
    :math:`\\tilde\\beta_{X} \\sim N(\\hat\\beta_{X}, \\sigma_X)` (one ``rnorm(k)``
    call), then for each SNP :math:`\\tilde\\beta_{Yi} \\sim N(\\hat\\beta_{(-i)}
    \\hat\\beta_{Xi}, \\sigma_{Yi})`; that is one vectorised normal draw of length
    :math:`2k` per data set in R's order. The global p-value is
    :math:`\\#\\{RSS_{exp} > RSS_{obs}\\}/N`. The outlier test (only when the global
    p < ``sig_threshold``) compares
    :math:`(\\hat\\beta_{Yi} - \\hat\\beta_{(-i)}\\hat\\beta_{Xi})^2` with the same
    quantity in the simulated data, Bonferroni-corrected :math:`\\min(1, kp)`.
    The distortion test refits IVW on ``c(outliers, random non-outliers)[1:(k -
    n_out)]`` — MR-PRESSO's own indexing, which keeps the outliers in every
    random subset — drawn with ``sample()``, and compares
    :math:`(\\hat\\beta_{all} - \\hat\\beta)/|\\hat\\beta|` with the observed
    distortion. "Raw" is ``summary(lm(by ~ -1 + bx, weights = w))``: the IVW
    estimate with the unscaled regression standard error and a t test on
    :math:`k-1` degrees of freedom.

    References
    ----------
    Verbanck M, Chen CY, Neale B, Do R (2018). Detection of widespread horizontal
    pleiotropy in causal relationships inferred from Mendelian randomization
    between complex traits and diseases. Nature Genetics 50:693-698.
    doi:10.1038/s41588-018-0099-7

    Examples
    --------
    >>> import numpy as np
    >>> from mrbook.rmath.rng import make_rng
    >>> g = np.random.default_rng(1)
    >>> bx = g.uniform(0.05, 0.2, 20); sx = np.full(20, 0.01); sy = np.full(20, 0.02)
    >>> by = 0.3 * bx + g.normal(0, 0.02, 20)
    >>> res = mr_presso(bx, by, sx, sy, rng=make_rng(42))
    >>> list(res["main"]["analysis"])
    ['Raw', 'Outlier-corrected']
    """
    if sig_threshold > 1:
        raise ValueError("The significance threshold cannot be greater than 1")
    n_distribution = int(n_distribution)
    bx = np.asarray(bx, dtype=float).ravel()
    by = np.asarray(by, dtype=float).ravel()
    sx = np.asarray(sx, dtype=float).ravel()
    sy = np.asarray(sy, dtype=float).ravel()
    if not (bx.size == by.size == sx.size == sy.size):
        raise ValueError("bx, by, sx and sy must have the same length")
    if snps is None:
        snps = [str(i + 1) for i in range(bx.size)]
    snps = np.asarray([str(s) for s in snps], dtype=object)
    if snps.size != bx.size:
        raise ValueError("snps must have one name per SNP")

    # 0- complete cases, orientation, weights, number of observations
    ok = ~(np.isnan(bx) | np.isnan(by) | np.isnan(sx) | np.isnan(sy))
    bx, by, sx, sy, snps = bx[ok], by[ok], sx[ok], sy[ok], snps[ok]
    sgn = np.sign(bx)
    by = by * sgn
    bx = bx * sgn
    w = 1.0 / sy ** 2
    k = bx.size
    if k <= 3:
        raise PressoNotRun(NOT_ENOUGH_IVS)
    if k >= n_distribution:
        raise PressoNotRun(NOT_ENOUGH_DRAWS)
    rng = _as_rng(rng)
    warnings: list[str] = []

    # 1- observed residual sum of squares with leave-one-out IVW
    sw = np.sqrt(w)
    xw, yw = bx * sw, by * sw
    beta_loo = _loo_sums(xw * yw) / _loo_sums(xw * xw)
    rss_obs = float(np.nansum((yw - beta_loo * xw) ** 2))

    # 2- expected RSS: per data set rnorm(k, bx, sx), then rnorm(1, pred_i, sy_i) for each i,
    #    i.e. one stream of 2k normals per data set, all data sets in one call
    pred = beta_loo * bx
    draws = np.asarray(rng.rnorm(2 * k * n_distribution, np.concatenate([bx, pred]),
                                 np.concatenate([sx, sy])), dtype=float)
    draws = draws.reshape(n_distribution, 2, k)
    bx_sim, by_sim = draws[:, 0, :], draws[:, 1, :]
    xs, ys = bx_sim * sw, by_sim * sw
    beta_sim = _loo_sums(xs * ys) / _loo_sums(xs * xs)
    rss_exp = np.nansum((ys - beta_sim * xs) ** 2, axis=1)
    global_p = float(np.sum(rss_exp > rss_obs)) / n_distribution
    global_test = {"rss_obs": rss_obs, "pval": global_p, "n_distribution": n_distribution}

    # 3- single-SNP outlier test
    outlier_df = None
    ran_outlier = bool(global_p < sig_threshold and outlier_test)
    if ran_outlier:
        dif2 = (by - bx * beta_loo) ** 2
        exp2 = (by_sim - bx_sim * beta_loo) ** 2
        p_raw = np.sum(exp2 > dif2, axis=0) / n_distribution
        p_bonf = np.minimum(p_raw * k, 1.0)
        outlier_df = pd.DataFrame({"snp": snps.astype(str), "rss_obs": dif2, "pval": p_bonf})
        if k / n_distribution > sig_threshold:
            warnings.append(
                f"Outlier test unstable. The significance threshold of {_r_num(sig_threshold)} "
                f"for the outlier test is not achievable with only {n_distribution} to compute "
                f"the null distribution. The current precision is <{_r_num(k / n_distribution)}. "
                "Increase NbDistribution.")

    # 4- distortion test
    raw = _wls_origin(bx, by, w)
    corrected = None
    distortion = None
    if distortion_test and ran_outlier:
        ref = np.flatnonzero(p_bonf <= sig_threshold)
        n_out = ref.size
        if n_out > 0 and n_out < k:
            pool = np.setdiff1d(np.arange(k), ref)  # ascending, as setdiff(1:k, ref)
            n_pick = k - n_out
            picks = _first_of_permutations(rng, pool, n_distribution * n_pick)
            picks = picks.reshape(n_distribution, n_pick)
            idx = np.concatenate([np.broadcast_to(ref, (n_distribution, n_out)), picks], axis=1)
            idx = idx[:, : k - n_out]
            sxy = (w * bx * by)[idx].sum(axis=1)
            sxx = (w * bx * bx)[idx].sum(axis=1)
            bias_exp_b = sxy / sxx
            keep = np.ones(k, dtype=bool)
            keep[ref] = False
            corrected = _wls_origin(bx[keep], by[keep], w[keep])
            b_all, b_no = raw["b"], corrected["b"]
            bias_obs = (b_all - b_no) / abs(b_no)
            bias_exp = (b_all - bias_exp_b) / np.abs(bias_exp_b)
            distortion = {
                "outliers": [str(s) for s in snps[ref]],
                "outliers_indices": [int(i) + 1 for i in ref],
                "distortion_coefficient": 100.0 * bias_obs,
                "pval": float(np.sum(np.abs(bias_exp) > abs(bias_obs))) / n_distribution,
                "note": None,
            }
        else:
            note = "All SNPs considered as outliers" if n_out > 0 else "No significant outliers"
            distortion = {"outliers": [], "outliers_indices": [], "distortion_coefficient": math.nan,
                          "pval": math.nan, "note": note}

    # 5- main results
    if corrected is None:
        warnings.append(NO_OUTLIER_WARNING)
        corrected = {"b": math.nan, "se": math.nan, "t_stat": math.nan, "pval": math.nan, "nsnp": 0}
    main = pd.DataFrame([{"analysis": "Raw", **raw}, {"analysis": "Outlier-corrected", **corrected}],
                        columns=["analysis", "b", "se", "t_stat", "pval", "nsnp"])
    return {
        "main": main,
        "global_test": global_test,
        "outlier_test": outlier_df,
        "distortion_test": distortion,
        "nsnp": int(k),
        "warnings": warnings,
    }
