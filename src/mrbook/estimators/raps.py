"""Estimators layer: MR-RAPS, the robust adjusted profile score, as TwoSampleMR's ``mr_raps`` runs it.

TwoSampleMR 0.7.9's ``mr_raps`` calls mr.raps 0.4.2's second-generation
``mr.raps(data, diagnostics = FALSE, over.dispersion = TRUE, loss.function =
"huber", shrinkage = FALSE)`` (``default_parameters()``), which solves the
RAPS estimating equations with ``rootSolve::multiroot`` from ten starting
points (``mr.raps.shrinkage``). This module reproduces that procedure: the
same equations and constants, the same starting points (the first-generation
``mr.raps.mle`` fits and R's random perturbations of them after
``set.seed(seed)``), the same choice among the roots and the same sandwich
standard errors; the roots themselves are found with scipy's MINPACK ``hybr``
solver, to 1e-14 (a root of the equations does not depend on the solver).

Only the procedure with ``shrinkage = FALSE`` is offered (TwoSampleMR's
default); over-dispersion and the loss function are options
(:attr:`~mrbook.estimators.Params.over_dispersion`,
:attr:`~mrbook.estimators.Params.loss_function`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..errors import ParameterError
from ..rmath.optimize import r_optimize
from ._registry import Params, register
from ._stats import na_result, p_normal
from .robust import r_stream

#: mr.raps's default tuning constant of each loss
LOSS_K = {"l2": 2.0, "huber": 1.345, "tukey": 4.685}
_EPS = np.finfo(float).eps
_CITE = "Zhao, Wang, Hemani, Bowden & Small 2020, doi:10.1214/19-AOS1866"


# --------------------------------------------------------------------------------------
# loss functions and the constants of the estimating equations (mr.raps R/loss.R)
# --------------------------------------------------------------------------------------

def _rho(loss: str, k: float, r, deriv: int = 0):
    r = np.asarray(r, dtype=float)
    if loss == "l2":
        return (r * r / k, r, np.ones_like(r))[deriv]
    if loss == "huber":
        inside = np.abs(r) <= k
        if deriv == 0:
            return np.where(inside, r * r / 2, k * (np.abs(r) - k / 2))
        if deriv == 1:
            return np.where(inside, r, k * np.sign(r))
        return np.where(inside, 1.0, 0.0)
    if loss == "tukey":
        if deriv == 0:
            return np.minimum(1 - (1 - (r / k) ** 2) ** 3, 1)
        if deriv == 1:
            return r * (1 - (r / k) ** 2) ** 2 * (np.abs(r) <= k)
        t = (r / k) ** 2
        return np.where(t < 1, (1 - t) * (1 - 5 * t), 0.0)
    raise ParameterError(f"RAPS loss function must be 'l2', 'huber' or 'tukey', got {loss!r}")


@functools.lru_cache(maxsize=16)
def raps_constants(loss: str, k: float) -> tuple[float, float, float, float]:
    r"""The constants :math:`\delta, c_1, c_2, c_3` of the RAPS equations, as R's ``integrate`` gives them.

    .. math:: \delta = E[Z\rho'(Z)],\ c_1 = E[\rho'(Z)^2],\
              c_2 = E[Z^2\rho'(Z)^2] - \delta^2,\ c_3 = E[Z^2\rho''(Z)],\quad Z \sim N(0, 1).

    R's ``integrate(f, -Inf, Inf)`` is QUADPACK's ``dqagi`` with relative and
    absolute tolerance ``.Machine$double.eps^0.25`` and 100 subintervals;
    ``scipy.integrate.quad`` calls the same routine (``dqagie``) with the same
    settings, so the constants carry the same integration error as R's (for
    the Huber loss :math:`\delta` is 4.7e-7 relative above its exact value
    :math:`2\Phi(k) - 1`, and the estimate depends on it).
    """
    tol = _EPS ** 0.25

    def integral(f):
        from scipy import integrate   # here: scipy.integrate costs a batch 0.1 s to import

        return integrate.quad(f, -np.inf, np.inf, epsabs=tol, epsrel=tol, limit=100)[0]

    def dnorm(x):
        return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    def r1(x):
        return float(_rho(loss, k, x, 1))

    def r2(x):
        return float(_rho(loss, k, x, 2))

    delta = integral(lambda x: x * r1(x) * dnorm(x))
    c1 = integral(lambda x: r1(x) ** 2 * dnorm(x))
    c2 = integral(lambda x: x * x * r1(x) ** 2 * dnorm(x)) - delta ** 2
    c3 = integral(lambda x: x * x * r2(x) * dnorm(x))
    return delta, c1, c2, c3


# --------------------------------------------------------------------------------------
# starting values: mr.raps.mle (first generation), which mr.raps.shrinkage starts from
# --------------------------------------------------------------------------------------

def _maximise(f, lo: float, hi: float) -> float:
    """R's ``optimize(f, c(lo, hi), maximum = TRUE, tol = sqrt(eps))`` (R's own Brent fmin)."""
    return r_optimize(f, lo, hi, maximum=True, tol=math.sqrt(_EPS))


def _maximise_growing(f, bound: float, niter: int | None = None) -> float:
    """optimize on (-bound, bound), doubling the bound while the maximum is near its edge."""
    beta = _maximise(f, -bound, bound)
    extend = 0
    while abs(beta) > 0.95 * bound and (niter is None or extend <= niter):
        extend += 1
        bound *= 2
        beta = _maximise(f, -bound, bound)
    return beta


def _q95(x: np.ndarray) -> float:
    """R's ``quantile(x, 0.95, na.rm = TRUE)`` (type 7)."""
    x = x[np.isfinite(x)]
    return float(np.quantile(x, 0.95))


