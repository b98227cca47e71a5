"""Ground floor: robustbase's lmrob() MM-estimator (fast-S start, bisquare M-step, avar1 covariance).

MendelianRandomization's robust IVW and robust MR-Egger call
``summary(lmrob(By ~ Bx [- 1], weights = Byse^-2, k.max = 500, maxit.scale = 500))``
(robustbase 0.95-0, ``lmrob.control()``'s default setting: ``method = "MM"``,
bisquare psi, ``tuning.chi = 1.54764`` (50 % breakdown S-estimate),
``tuning.psi = 4.685061`` (95 % efficiency), ``cov = ".vcov.avar1"``). The
estimate depends on the S-step's random subsamples, so the algorithm is
reproduced as robustbase's C code runs it (``src/lmrob.c``: ``fast_s``,
``subsample``, ``refine_fast_s``, ``find_scale``, ``rwls``) and R's
``lmrob.S``, ``lmrob..M..fit`` and ``.vcov.avar1`` (``R/lmrob.MM.R``):

1. the weights are absorbed: ``x, y <- sqrt(w) * x, sqrt(w) * y`` (``lmrob()``);
2. **S-estimate** (``fast_s``): ``nResample`` = 500 times, a random
   permutation of the rows (``sample_noreplace``, one ``unif_rand()`` per row)
   gives ``p`` rows in general position (``subsample``: LU decomposition of the
   equilibrated design with partial pivoting, rows whose pivot is below
   ``solve.tol`` skipped); their exact fit is improved by ``k.fast.s`` = 1
   IRWLS step, and its M-scale is found (``find_scale``) only if it can beat
   the worst of the ``best.r.s`` = 2 best so far; the two best are then
   iterated to convergence (``refine.tol``, at most ``k.max`` steps) and the
   one with the smaller scale is the S-estimate;
3. **M-step** (``rwls``): IRWLS with bisquare weights at the fixed S-scale
   from the S-estimate until the L1 change of the coefficients is at most
   ``rel.tol`` relative (at most ``max.it`` = 50 iterations);
4. **covariance** ``.vcov.avar1`` (Croux, Dhaene & Hoorelbeke 2003), made
   positive semi-definite as robustbase does when it is not.

The random numbers are R's (:class:`mrbook.rmath.generator.RRNG` after
``set.seed(seed)``), so the S-step visits the same subsamples as R. Which
parts of the result depend on that: the S-estimate is the better of two
candidates refined to ``refine.tol`` (1e-7) from the best subsamples, and the
M-step starts from it and keeps its scale, so the MM-estimate moves with the
subsamples within those tolerances; and the S-residuals that the covariance
uses are those of the *last* of the two refined candidates (robustbase's
``fast_s`` returns its ``res`` array as it is), so where the two end in
different local minima the standard errors depend on the order the
subsamples came in. On BMI -> CHD (79 SNPs) the one-regressor fit (robust
IVW) is the same for every seed to 1e-15 (500 draws from 79 rows try every
single-row subsample); the two-regressor fit (robust MR-Egger) moves by up
to 6e-8 (estimates) and 2.3e-7 (standard errors) relative between seeds. At
R's seed both equal R to 1e-14. Speed: the candidate stage is vectorised
over the resamples, and which candidates enter the two best is decided with
Newton-solved M-scales, robustbase's own ``find_scale`` values being computed
wherever an order is closer than their tolerance.

References
----------
Salibian-Barrera M, Yohai VJ (2006). A fast algorithm for S-regression estimates.
J Comput Graph Stat 15:414-427. doi:10.1198/106186006X113629

Yohai VJ (1987). High breakdown-point and high efficiency robust estimates for
regression. Ann Stat 15:642-656. doi:10.1214/aos/1176350366

Koller M, Stahel WA (2011). Sharpening Wald-type inference in robust regression
for small samples. Comput Stat Data Anal 55:2504-2515. doi:10.1016/j.csda.2011.02.014

Croux C, Dhaene G, Hoorelbeke D (2003). Robust standard errors for robust
estimators. Discussion paper, KU Leuven.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LmrobControl", "LmrobFit", "lmrob", "rho_bisquare", "psi_bisquare", "wgt_bisquare"]

#: LAPACK's DLAMCH('S') (safe minimum) and DLAMCH('P') (eps * base)
_SAFMIN = np.finfo(float).tiny
_PREC = np.finfo(float).eps


@dataclass(frozen=True)
class LmrobControl:
    """``lmrob.control()``'s default setting (robustbase 0.95-0).

    MendelianRandomization passes ``k.max = 500`` and ``maxit.scale = 500``;
    everything else is the default.
    """

    n_resample: int = 500
    tuning_chi: float = 1.54764
    bb: float = 0.5
    tuning_psi: float = 4.685061
    max_it: int = 50
    k_fast_s: int = 1
    best_r_s: int = 2
    k_max: int = 200
    maxit_scale: int = 200
    refine_tol: float = 1e-7
    rel_tol: float = 1e-7
    scale_tol: float = 1e-10
    solve_tol: float = 1e-7
    zero_tol: float = 1e-10


@dataclass
class LmrobFit:
    """Result of :func:`lmrob`, the parts of ``summary(lmrob(...))`` MendelianRandomization reads.

    Attributes
    ----------
    coef : ndarray
        MM-estimate (the S-estimate when the M-step did not converge).
    se : ndarray
        ``sqrt(diag(cov))``, the standard errors of ``summary()$coef[, 2]``.
    cov : ndarray
        ``.vcov.avar1`` covariance matrix (zeros for an exact fit, NaN when the
        M-step did not converge, as robustbase gives).
    scale : float
        The S-scale, ``summary()$sigma``.
    coef_s : ndarray
        The S-estimate.
    converged : bool
        Whether the S refinements and the M-step converged.
    notes : list of str
        robustbase's warnings for this fit (non-convergence, exact fit), kept
        here instead of being issued.
    """

    coef: np.ndarray
    se: np.ndarray
    cov: np.ndarray
    scale: float
    coef_s: np.ndarray
    converged: bool
    notes: list = field(default_factory=list)


# --------------------------------------------------------------------------------------
# bisquare rho / psi / weights (lmrob.c: rho_biwgt, psi_biwgt, psip_biwgt, wgt_biwgt)
# --------------------------------------------------------------------------------------

def rho_bisquare(x: np.ndarray, c: float) -> np.ndarray:
    r"""Tukey's bisquare rho scaled to 1 at infinity: :math:`t(3 - 3t + t^2)`, :math:`t = (x/c)^2`."""
    t = x / c
    t *= t
    out = t * (3.0 + t * (-3.0 + t))
    out[np.abs(x) > c] = 1.0
    return out


