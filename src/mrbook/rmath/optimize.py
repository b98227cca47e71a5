"""Ground floor: R's ``optimize()`` (Brent's fmin as ``src/library/stats/src/optimize.c`` codes it).

``scipy.optimize.minimize_scalar(method="bounded")`` is the same algorithm but
not the same code: where the objective is flat near its minimum the two stop
at different points within the tolerance (2.5e-8 apart for mr.raps's Tukey
fit on BMI -> CHD). Estimators that must equal an R result that went through
``optimize()`` call :func:`brent_fmin` instead.
"""

from __future__ import annotations

import math
import sys

__all__ = ["brent_fmin", "r_optimize"]


def brent_fmin(f, ax: float, bx: float, tol: float) -> float:
    """R's ``Brent_fmin(ax, bx, f, info, tol)``: a minimiser of ``f`` on ``[ax, bx]``.

    Golden-section search with parabolic interpolation (Brent 1973); the
    stopping rule is ``|x - m| <= 2 tol1 - (b - a) / 2`` with
    ``tol1 = sqrt(DBL_EPSILON) |x| + tol / 3``; every step and update in the
    order of R's C code, so the same function values give the same iterates.

    References
    ----------
    Brent RP (1973). Algorithms for Minimization without Derivatives.
    Englewood Cliffs: Prentice-Hall.
    """
    c = (3.0 - math.sqrt(5.0)) * 0.5
    eps = math.sqrt(sys.float_info.epsilon)
    a, b = ax, bx
    v = a + c * (b - a)
    w = x = v
    d = e = 0.0
    fx = f(x)
    fv = fw = fx
    tol3 = tol / 3.0
    while True:
        xm = (a + b) * 0.5
        tol1 = eps * abs(x) + tol3
        t2 = tol1 * 2.0
        if abs(x - xm) <= t2 - (b - a) * 0.5:
            break
        p = q = r = 0.0
        if abs(e) > tol1:                      # fit a parabola
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = (q - r) * 2.0
            if q > 0.0:
                p = -p
            else:
                q = -q
            r = e
            e = d
        if abs(p) >= abs(q * 0.5 * r) or p <= q * (a - x) or p >= q * (b - x):
            e = b - x if x < xm else a - x     # a golden-section step
            d = c * e
        else:                                  # a parabolic-interpolation step
            d = p / q
            u = x + d
            if u - a < t2 or b - u < t2:       # not too close to ax or bx
                d = tol1
                if x >= xm:
                    d = -d
        if abs(d) >= tol1:                     # not too close to x
            u = x + d
        elif d > 0.0:
            u = x + tol1
        else:
            u = x - tol1
        fu = f(u)
        if fu <= fx:
            if u < x:
                b = x
            else:
                a = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv = w, fw
                w, fw = u, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return x


def r_optimize(f, lower: float, upper: float, *, maximum: bool = False,
               tol: float = sys.float_info.epsilon ** 0.25) -> float:
    """R's ``optimize(f, c(lower, upper), maximum, tol)$minimum`` (or ``$maximum``)."""
    if maximum:
        return brent_fmin(lambda x: -f(x), lower, upper, tol)
    return brent_fmin(f, lower, upper, tol)