def _prune(bx, by, sx, sy):
    """mr.raps.mle's ``pruning = TRUE``: drop SNPs with ``se_exp > 10 * median(se_exp)``."""
    keep = ~(sx > 10 * np.median(sx))
    return bx[keep], by[keep], sx[keep], sy[keep]


def mle_simple(bx, by, sx, sy, loss: str = "l2", k: float | None = None) -> float:
    r"""``mr.raps.simple`` / ``mr.raps.simple.robust``: the profile-score estimate without over-dispersion.

    .. math:: \hat\beta = \arg\max_\beta -\sum_j \rho\Big(\frac{\beta_{Yj} - \beta\beta_{Xj}}
              {\sqrt{\sigma_{Yj}^2 + \beta^2\sigma_{Xj}^2}}\Big)

    (:math:`\rho(t) = t^2/2` for the l2 loss), maximised by Brent's method on
    :math:`\pm 2 q_{0.95}(|\beta_Y/\beta_X|)`, the interval doubled while the
    maximum is at its edge.
    """
    k = LOSS_K[loss] if k is None else k
    vy, vx = sy * sy, sx * sx
    if loss == "l2":
        def f(b):
            return -0.5 * float(np.sum((by - bx * b) ** 2 / (vy + vx * b * b)))
    else:
        def f(b):
            return -float(np.sum(_rho(loss, k, (by - bx * b) / np.sqrt(vy + vx * b * b))))
    return _maximise_growing(f, _q95(np.abs(by / bx)) * 2)