def psi_bisquare(x: np.ndarray, c: float) -> np.ndarray:
    r"""Tukey's bisquare psi, :math:`x(1 - (x/c)^2)^2` for :math:`|x| \le c`, else 0."""
    a = x / c
    u = 1.0 - a * a
    out = x * u * u
    out[np.abs(x) > c] = 0.0
    return out


def psip_bisquare(x: np.ndarray, c: float) -> np.ndarray:
    r"""psi' of the bisquare, :math:`(1 - (x/c)^2)(1 - 5(x/c)^2)` for :math:`|x| \le c`."""
    a = x / c
    x2 = a * a
    out = (1.0 - x2) * (1 - 5 * x2)
    out[np.abs(x) > c] = 0.0
    return out


def wgt_bisquare(x: np.ndarray, c: float) -> np.ndarray:
    r"""Bisquare weights psi(x)/x, :math:`((1 - x/c)(1 + x/c))^2` for :math:`|x| \le c`."""
    a = x / c
    a = (1.0 - a) * (1.0 + a)
    out = a * a
    out[np.abs(x) > c] = 0.0
    return out


def _sum_rho_sc(r: np.ndarray, scale, p: int, c: float) -> np.ndarray:
    """lmrob.c ``sum_rho_sc``: sum(rho(r/scale)) / (n - p), along the last axis."""
    n = r.shape[-1]
    s = np.asarray(scale, dtype=float)
    x = r / (s[..., None] if s.ndim else s)
    return rho_bisquare(x, c).sum(axis=-1) / (n - p)


class _Design:
    """A design matrix with the cross products its weighted least squares need."""

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X, self.y = X, y
        self.p = p = X.shape[1]
        if p == 1:
            x = X[:, 0]
            self.F = np.vstack([x * x, x * y])
        elif p == 2:
            a, b = X[:, 0], X[:, 1]
            self.F = np.vstack([a * a, a * b, b * b, a * y, b * y])

    def coefs(self, W: np.ndarray) -> list[list[float]]:
        """Weighted least-squares coefficients for each row of weights ``W`` (k, n), as floats.

        ``lm.wfit``'s fit (DGELS on sqrt(w) x in robustbase): closed forms for one
        and two columns (the MR fits), with one matrix product for every row's
        weighted sums and the small solves in floats (cheaper than numpy calls on
        2-vectors in the hot loops); a solve of the normal equations otherwise.
        The differences from LAPACK's Householder QR are rounding.
        """
        if self.p == 1:
            return [[sxy / sxx] for sxx, sxy in (self.F @ W.T).T.tolist()]
        if self.p == 2:
            out = []
            for saa, sab, sbb, sya, syb in (self.F @ W.T).T.tolist():
                det = saa * sbb - sab * sab
                out.append([(sbb * sya - sab * syb) / det, (saa * syb - sab * sya) / det])
            return out
        return _wls_rows(self, W).tolist()


def _wls_rows(D: "_Design", W: np.ndarray) -> np.ndarray:
    """:meth:`_Design.coefs` for every row of weights ``W`` (k, n) at once, as a (k, p) array."""
    if D.p == 1:
        sxx, sxy = D.F @ W.T
        return (sxy / sxx)[:, None]
    if D.p == 2:
        saa, sab, sbb, sya, syb = D.F @ W.T
        det = saa * sbb - sab * sab
        return np.column_stack([(sbb * sya - sab * syb) / det, (saa * syb - sab * sya) / det])
    A = np.einsum("mi,ij,ik->mjk", W, D.X, D.X, optimize=True)
    b = W @ (D.X * D.y[:, None])
    return np.linalg.solve(A, b[..., None])[..., 0]


