"""Estimators layer: multivariable MR estimators, exact to TwoSampleMR and MendelianRandomization.

Every estimator takes the SNP-exposure associations as an ``(n, k)`` matrix
``bx`` (one column per exposure, all aligned to the same effect allele), their
standard errors ``sx``, and the SNP-outcome associations ``by`` with their
standard errors ``sy`` (length ``n``), and returns a dict of per-exposure arrays
``b``, ``se``, ``pval`` plus method-specific extras. They reproduce, including
their conventions:

* :func:`mv_multiple`: TwoSampleMR's ``mv_multiple`` (``R/multivariable_mr.R``,
  0.7.9): ``lm(by ~ 0 + bx, weights = 1/sy^2)``, the standard errors of
  ``summary.lm`` (scaled by the residual standard error, whatever its size),
  normal P, and ``nsnp`` = the SNPs with exposure P < ``pval_threshold``
  (they only count, unless ``instrument_specific``);
* :func:`mr_mvivw`: MendelianRandomization's ``mr_mvivw`` (0.10.0): the same
  regression, its SE divided by ``min(sigma, 1)`` (random effects, the default
  from 4 SNPs on) or by ``sigma`` (fixed effect);
* :func:`mr_mvegger`: ``mr_mvegger``: every SNP oriented so that its
  association with exposure ``orientate`` is positive, then the weighted
  regression with an intercept, SE divided by ``min(sigma, 1)``;
* :func:`mr_mvmedian`: ``mr_mvmedian``: weighted median (L1, quantile 0.5)
  regression ``quantreg::rq(by ~ bx - 1, weights = sy^-2)``, solved exactly by
  :func:`weighted_l1_fit`, with a parametric-bootstrap SE (10,000 replicates,
  seed 314159265 set by the function itself, as the package does).

``lm``'s treatment of collinear columns is kept: a column whose residual norm,
after projection on the columns before it, is below 1e-7 of its own norm
(LINPACK ``dqrdc2``'s tolerance) is aliased, and its coefficient is NaN.

The registry :data:`MV_METHODS` names each method as the book and the JSON of
``mrbook mvmr`` show it, in the order they run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._stats import p_chisq, p_normal

#: MendelianRandomization's mr_mvmedian seed (it calls set.seed(314159265) itself)
MVMEDIAN_SEED = 314159265
#: LINPACK dqrdc2's tolerance used by R's lm() to detect aliased columns
LM_TOL = 1e-7


@dataclass(frozen=True)
class MVMethod:
    """One multivariable estimator.

    Attributes
    ----------
    key : str
        The R function it reproduces (``"mv_multiple"``, ``"mr_mvivw"`` ...).
    name : str
        Display name ("Multivariable IVW" ...).
    package : str
        The R package and version it equals.
    extra_snps : int
        SNPs it needs beyond the number of exposures (n >= k + extra_snps).
    stochastic : bool
        Whether its SE comes from a bootstrap.
    citation : str
        Short reference with DOI.
    """

    key: str
    name: str
    package: str
    extra_snps: int
    stochastic: bool = False
    citation: str = ""
    func: Callable | None = field(default=None, repr=False)


# ----------------------------------------------------------------------------- lm()

def lm_fit(X, y, w=None, tol: float = LM_TOL) -> dict:
    r"""Weighted least squares as R's ``lm`` + ``summary.lm`` compute it.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Design matrix (add a column of ones for an intercept).
    y : ndarray, shape (n,)
        Response.
    w : ndarray, shape (n,), optional
        Weights (``lm(..., weights = w)``); default 1.
    tol : float
        Aliasing tolerance (R's 1e-7).

    Returns
    -------
    dict
        ``coef`` and ``se`` (length p, NaN for aliased columns), ``se_unscaled``
        (:math:`\sqrt{\mathrm{diag}(X^T W X)^{-1}}`), ``sigma`` (residual standard
        error :math:`\sqrt{\sum w r^2 / (n - \mathrm{rank})}`), ``df``
        (``n - rank``), ``rank``, ``aliased`` (bool, length p), ``residuals``.

    Notes
    -----
    Solved by Householder QR of :math:`W^{1/2}X` (numpy's LAPACK), as R's
    LINPACK QR up to rounding (~1e-15 relative). A column is aliased when its
    norm after projection on the non-aliased columns before it is below
    ``tol`` times its own norm, which is how ``dqrdc2`` moves it to the end.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    sw = np.ones(n) if w is None else np.sqrt(np.asarray(w, dtype=float))
    Xw = X * sw[:, None]
    yw = y * sw
    keep: list[int] = []
    for j in range(p):
        col = Xw[:, j]
        norm = float(np.sqrt(col @ col))
        if norm == 0.0:
            continue
        if keep:
            q, _ = np.linalg.qr(Xw[:, keep])
            resid = col - q @ (q.T @ col)
            if float(np.sqrt(resid @ resid)) < tol * norm:
                continue
        keep.append(j)
    aliased = np.ones(p, dtype=bool)
    aliased[keep] = False
    coef = np.full(p, np.nan)
    se_un = np.full(p, np.nan)
    rank = len(keep)
    resid = yw.copy()
    if rank:
        q, r = np.linalg.qr(Xw[:, keep])
        b = np.linalg.solve(r, q.T @ yw)
        coef[keep] = b
        rinv = np.linalg.solve(r, np.eye(rank))
        se_un[keep] = np.sqrt(np.sum(rinv * rinv, axis=1))
        resid = yw - Xw[:, keep] @ b
    df = n - rank
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = float(np.sqrt(resid @ resid / df)) if df > 0 else np.nan
    return {"coef": coef, "se": se_un * sigma, "se_unscaled": se_un, "sigma": sigma, "df": df,
            "rank": rank, "aliased": aliased, "residuals": resid / sw}


def _as_mv(bx, by, sy, sx=None):
    bx = np.asarray(bx, dtype=float)
    if bx.ndim != 2:
        raise ValueError(f"bx must be an (n SNPs, k exposures) matrix, got shape {bx.shape}")
    by = np.asarray(by, dtype=float).ravel()
    sy = np.asarray(sy, dtype=float).ravel()
    if by.size != bx.shape[0] or sy.size != bx.shape[0]:
        raise ValueError("bx, by and sy must have one row per SNP")
    if sx is not None:
        sx = np.asarray(sx, dtype=float)
        if sx.shape != bx.shape:
            raise ValueError("sx must have the shape of bx")
    return bx, by, sy, sx


def p_from_z(bx, sx) -> np.ndarray:
    """Two-sided normal P of ``bx / sx``: the exposure P where a table has none."""
    return p_normal(np.asarray(bx, dtype=float) / np.asarray(sx, dtype=float))


# ----------------------------------------------------------------------------- TwoSampleMR

def mv_multiple(bx, by, sy, pval=None, *, sx=None, pval_threshold: float = 5e-8,
                intercept: bool = False, instrument_specific: bool = False) -> dict:
    r"""Multivariable IVW: TwoSampleMR's ``mv_multiple``.

    Parameters
    ----------
    bx : ndarray, shape (n, k)
        SNP-exposure associations (columns aligned to one effect allele).
    by, sy : ndarray, shape (n,)
        SNP-outcome associations and their SEs.
    pval : ndarray, shape (n, k), optional
        Exposure P-values (``mvdat$exposure_pval``); default from ``bx/sx``.
    sx : ndarray, shape (n, k), optional
        Exposure SEs, used only when ``pval`` is not given.
    pval_threshold : float
        Instrument threshold (5e-8): it counts ``nsnp`` per exposure and, with
        ``instrument_specific``, selects the SNPs of each exposure's regression.
    intercept : bool
        Fit an intercept (default: through the origin).
    instrument_specific : bool
        Fit each exposure's estimate on its own instruments only.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (per exposure, NaN where not estimable),
        ``nsnp`` (instruments per exposure), ``sigma`` (residual SE of the
        all-SNP fit).

    Notes
    -----
    For each exposure :math:`i`, :math:`\hat\beta = (X^TWX)^{-1}X^TWy` with
    :math:`W = \mathrm{diag}(\sigma_{Yj}^{-2})` and
    :math:`se_i = \hat\sigma\sqrt{[(X^TWX)^{-1}]_{ii}}` (``summary.lm``: the
    residual standard error :math:`\hat\sigma` scales the SE up *or down*);
    :math:`P = 2\Phi(-|\hat\beta_i/se_i|)`. With ``instrument_specific`` an
    exposure with at most ``k + intercept`` instruments gets NA.

    References
    ----------
    Burgess S, Thompson SG (2015). Multivariable Mendelian randomization: the use
    of pleiotropic genetic variants to estimate causal effects. Am J Epidemiol
    181:251-260. doi:10.1093/aje/kwu283
    """
    bx, by, sy, sx = _as_mv(bx, by, sy, sx)
    n, k = bx.shape
    if pval is None:
        if sx is None:
            raise ValueError("mv_multiple needs the exposure P-values or SEs")
        pval = p_from_z(bx, sx)
    pval = np.asarray(pval, dtype=float)
    w = 1.0 / sy**2
    off = int(bool(intercept))
    b, se = np.full(k, np.nan), np.full(k, np.nan)
    nsnp = np.zeros(k, dtype=int)
    full = None
    for i in range(k):
        index = pval[:, i] < pval_threshold
        nsnp[i] = int(index.sum())
        rows = index if instrument_specific else np.ones(n, dtype=bool)
        if instrument_specific and nsnp[i] <= k + off:
            continue
        X = bx[rows]
        if intercept:
            X = np.column_stack([np.ones(int(rows.sum())), X])
        fit = lm_fit(X, by[rows], w[rows]) if (instrument_specific or full is None) else full
        if not instrument_specific:
            full = fit
        b[i], se[i] = fit["coef"][off + i], fit["se"][off + i]
    if full is None:
        X = np.column_stack([np.ones(n), bx]) if intercept else bx
        full = lm_fit(X, by, w)
    return {"b": b, "se": se, "pval": p_normal(b / se), "nsnp": nsnp, "sigma": full["sigma"]}


# ----------------------------------------------------------------------------- MendelianRandomization

def mr_mvivw(bx, by, sy, model: str = "default") -> dict:
    r"""Multivariable IVW: MendelianRandomization's ``mr_mvivw`` (uncorrelated variants).

    Parameters
    ----------
    bx : ndarray, shape (n, k)
    by, sy : ndarray, shape (n,)
    model : {"default", "random", "fixed"}
        ``default``: fixed effect with fewer than 4 SNPs, else random effects.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (per exposure), ``model`` used, ``rse``
        (residual standard error), ``Q`` = :math:`(n-k)\,rse^2` on ``Q_df`` =
        n - k degrees of freedom and ``Q_pval``.

    Notes
    -----
    The fit of :func:`mv_multiple`; random effects divide ``summary.lm``'s SE by
    :math:`\min(\hat\sigma, 1)` (so the SE is never below the fixed-effect one),
    the fixed-effect model by :math:`\hat\sigma`. Normal P.

    References
    ----------
    Yavorska OO, Burgess S (2017). MendelianRandomization: an R package for
    performing Mendelian randomization analyses using summarized data. Int J
    Epidemiol 46:1734-1739. doi:10.1093/ije/dyx034
    """
    bx, by, sy, _ = _as_mv(bx, by, sy)
    n, k = bx.shape
    if model == "default":
        model = "fixed" if n < 4 else "random"
    if model not in ("random", "fixed"):
        raise ValueError(f"model must be 'default', 'random' or 'fixed', got {model!r}")
    fit = lm_fit(bx, by, 1.0 / sy**2)
    sigma = fit["sigma"]
    se = fit["se"] / (min(sigma, 1.0) if model == "random" else sigma)
    b = fit["coef"]
    q = (n - k) * sigma**2
    return {"b": b, "se": se, "pval": p_normal(b / se), "model": model, "rse": sigma,
            "Q": q, "Q_df": n - k, "Q_pval": float(p_chisq(q, n - k)) if n > k else np.nan}


def mr_mvegger(bx, by, sy, orientate: int = 1) -> dict:
    r"""Multivariable MR-Egger: MendelianRandomization's ``mr_mvegger``.

    Parameters
    ----------
    bx : ndarray, shape (n, k)
    by, sy : ndarray, shape (n,)
    orientate : int
        1-based exposure whose SNP associations are made positive (an
        out-of-range value falls back to 1, as the package does).

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (per exposure), ``b_i``, ``se_i``, ``pval_i``
        (the intercept), ``orientate``, ``rse``, ``Q`` =
        :math:`(n-k-1)\,rse^2` on ``Q_df`` = n - k - 1, ``Q_pval``.

    Notes
    -----
    With :math:`o_j = \mathrm{sign}(\beta_{X_o j})` (R's ``sign``: 0 for 0),
    regress :math:`o_j\beta_{Yj}` on an intercept and :math:`o_j\beta_{Xj}` with
    weights :math:`\sigma_{Yj}^{-2}`; SE = ``summary.lm``'s divided by
    :math:`\min(\hat\sigma, 1)`; normal P.

    References
    ----------
    Rees JMB, Wood AM, Burgess S (2017). Extending the MR-Egger method for
    multivariable Mendelian randomization to correct for both measured and
    unmeasured pleiotropy. Stat Med 36:4705-4718. doi:10.1002/sim.7492
    """
    bx, by, sy, _ = _as_mv(bx, by, sy)
    n, k = bx.shape
    o = int(orientate) if int(orientate) in range(1, k + 1) else 1
    orient = np.sign(bx[:, o - 1])
    X = np.column_stack([np.ones(n), bx * orient[:, None]])
    fit = lm_fit(X, by * orient, 1.0 / sy**2)
    sigma = fit["sigma"]
    coef, se = fit["coef"], fit["se"] / min(sigma, 1.0)
    p = p_normal(coef / se)
    q = (n - k - 1) * sigma**2
    df = n - k - 1
    return {"b": coef[1:], "se": se[1:], "pval": p[1:], "b_i": float(coef[0]),
            "se_i": float(se[0]), "pval_i": float(p[0]), "orientate": o, "rse": sigma,
            "Q": q, "Q_df": df, "Q_pval": float(p_chisq(q, df)) if df > 0 else np.nan}


# ----------------------------------------------------------------------------- median regression

def _l1_lp(X, y, w) -> np.ndarray:
    """A solution of min sum w|y - Xb| by linear programming (HiGHS dual simplex)."""
    from scipy.optimize import linprog

    n, k = X.shape
    c = np.concatenate([np.zeros(k), w, w])
    A = np.hstack([X, np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * k + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A, b_eq=y, bounds=bounds, method="highs-ds")
    if res.status != 0:  # pragma: no cover - a bounded feasible LP always solves
        raise RuntimeError(f"median regression failed: {res.message}")
    return res.x[:k]


def _basis_from(X, r) -> list[int] | None:
    """k rows with the smallest |residual| whose design rows are linearly independent."""
    k = X.shape[1]
    chosen: list[int] = []
    for i in np.argsort(np.abs(r), kind="stable"):
        trial = chosen + [int(i)]
        if np.linalg.matrix_rank(X[trial]) == len(trial):
            chosen = trial
            if len(chosen) == k:
                return chosen
    return None


def _l1_descend(X, y, w, basis, max_iter: int):
    """Edge descent of the weighted L1 objective from a basis (Barrodale-Roberts steps).

    At a basis B (k rows fitted exactly) the fit is optimal when the dual values
    a_B solving X_B' a_B = -sum_{i not in B} w_i sign(r_i) x_i satisfy |a_j| <= w_j.
    Otherwise the row with the largest violation leaves the basis and the fit moves
    along the edge that keeps the other basis rows exact, to the minimum of the
    (convex, piecewise linear) objective on that edge: a weighted median of the
    residuals' break points, which is the next basis row.
    """
    k = X.shape[1]
    basis = list(basis)
    for _ in range(max_iter):
        XB = X[basis]
        b = np.linalg.solve(XB, y[basis])
        r = y - X @ b
        s = np.sign(r)
        s[basis] = 0.0
        a = np.linalg.solve(XB.T, -((w * s) @ X))
        viol = np.abs(a) / w[basis]
        j = int(np.argmax(viol))
        if viol[j] <= 1.0 + 1e-10:
            return b, basis
        e = np.zeros(k)
        e[j] = 1.0
        c = X @ np.linalg.solve(XB, e)
        nz = c != 0.0
        nz[basis] = False
        nz[basis[j]] = True
        idx = np.flatnonzero(nz)
        t = r[idx] / c[idx]
        order = idx[np.argsort(t, kind="stable")]
        wt = w[order] * np.abs(c[order])
        m = int(np.searchsorted(np.cumsum(2.0 * wt) - wt.sum(), 0.0))
        new = int(order[min(m, len(order) - 1)])
        if new == basis[j] or new in basis:
            return None
        basis[j] = new
    return None


def _l1_descend_batch(Xs, Ys, w, basis, max_iter: int):
    """:func:`_l1_descend` for m problems at once (the bootstrap replicates of one fit).

    ``Xs`` (m, n, k) and ``Ys`` (m, n) share the weights ``w`` and start from the same
    basis; every replicate takes exactly the steps :func:`_l1_descend` would take on
    it, with the k x k systems solved in batches. Returns the coefficients (m, k) and
    a mask of the replicates that reached an optimal vertex (the others are left to
    :func:`weighted_l1_fit`).
    """
    m, n, k = Xs.shape
    B = np.tile(np.asarray(basis, dtype=np.intp), (m, 1))
    out = np.full((m, k), np.nan)
    ok = np.zeros(m, dtype=bool)
    act = np.arange(m)
    eye = np.eye(k)
    for _ in range(max_iter):
        if act.size == 0:
            break
        X, Y, Bn = Xs[act], Ys[act], B[act]
        rows = np.arange(act.size)[:, None]
        XB = X[rows, Bn]                                   # (a, k, k)
        try:
            b = np.linalg.solve(XB, Y[rows, Bn][..., None])[..., 0]
            r = Y - np.einsum("ank,ak->an", X, b)
            s = np.sign(r)
            s[rows, Bn] = 0.0
            a = np.linalg.solve(np.swapaxes(XB, 1, 2),
                                -np.einsum("an,ank->ak", w * s, X)[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break                                          # a singular basis: one by one
        viol = np.abs(a) / w[Bn]
        j = np.argmax(viol, axis=1)
        done = viol[np.arange(act.size), j] <= 1.0 + 1e-10
        out[act[done]], ok[act[done]] = b[done], True
        go = ~done
        if not go.any():
            act = act[:0]
            break
        X, r, Bn, j, XB = X[go], r[go], Bn[go], j[go], XB[go]
        rows = np.arange(X.shape[0])[:, None]
        c = np.einsum("ank,ak->an", X, np.linalg.solve(XB, eye[j][..., None])[..., 0])
        nz = c != 0.0
        nz[rows, Bn] = False
        leave = Bn[np.arange(X.shape[0]), j]
        nz[np.arange(X.shape[0]), leave] = True
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(nz, r / c, np.inf)
        order = np.argsort(t, axis=1, kind="stable")
        wt = np.take_along_axis(np.where(nz, w * np.abs(c), 0.0), order, axis=1)
        crossed = (np.cumsum(2.0 * wt, axis=1) - wt.sum(axis=1, keepdims=True)) >= 0.0
        new = order[np.arange(X.shape[0]), np.argmax(crossed, axis=1)]
        stuck = (new == leave) | (Bn == new[:, None]).any(axis=1)
        moving = act[go][~stuck]
        B[moving, j[~stuck]] = new[~stuck]
        act = moving
    return out, ok


def weighted_l1_fit(X, y, w, start=None) -> tuple[np.ndarray, list[int]]:
    r"""Weighted median regression, exactly: the minimiser of :math:`\sum_j w_j|y_j - x_j^T\beta|`.

    Parameters
    ----------
    X : ndarray, shape (n, k)
    y : ndarray, shape (n,)
    w : ndarray, shape (n,)
        Positive weights (``quantreg::rq``'s ``weights``: the rows are multiplied
        by them, so each absolute residual counts ``w`` times).
    start : list of int, optional
        A basis (k row indices) to start from, e.g. the point estimate's for a
        bootstrap replicate; default: from a linear-programming solution.

    Returns
    -------
    (beta, basis)
        The coefficients and the k rows the fit passes through.

    Notes
    -----
    The minimum of this linear programme lies at a vertex where k observations
    are fitted exactly (Barrodale & Roberts 1973, the algorithm of
    ``quantreg::rq(method = "br")``); the coefficients are solved from those k
    rows, so with continuous data (a unique optimum) they are rq's to rounding.
    The vertex is found by edge descent (:func:`_l1_descend`) from ``start``, or
    from the k smallest residuals of a HiGHS solution when no start is given or
    the descent fails.

    References
    ----------
    Barrodale I, Roberts FDK (1973). An improved algorithm for discrete L1 linear
    approximation. SIAM J Numer Anal 10:839-848. doi:10.1137/0710069
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    n, k = X.shape
    max_iter = 20 * n + 50
    if start is not None:
        try:
            got = _l1_descend(X, y, w, start, max_iter)
        except np.linalg.LinAlgError:
            got = None
        if got is not None:
            return got
    b0 = _l1_lp(X, y, w)
    basis = _basis_from(X, y - X @ b0)
    if basis is not None:
        try:
            got = _l1_descend(X, y, w, basis, max_iter)
        except np.linalg.LinAlgError:
            got = None
        if got is not None:
            return got
    return b0, basis or []  # pragma: no cover - degenerate designs only


def mr_mvmedian(bx, by, sx, sy, iterations: int = 10000, rng=None,
                seed: int = MVMEDIAN_SEED) -> dict:
    r"""Multivariable weighted median: MendelianRandomization's ``mr_mvmedian``.

    Parameters
    ----------
    bx, sx : ndarray, shape (n, k)
    by, sy : ndarray, shape (n,)
    iterations : int
        Bootstrap replicates (10000, the package's default); 0 gives no SE.
    rng : BootstrapRNG, optional
        Random source (:func:`mrbook.rmath.rng.make_rng`); default numpy's
        generator seeded with ``seed``. With ``make_rng(314159265, "r")`` the SE
        equals the package's, which calls ``set.seed(314159265)`` itself.
    seed : int
        Seed of the default generator.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (per exposure).

    Notes
    -----
    :math:`\hat\beta = \arg\min_\beta \sum_j \sigma_{Yj}^{-2}|\beta_{Yj} -
    \beta_{Xj}^T\beta|` (:func:`weighted_l1_fit`). Each replicate draws, in R's
    order, :math:`\beta^*_{X_1} \sim N(\beta_{X_1}, \sigma_{X_1}^2)`, ...,
    :math:`\beta^*_{X_k}`, then :math:`\beta^*_Y \sim N(\beta_Y, \sigma_Y^2)`
    (n draws each) and refits with the original weights; SE = the replicates'
    standard deviation (n - 1); normal P.

    References
    ----------
    Grant AJ, Burgess S (2021). Pleiotropy robust methods for multivariable
    Mendelian randomization. Stat Med 40:5813-5830. doi:10.1002/sim.9156
    """
    from ..rmath.rng import make_rng

    bx, by, sy, sx = _as_mv(bx, by, sy, sx)
    n, k = bx.shape
    w = sy ** -2.0
    b, basis = weighted_l1_fit(bx, by, w)
    if iterations <= 0:
        se = np.full(k, np.nan)
        return {"b": b, "se": se, "pval": np.full(k, np.nan)}
    if rng is None:
        rng = make_rng(seed, "numpy")
    means = np.concatenate([bx.T.ravel(), by])
    sds = np.concatenate([sx.T.ravel(), sy])
    est = np.empty((iterations, k))
    block = max(1, min(iterations, 2_000_000 // means.size))
    done = 0
    while done < iterations:
        m = min(block, iterations - done)
        z = rng.rnorm(m * means.size, np.tile(means, m), np.tile(sds, m)).reshape(m, k + 1, n)
        Xs = np.ascontiguousarray(np.swapaxes(z[:, :k], 1, 2))       # (m, n, k)
        b_blk, ok = _l1_descend_batch(Xs, z[:, k], w, basis, 20 * n + 50)
        for i in np.flatnonzero(~ok):                                # rare: one at a time
            b_blk[i], _ = weighted_l1_fit(Xs[i], z[i, k], w, start=basis)
        est[done:done + m] = b_blk
        done += m
    se = np.std(est, axis=0, ddof=1)
    return {"b": b, "se": se, "pval": p_normal(b / se)}


# ----------------------------------------------------------------------------- registry

_TSMR = "TwoSampleMR 0.7.9"
_MR = "MendelianRandomization 0.10.0"

#: the multivariable methods in the order they run and are shown
MV_METHODS: dict[str, MVMethod] = {m.key: m for m in [
    MVMethod("mv_multiple", "Multivariable IVW", f"{_TSMR} mv_multiple", 1,
             citation="Burgess & Thompson 2015, doi:10.1093/aje/kwu283", func=mv_multiple),
    MVMethod("mr_mvivw", "Multivariable IVW (random effects)", f"{_MR} mr_mvivw", 1,
             citation="Yavorska & Burgess 2017, doi:10.1093/ije/dyx034", func=mr_mvivw),
    MVMethod("mr_mvegger", "Multivariable MR-Egger", f"{_MR} mr_mvegger", 2,
             citation="Rees et al. 2017, doi:10.1002/sim.7492", func=mr_mvegger),
    MVMethod("mr_mvmedian", "Multivariable weighted median", f"{_MR} mr_mvmedian", 1,
             stochastic=True, citation="Grant & Burgess 2021, doi:10.1002/sim.9156",
             func=mr_mvmedian),
]}


def resolve_mv_methods(methods=None) -> list[MVMethod]:
    """Method keys or display names to :data:`MV_METHODS` entries, in registry order.

    Raises
    ------
    mrbook.errors.ParameterError
        For an unknown name, listing the known ones.
    """
    from ..errors import ParameterError

    if methods is None:
        return list(MV_METHODS.values())
    if isinstance(methods, str):
        methods = [methods]
    by_name = {m.name.lower(): k for k, m in MV_METHODS.items()}
    keys = []
    for m in methods:
        key = m if m in MV_METHODS else by_name.get(str(m).strip().lower())
        if key is None:
            known = ", ".join(f"{k} ({v.name})" for k, v in MV_METHODS.items())
            raise ParameterError(f"unknown multivariable method {m!r}; known: {known}")
        keys.append(key)
    return [v for k, v in MV_METHODS.items() if k in keys]