def mle_od_l2(bx, by, sx, sy, pruning: bool = True, niter: int = 20) -> tuple[float, float]:
    r"""``mr.raps.overdispersed``: (beta, tau2) of the l2 profile likelihood with over-dispersion.

    Alternates :math:`\hat\tau^2 = \arg\max -\tfrac12\sum_j\sigma_{Xj}^2[\log v_j +
    r_j^2/v_j]` on :math:`[0, 100\,q_{0.95}(\sigma_Y^2)]` and :math:`\hat\beta = \arg\max
    -\tfrac12\sum_j r_j^2/v_j` (:math:`v_j = \tau^2 + \sigma_{Yj}^2 + \beta^2\sigma_{Xj}^2`,
    :math:`r_j = \beta_{Yj} - \beta\beta_{Xj}`) from the simple estimate until the
    relative changes sum to at most :math:`\sqrt{\epsilon}` (at most 20 rounds).
    """
    if pruning:
        bx, by, sx, sy = _prune(bx, by, sx, sy)
    vy, vx = sy * sy, sx * sx

    def fixbeta(beta, tau2):
        v = tau2 + vy + vx * beta * beta
        return -0.5 * float(np.sum(vx * np.log(v))) - 0.5 * float(np.sum(vx * (by - bx * beta) ** 2 / v))

    def fixtau(beta, tau2):
        return -0.5 * float(np.sum((by - bx * beta) ** 2 / (tau2 + vy + vx * beta * beta)))

    bound_beta = _q95(np.abs(by / bx)) * 10
    bound_tau2 = float(np.quantile(vy, 0.95)) * 100
    beta, tau2 = mle_simple(bx, by, sx, sy), 0.0
    tol = math.sqrt(_EPS)
    for _ in range(niter):
        beta_old, tau2_old = beta, tau2
        tau2 = _maximise(lambda t: fixbeta(beta, t), 0.0, bound_tau2)
        beta = _maximise_growing(lambda b: fixtau(b, tau2), bound_beta, niter)
        if abs(beta_old - beta) / abs(beta + 1e-10) + abs(tau2_old - tau2) / abs(tau2 + 1e-10) <= tol:
            break
    return beta, tau2


def mle_od_robust(bx, by, sx, sy, loss: str = "huber", k: float | None = None,
                  pruning: bool = True, niter: int = 20) -> tuple[float, float]:
    r"""``mr.raps.overdispersed.robust`` of mr.raps 0.4.2: (beta, tau2), the robust start.

    From :func:`mle_od_l2`, alternates the root :math:`\tau^2 \ge 0` of
    :math:`\sum_j \sigma_{Xj}^2(t_j\rho'(t_j) - \delta)/V` and the maximum of
    :math:`-\tfrac12\sum_j\rho(t_j)` in :math:`\beta` (L-BFGS-B), with
    :math:`t_j = (\beta_{Yj} - \beta\beta_{Xj})/\sqrt{V}`. In 0.4.2 every SNP is
    standardised by the *largest* variance, :math:`V = \max_j(\tau^2 +
    \sigma_{Yj}^2 + \beta^2\sigma_{Xj}^2)` (``max()`` where ``pmax()`` would be
    per SNP; see ../shared/reference/EXTENDED.md), which is reproduced here: on
    BMI -> CHD it gives 0.3872156 with :math:`\tau^2 = 0`, R's value to 3e-8.
    This fit only seeds :func:`mr_raps`'s root search and picks the root
    closest to it.
    """
    k = LOSS_K[loss] if k is None else k
    if pruning:
        bx, by, sx, sy = _prune(bx, by, sx, sy)
    delta = raps_constants(loss, k)[0]
    vy, vx = sy * sy, sx * sx

    def big_v(beta, tau2):
        return float(np.max(tau2 + vy + vx * beta * beta))

    def loglike(beta, tau2):
        return -0.5 * float(np.sum(_rho(loss, k, (by - bx * beta) / math.sqrt(big_v(beta, tau2)))))

    def robust_e(beta, tau2):
        v = big_v(beta, tau2)
        if not v > 0:
            return math.nan
        t = (by - beta * bx) / math.sqrt(v)
        return float(np.sum(vx * (t * _rho(loss, k, t, 1) - delta) / v))

    beta, tau2 = mle_od_l2(bx, by, sx, sy, pruning=False)
    bound_beta = _q95(np.abs(by / bx)) * 10
    bound_tau2 = float(np.quantile(vy, 0.95)) * 100
    tol = math.sqrt(_EPS)
    for _ in range(niter):
        beta_old, tau2_old = beta, tau2
        tau2 = _root_tau2(lambda t: robust_e(beta, t), bound_tau2)
        b0 = min(max(beta, -bound_beta), bound_beta)
        from scipy import optimize

        fit = optimize.minimize(lambda x: -loglike(float(x[0]), tau2), [b0], method="L-BFGS-B",
                                bounds=[(-bound_beta, bound_beta)])
        beta = float(fit.x[0])
        extend = 0
        while abs(beta) > 0.95 * bound_beta and extend <= niter:
            extend += 1
            bound_beta *= 2
            beta = _maximise(lambda b: loglike(b, tau2), -bound_beta, bound_beta)
        if abs(beta_old - beta) / abs(beta + 1e-10) + abs(tau2_old - tau2) / abs(tau2 + 1e-10) <= tol:
            break
    return beta, tau2