def _mean_rho_rows(r2: np.ndarray, scale: np.ndarray, n_p: int) -> np.ndarray:
    """sum(rho(r / scale)) / (n - p) of every row, from ``r2 = (r / c)^2`` (k, n) and its scale.

    lmrob.c's bisquare rho, ``t(3 - 3t + t^2)`` for ``t = (x/c)^2 <= 1`` and 1
    beyond, written as ``1 - (1 - min(t, 1))^3`` so that one pass serves both.
    """
    u = r2 * (1.0 / (scale * scale))[:, None]
    np.minimum(u, 1.0, out=u)
    np.subtract(1.0, u, out=u)
    u3 = u * u
    u3 *= u
    return (r2.shape[1] - u3.sum(axis=1)) / n_p


def _weights_rows(r2: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Bisquare weights ``(1 - (x/c)^2)^2`` (0 beyond c) of every row of ``r2 = (r / c)^2``."""
    u = r2 * (1.0 / (scale * scale))[:, None]
    np.minimum(u, 1.0, out=u)
    np.subtract(1.0, u, out=u)
    u *= u
    return u


def _find_scale(r: np.ndarray, scale: float, p: int, ctrl: LmrobControl) -> float:
    """lmrob.c ``find_scale``: the M-scale by fixed-point iteration from ``scale``."""
    if scale <= 0.0:
        warnings.warn(f"find_scale(*, initial_scale = {scale:g} <= 0) -> final scale = 0",
                      RuntimeWarning, stacklevel=3)
        return 0.0
    init = scale
    r2 = r / ctrl.tuning_chi
    r2 *= r2
    n_p = r.size - p
    u = np.empty_like(r2)
    n = float(r.size)
    bb = ctrl.bb
    for _ in range(ctrl.maxit_scale):
        np.multiply(r2, 1.0 / (scale * scale), out=u)   # _mean_rho_rows, inlined for speed
        np.minimum(u, 1.0, out=u)
        np.subtract(1.0, u, out=u)
        scale = scale * math.sqrt((n - float((u * u) @ u)) / n_p / bb)
        if abs(scale - init) <= ctrl.scale_tol * init:
            return scale
        init = scale
    warnings.warn(f"find_scale() did not converge in 'maxit.scale' (= {ctrl.maxit_scale}) "
                  f"iterations with tol={ctrl.scale_tol:g}", RuntimeWarning, stacklevel=3)
    return scale


# --------------------------------------------------------------------------------------
# subsampling (lmrob.c: SETUP_EQUILIBRATION, sample_noreplace, subsample)
# --------------------------------------------------------------------------------------

def _equilibrate(X: np.ndarray):
    """LAPACK DGEEQU + DLAQGE on the design: (Xe, R, C, rowequ, colequ).

    Row and column scalings that subsample()'s singularity test works on; as
    robustbase, a zero row or column means no equilibration.
    """
    A = np.abs(X)
    R = A.max(axis=1)
    rcmin, rcmax = R.min(), R.max()
    if rcmin == 0.0:
        return X.copy(), None, None, False, False
    R = 1.0 / np.minimum(np.maximum(R, _SAFMIN), 1.0 / _SAFMIN)
    rowcnd = max(rcmin, _SAFMIN) / min(rcmax, 1.0 / _SAFMIN)
    C = (A * R[:, None]).max(axis=0)
    ccmin, ccmax = C.min(), C.max()
    if ccmin == 0.0:
        return X.copy(), None, None, False, False
    C = 1.0 / np.minimum(np.maximum(C, _SAFMIN), 1.0 / _SAFMIN)
    colcnd = max(ccmin, _SAFMIN) / min(ccmax, 1.0 / _SAFMIN)
    small = _SAFMIN / _PREC
    thresh = 0.1
    if rowcnd >= thresh and small <= rcmax <= 1.0 / small:
        if colcnd >= thresh:
            return X.copy(), R, C, False, False
        return X * C[None, :], R, C, False, True
    if colcnd >= thresh:
        return X * R[:, None], R, C, True, False
    return (C[None, :] * R[:, None]) * X, R, C, True, True


def _perm_prefix(U: np.ndarray, q: int) -> np.ndarray:
    """First ``q`` entries of sample_noreplace's permutation for each row of uniforms ``U``.

    ``sample_noreplace(x, n, n, II)``: ``II = 0..n-1``; for ``i = 0..n-1``:
    ``j = (int)(nn * u_i)``, ``x[i] = II[j]``, ``II[j] = II[--nn]``.
    """
    m, n = U.shape
    if q <= 2:
        out = np.empty((m, q), dtype=np.intp)
        out[:, 0] = (n * U[:, 0]).astype(np.intp)
        if q == 2:                         # II[x0] = n - 1 after the first pick
            j = ((n - 1) * U[:, 1]).astype(np.intp)
            out[:, 1] = np.where(j == out[:, 0], n - 1, j)
        return out
    II = np.broadcast_to(np.arange(n), (m, n)).copy()
    rows = np.arange(m)
    out = np.empty((m, q), dtype=np.intp)
    for i in range(q):
        j = ((n - i) * U[:, i]).astype(np.intp)
        out[:, i] = II[rows, j]
        II[rows, j] = II[:, n - 1 - i]
    return out


def _subsample_one(Xe, y, perm, R, C, rowequ, colequ, tol):
    """lmrob.c ``subsample()`` (nonsingular subsampling) for one permutation.

    Returns the candidate coefficients, or None when no nonsingular subsample
    exists (robustbase then gives up with scale -1).
    """
    n, m = Xe.shape
    idr = list(range(m))
    idc = [0] * m
    L = np.zeros((m, m))
    Uu = np.zeros((m, m))
    pivot = [0] * max(m - 1, 0)
    v = np.zeros(m)
    i = 0
    for j in range(m):
        while True:
            if i + j == n:
                return None
            idc[j] = perm[i + j]
            if j == 0:
                for k in range(m):
                    v[k] = Xe[idc[0], idr[k]]
            else:
                for k in range(j):
                    Uu[k, j] = Xe[idc[j], idr[k]]
                for k in range(j):  # dtrsv("L", "N", "U"): unit lower triangular solve
                    for l_ in range(k):
                        Uu[k, j] -= L[k, l_] * Uu[l_, j]
                for k in range(j, m):
                    v[k] = Xe[idc[j], idr[k]]
                    for l_ in range(j):
                        v[k] -= L[k, l_] * Uu[l_, j]
            if j < m - 1:
                mu, tmpd = j, abs(v[j])
                for k in range(j + 1, m):
                    if tmpd < abs(v[k]):
                        mu, tmpd = k, abs(v[k])
                if tmpd >= tol:
                    pivot[j] = mu
                    v[j], v[mu] = v[mu], v[j]
                    idr[j], idr[mu] = idr[mu], idr[j]
                    for k in range(j + 1, m):
                        L[k, j] = v[k] / v[j]
                    for k in range(j):
                        L[j, k], L[mu, k] = L[mu, k], L[j, k]
            if abs(v[j]) < tol:
                i += 1          # drop this observation, try the next one
            else:
                Uu[j, j] = v[j]
                break
    beta = np.array([y[idc[k]] for k in range(m)], dtype=float)
    if rowequ:
        beta *= R[idc]
    for k in range(m):           # dtrsv("U", "T", "N")
        for l_ in range(k):
            beta[k] -= Uu[l_, k] * beta[l_]
        beta[k] /= Uu[k, k]
    for k in range(m - 1, -1, -1):  # dtrsv("L", "T", "U")
        for l_ in range(k + 1, m):
            beta[k] -= L[l_, k] * beta[l_]
    if colequ:
        beta *= C[idr]
    for k in range(m - 2, -1, -1):
        beta[k], beta[pivot[k]] = beta[pivot[k]], beta[k]
    return beta


def _full_perm(u: np.ndarray) -> list[int]:
    n = u.size
    ii = list(range(n))
    out = []
    nn = n
    for i in range(n):
        j = int(nn * u[i])
        out.append(ii[j])
        nn -= 1
        ii[j] = ii[nn]
    return out


def _candidates(Xe, y, U, R, C, rowequ, colequ, tol):
    """Candidate coefficients of every resample (m, p); rows of NaN where none exists.

    Vectorised over the resamples for the common case (the first ``p`` rows
    of the permutation are in general position); the few resamples that hit a
    pivot below ``tol`` are redone by :func:`_subsample_one`, which walks on
    through the permutation as robustbase does.
    """
    m, n = U.shape
    p = Xe.shape[1]
    perm = _perm_prefix(U, p)
    if p == 1:
        v = Xe[perm[:, 0], 0]
        bad = np.abs(v) < tol
        yy = y[perm[:, 0]]
        if rowequ:
            yy = yy * R[perm[:, 0]]
        beta = (yy / v)[:, None]
        if colequ:
            beta = beta * C[0]
    elif p == 2:
        # subsample() for two columns, written out: pivot of the first observation's
        # row (first maximum), elimination, then the triangular solves
        r0, r1 = perm[:, 0], perm[:, 1]
        a0, a1 = Xe[r0, 0], Xe[r0, 1]           # xt(., 0)
        b0, b1 = Xe[r1, 0], Xe[r1, 1]           # xt(., 1)
        sw = np.abs(a0) < np.abs(a1)            # swap variables 0 <-> 1
        u00 = np.where(sw, a1, a0)
        l10v = np.where(sw, a0, a1)
        u01 = np.where(sw, b1, b0)
        x11 = np.where(sw, b0, b1)
        with np.errstate(divide="ignore", invalid="ignore"):
            l10 = l10v / u00
            u11 = x11 - l10 * u01
            bad = (np.abs(u00) < tol) | (np.abs(u11) < tol)
            y0, y1 = y[r0], y[r1]
            if rowequ:
                y0, y1 = y0 * R[r0], y1 * R[r1]
            z0 = y0 / u00
            z1 = (y1 - u01 * z0) / u11
            z0 = z0 - l10 * z1
        if colequ:
            z0 = z0 * np.where(sw, C[1], C[0])
            z1 = z1 * np.where(sw, C[0], C[1])
        beta = np.empty((m, 2))
        beta[:, 0] = np.where(sw, z1, z0)
        beta[:, 1] = np.where(sw, z0, z1)
    else:
        # Gaussian elimination on xt = rows^T (variables x observations) with partial
        # pivoting over the variables, as subsample() does, vectorised over resamples
        beta = _eliminate(Xe, y, perm, R, C, rowequ, colequ, tol)
        bad = np.isnan(beta).any(axis=1)
    for r in np.flatnonzero(bad):
        b = _subsample_one(Xe, y, _full_perm(U[r]), R, C, rowequ, colequ, tol)
        beta[r] = np.nan if b is None else b
    return beta


def _eliminate(Xe, y, perm, R, C, rowequ, colequ, tol):
    """Candidates of many resamples at once (any p); NaN rows where a pivot is below ``tol``.

    Gaussian elimination on ``xt`` (variables x observations) with partial
    pivoting over the variables, as subsample() does, vectorised over resamples.
    """
    m, p = perm.shape
    ridx = np.arange(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        A = np.swapaxes(Xe[perm], 1, 2).copy()      # A[r, var, obs] = xt
        idr = np.broadcast_to(np.arange(p), (m, p)).copy()
        bad = np.zeros(m, dtype=bool)
        for j in range(p):
            mu = j + np.argmax(np.abs(A[:, j:, j]), axis=1)  # first maximum, as C's strict '<'
            bad |= np.abs(A[ridx, mu, j]) < tol
            swap = mu != j
            if swap.any():
                r_ = ridx[swap]
                A[r_, j], A[r_, mu[swap]] = A[r_, mu[swap]].copy(), A[r_, j].copy()
                idr[r_, j], idr[r_, mu[swap]] = idr[r_, mu[swap]], idr[r_, j]
            if j < p - 1:
                f = A[:, j + 1:, j] / A[:, j:j + 1, j]
                A[:, j + 1:, j + 1:] -= f[:, :, None] * A[:, j:j + 1, j + 1:]
                A[:, j + 1:, j] = f
        # A holds L (unit, below) and U (above) of P xt; xt^T beta = y <=> U^T L^T P beta = y
        z = y[perm] * R[perm] if rowequ else y[perm].copy()
        for k in range(p):
            for l_ in range(k):
                z[:, k] -= A[:, l_, k] * z[:, l_]
            z[:, k] /= A[:, k, k]
        for k in range(p - 1, -1, -1):
            for l_ in range(k + 1, p):
                z[:, k] -= A[:, l_, k] * z[:, l_]
    if colequ:
        z = z * C[idr]
    beta = np.empty_like(z)
    beta[ridx[:, None], idr] = z
    beta[bad] = np.nan
    return beta


# --------------------------------------------------------------------------------------
# fast-S, refinement, M-step, covariance
# --------------------------------------------------------------------------------------

def _refine_rows(D: "_Design", s_y, B: np.ndarray, scales: np.ndarray, ctrl: LmrobControl):
    """lmrob.c ``refine_fast_s`` to convergence (``k.max`` steps at most) of the rows of ``B``.

    Every row follows its own iterations and is taken at its own convergence,
    exactly as separate calls of refine_fast_s(conv = TRUE) would give.
    Returns (betas, scales, residuals, converged) per row.
    """
    X, y = D.X, D.y
    n, p = X.shape
    k = B.shape[0]
    res = y[None, :] - B @ X.T
    out_b, out_s = B.copy(), np.zeros(k)
    out_r, conv = res.copy(), np.zeros(k, dtype=bool)
    zero = (scales <= 0) | (np.count_nonzero(np.abs(res) <= s_y * ctrl.zero_tol, axis=1) > n / 2)
    finished = zero.tolist()               # zero rows keep beta_cand with scale 0
    conv |= zero
    s0 = [1.0 if z else float(v) for z, v in zip(zero, scales)]
    beta_j = B.tolist()
    tol, bb, n_p, inv_c = ctrl.refine_tol, ctrl.bb, n - p, 1.0 / ctrl.tuning_chi
    u = np.empty_like(res)
    with np.errstate(all="ignore"):        # rows already taken may degenerate: ignored
        for _ in range(ctrl.k_max):
            r2 = res * inv_c
            r2 *= r2
            np.multiply(r2, np.array([1.0 / (v * v) for v in s0])[:, None], out=u)
            np.minimum(u, 1.0, out=u)
            np.subtract(1.0, u, out=u)
            sums = ((u * u) * u).sum(axis=1).tolist()
            s0 = [v * math.sqrt((n - t) / n_p / bb) for v, t in zip(s0, sums)]
            np.multiply(r2, np.array([1.0 / (v * v) for v in s0])[:, None], out=u)
            np.minimum(u, 1.0, out=u)
            np.subtract(1.0, u, out=u)
            u *= u                         # bisquare weights at the new scale
            beta_ref = D.coefs(u)
            for i in range(k):
                if finished[i]:
                    continue
                bj, br = beta_j[i], beta_ref[i]
                d = math.sqrt(sum((x1 - x2) ** 2 for x1, x2 in zip(bj, br)))
                if d <= tol * max(tol, math.sqrt(sum(x1 * x1 for x1 in bj))):
                    out_b[i], out_s[i], out_r[i] = br, s0[i], res[i]
                    conv[i] = finished[i] = True
            if all(finished):
                break
            res = y[None, :] - np.array(beta_ref) @ X.T
            beta_j = beta_ref
    left = [i for i in range(k) if not finished[i]]
    if left:
        warnings.warn(f"S refinements did not converge (to refine.tol={tol:g}) "
                      f"in {ctrl.k_max} (= k.max) steps", RuntimeWarning, stacklevel=3)
        for i in left:
            out_b[i], out_s[i], out_r[i] = beta_j[i], s0[i], res[i]
    return out_b, out_s, out_r, conv


def _mscale_newton(res: np.ndarray, s: float, p: int, ctrl: LmrobControl) -> float:
    """The M-scale of one residual vector (Newton on log s from ``s``), to decide acceptances.

    Equal to :func:`_find_scale`'s value up to its ``scale.tol`` (1e-10); where
    a decision is that close, :func:`_fast_s` uses ``_find_scale`` itself.
    """
    c, bb = ctrl.tuning_chi, ctrl.bb
    n = res.size
    r2 = res * res / (c * c)
    lt = math.log(s)
    for _ in range(30):
        t = r2 * math.exp(-2.0 * lt)
        np.minimum(t, 1.0, out=t)
        u = 1.0 - t
        u2 = u * u
        f = (n - float(u2 @ u)) / (n - p) - bb          # mean rho - bb, rho = 1 - (1 - t)^3
        df = -6.0 * float(t @ u2) / (n - p)              # d/d log s
        if not df < 0:
            return math.nan
        step = f / df
        lt -= max(-1.0, min(1.0, step))
        if abs(step) < 1e-13:
            return math.exp(lt)
    return math.nan


def _rho_sums(res: np.ndarray, scale: float, p: int, c: float) -> np.ndarray:
    """sum(rho(r / scale)) / (n - p) of each row, rho = 1 - (1 - min(t, 1))^3 (screening)."""
    n = res.shape[-1]
    t = res * (1.0 / (c * scale))
    t *= t
    np.minimum(t, 1.0, out=t)
    np.subtract(1.0, t, out=t)
    u3 = t * t
    u3 *= t
    return (n - u3.sum(axis=-1)) / (n - p)


#: how close two M-scales (relative), or a candidate's mean rho and b, must be for the order
#: to need robustbase's own find_scale() values (which stop within ~4e-10 of the root)
TIE = 5e-9


class _Slots:
    """fast_s()'s ``best.r.s`` best candidates: their rows and scales, in slot order."""

    def __init__(self, k: int, inf_sc: float):
        self.row = [-1] * k
        self.sc = [inf_sc] * k
        self.exact = [True] * k            # whether sc is find_scale()'s own value
        self.pos = 0


def _fast_s(X, y, U, ctrl: LmrobControl, D: "_Design | None" = None):
    """lmrob.c ``fast_s``: (coef, scale, residuals, converged).

    The candidate stage runs vectorised over the resamples (for one regressor
    over the distinct rows drawn, since a resample is one row); which
    candidates enter the ``best.r.s`` slots is then decided in resample order
    as the C code does, with each candidate's M-scale found by Newton steps and
    robustbase's own ``find_scale`` used wherever a comparison is within 1e-8
    (and for the final slots, whose scales start the last refinements).
    """
    n, p = X.shape
    s_y = float(np.mean(np.abs(y)))
    inf_sc = s_y * 1e20
    c, bb = ctrl.tuning_chi, ctrl.bb
    D = _Design(X, y) if D is None else D
    Xe, R, C, rowequ, colequ = _equilibrate(X)
    m = U.shape[0]
    cand_u, draw = None, None
    if p == 1:
        first = _perm_prefix(U, 1)[:, 0]
        rows_u, draw = np.unique(first, return_inverse=True)
        v = Xe[rows_u, 0]
        if not (np.abs(v) < ctrl.solve_tol).any():   # else some resamples walk on: no sharing
            yy = y[rows_u] * R[rows_u] if rowequ else y[rows_u]
            cand_u = (yy / v)[:, None]
            if colequ:
                cand_u = cand_u * C[0]
            draw = draw.ravel()
    if cand_u is None:
        cand_u = _candidates(Xe, y, U, R, C, rowequ, colequ, ctrl.solve_tol)
        draw = np.arange(m)
    if np.isnan(cand_u).any():             # robustbase gives up: no subsample in general position
        return None, -1.0, None, False
    # one refinement step (k.fast.s = 1) of every distinct candidate
    res0 = cand_u @ X.T
    np.subtract(y, res0, out=res0)
    sq = res0 * res0                       # sqrt(x * x) == |x| exactly: the MAD from squares
    half = (n - 1) // 2
    if n % 2:
        s0 = np.sqrt(np.partition(sq, half, axis=1)[:, half]) * 1.4826
    else:
        part = np.partition(sq, [half, half + 1], axis=1)
        s0 = (np.sqrt(part[:, half]) + np.sqrt(part[:, half + 1])) / 2.0 * 1.4826
    exact_u = s0 <= 0
    tiny = s0 <= s_y * ctrl.zero_tol * 1.4826
    if tiny.any():                         # more than n/2 zero residuals: an exact fit
        z = np.count_nonzero(np.abs(res0[tiny]) <= s_y * ctrl.zero_tol, axis=1)
        exact_u[np.flatnonzero(tiny)[z > n / 2]] = True
    ex = exact_u[draw]
    stop = int(np.argmax(ex)) if ex.any() else m
    ok_u = ~exact_u
    s1 = np.full(cand_u.shape[0], np.nan)
    ref_u = np.full_like(cand_u, np.nan)
    res1 = np.full_like(res0, np.nan)
    if ok_u.any():
        r2 = sq[ok_u] if exact_u.any() else sq
        r2 *= 1.0 / (c * c)                # (r / c)^2
        s0k = s0[ok_u]
        s1k = s0k * np.sqrt(_mean_rho_rows(r2, s0k, n - p) / bb)
        ref_k = _wls_rows(D, _weights_rows(r2, s1k))
        s1[ok_u] = s1k
        ref_u[ok_u] = ref_k
        res1[ok_u] = y[None, :] - ref_k @ X.T
    slots = _Slots(ctrl.best_r_s, inf_sc)
    newton: dict[int, float] = {}
    exact: dict[int, float] = {}

    def scale_of(u: int) -> float:
        if u not in newton:
            newton[u] = _mscale_newton(res1[u], float(s1[u]), p, ctrl)
        return newton[u]

    def exact_of(u: int) -> float:
        if u not in exact:
            exact[u] = _find_scale(res1[u], float(s1[u]), p, ctrl)
        return exact[u]

    def exactify(k: int) -> None:
        if not slots.exact[k]:
            slots.sc[k] = exact_of(slots.row[k])
            slots.exact[k] = True

    def insert(u: int) -> None:
        k = slots.pos
        slots.row[k], slots.sc[k], slots.exact[k] = u, scale_of(u), False
        filled = [j for j in range(len(slots.row)) if slots.row[j] >= 0]
        for j in filled:
            v = slots.sc[j]
            # no Newton scale, or a near-tie between different candidates (the same candidate
            # twice has the same value either way): robustbase's own find_scale values decide
            if v != v or any(slots.row[i] != slots.row[j] and abs(slots.sc[i] - v)
                             <= TIE * max(slots.sc[i], v) for i in filled):
                exactify(j)
        slots.pos = int(np.argmax(slots.sc))  # find_max: the first maximum

    i, block = 0, 8
    while i < stop:
        w = slots.sc[slots.pos]
        if w >= inf_sc:
            insert(int(draw[i]))
            i += 1
            continue
        hi = min(stop, i + block)
        us = draw[i:hi]
        sums = _rho_sums(res1[us], w, p, c)
        near = np.abs(sums - bb) <= TIE
        # the very candidate of the worst slot drawn again changes nothing, accepted or not
        near &= us != slots.row[slots.pos]
        passing = (sums < bb) & ~near & (us != slots.row[slots.pos])
        if near.any():
            exactify(slots.pos)
            w = slots.sc[slots.pos]
            for j in np.flatnonzero(near):
                passing[j] = float(_sum_rho_sc(res1[us[j]], w, p, c)) < bb
        hit = np.flatnonzero(passing)
        if hit.size == 0:
            i, block = hi, min(2 * block, 256)
            continue
        j = i + int(hit[0])
        insert(int(draw[j]))
        i, block = j + 1, max(8, block // 2)
    if stop < m:                           # an exact fit: robustbase returns it with scale 0
        u = int(draw[stop])
        return cand_u[u].copy(), 0.0, y - X @ cand_u[u], True
    filled = [k for k in range(ctrl.best_r_s) if slots.row[k] >= 0]
    todo = [k for k in filled if not slots.exact[k] and slots.row[k] not in exact]
    for k in todo:                         # the final slots' scales, as find_scale() gives them
        exact_of(slots.row[k])
    for k in filled:
        exactify(k)
    rows = [slots.row[k] for k in filled]
    betas, auxs, ress, convs = _refine_rows(D, s_y, ref_u[rows], np.array([slots.sc[k] for k in filled]),
                                            ctrl)
    best_scale, bbeta = inf_sc, None
    for j in range(len(filled)):           # in slot order; the residuals are the last slot's
        if auxs[j] < best_scale:
            best_scale, bbeta = float(auxs[j]), betas[j]
    return bbeta, best_scale, ress[-1], bool(convs.all())


def _rwls(D: _Design, beta0, scale, ctrl: LmrobControl):
    """lmrob.c ``rwls``: IRWLS M-step at a fixed scale; (coef, residuals, converged)."""
    X, y = D.X, D.y
    resid = y - X @ beta0
    it, converged = 0, False
    eps = ctrl.rel_tol
    factor = 1.0 / (ctrl.tuning_psi * scale) ** 2
    b0 = [float(v) for v in beta0]
    estimate = b0
    u = np.empty_like(resid)
    while not converged:
        it += 1
        if it >= ctrl.max_it:
            break
        np.multiply(resid, resid, out=u)
        u *= factor
        np.minimum(u, 1.0, out=u)
        np.subtract(1.0, u, out=u)
        u *= u                             # bisquare weights at the S-scale
        estimate = D.coefs(u[None, :])[0]
        resid = y - X @ np.array(estimate)
        d = sum(abs(x1 - x2) for x1, x2 in zip(b0, estimate))
        converged = d <= eps * max(eps, sum(abs(x) for x in estimate))
        b0 = estimate
    return np.array(estimate), resid, converged


def _vcov_avar1(X, r, r0, scale, ctrl: LmrobControl) -> np.ndarray:
    """robustbase ``.vcov.avar1``: the MM-estimate's asymptotic covariance, made PSD."""
    n = X.shape[0]
    c_psi, c_chi, bb = ctrl.tuning_psi, ctrl.tuning_chi, 0.5
    rs = r / scale
    r0s = r0 / scale
    w = psip_bisquare(rs, c_psi)
    w0 = psi_bisquare(r0s, c_chi) / (c_chi * c_chi / 6.0)   # Mchi(deriv = 1)
    A = np.linalg.inv(X.T @ (X * w[:, None])) * scale
    a = A @ (X.T @ (w * rs)) / np.mean(w0 * r0s)
    w = psi_bisquare(rs, c_psi)
    w0 = rho_bisquare(r0s, c_chi)
    xww = X.T @ (w * w0)
    u1 = A @ (X.T @ (X * (w * w)[:, None])) @ (n * A)
    u2 = np.outer(a, xww @ A)
    u3 = A @ np.outer(xww, a)
    u4 = np.mean(w0 * w0 - bb * bb) * np.outer(a, a)
    ret = (u1 - u2 - u3 + u4) / n
    lam, Q = np.linalg.eigh(ret)
    if np.any(lam < 0):                    # posdefify, as robustbase
        o_diag = np.diag(ret).copy()
        if np.any(o_diag < 0):
            warnings.warn(".vcov.avar1: negative diag(<vcov>) fixed up; consider "
                          "'cov=\".vcov.w.\"' instead", RuntimeWarning, stacklevel=3)
        lam = np.where(lam < 0, 0.0, lam)
        ret = Q @ (lam[:, None] * Q.T)
        with np.errstate(divide="ignore", invalid="ignore"):
            D = np.sqrt(np.maximum(o_diag, 0.0) / np.diag(ret))
        ret = D[:, None] * ret * D[None, :]
    return ret


def lmrob(X, y, weights=None, *, rng, control: LmrobControl = LmrobControl()) -> LmrobFit:
    """``lmrob(y ~ X, weights)`` as robustbase fits it by default; see :func:`_lmrob`.

    robustbase's warnings are collected in :attr:`LmrobFit.notes` rather than issued.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = _lmrob(X, y, weights, rng=rng, control=control)
    fit.notes = list(dict.fromkeys(str(w.message) for w in caught))
    return fit


def _lmrob(X, y, weights=None, *, rng, control: LmrobControl = LmrobControl()) -> LmrobFit:
    """``lmrob(y ~ X, weights)`` as robustbase fits it by default (MM, bisquare, .vcov.avar1).

    Parameters
    ----------
    X : array_like, (n, p)
        Design matrix (include a column of ones for an intercept).
    y : array_like, (n,)
        Response.
    weights : array_like, optional
        Prior weights (``lmrob(..., weights = w)``): rows are multiplied by
        ``sqrt(w)`` before fitting. Zero weights are not supported.
    rng : object with ``runif(n)``
        Source of the S-step's uniforms; R's generator after ``set.seed(seed)``
        (:class:`mrbook.rmath.generator.RRNG`) reproduces R's subsamples.
        ``n * control.n_resample`` uniforms are drawn.
    control : LmrobControl
        ``lmrob.control()`` settings.

    Returns
    -------
    LmrobFit

    Notes
    -----
    The S-estimate minimises the M-scale :math:`s` solving
    :math:`\\frac{1}{n-p}\\sum_i \\rho_{c_0}(r_i/s) = b` (bisquare
    :math:`\\rho` scaled to 1, :math:`c_0 = 1.54764`, :math:`b = 1/2`); the
    MM-estimate solves :math:`\\sum_i \\psi_{c_1}(r_i/\\hat s)\\,x_i = 0` at
    that scale (:math:`c_1 = 4.685061`). See the module docstring for the
    algorithm and the references.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, p = X.shape
    if weights is not None:
        sw = np.sqrt(np.asarray(weights, dtype=float))
        X = X * sw[:, None]
        y = y * sw
    nan = np.full(p, np.nan)
    draw = getattr(rng, "unif_rand", None) or rng.runif
    U = np.asarray(draw(n * control.n_resample), dtype=float).reshape(control.n_resample, n)
    D = _Design(X, y)
    coef_s, scale, r0, conv_s = _fast_s(X, y, U, control, D)
    if coef_s is None or scale < 0:
        return LmrobFit(nan, nan, np.full((p, p), np.nan), np.nan, nan, False)
    if scale == 0.0:                       # exact fit: robustbase's cov is 0
        return LmrobFit(coef_s, np.zeros(p), np.zeros((p, p)), 0.0, coef_s, conv_s)
    if not conv_s:
        # lmrob.fit: an unconverged S-estimate is returned as it is, without covariance
        return LmrobFit(coef_s, nan, np.full((p, p), np.nan), scale, coef_s, False)
    coef, r, conv_m = _rwls(D, coef_s, scale, control)
    if not conv_m:
        warnings.warn(f"M-step did NOT converge in {control.max_it} steps. Returning unconverged "
                      "SM-estimate", RuntimeWarning, stacklevel=2)
        return LmrobFit(coef, nan, np.full((p, p), np.nan), scale, coef_s, False)
    cov = _vcov_avar1(X, r, r0, scale, control)
    return LmrobFit(coef, np.sqrt(np.diag(cov)), cov, scale, coef_s, True)
