r"""Ground floor: the mode of R's ``density()`` for bootstrap replicates, compiled by numba.

The same arithmetic as :class:`mrbook.rmath.density.DensityBatch` for its common
case, one replicate at a time in compiled code instead of numpy passes over
blocks of replicates (whose per-call overhead dominates at ~100 SNPs):

1. *Bandwidth* (:func:`column_sds`): R's ``sd()`` of the replicates (two-pass, in
   double precision, summed in index order); the caller sorts the replicates
   with numpy's vectorised ``sort`` (faster than a compiled quickselect at ~100
   SNPs), takes their medians, and :func:`abs_dev_middles` finds the middle
   absolute deviations from them (``mad()``) by merging the two sorted halves;
   the caller applies the modified Silverman rule
   :math:`h = \max(10^{-8}, \varphi \cdot 0.9 \min(sd, mad)/k^{1/5})`;
   bit-identical to ``mrbook.estimators.mode._boot_bandwidth``.
2. *Grid* (:func:`modes`): ``from``, ``to``, ``lo``, ``up``, the binning spacing
   :math:`\delta` and the kernel spacing :math:`\kappa` exactly as
   ``DensityBatch.__init__`` (R 4.2's ``density.default``).
3. *Coarse stage*: the points binned quadratically on a grid of spacing
   :math:`h'/2` and smoothed with the Gaussian of ``DensityBatch._coarse`` (here in
   double precision). A *high run* is a maximal set of consecutive coarse nodes
   of at least :math:`1 - 0.024 - 1/32 - a^2` of the coarse maximum (at most four
   runs). The extra :math:`1/32` over ``DensityBatch``'s margin is the sampling
   loss: the narrowest peak of :math:`D` (one point, a Gaussian of :math:`h'`)
   lying half a coarse spacing from the nearest node is sampled
   :math:`1 - e^{-1/32}` (3.1 %) low there, and ``DensityBatch`` misses such peaks
   (6 wrong modes in 1.2 million validation densities, k = 3 to 8).
4. *Exact density*: R's binned density :math:`D` exactly (direct sums of the
   kernel values :math:`\phi(|i - j|\kappa)` over the points' two bins, the
   kernel tabulated once per replicate). A run whose node range (one coarse node
   either side) costs at most 1,536 point-node terms is evaluated at every node
   (:func:`_range`); its node-level local maxima are the candidates, and the
   range's edges must stay below the higher neighbour of its highest node. A
   larger run of at most three nodes with one coarse peak *settles*: from the
   node the parabola through the coarse peak predicts, exact 3-node windows move
   where the parabola through their values points until the middle one is the
   (first) maximum, as ``DensityBatch._settle``. Other large runs (up to 256
   nodes) are evaluated at every node.
5. *Output grid*: ``approx()`` onto ``seq(from, to, length.out = 512)`` in the two
   node intervals next to each candidate, the highest output point winning
   (ties to the first), as ``DensityBatch._interpolate``.

Everything else (more than four runs, wider runs, kernel spacing above the
bandwidth, coarse grids longer than 1100 nodes, a settle that leaves the grid or
does not settle in 12 steps, a range whose maximum is on its edge, non-finite
values) returns status 0, and the caller hands the row to
:class:`~mrbook.rmath.density.DensityBatch` / R's FFT algorithm.

The direct sums are not bit-identical to numpy's (nor is either to R's FFT,
see :mod:`mrbook.rmath.density`); the modes are checked against R's FFT path by
``benchmarks/validate_density_mode.py``.

numba is imported by this module only; :mod:`mrbook.rmath.density` imports it
lazily (``jit_kernel``), so ``import mrbook`` does not pay for it. Compiled
code is cached (``cache=True``) in ``__pycache__`` or, when that is read-only,
numba's user-wide cache directory.

References
----------
R Core Team. ``density.default`` (``src/library/stats/R/density.R``), ``cov.c``,
``median.default``, ``mad``; R 4.2.2. Silverman BW (1986), section 3.5.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["abs_dev_middles", "column_sds", "modes"]

_N = 512
_M_1_SQRT_2PI = 0.398942280401432677939946059934
_C = 2.0
_TAPS = 9
_MAXM = 1100
_ETA = 0.024 + 1.0 / 32.0
_PASSES = 12
_A_MAX = 1.0
_SHORT = 3
_MAXRUNS = 4
_MAXSPAN = 256
_RANGE_WORK = 1536


@njit(cache=True)
def column_sds(XT, out):
    """R's ``sd()`` of each column of ``XT`` (k, m) into ``out`` (m,), two-pass in double.

    The sums run over the rows in index order for all columns at once, numpy's
    order for ``XT.sum(axis=0)``, so ``out`` is bit-identical to the sd of
    ``mrbook.estimators.mode._boot_bandwidth`` (one pass over memory per sum
    instead of numpy's temporaries).
    """
    k, m = XT.shape
    mean = np.zeros(m)
    acc = np.zeros(m)
    for j in range(k):
        for r in range(m):
            mean[r] += XT[j, r]
    for r in range(m):
        mean[r] = mean[r] / k
    for j in range(k):
        for r in range(m):
            acc[r] += XT[j, r] - mean[r]
    for r in range(m):
        mean[r] += acc[r] / k
        acc[r] = 0.0
    for j in range(k):
        for r in range(m):
            d = XT[j, r] - mean[r]
            acc[r] += d * d
    for r in range(m):
        out[r] = math.sqrt(acc[r] / (k - 1))


@njit(cache=True)
def abs_dev_middles(S, c, lower, upper):
    r"""The middle values of ``abs(S[r] - c[r])`` for each row of ``S`` (m, k) sorted ascending.

    ``c[r]`` is the row's median (between its middle values), ``lower[r]`` gets the
    ``t = (k + 1) // 2``-th smallest absolute deviation and, for even ``k``,
    ``upper[r]`` the next one (R's ``median()`` averages them). The deviations of
    the values below the middle, read leftwards, and of those from the middle on,
    read rightwards, are two ascending lists :math:`A` and :math:`B`; the ``t``
    smallest deviations are the first ``i`` of :math:`A` and ``t - i`` of
    :math:`B` for the least ``i`` with :math:`A_i \ge B_{t-i-1}`, found by
    bisection (a few steps instead of a selection over the row). Each deviation is
    ``abs(x - c)``, as numpy computes it, so the values are those of a median of
    ``np.abs(S - c[:, None])``, ties included. (A row with a NaN gives an
    undefined value; the caller's sd is then NaN.)
    """
    m, k = S.shape
    t = (k + 1) // 2
    r0 = k // 2                          # B starts here (the middle value for odd k)
    l0 = r0 - 1                          # A starts here, leftwards
    nl, nr = r0, k - r0
    for r in range(m):
        x = S[r]
        cr = c[r]
        lo = max(0, t - nr)
        hi = min(t, nl)
        while lo < hi:
            i = (lo + hi) // 2
            if abs(x[l0 - i] - cr) < abs(x[r0 + t - i - 1] - cr):
                lo = i + 1
            else:
                hi = i
        i = lo
        v = -np.inf
        if i > 0:
            v = abs(x[l0 - i + 1] - cr)
        if t - i > 0:
            v = max(v, abs(x[r0 + t - i - 1] - cr))
        lower[r] = v
        u = np.inf
        if i < nl:
            u = abs(x[l0 - i] - cr)
        if t - i < nr:
            u = min(u, abs(x[r0 + t - i] - cr))
        upper[r] = u


@njit(cache=True)
def _coarse_taps():
    t = np.empty(2 * _TAPS + 1)
    for i in range(2 * _TAPS + 1):
        z = (i - _TAPS) / _C
        t[i] = math.exp(-0.5 * z * z)
    return t


@njit(cache=True)
def _smooth(Y, S, M, taps):
    r"""The coarse density :math:`S_i = \sum_t \tau_{i - t + T} Y_t`, ``i = 0 .. M - 1``, into ``S``.

    ``Y[t + T]`` holds node ``t``'s quadratically binned mass (``T`` = ``_TAPS`` zeros
    either side), ``taps`` the :math:`2T + 1` Gaussian taps :math:`\tau`. Each
    :math:`S_i` is summed from 0.0 in ascending ``t`` (descending tap), the order in
    which scattering the nodes' products in ascending ``t`` would add them; the
    products of empty nodes are +0.0 and change no sum (Y and S are never -0.0).
    Gathering the 19 products of a node is ~3x faster than scattering them.
    """
    for i in range(M):
        acc = 0.0
        for d in range(2 * _TAPS, -1, -1):
            acc += taps[d] * Y[i + 2 * _TAPS - d]
        S[i] = acc


@njit(cache=True)
def _kernel_table(K, l0, L, a, a2):
    r"""``K[l]`` = :math:`e^{-a^2 l^2/2}` for ``l = l0 .. L``; returns the new length ``L + 1``.

    In stretches of lags that start from ``exp`` and continue by the ratios
    :math:`K_{l+1} = K_l\,\rho_l`, :math:`\rho_{l+1} = \rho_l e^{-a^2}`,
    :math:`\rho_l = e^{-a^2(l + 1/2)}`: stretches of 8 lags while :math:`al \le 4.5`
    (relative errors below :math:`40\epsilon`), of 16 beyond, where
    :math:`K_l \le e^{-10.1}` (relative errors below :math:`144\epsilon`, so absolute
    errors below :math:`0.006\epsilon` of the kernel's peak). Two ``exp`` per stretch
    instead of one per lag: a bootstrap replicate tabulates ~190 lags. Values below
    :math:`10^{-300}` (beyond 37 bandwidths; R's ``dnorm`` gives them as subnormal
    numbers) are 0.
    """
    body = L if a * L <= 4.5 else int(4.5 / a)
    q2 = math.exp(-a2)
    lag = l0
    while lag <= L:
        kv = math.exp(-0.5 * a2 * (lag * lag))
        if kv < 1e-300:
            for t in range(lag, L + 1):
                K[t] = 0.0
            return L + 1
        rt = math.exp(-a2 * (lag + 0.5))
        end = min(L, lag + (7 if lag <= body else 15))
        for t in range(lag, end + 1):
            K[t] = kv
            kv *= rt
            rt *= q2
        lag = end + 1
    return L + 1


@njit(cache=True, fastmath={"reassoc", "contract"})
def _window3(K, wl, wr, fl, k, i0, const):
    """Exact :math:`D_{i_0-1}, D_{i_0}, D_{i_0+1}`: direct sums over the points' two bins.

    Point ``p`` puts ``wl[p]`` on bin ``fl[p]`` and ``wr[p]`` on bin ``fl[p] + 1``
    (R's linear binning: :math:`w_p(1-f_p)` and :math:`w_pf_p`).
    """
    d0 = 0.0
    d1 = 0.0
    d2 = 0.0
    for j in range(k):
        v = fl[j] - i0                                 # bins i0 + v and i0 + v + 1
        a = wl[j]
        b = wr[j]
        d0 += a * K[abs(v + 1)] + b * K[abs(v + 2)]
        d1 += a * K[abs(v)] + b * K[abs(v + 1)]
        d2 += a * K[abs(v - 1)] + b * K[abs(v)]
    return d0 * const, d1 * const, d2 * const


@njit(cache=True, fastmath={"reassoc", "contract"})
def _range(K, wl, wr, fl, k, ilo, ihi, const, q2, Dr, E, G, P):
    r"""Exact :math:`D_i` for ``i = ilo .. ihi`` into ``Dr``, vectorised over the points.

    With :math:`d = i - fl_p`, point ``p`` adds :math:`w_p(1-f_p)K_d + w_pf_pK_{d-1}`
    (``wl[p]`` and ``wr[p]``), :math:`K_d = e^{-a^2d^2/2}`. Moving to node ``i + 1``,
    :math:`K_{d-1}` becomes the current :math:`K_d` and :math:`K_{d+1} = K_d\rho_d`,
    :math:`\rho_{d+1} = \rho_d e^{-a^2}`, :math:`\rho_d = e^{-a^2(2d+1)/2}` (a ratio
    of tabulated values); every 16 nodes the values restart from the table, so a
    term carries at most ~40 roundings (the numpy path's powers carry up to 64).
    One pass over the points per node. The table must hold lags up to
    ``max(ihi - flmin, flmax - ilo) + 2``.
    """
    for i in range(ilo, ihi + 1):
        if (i - ilo) % 16 == 0:
            for p in range(k):
                d = i - fl[p]
                ad = abs(d)
                kd = K[ad]
                E[p] = kd
                G[p] = K[abs(d - 1)]
                if kd > 0.0:
                    P[p] = (K[d + 1] if d >= 0 else K[ad - 1]) / kd
                else:
                    P[p] = 0.0
        acc = 0.0
        for p in range(k):
            e = E[p]
            acc += wl[p] * e + wr[p] * G[p]
            G[p] = e
            E[p] = e * P[p]
            P[p] *= q2
        Dr[i] = acc * const


@njit(cache=True)
def _interpolate(i0, d0, d1, d2, frm, to, lo, up, xdelta):
    """``approx()`` onto R's output grid next to node ``i0``: (found, x, y, grid index)."""
    n = _N
    y0, y1, y2 = max(d0, 0.0), max(d1, 0.0), max(d2, 0.0)      # pmax(0, .)
    by = (to - frm) / float(n - 1)
    xn0 = lo + float(i0 - 1) * xdelta
    xn1 = lo + float(i0) * xdelta
    xn2 = lo + float(i0 + 1) * xdelta
    if i0 - 1 == 0:
        xn0 = lo
    if i0 + 1 == n - 1:
        xn2 = up
    m_lo = math.floor((xn0 - frm) / by) - 1.0
    span = int(math.ceil(2.0 * (xdelta / by))) + 4
    bx = np.nan
    bv = -np.inf
    bm = -1.0
    found = False
    for t in range(span):
        mm = m_lo + t
        if mm < 0 or mm > n - 1:
            continue
        xo = frm + mm * by
        if mm == n - 1:
            xo = to
        elif mm == 0:
            xo = frm
        if xo < xn0 or xo > xn2:
            continue
        if xo < xn1:
            xi, xj, yi, yj = xn0, xn1, y0, y1
        else:
            xi, xj, yi, yj = xn1, xn2, y1, y2
        if xo == xj:
            yo = yj
        elif xo == xi:
            yo = yi
        else:
            yo = yi + (yj - yi) * ((xo - xi) / (xj - xi))
        if not found or yo > bv:
            bv = yo
            bx = xo
            bm = mm
            found = True
    return found, bx, bv, bm


@njit(cache=True)
def _run_maxima(Dr, ilo, ihi, frm, to, lo, up, xdelta, bestx, besty, bestm):
    """The node-level local maxima of ``Dr[ilo + 1 : ihi]`` interpolated onto R's output
    grid: (ok, x, y, m) of the best so far (highest y, then the first grid point);
    ok is False when an interpolation window leaves the grid."""
    for i in range(ilo + 1, ihi):
        if Dr[i] > Dr[i - 1] and Dr[i] >= Dr[i + 1]:
            found, cx, cy, cm = _interpolate(i, Dr[i - 1], Dr[i], Dr[i + 1],
                                             frm, to, lo, up, xdelta)
            if not found:
                return False, bestx, besty, bestm
            if cy > besty or (cy == besty and cm < bestm):
                bestx, besty, bestm = cx, cy, cm
    return True, bestx, besty, bestm


@njit(cache=True)
def modes(X, H, W, out, status):
    """``density(X[r, ], weights = W[q, ], bw = H[r])$x[which.max(y)]`` into ``out[q, r]``.

    ``status[q, r]`` is 1 where the value is certified, 0 where the caller must use
    ``DensityBatch`` (see the module docstring).
    """
    m, k = X.shape
    nw = W.shape[0]
    n = _N
    taps = _coarse_taps()
    fl = np.empty(k, dtype=np.int64)
    fx = np.empty(k)
    cj = np.empty(k, dtype=np.int64)
    ch = np.empty(k)
    cg = np.empty(k)
    Y = np.zeros(_MAXM + 2 * _TAPS)
    S = np.zeros(_MAXM)
    K = np.empty(n + 8)
    Dr = np.empty(n + 4)
    E = np.empty(k)
    G = np.empty(k)
    P = np.empty(k)
    wl = np.empty(k)
    wr = np.empty(k)
    rst = np.empty(_MAXRUNS + 1, dtype=np.int64)
    ren = np.empty(_MAXRUNS + 1, dtype=np.int64)
    for r in range(m):
        for q in range(nw):
            status[q, r] = 0
            out[q, r] = np.nan
        x = X[r]
        h = H[r]
        xmin = np.inf
        xmax = -np.inf
        finite = True
        for j in range(k):
            v = x[j]
            if not math.isfinite(v):
                finite = False
            if v < xmin:
                xmin = v
            if v > xmax:
                xmax = v
        if not finite or not (h > 0) or not math.isfinite(h):
            continue
        frm = xmin - 3.0 * h
        to = xmax + 3.0 * h
        lo = frm - 4.0 * h
        up = to + 4.0 * h
        xdelta = (up - lo) / float(n - 1)
        kspace = (2.0 * (up - lo)) / float(2 * n - 1)
        a = kspace / h
        a2 = a * a
        const = _M_1_SQRT_2PI / h
        q2 = math.exp(-a2)
        hp = h * xdelta / kspace
        if not (a <= _A_MAX) or not math.isfinite(xdelta) or not (xdelta > 0):
            continue
        if math.floor((xmin - lo) / xdelta) < 0 or math.floor((xmax - lo) / xdelta) > n - 2:
            continue
        delta = hp / _C
        Mf = math.ceil((to - frm) / delta) + 4.0
        if not (Mf <= _MAXM):
            continue
        M = int(Mf)
        cscale = xdelta / delta
        coff = (lo - frm) / delta + 1.5
        flmin = n
        flmax = -1
        for j in range(k):
            xpos = (x[j] - lo) / xdelta
            f0 = math.floor(xpos)
            fl[j] = int(f0)
            fx[j] = xpos - f0
            if fl[j] < flmin:
                flmin = fl[j]
            if fl[j] > flmax:
                flmax = fl[j]
            pos = xpos * cscale + coff
            jj = np.rint(pos)
            cj[j] = int(jj)
            f = pos - jj
            ch[j] = 0.5 * f
            cg[j] = 0.5 * f * f
        nk = 0                                 # kernel lags tabulated so far (on demand)
        for q in range(nw):
            w = W[q]
            for j in range(k):                         # R's linear binning weights
                wr[j] = w[j] * fx[j]
                wl[j] = w[j] - wr[j]
            # coarse stage: quadratic binning (node i in Y[i + _TAPS]), then the taps
            for i in range(M + 2 * _TAPS):
                Y[i] = 0.0
            for j in range(k):
                c = cj[j] + _TAPS
                wj = w[j]
                side = cg[j] * wj
                bh = ch[j] * wj
                Y[c] += wj - 2.0 * side
                Y[c - 1] += side - bh
                Y[c + 1] += side + bh
            _smooth(Y, S, M, taps)
            best = -1.0
            jm = 0
            for i in range(M):
                if S[i] > best:
                    best = S[i]
                    jm = i
            jm = min(max(jm, 2), M - 3)
            thr = (1.0 - _ETA - a2) * S[jm]
            # high runs: maximal sets of consecutive nodes >= thr (not the end nodes)
            nruns = 0
            i = 1
            while i < M - 1:
                if S[i] >= thr:
                    st = i
                    while i + 1 < M - 1 and S[i + 1] >= thr:
                        i += 1
                    if nruns < _MAXRUNS:
                        rst[nruns] = st
                        ren[nruns] = i
                    nruns += 1
                i += 1
            if nruns == 0 or nruns > _MAXRUNS:
                continue
            ok = True
            bestx = np.nan
            besty = -np.inf
            bestm = 0.0
            for u in range(nruns):
                j0, j1 = rst[u], ren[u]
                npk = 0
                jp = j0
                for jj2 in range(j0, j1 + 1):
                    if S[jj2] > S[jj2 - 1] and S[jj2] >= S[jj2 + 1]:
                        npk += 1
                    if S[jj2] > S[jp]:
                        jp = jj2
                # the run's node range: one coarse node either side
                xl = frm + (j0 - 2.5) * delta
                xh = frm + (j1 - 0.5) * delta
                ilo = max(int(math.floor((xl - lo) / xdelta)), 1)
                ihi = min(int(math.ceil((xh - lo) / xdelta)), n - 2)
                if ihi - ilo >= 2 and (ihi - ilo + 1) * k <= _RANGE_WORK:
                    # D exactly at every node of the range; its node-level local maxima
                    # are the candidates
                    need = max(ihi - flmin, flmax - ilo) + 2
                    if need >= nk:
                        nk = _kernel_table(K, nk, need, a, a2)
                    _range(K, wl, wr, fl, k, ilo, ihi, const, q2, Dr, E, G, P)
                    imax = ilo
                    for i in range(ilo, ihi + 1):
                        if not math.isfinite(Dr[i]):
                            ok = False
                        if Dr[i] > Dr[imax]:
                            imax = i
                    if not ok or imax == ilo or imax == ihi:
                        ok = False
                        break
                    # R's output maximum is next to a local maximum at least as high as
                    # the higher neighbour of the highest node: none may sit on an edge
                    bound = max(Dr[imax - 1], Dr[imax + 1])
                    if Dr[ilo] >= bound or Dr[ihi] >= bound:
                        ok = False
                        break
                    ok, bestx, besty, bestm = _run_maxima(Dr, ilo, ihi, frm, to, lo, up,
                                                          xdelta, bestx, besty, bestm)
                    if not ok:
                        break
                elif j1 - j0 + 1 <= _SHORT and npk == 1:
                    # short run: the parabola through the coarse peak predicts the node;
                    # exact 3-node windows move to where they point until a maximum
                    s0, s1, s2 = S[jp - 1], S[jp], S[jp + 1]
                    den = s0 - 2.0 * s1 + s2
                    shift = 0.5 * (s0 - s2) / den if den < 0 else 0.0
                    if not math.isfinite(shift):
                        shift = 0.0
                    shift = min(max(shift, -1.0), 1.0)
                    xp = frm + (jp - 1.5 + shift) * delta
                    i0f = np.rint((xp - lo) / xdelta)
                    if not math.isfinite(i0f):
                        i0f = n // 2
                    i0 = int(min(max(i0f, 2.0), n - 3.0))
                    settled = False
                    d0 = d1 = d2 = 0.0
                    for _ in range(_PASSES):
                        need = max(i0 + 1 - flmin, flmax + 2 - i0)
                        if need >= nk:
                            nk = _kernel_table(K, nk, need, a, a2)
                        d0, d1, d2 = _window3(K, wl, wr, fl, k, i0, const)
                        if not (math.isfinite(d0) and math.isfinite(d1) and math.isfinite(d2)):
                            break
                        if d1 > d0 and d1 >= d2:          # the (first) maximum is the middle
                            settled = True
                            break
                        jmw = 0 if (d0 >= d1 and d0 >= d2) else 2
                        den = d0 - 2.0 * d1 + d2
                        tt = 0.5 * (d0 - d2) / den if den < 0 else 0.0
                        if math.isnan(tt):
                            tt = 0.0
                        stp = int(np.rint(min(max(tt, -8.0), 8.0)))
                        stp = min(stp, -1) if jmw == 0 else max(stp, 1)
                        i0 += stp
                        if i0 < 1 or i0 > n - 2:
                            break
                        i0 = min(max(i0, 2), n - 3)
                    if not settled:
                        ok = False
                        break
                    found, cx, cy, cm = _interpolate(i0, d0, d1, d2, frm, to, lo, up, xdelta)
                    if not found:
                        ok = False
                        break
                    if cy > besty or (cy == besty and cm < bestm):
                        bestx, besty, bestm = cx, cy, cm
                else:
                    # long run over a wide range: D exactly at every node of the range by
                    # direct sums; its node-level local maxima are the candidates
                    if ihi - ilo > _MAXSPAN or ihi - ilo < 2:
                        ok = False
                        break
                    need = max(ihi - flmin, flmax - ilo) + 2
                    if need >= nk:
                        nk = _kernel_table(K, nk, need, a, a2)
                    _range(K, wl, wr, fl, k, ilo, ihi, const, q2, Dr, E, G, P)
                    for i in range(ilo, ihi + 1):
                        if not math.isfinite(Dr[i]):
                            ok = False
                    if not ok:
                        break
                    imax = ilo
                    for i in range(ilo, ihi + 1):
                        if Dr[i] > Dr[imax]:
                            imax = i
                    if imax == ilo or imax == ihi:        # rising past the range: numpy
                        ok = False
                        break
                    ok, bestx, besty, bestm = _run_maxima(Dr, ilo, ihi, frm, to, lo, up,
                                                          xdelta, bestx, besty, bestm)
                    if not ok:
                        break
            if ok:
                out[q, r] = bestx
                status[q, r] = 1