def _root_tau2(f, bound: float) -> float:
    """``uniroot(f, c(0, bound), extendInt = "yes")``; 0 when its root is negative or none is found.

    R widens the interval until the sign changes; a root below 0 is set to 0
    (as mr.raps does with a negative one), so only a root above the interval
    needs the search, done here by doubling the upper end.
    """
    lo, hi = 0.0, bound
    flo, fhi = f(lo), f(hi)
    for _ in range(60):
        if not (math.isfinite(flo) and math.isfinite(fhi)):
            return 0.0
        if flo * fhi <= 0:
            break
        lo, flo = hi, fhi
        hi *= 2
        fhi = f(hi)
    else:
        return 0.0
    from scipy import optimize

    try:
        root = optimize.brentq(f, lo, hi, xtol=bound * _EPS ** 0.25)
    except ValueError:
        return 0.0
    return max(root, 0.0)


# --------------------------------------------------------------------------------------
# the second-generation procedure (mr.raps.shrinkage, shrinkage = FALSE)
# --------------------------------------------------------------------------------------

class _Equations:
    """The RAPS estimating equations, their Jacobian and sandwich variance (``mr.raps.shrinkage``)."""

    def __init__(self, bx, by, sx, sy, loss, k, over_dispersion):
        self.bx, self.by = bx, by
        self.vx, self.vy = sx * sx, sy * sy
        self.bx_vx, self.inv_vx = bx / self.vx, 1.0 / self.vx
        self.loss, self.k, self.od = loss, k, over_dispersion
        self.delta, self.c1, self.c2, self.c3 = raps_constants(loss, k)

    def _psi(self, t):
        if self.loss == "huber":
            return np.clip(t, -self.k, self.k)
        return _rho(self.loss, self.k, t, 1)

    def _parts(self, beta, tau2):
        vt = self.vy + tau2
        v = beta * beta * self.vx + vt
        t = (self.by - self.bx * beta) / np.sqrt(v)
        den = self.inv_vx + beta * beta / vt
        gamma = (self.bx_vx + beta * self.by / vt) / den
        return v, t, den, gamma

    def __call__(self, param) -> np.ndarray:
        beta = float(param[0])
        tau2 = float(param[1]) if self.od else 0.0
        with np.errstate(all="ignore"):
            v, t, _, gamma = self._parts(beta, tau2)
            r1 = self._psi(t)
            psi1 = float((gamma * r1) @ (1.0 / np.sqrt(v)))
            if not self.od:
                return np.array([psi1])
            psi2 = float((t * r1 - self.delta) @ (1.0 / v))
        return np.array([psi1, psi2])

    def jacobian(self, param) -> np.ndarray:
        """Derivatives of the equations in (beta, tau2), for the root finder."""
        beta = float(param[0])
        tau2 = float(param[1]) if self.od else 0.0
        with np.errstate(all="ignore"):
            vt = self.vy + tau2
            v, t, den, gamma = self._parts(beta, tau2)
            sv = np.sqrt(v)
            r1 = self._psi(t)
            r2 = _rho(self.loss, self.k, t, 2)
            dv_b = 2 * beta * self.vx
            dt_b = -self.bx / sv - t * dv_b / (2 * v)
            dg_b = (self.by / vt - gamma * 2 * beta / vt) / den
            j11 = float(np.sum(dg_b * r1 / sv + gamma * r2 * dt_b / sv - gamma * r1 * dv_b / (2 * v * sv)))
            if not self.od:
                return np.array([[j11]])
            dt_t = -t / (2 * v)
            dg_t = (-beta * self.by / vt ** 2 + gamma * beta * beta / vt ** 2) / den
            j12 = float(np.sum(dg_t * r1 / sv + gamma * r2 * dt_t / sv - gamma * r1 / (2 * v * sv)))
            q = r1 + t * r2
            e = t * r1 - self.delta
            j21 = float(np.sum(q * dt_b / v - e * dv_b / v ** 2))
            j22 = float(np.sum(q * dt_t / v - e / v ** 2))
        return np.array([[j11, j12], [j21, j22]])

    def sandwich(self, beta: float, tau2: float) -> tuple[float, float]:
        r"""(se of beta, se of tau2): :math:`V = V_2^{-1} V_1 V_2^{-T}` at the root."""
        v, t, den, gamma = self._parts(beta, tau2)
        r1 = _rho(self.loss, self.k, t, 1)
        g_beta = (self.by / (self.vy + tau2)) / den
        d_beta = float(np.sum((g_beta * r1 + gamma * self.delta * (-self.bx) / np.sqrt(v)) / np.sqrt(v)))
        if not self.od:
            return math.sqrt(self.c1 * float(np.sum(gamma ** 2 / v)) / d_beta ** 2), 0.0
        g_tau = -beta * self.by / (self.vy + tau2) ** 2 / den
        v1 = np.diag([self.c1 * float(np.sum(gamma ** 2 / v)), self.c2 * float(np.sum(1 / v ** 2))])
        v2 = np.array([[d_beta, float(np.sum(g_tau * r1 / np.sqrt(v)))],
                       [0.0, (self.delta + self.c3) / 2 * float(np.sum(1 / v ** 2))]])
        inv = np.linalg.inv(v2)
        cov = inv @ v1 @ inv.T
        return math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])


def _starts(bx, by, sx, sy, over_dispersion, stream, num_init):
    """mr.raps.shrinkage's starting points and the anchor (the Huber fit's beta).

    ``res1``/``res2``: mr.raps.mle with the l2 and the Huber loss; each is
    perturbed ``num_init - 1`` times by ``|beta| * rexp(1) * sample(c(-1, 1))``
    (R's draws, in R's order); the first ``num_init`` rows are used.
    """
    if over_dispersion:
        res1 = mle_od_l2(bx, by, sx, sy)
        res2 = mle_od_robust(bx, by, sx, sy, "huber")
    else:
        res1 = (mle_simple(bx, by, sx, sy, "l2"), 0.0)
        res2 = (mle_simple(bx, by, sx, sy, "huber"), 0.0)
    rows = [res1, res2]
    for b, t in (res1, res2):
        e = stream.rexp(num_init - 1)
        s = np.array([-1.0, 1.0])[stream.sample(2, num_init - 1, replace=True)]
        rows += [(b + abs(b) * ei * si, t) for ei, si in zip(e, s)]
    return np.array(rows[:num_init]), res2[0]


def _is_root(eq, x: np.ndarray, scale: np.ndarray) -> bool:
    """Whether ``x`` solves the equations: the Newton step from it is below 1e-8 of ``|x|``.

    (``scale`` adds an absolute floor per coordinate: 0 for beta, the smallest
    outcome variance for tau2.) MINPACK flags some converged points as slow
    progress, and stops at others that are not roots; this tells them apart.
    """
    f = eq(x)
    if not np.all(np.isfinite(f)):
        return False
    if not np.any(f):
        return True
    h = 1e-7 * np.maximum(np.abs(x), np.maximum(scale, 1e-12))
    J = np.empty((x.size, x.size))
    for i in range(x.size):
        xh = x.copy()
        xh[i] += h[i]
        J[:, i] = (eq(xh) - f) / h[i]
    try:
        step = np.linalg.solve(J, f)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.abs(step) <= 1e-8 * np.maximum(np.abs(x), scale)))


def raps_fit(bx, by, sx, sy, *, over_dispersion: bool = True, loss: str = "huber",
             k: float | None = None, stream=None, num_init: int = 10) -> dict:
    """mr.raps 0.4.2 ``mr.raps.shrinkage(..., shrinkage = FALSE)``: beta, tau2 and their SEs.

    See :func:`mr_raps` for the equations. ``stream`` is R's generator (the
    perturbed starting points are drawn from it, and the fallbacks draw on).
    """
    k = LOSS_K[loss] if k is None else k
    eq = _Equations(bx, by, sx, sy, loss, k, over_dispersion)
    starts, anchor = _starts(bx, by, sx, sy, over_dispersion, stream, num_init)
    roots, betas = [], []
    scale = np.array([0.0, float(np.min(sy * sy))])
    from scipy import optimize   # here, not at the top: batch and CLI start 0.1 s sooner

    for x0 in starts:
        x0 = x0 if over_dispersion else x0[:1]
        root = optimize.root(eq, x0, jac=eq.jacobian, method="hybr",
                             options={"xtol": 1e-12, "maxfev": 50 * (x0.size + 1)}).x
        ok = _is_root(eq, root, scale[:root.size])
        if over_dispersion and ok and root[1] > np.median(sy) * 10:
            ok = False                      # mr.raps: an over-dispersion that large is no root
        roots.append(root)
        betas.append(float(root[0]) if ok else math.nan)
    betas = np.array(betas)
    finite = np.isfinite(betas)
    if not finite.any():
        if not over_dispersion:
            return {"beta": math.nan, "tau2": math.nan, "beta_se": math.nan, "tau2_se": math.nan,
                    "over_dispersion": False, "note": "no root of the estimating equations found"}
        out = raps_fit(bx, by, sx, sy, over_dispersion=False, loss=loss, k=k, stream=stream,
                       num_init=num_init)
        out["note"] = "Cannot find solution with finite over.dispersion. Using tau2 = 0."
        return out
    j = int(np.nanargmin(np.abs(betas - anchor)))
    root = roots[j]
    if over_dispersion and root[1] < 0:
        out = raps_fit(bx, by, sx, sy, over_dispersion=False, loss=loss, k=k, stream=stream,
                       num_init=num_init)
        out["note"] = "Estimated overdispersion is negative. Using tau2 = 0."
        return out
    beta = float(root[0])
    tau2 = float(root[1]) if over_dispersion else 0.0
    beta_se, tau2_se = eq.sandwich(beta, tau2)
    others = betas[finite & (np.abs(betas - beta) > 1e-4)
                   & (np.abs(betas - anchor) < 100 * max(abs(beta - anchor), abs(anchor) / 10))]
    note = None
    if others.size:
        note = (f"The estimating equations might have another finite root: the closest root is "
                f"beta = {beta:.6g}, another is beta = {others[0]:.6g}")
    return {"beta": beta, "tau2": tau2, "beta_se": beta_se, "tau2_se": tau2_se,
            "over_dispersion": over_dispersion, "note": note}


@register("mr_raps", "Robust adjusted profile score (RAPS)", min_snps=3, default=False, citation=_CITE)
def mr_raps(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""MR-RAPS, TwoSampleMR's ``mr_raps`` (mr.raps 0.4.2's second-generation ``mr.raps()``).

    Parameters
    ----------
    bx, by, sx, sy : array_like
        SNP-exposure and SNP-outcome effects and their standard errors.
    params : Params
        ``over_dispersion`` (default True) and ``loss_function`` (``"huber"``,
        also ``"l2"`` or ``"tukey"``), TwoSampleMR's ``default_parameters()``.
    rng : random source, optional
        Only its ``seed`` is used (default 1234): the perturbed starting points
        are R's draws after ``set.seed(seed)``, as ``set.seed(seed); mr_raps(...)``.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (normal), ``nsnp``, ``tau2`` and ``tau2_se``
        (the over-dispersion, 0 without it), ``note`` (mr.raps's warning about
        another root or a fallback to no over-dispersion, or None).

    Notes
    -----
    With :math:`v_j = \tau^2 + \sigma_{Yj}^2 + \beta^2\sigma_{Xj}^2`, standardised
    residuals :math:`t_j = (\beta_{Yj} - \beta\beta_{Xj})/\sqrt{v_j}` and the
    profile estimate of the SNP's exposure effect
    :math:`\hat\gamma_j = (\beta_{Xj}/\sigma_{Xj}^2 + \beta\beta_{Yj}/(\sigma_{Yj}^2 + \tau^2))
    / (1/\sigma_{Xj}^2 + \beta^2/(\sigma_{Yj}^2 + \tau^2))`, RAPS solves

    .. math:: \sum_j \hat\gamma_j\,\rho'(t_j)/\sqrt{v_j} = 0,\qquad
              \sum_j \big(t_j\rho'(t_j) - \delta\big)/v_j = 0

    for :math:`(\beta, \tau^2)`, with the Huber loss (:math:`\rho' (t) =
    \max(-k, \min(k, t))`, :math:`k = 1.345`) and :math:`\delta = E[Z\rho'(Z)]`
    (:func:`raps_constants`). Roots are sought from ten starting points: the
    first-generation l2 and Huber fits (:func:`mle_od_l2`, :func:`mle_od_robust`)
    and eight random perturbations of the l2 fit; roots with
    :math:`\tau^2 > 10\,\mathrm{median}(\sigma_Y)` or where the solver fails are
    dropped, and the root closest to the Huber fit's :math:`\beta` is taken
    (a negative :math:`\tau^2` or no root: the same without over-dispersion).
    The standard error is the sandwich :math:`V_2^{-1}V_1V_2^{-T}` with
    :math:`V_1 = \mathrm{diag}(c_1\sum\hat\gamma_j^2/v_j,\ c_2\sum v_j^{-2})` and
    :math:`V_2` the expected Jacobian; :math:`P = 2\Phi(-|\hat\beta/\mathrm{se}|)`.

    Where this differs from R: R keeps the last iterate of a start from which
    ``multiroot`` does not converge, here such a start is dropped; a root that R
    finds is found here to 1e-14. mr.raps 0.4.2's own source of its
    first-generation robust fit was not available; the start is rebuilt from
    the behaviour EXTENDED.md documents (see :func:`mle_od_robust`) and only
    matters when the equations have more than one root.

    References
    ----------
    Zhao Q, Wang J, Hemani G, Bowden J, Small DS (2020). Statistical inference in
    two-sample summary-data Mendelian randomization using robust adjusted profile
    score. Ann Stat 48:1742-1769. doi:10.1214/19-AOS1866

    Zhao Q, Chen Y, Wang J, Small DS (2019). Powerful three-sample genome-wide
    design and robust statistical inference in summary-data Mendelian
    randomization. Int J Epidemiol 48:1478-1492. doi:10.1093/ije/dyz142
    """
    bx, by, sx, sy = (np.asarray(v, dtype=float) for v in (bx, by, sx, sy))
    n = bx.size
    if n < 3:
        return na_result(tau2=np.nan, tau2_se=np.nan, note=None)
    od = bool(getattr(params, "over_dispersion", True))
    loss = str(getattr(params, "loss_function", "huber"))
    if loss not in LOSS_K:
        raise ParameterError(f"RAPS loss_function must be 'l2', 'huber' or 'tukey', got {loss!r}")
    fit = raps_fit(bx, by, sx, sy, over_dispersion=od, loss=loss, stream=r_stream(rng))
    b, se = fit["beta"], fit["beta_se"]
    with np.errstate(divide="ignore", invalid="ignore"):
        pval = float(p_normal(b / se))
    return {"b": b, "se": se, "pval": pval, "nsnp": n, "tau2": fit["tau2"],
            "tau2_se": fit["tau2_se"], "note": fit["note"]}
