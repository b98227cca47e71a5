r"""Ground floor: R's Gaussian kernel density estimate (``stats::density.default``, R 4.2), reproduced.

The mode-based MR estimators take the point of highest density of a weighted
kernel density estimate of the ratio estimates *on R's evaluation grid*, so
their estimates are quantised to that grid and can only be reproduced by
following R's algorithm step by step. This module does so for R 4.2.x (the
grid was changed in R 4.4.0 by the ``old.coords`` argument; TwoSampleMR's
reference run used R 4.2.2):

1. ``n = max(n, 512)``, rounded up to a power of two when larger than 512;
   ``from = min(x) - 3 bw``, ``to = max(x) + 3 bw`` (``cut = 3``),
   ``lo = from - 4 bw``, ``up = to + 4 bw``.
2. Linear binning (``C_BinDist``, ``src/library/stats/src/massdist.c``) of the
   weighted points onto ``n`` nodes spaced :math:`\delta = (up - lo)/(n - 1)`,
   in an array of length :math:`2n` whose upper half stays zero:
   a point at :math:`x_p` with :math:`x_p - lo = (i + f)\delta`, :math:`0 \le f < 1`,
   adds :math:`(1 - f) w_p` to node :math:`i` and :math:`f w_p` to node :math:`i + 1`.
3. The kernel ``dnorm(kords, sd = bw)`` on
   ``kords = seq.int(0, 2 (up - lo), length.out = 2n)`` mirrored
   (``kords[(n+2):(2n)] <- -kords[n:2]``): note that its spacing
   :math:`2(up - lo)/(2n - 1)` is *not* the binning spacing :math:`\delta`.
4. Circular convolution by FFT, ``Re(fft(fft(y) * Conj(fft(kords)), inverse =
   TRUE))[1:n] / (2n)``, clipped below at 0: the density at the nodes
   ``xords = seq.int(lo, up, length.out = n)``.
5. Linear interpolation (``approx``) onto the output grid
   ``seq.int(from, to, length.out = n.user)``.

Steps 2-5 reduce to the exact Toeplitz sum

.. math::

    D_i = \sum_{j=0}^{n-1} y_j\, \phi_{bw}\big(|i - j|\, \kappa\big), \qquad
    \kappa = \frac{2(up - lo)}{2n - 1},\quad i = 0, \dots, n - 1,

(no wrap-around occurs because ``y`` is zero-padded to length :math:`2n`), which
:func:`density_mode` evaluates directly near the mode instead of by FFT; the two
agree to rounding (~1e-16 of the peak height).

Functions
---------
:func:`density` reproduces ``density(x, weights = w, bw = bw)`` (``x`` and ``y`` of
the result). :func:`density_mode` returns ``density(...)$x[which.max(...$y)]`` for
many samples at once, the kernel of TwoSampleMR's ``mr_mode``.

Floating-point fidelity: ``seq.int``, ``BinDist``, ``dnorm`` and ``approx`` are
reproduced operation by operation (same operation order, no fused multiply-add),
so grids and binned masses are bit-identical to R's. The FFT is numpy's
pocketfft, not R's Singleton mixed-radix code, and numpy's vectorised ``exp`` may
differ from the C library's in the last bit, so densities differ from R's in
the last bits (~1e-16 relative to the maximum). The location of the maximum can
therefore differ from R's only when two grid values tie to ~1e-15 relative,
which happens for exactly symmetric data (e.g. two points with equal weights)
and with probability ~1e-12 otherwise.

References
----------
R Core Team. ``density.default`` in ``src/library/stats/R/density.R``,
``BinDist`` in ``src/library/stats/src/massdist.c``, ``dnorm4`` in
``src/nmath/dnorm.c``, ``approx1`` in ``src/library/stats/src/approx.c`` and
``do_seq`` in ``src/main/seq.c``, R 4.2.2.

Silverman BW (1986). *Density Estimation for Statistics and Data Analysis*.
Chapman & Hall (section 3.5: linear binning and FFT evaluation).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from .jit import jit_kernel

__all__ = ["DensityBatch", "density", "density_mode", "density_modes", "r_seq", "bindist", "dnorm",
           "approx", "keep_heap", "jit_kernel"]

#: ``M_1_SQRT_2PI`` of R's ``Rmath.h``.
M_1_SQRT_2PI = 0.398942280401432677939946059934
#: dnorm4 underflow cut: ``sqrt(-2 * M_LN2 * (DBL_MIN_EXP + 1 - DBL_MANT_DIG))``.
_DNORM_CUT = math.sqrt(-2.0 * math.log(2.0) * (-1021 + 1 - 53))


# ----------------------------------------------------------------------------
# R primitives
# ----------------------------------------------------------------------------

def _shaped(a, shape: tuple) -> np.ndarray:
    """``a`` as a float array of ``shape``: itself when it has that shape, else broadcast.

    (``np.broadcast_to`` costs a few microseconds even when nothing is to be done.)
    """
    a = np.asarray(a, dtype=float)
    return a if a.shape == shape else np.broadcast_to(a, shape)


def r_seq(start, stop, n: int) -> np.ndarray:
    """R's ``seq.int(from, to, length.out = n)`` (``do_seq`` in ``src/main/seq.c``).

    The first element is ``from``, the last is ``to`` exactly, and element
    ``i`` in between is ``from + i * by`` with ``by = (to - from)/(n - 1)``.

    Parameters
    ----------
    start, stop : float or ndarray
        ``from`` and ``to``; arrays of the same shape give one sequence per
        element (stacked along a new last axis).
    n : int
        ``length.out``.

    Returns
    -------
    ndarray
        Shape ``np.shape(start) + (n,)``.

    Examples
    --------
    >>> r_seq(0.0, 1.0, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    start = np.asarray(start, dtype=float)
    stop = np.asarray(stop, dtype=float)
    out = np.empty(start.shape + (n,))
    if n > 0:
        out[..., 0] = start
    if n > 1:
        out[..., n - 1] = stop
    if n > 2:
        by = (stop - start) / float(n - 1)
        i = np.arange(1, n - 1, dtype=float)
        out[..., 1:n - 1] = start[..., None] + i * by[..., None]
    return out


def bindist(x, w, lo, up, n: int) -> np.ndarray:
    """R's ``C_BinDist``: linear binning of weighted points, padded to length ``2n``.

    Parameters
    ----------
    x, w : array_like, shape (k,) or (m, k)
        Points and their weights (one row per sample for 2-d input).
    lo, up : float or array_like, shape (m,)
        The end nodes of the ``n`` bins.
    n : int
        Number of nodes; the result has ``2 n`` entries, the upper half zero.

    Returns
    -------
    ndarray, shape (2n,) or (m, 2n)

    Notes
    -----
    With :math:`\\delta = (up - lo)/(n - 1)`, ``xpos = (x - lo)/delta``,
    ``ix = floor(xpos)``, ``fx = xpos - ix``: node ``ix`` gets ``(1 - fx) w`` and node
    ``ix + 1`` gets ``fx w`` when ``0 <= ix <= n - 2``; a point with ``ix == -1`` only
    adds ``fx w`` to node 0 and one with ``ix == n - 1`` only ``(1 - fx) w`` to node
    ``n - 1``. Masses are accumulated in the C loop's order (point by point, left
    node before right node), so sums are bit-identical to R's.
    """
    x = np.asarray(x, dtype=float)
    one = x.ndim == 1
    x2 = np.atleast_2d(x)
    m, k = x2.shape
    w2 = _shaped(w, x2.shape)
    lo = _shaped(lo, (m,))[:, None]
    up = _shaped(up, (m,))[:, None]
    xdelta = (up - lo) / float(n - 1)
    finite = np.isfinite(x2)
    xpos = (np.where(finite, x2, 0.0) - lo) / xdelta
    fl = np.floor(xpos)
    ok = finite & (fl >= -1) & (fl <= n - 1)
    ix = np.where(ok, fl, 0).astype(np.int64)
    fx = xpos - fl
    left = (1.0 - fx) * w2
    right = fx * w2
    inner = ok & (ix <= n - 2) & (ix >= 0)
    # (left index, left mass, right index, right mass) in the C loop's order
    li = np.where(inner | (ok & (ix == n - 1)), ix, 0)
    lm = np.where(inner | (ok & (ix == n - 1)), left, 0.0)
    ri = np.where(inner, ix + 1, 0)
    rm = np.where(inner, right, np.where(ok & (ix == -1), right, 0.0))
    idx = np.stack([li, ri], axis=2).reshape(m, 2 * k)
    mass = np.stack([lm, rm], axis=2).reshape(m, 2 * k)
    flat = (idx + (2 * n) * np.arange(m)[:, None]).ravel()
    y = np.bincount(flat, weights=mass.ravel(), minlength=2 * n * m).reshape(m, 2 * n)
    return y[0] if one else y


def dnorm(x, sd) -> np.ndarray:
    """R's ``dnorm(x, mean = 0, sd)`` (``dnorm4`` of ``src/nmath/dnorm.c``), vectorised.

    Uses :math:`\\phi(z)/\\sigma` with :math:`z = |x|/\\sigma`, computed as
    ``M_1_SQRT_2PI * exp(-0.5 * z * z) / sd`` for :math:`z < 5` and, for larger
    :math:`z`, with the split :math:`z = z_1 + z_2`, :math:`z_1` rounded to a multiple of
    :math:`2^{-16}`, as R does for full accuracy (0 beyond :math:`z \\approx 38.6`).
    """
    x = np.asarray(x, dtype=float)
    sd = np.asarray(sd, dtype=float)
    z = np.abs(x / sd)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        small = M_1_SQRT_2PI * np.exp(-0.5 * z * z) / sd
        z1 = np.ldexp(np.rint(np.ldexp(z, 16)), -16)
        z2 = z - z1
        big = M_1_SQRT_2PI / sd * (np.exp(-0.5 * z1 * z1) * np.exp((-0.5 * z2 - z1) * z2))
    out = np.where(z < 5, small, np.where(z > _DNORM_CUT, 0.0, big))
    return out


def approx(xp, yp, xout) -> np.ndarray:
    """R's ``approx(xp, yp, xout)$y`` for sorted, distinct ``xp`` (``approx1`` in C).

    Linear interpolation ``y[i] + (y[j] - y[i]) * ((v - x[i])/(x[j] - x[i]))``
    on the interval found by bisection, returning ``y`` exactly at nodes and NaN
    outside ``[xp[0], xp[-1]]`` (``rule = 1``). Works row-wise on 2-d inputs; ``xp``
    and ``xout`` may have one row for all rows of ``yp`` (the intervals are then
    found once).
    """
    xp = np.atleast_2d(np.asarray(xp, dtype=float))
    yp = np.atleast_2d(np.asarray(yp, dtype=float))
    xo = np.asarray(xout, dtype=float)
    one = xo.ndim == 1 and yp.shape[0] == 1
    xo = np.atleast_2d(xo)
    mx, n = xp.shape
    # bisection in C ends with x[i] <= v < x[j] (or v == x[n-1] with i = n-2)
    i = np.empty(xo.shape, dtype=np.int64)
    for r in range(mx):
        i[r] = np.searchsorted(xp[r], xo[r], side="right") - 1
    np.maximum(i, 0, out=i)
    np.minimum(i, n - 2, out=i)
    j = i + 1
    rows = np.arange(mx)[:, None]
    xi, xj = xp[rows, i], xp[rows, j]
    rows = np.arange(yp.shape[0])[:, None]
    yi, yj = yp[rows, i], yp[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = yi + (yj - yi) * ((xo - xi) / (xj - xi))
    out = np.where(xo == xj, yj, np.where(xo == xi, yi, out))
    out = np.where((xo < xp[:, :1]) | (xo > xp[:, -1:]), np.nan, out)
    return out[0] if one else out


# ----------------------------------------------------------------------------
# density.default
# ----------------------------------------------------------------------------

def _internal_n(n: int) -> int:
    n_int = max(int(n), 512)
    if n_int > 512:
        n_int = 2 ** math.ceil(math.log2(n_int))
    return n_int


def _density_rows(X, W, H, n_user: int = 512):
    """Exact R density per row; returns the x grids (a row per row of ``X``) and y (m, n_user).

    Row ``r`` is ``density(X[r], weights = W[r], bw = H[r])``; ``X`` (1, k) and ``H``
    (1,) with ``W`` (m, k) are one sample weighted m ways, whose grids, kernel and
    kernel transform are computed once (numpy's FFT transforms the rows of a
    batch independently: the same numbers as one at a time).
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    mx = X.shape[0]
    W = np.atleast_2d(np.asarray(W, dtype=float))
    m = max(mx, W.shape[0])
    H = _shaped(H, (mx,))
    n = _internal_n(n_user)
    frm = X.min(axis=1) - 3.0 * H
    to = X.max(axis=1) + 3.0 * H
    lo = frm - 4.0 * H
    up = to + 4.0 * H
    if mx < m:                                  # one sample weighted m ways
        y = bindist(np.repeat(X, m, axis=0), W, np.repeat(lo, m), np.repeat(up, m), n)
    else:
        y = bindist(X, W, lo, up, n)
    kords = r_seq(np.zeros(mx), 2.0 * (up - lo), 2 * n)
    kords[:, n + 1:] = -kords[:, n - 1:0:-1]
    kern = dnorm(kords, H[:, None])
    conv = np.fft.irfft(np.fft.rfft(y, axis=1) * np.conj(np.fft.rfft(kern, axis=1)),
                        n=2 * n, axis=1)
    dens = np.maximum(0.0, conv[:, :n])
    xords = r_seq(lo, up, n)
    xgrid = r_seq(frm, to, n_user)
    return xgrid, approx(xords, dens, xgrid)


def density(x, weights=None, bw: float = 1.0, n: int = 512):
    """R 4.2's ``density(x, weights = weights, bw = bw, n = n)``, Gaussian kernel.

    Parameters
    ----------
    x : array_like, shape (k,)
        Finite data points.
    weights : array_like, shape (k,), optional
        Non-negative weights (R expects them to sum to 1 for a proper density);
        ``None`` gives ``1/k`` each.
    bw : float
        The kernel standard deviation (``bw``, already multiplied by ``adjust``).
    n : int
        Number of output grid points (``n``); internally at least 512.

    Returns
    -------
    x : ndarray, shape (n,)
        ``seq(min(x) - 3 bw, max(x) + 3 bw, length.out = n)``.
    y : ndarray, shape (n,)
        The density estimate on that grid.

    Examples
    --------
    >>> gx, gy = density([0.0, 1.0], bw=1.0)
    >>> float(gx[0]), float(gx[-1]), len(gx)
    (-3.0, 4.0, 512)
    >>> int(np.argmax(gy)) in (255, 256)          # symmetric about 0.5
    True
    """
    x = np.asarray(x, dtype=float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("density: x must be non-empty and finite")
    if not (np.isfinite(bw) and bw > 0):
        raise ValueError("density: 'bw' must be positive and finite")
    if weights is None:
        w = np.full(x.size, 1.0 / x.size)
    else:
        w = np.asarray(weights, dtype=float).ravel()
    if w.shape != x.shape:
        raise ValueError("density: 'x' and 'weights' have unequal length")
    gx, gy = _density_rows(x[None, :], w[None, :], np.array([float(bw)]), n)
    return gx[0], gy[0]


# ----------------------------------------------------------------------------
# The mode of the density, many samples at once
# ----------------------------------------------------------------------------

def _mode_exact(X, W, H) -> np.ndarray:
    """``density(x, weights, bw)$x[which.max(y)]`` per row of ``W`` by R's full FFT algorithm.

    ``X`` and ``H`` have a row per row of ``W``, or one (one sample weighted
    several ways, see :func:`_density_rows`).
    """
    out = np.full(W.shape[0], np.nan)
    ok = np.isfinite(X).all(axis=1) & np.isfinite(W).all(axis=1) & np.isfinite(H) & (H > 0)
    idx = np.nonzero(ok)[0]                     # R stops on non-finite weights: NaN here
    one = X.shape[0] == 1
    step = 512  # bounded memory
    for s in range(0, idx.size, step):
        ii = idx[s:s + step]
        gx, gy = _density_rows(X if one else X[ii], W[ii], H if one else H[ii])
        out[ii] = gx[np.arange(gy.shape[0]) % gx.shape[0], np.argmax(gy, axis=1)]
    return out


_N = 512               # R's internal grid (n = 512)
_C = 2.0               # coarse grid spacing = bandwidth / _C
_TAPS = 9              # coarse smoothing kernel half-width in nodes (4.5 bandwidths)
_BLOCKS = (96, 160, 256, 416, 672, 1100)   # coarse grid lengths processed together
#: high coarse nodes: density >= (1 - eta - a^2) * the highest; the 1/32 allows for a
#: narrow peak between two coarse nodes, which read it up to 3.1 % low (with 0.024
#: alone, 6 of 1.2 million validation densities settled on a lower maximum)
_ETA = 0.024 + 1.0 / 32.0
_SHORT = 3             # runs of at most this many coarse nodes with one peak: settle
_MAXRUNS = 4           # at most this many high runs per row
_PASSES = 12           # hill-climbing steps before falling back to the FFT
_A_MAX = 1.0           # kernel spacing / bw above which the FFT is used
_AU_MAX = 15.0         # dense windows: at most this many bandwidths either side
_NEGLIGIBLE = 38.0     # kernel terms beyond this many bandwidths are < e^-722
_UBUCKETS = np.array([2, 4, 8, 12, 16, 24, 32, 48, 64])   # dense window half-widths
_AS = 0.25             # long runs: exact samples every floor(_AS / a) nodes
_MAXCLIMB = 32         # at most this many candidate nodes per long run
_SPANBUCKETS = np.array([1, 2, 3, 4, 6, 8, 12, 16])   # candidate-range window half-widths
_WINDOW_ROWS = 64      # exact windows: rows per block, at least ...
_WINDOW_ELEMENTS = 20000     # ... or as many as hold this many (row, point) pairs


def _lagrange8_table(smax: int = 16) -> np.ndarray:
    """``T[s, r, j]``: weight of node ``j - 3`` in 8-point Lagrange interpolation at ``r/s``.

    Nodes -3..4; ``r = 0`` gives the node itself; entries with ``r >= s`` are unused.
    """
    nodes = np.arange(-3, 5, dtype=float)
    T = np.zeros((smax + 1, smax, 8))
    for s_ in range(1, smax + 1):
        rho = np.arange(smax, dtype=float) / s_
        for j in range(8):
            others = np.delete(nodes, j)
            T[s_, :, j] = np.prod((rho[:, None] - others) / (nodes[j] - others), axis=1)
    return T


_LAGRANGE8 = _lagrange8_table()

#: the coarse smoothing kernel: a Gaussian of one bandwidth on the coarse grid
_TAPS32 = np.exp(-0.5 * (np.arange(-_TAPS, _TAPS + 1, dtype=float) / _C) ** 2).astype(np.float32)
_KERNELS: dict = {}
_HEAP_KEPT = False


def keep_heap() -> None:
    """Let the C allocator keep a bootstrap's working memory for the next call.

    A bootstrap of 1000 replicates needs a few MiB of temporaries. glibc's
    ``malloc`` gives freed memory at the top of the heap back to the system as
    soon as more than ``M_TRIM_THRESHOLD`` bytes are free there (128 KiB, or twice
    the largest ``mmap()``-ed block freed so far), so every call would have the
    kernel map and zero those pages again: about 2000 page faults, 5-10 ms per
    call on the project's machine. Freeing one 16 MiB block once raises glibc's
    dynamic thresholds (``mallopt(3)``: the mmap threshold follows the size of a
    freed mmap()-ed block, the trim threshold is twice that), after which the
    memory is reused. The block is never touched; other allocators ignore this.
    Called once per process by the bootstrap estimators.
    """
    global _HEAP_KEPT
    if not _HEAP_KEPT:
        _HEAP_KEPT = True
        np.empty(1 << 21)


def _coarse_kernel(M: int):
    """The banded Toeplitz matrix of :data:`_TAPS32` (``M`` x ``M``, sparse CSR).

    ``T @ y`` equals ``convolve1d(y, _TAPS32, axis=0, mode="constant")`` (up to float32
    rounding). A sparse product: no BLAS call, whose threads only cost time here
    (on a busy 2-core machine a threaded product of this size can take 100 times
    longer than the serial one). Cached per size; sizes are multiples of 16.
    """
    T = _KERNELS.get(M)
    if T is None:
        # CSR by hand: row i holds columns max(0, i - _TAPS) .. min(M - 1, i + _TAPS)
        cols = np.arange(M)[:, None] + np.arange(-_TAPS, _TAPS + 1)[None, :]
        inside = (cols >= 0) & (cols < M)
        data = np.broadcast_to(_TAPS32, cols.shape)[inside]
        indptr = np.concatenate([[0], np.cumsum(inside.sum(axis=1))])
        T = sparse.csr_matrix((data, cols[inside], indptr), shape=(M, M))
        _KERNELS[M] = T
    return T


class DensityBatch:
    r"""Samples prepared for :meth:`mode`, the fast exact mode of R's ``density()``.

    ``DensityBatch(X, H).mode(W)`` equals ``density_mode(X, W, H)``. Preparing once
    lets several weightings of the same samples (simple, weighted and penalised
    mode) share the grids, the binning positions and the coarse-grid layout.

    Parameters
    ----------
    X : array_like, shape (m, k)
        Finite samples, one per row.
    H : array_like, shape (m,)
        Bandwidths (> 0).
    xmin, xmax : array_like, shape (m,), optional
        The row minima and maxima, when the caller has them.

    Notes
    -----
    R's binned density at node :math:`i` of ``xords`` is the Toeplitz sum
    :math:`D_i` of the module docstring; in node units its kernel has standard
    deviation :math:`1/a`, :math:`a = \kappa/h` (kernel spacing over bandwidth), and
    in data units :math:`h' = h\delta/\kappa`. For each row and weighting:

    1. *Coarse stage* (:meth:`_runs`). The points are linearly binned on a grid of
       spacing :math:`h'/2` and smoothed by a Gaussian of :math:`h'` (3.5
       bandwidths either side; a sparse banded matrix product, ``convolve1d``
       for grids longer than 160 nodes). This
       approximates :math:`D` to ~1.5 % of its maximum (plus :math:`a^2/8`, the
       binning roughness of :math:`D` itself), so R's maximum lies in a *high
       run*, a maximal set of consecutive coarse nodes with values at least
       :math:`1 - 0.06 - a^2/4` of the row's coarse maximum.
    2. *Short runs* (at most three coarse nodes, one coarse peak): a parabola
       through the coarse peak predicts the node of the maximum to within one
       node in 99 % of rows.
    3. *Long runs* (flat tops, several peaks close together; :meth:`_dense`):
       :math:`D` is computed exactly every :math:`s \approx 0.25/a` nodes over the
       run and interpolated in between with a rigorous error bound; every node
       that may exceed the higher neighbour of the highest node is a candidate,
       and :math:`D` is computed exactly from the first candidate's left
       neighbour to the last one's right neighbour (:meth:`_span`).
    4. *Climb* (:meth:`_climb`, :meth:`_window`): for short runs (and long runs
       whose exact window peaks at its edge), :math:`D` is computed exactly at the
       predicted node and two neighbours either side, moving uphill until a node
       is higher than both neighbours.
    5. *Output grid* (:meth:`_interpolate`). ``which.max`` of R's interpolated
       output lies in an interval next to a node-level local maximum of
       :math:`D` (elsewhere interpolation is dominated by a neighbouring
       interval); the output points in the two intervals adjacent to each local
       maximum found are interpolated as ``approx`` does, and the highest (the
       first on ties) wins.

    Rows it cannot handle (kernel spacing above the bandwidth, a coarse grid
    longer than 1100 nodes, more than four high runs, a run wider than 15
    bandwidths, too many candidates, a climb that does not settle) use R's
    FFT algorithm (:func:`_mode_exact`).
    """

    def __init__(self, X, H, *, xmin=None, xmax=None):
        X = np.ascontiguousarray(np.atleast_2d(np.asarray(X, dtype=float)))
        m, k = X.shape
        H = np.ascontiguousarray(np.broadcast_to(np.asarray(H, dtype=float), (m,)))
        self.X, self.H, self.m, self.k = X, H, m, k
        n = _N
        xmin = X.min(axis=1) if xmin is None else np.asarray(xmin, dtype=float)
        xmax = X.max(axis=1) if xmax is None else np.asarray(xmax, dtype=float)
        frm = xmin - 3.0 * H
        to = xmax + 3.0 * H
        lo = frm - 4.0 * H
        up = to + 4.0 * H
        xdelta = (up - lo) / float(n - 1)                 # BinDist and xords spacing
        kspace = (2.0 * (up - lo)) / float(2 * n - 1)     # kords spacing
        a = kspace / H
        self.frm, self.to, self.lo, self.up, self.xdelta = frm, to, lo, up, xdelta
        self.a = a
        self.a2 = a * a
        self.const = M_1_SQRT_2PI / H
        self.hp = H * xdelta / kspace                      # bandwidth of D in x units
        xpos = X - lo[:, None]
        xpos /= xdelta[:, None]                            # BinDist's xpos, exactly
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            ok = (a <= _A_MAX) & (H > 0) & np.isfinite(xdelta) & (xdelta > 0) & \
                (np.floor((xmin - lo) / xdelta) >= 0) & (np.floor((xmax - lo) / xdelta) <= n - 2)
            delta = self.hp / _C
            M = np.ceil((to - frm) / delta) + 4.0
            # coarse position (x - from) / delta + 1.5 from xpos (the coarse stage is approximate)
            cscale = xdelta / delta
            coff = (lo - frm) / delta + 1.5
        ok &= M <= _BLOCKS[-1]
        self.bad = ~ok
        self.fl = np.floor(xpos)
        self.fx = xpos - self.fl
        self.blocks = []
        # one block for grids up to twice the median length (padding costs less than a
        # block), longer grids in blocks of their own
        Mok = M[ok]
        cap0 = 16 * int(np.ceil(2.0 * np.median(Mok) / 16)) if Mok.size else 0
        prev = 0.0
        for cap in [cap0] + [c for c in _BLOCKS if c > cap0]:
            sel = np.nonzero(ok & (M > prev) & (M <= cap))[0]
            prev = cap
            if sel.size == 0:
                continue
            Mmax = 16 * int(np.ceil(M[sel].max() / 16))
            nr = sel.size
            allrows = nr == m
            # coarse position of every point, row-major: node j of row r at r * Mmax + j
            pos = (xpos if allrows else xpos[sel]) * (cscale if allrows else cscale[sel])[:, None]
            pos += ((coff if allrows else coff[sel]) +
                    np.arange(nr, dtype=float) * Mmax)[:, None]
            j = np.rint(pos)
            h = np.subtract(pos, j, out=pos)               # offset f from node j
            g = h * h
            g *= 0.5                                       # f^2 / 2
            h *= 0.5                                       # f / 2
            self.blocks.append((sel, Mmax, j.astype(np.intp).ravel(), h.ravel(), g.ravel(),
                                frm[sel], delta[sel], _coarse_kernel(Mmax)))

    def _wrows(self, W, rows):
        return W[rows] if W.shape[0] > 1 else W

    # -- stage 1: the coarse density ---------------------------------------------------
    def _coarse(self, W, block, uniform):
        r"""The coarse density of one block, node-major: ``S[j, r]`` (float32).

        Quadratic binning: a point at offset :math:`f` (:math:`|f| \le 1/2`) from its
        nearest coarse node :math:`j` gives node :math:`j` the mass
        :math:`(1 - f^2 - s)w` and nodes :math:`j \mp 1` the masses
        :math:`((f^2 \mp f)/2 + s/2)w`, which keeps its mass, mean and variance
        (plus the variance :math:`s` that R's own binning adds); the binned masses
        are smoothed with the Gaussian of :data:`_TAPS32`. The error is of third
        order in the grid spacing (below 0.4 % of the maximum on the validation
        data sets).
        """
        sel, Mmax, cidx, h, g, _, _, T = block
        nr = sel.size
        size = nr * Mmax
        if uniform:                                            # W[0, 0] applied to S
            b0 = np.bincount(cidx, minlength=size)
            bh = np.bincount(cidx, weights=h, minlength=size)
            side = np.bincount(cidx, weights=g, minlength=size)
        else:
            Ws = np.broadcast_to(self._wrows(W, sel), (nr, self.k)).ravel()
            b0 = np.bincount(cidx, weights=Ws, minlength=size)
            wv = h * Ws
            bh = np.bincount(cidx, weights=wv, minlength=size)
            np.multiply(g, Ws, out=wv)
            side = np.bincount(cidx, weights=wv, minlength=size)
        # per node: b0 = sum of w, bh = sum of w f / 2, side = sum of w f^2 / 2; node j
        # keeps b0 - 2 side, nodes j -/+ 1 get side -/+ bh
        Y = np.multiply(side, -2.0)
        Y += b0
        b0 = np.subtract(side, bh, out=b0 if not uniform else None)   # to node j - 1
        side += bh                                                    # to node j + 1
        Y[:-1] += b0[1:]            # rows meet at nodes 0 and Mmax - 1, which get nothing
        Y[1:] += side[:-1]
        S = T @ Y.reshape(nr, Mmax).T.astype(np.float32, order="C")     # node-major
        if uniform:
            S *= np.float32(W[0, 0])
        return S

    def _runs(self, W):
        """High runs per row: (rows, short?, predicted x, node range lo/hi) and bad rows.

        A row whose high coarse nodes form one run of at most :data:`_SHORT` nodes with
        one coarse peak (nearly every row) gets a short run, its node predicted by a
        parabola through the coarse peak; every other row goes through
        :meth:`_run_list`.
        """
        out = {"rows": [], "short": [], "x": [], "ilo": [], "ihi": []}
        bad = self.bad.copy()
        uniform = W.shape[0] == 1 and bool(np.all(W == W[0, 0]))
        for block in self.blocks:
            sel, Mmax, _, _, _, frm, delta, _ = block
            nr = sel.size
            S = self._coarse(W, block, uniform)
            ar = np.arange(nr)
            jm = np.clip(np.argmax(S, axis=0), 2, Mmax - 3)
            s1 = S[jm, ar]
            thr = (1.0 - _ETA - self.a2[sel]).astype(np.float32) * s1
            hi = S >= thr
            cnt = np.count_nonzero(hi, axis=0)
            s0 = S[jm - 1, ar]
            s2 = S[jm + 1, ar]
            # the high nodes are the peak and (some of) its two neighbours: one short run
            simple = cnt == 1 + (s0 >= thr) + (s2 >= thr)
            cs = np.nonzero(simple)[0]
            if cs.size:
                if cs.size < nr:
                    s0, s1, s2, jp = s0[cs], s1[cs], s2[cs], jm[cs]
                else:
                    jp = jm
                s0, s1, s2 = (v.astype(float) for v in (s0, s1, s2))
                den = s0 - 2.0 * s1 + s2
                with np.errstate(divide="ignore", invalid="ignore"):
                    shift = np.clip(np.where(den < 0, 0.5 * (s0 - s2) / den, 0.0), -1.0, 1.0)
                out["rows"].append(sel[cs])
                out["short"].append(np.ones(cs.size, dtype=bool))
                out["x"].append(frm[cs] + (jp - 1.5 + shift) * delta[cs])
                z = np.zeros(cs.size)
                out["ilo"].append(z)
                out["ihi"].append(z)
            if cs.size < nr:
                co = np.nonzero(~simple)[0]
                self._run_list(S[:, co], thr[co], sel[co], frm[co], delta[co], bad, out)
        if not out["rows"]:
            z = np.zeros(0)
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=bool), z, z, z, bad
        return (*(np.concatenate(out[key]) for key in ("rows", "short", "x", "ilo", "ihi")), bad)

    def _run_list(self, S, thr, rows, frm, delta, bad, out):
        """Every high run of the rows (columns) of ``S``, appended to ``out``."""
        Mmax, nr = S.shape
        hi = S >= thr
        hi[0] = False
        hi[-1] = False
        edge = np.diff(hi.view(np.int8), axis=0)           # edge[j] = hi[j+1] - hi[j]
        # run edges in row-major order: start (edge +1 at j: run from j + 1) and end
        # (edge -1 at j: run to j) alternate in every row
        je, re = np.divmod(np.flatnonzero(edge != 0), nr)
        order = np.argsort(re * Mmax + je)
        je, re = je[order], re[order]
        r_st, j_st, j_en = re[0::2], je[0::2] + 1, je[1::2]
        nruns = np.bincount(r_st, minlength=nr)
        nb = nruns > _MAXRUNS
        ln = j_en - j_st + 1
        # the peak of a run's first _SHORT nodes, and whether it is the run's only
        # coarse local maximum (short runs: at most _SHORT nodes)
        span = np.arange(_SHORT)[:, None]
        jj = np.minimum(j_st[None, :] + span, j_en[None, :])   # (_SHORT, nruns)
        Sj = S[jj, r_st[None, :]]
        Sl = S[jj - 1, r_st[None, :]]
        Sr = S[jj + 1, r_st[None, :]]
        inrun = span < ln[None, :]
        pk = (Sj > Sl) & (Sj >= Sr) & inrun
        short = (ln <= _SHORT) & (np.count_nonzero(pk, axis=0) == 1)
        ar = np.arange(r_st.size)
        jp = jj[np.argmax(Sj, axis=0), ar]
        jp = np.clip(jp, 1, Mmax - 2)
        s0, s1, s2 = S[jp - 1, r_st], S[jp, r_st], S[jp + 1, r_st]
        s0, s1, s2 = (v.astype(float) for v in (s0, s1, s2))
        den = s0 - 2.0 * s1 + s2
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.clip(np.where(den < 0, 0.5 * (s0 - s2) / den, 0.0), -1.0, 1.0)
        rr = rows[r_st]
        xpk = frm[r_st] + (jp - 1.5 + shift) * delta[r_st]
        # node range of a long run: one coarse node either side
        xl = frm[r_st] + (j_st - 2.5) * delta[r_st]
        xh = frm[r_st] + (j_en - 0.5) * delta[r_st]
        lo, xd = self.lo[rr], self.xdelta[rr]
        keep = ~nb[r_st]
        bad[rows[nb]] = True
        out["rows"].append(rr[keep])
        out["short"].append(short[keep])
        out["x"].append(xpk[keep])
        out["ilo"].append(np.floor((xl - lo) / xd)[keep])
        out["ihi"].append(np.ceil((xh - lo) / xd)[keep])

    # -- stage 2: R's binned density exactly ------------------------------------------
    def _window3(self, W, rows, i0):
        r"""Exact :math:`D_{i_0-1}, D_{i_0}, D_{i_0+1}` for (row, i0) pairs, shape (rows, 3).

        :meth:`_window` with ``U = 1`` in fewer passes: with :math:`A = w(1-f)E`,
        :math:`B = wfE` and :math:`R = e^{a^2v}`, the three values are
        :math:`c[q\sum A/R + q^4\sum B/R^2]`, :math:`c[\sum A + q\sum B/R]` and
        :math:`c[q\sum AR + \sum B]`, :math:`q = e^{-a^2/2}`. The exponent of
        :math:`E` is cut at -700 (no subnormal numbers, which numpy's vectorised
        ``exp`` computes 100 times more slowly); a term changed by the cut is below
        :math:`e^{-700 + a^2 \cdot 511} \le e^{-189}` of its weight.
        """
        nr = rows.size
        out = np.empty((nr, 3))
        if nr == 0:
            return out
        step = max(_WINDOW_ROWS, _WINDOW_ELEMENTS // max(1, self.k))
        uniform = W.shape[0] == 1 and bool(np.all(W == W[0, 0]))
        contiguous = bool(rows[-1] - rows[0] == nr - 1 and np.all(rows[1:] > rows[:-1]))
        # the cut matters only where a |v| can exceed 37 (|v| <= max(i0, 511 - i0))
        far = self.a[rows] * np.maximum(i0, _N - 1 - i0) > 37.0
        i0f = i0.astype(float)
        n0 = min(step, nr)
        buf = np.empty((4, n0, self.k))                   # v, t and A, B: reused per block
        for b in range(0, nr, step):
            e = min(nr, b + step)
            n = e - b
            r = slice(int(rows[b]), int(rows[b]) + n) if contiguous else rows[b:e]
            v, t, AB = buf[0, :n], buf[1, :n], buf[2:, :n]
            A, B = AB[0], AB[1]
            a2 = self.a2[r]
            np.subtract(self.fl[r], i0f[b:e, None], out=v)
            np.multiply(v, (-0.5 * a2)[:, None], out=t)     # -a^2 v / 2
            np.multiply(t, v, out=A)
            if far[b:e].any():
                np.maximum(A, -700.0, out=A)
            np.exp(A, out=A)                                 # e^{-a^2 v^2 / 2}
            if not uniform:
                A *= W if W.shape[0] == 1 else W[r]
            np.multiply(A, self.fx[r], out=B)
            A -= B
            t += t
            Ri = np.exp(t, out=t)                            # e^{-a^2 v}
            s0 = np.einsum("sij->si", AB)                    # sum A, sum B
            s1 = np.einsum("sij,ij->si", AB, Ri)             # sum A/R, sum B/R
            R = np.reciprocal(Ri, out=v)                     # e^{a^2 v}
            sAp = np.einsum("ij,ij->i", A, R)
            if far[b:e].any():
                # e^{-2 a^2 v} overflows where -2 a^2 v > 709 (a far point, a near 1): the
                # value at i0 - 1 becomes inf or NaN and _settle hands the row to the FFT
                with np.errstate(over="ignore", invalid="ignore"):
                    Ri *= Ri
                    sBm = np.einsum("ij,ij->i", B, Ri)       # sum B/R^2
            else:
                Ri *= Ri
                sBm = np.einsum("ij,ij->i", B, Ri)           # sum B/R^2
            q = np.exp(-0.5 * a2)
            q4 = np.exp(-2.0 * a2)
            c = self.const[r] * W[0, 0] if uniform else self.const[r]
            o = out[b:e]
            o[:, 0] = c * (q * s1[0] + q4 * sBm)
            o[:, 1] = c * (s0[0] + q * s1[1])
            o[:, 2] = c * (q * sAp + s0[1])
        return out

    # -- stage 2: R's binned density exactly, at nodes i0 - U ... i0 + U --------------
    def _window(self, W, rows, i0, U: int, s: int = 1):
        r"""Exact :math:`D_{i_0+su}`, :math:`|u| \le U`, for (row, i0) pairs (stride ``s``).

        A point binned to nodes :math:`i_0 + v` and :math:`i_0 + v + 1` with fraction
        :math:`f` and weight :math:`w` contributes
        :math:`c\,w[(1-f)e^{-a^2(j-v)^2/2} + f e^{-a^2(j-v-1)^2/2}]` to node
        :math:`i_0 + j`, :math:`c = 1/(\sqrt{2\pi}h)`: the kernel values
        ``dnorm(L * kappa, sd = h)``. With :math:`E = e^{-a^2v^2/2}`,
        :math:`R = e^{a^2v}`, :math:`q = e^{-a^2/2}` and :math:`j = su`,

        .. math::

            D_{i_0+j} = c\Big[q^{j^2} \sum_p A_p R_p^{su}
                + q^{(j-1)^2} \sum_p B_p R_p^{su}\Big],\quad
            A = w(1-f)E,\ B = wfE/R,

        a few exponentials per point whatever :math:`U`. Points more than
        :math:`38 + asU` bandwidths away contribute below :math:`e^{-722}` and are
        dropped when a power could overflow (:math:`asU \le 15` is required). A
        kept point can still overflow a power :math:`R^{su}` (:math:`a` near 1, a wide
        window: :math:`(38 + 15) \cdot 15 > 709`); its row's values are then inf or
        NaN, and the callers hand such rows to R's FFT algorithm.
        """
        nr = rows.size
        step = max(_WINDOW_ROWS, _WINDOW_ELEMENTS // max(1, self.k))
        with np.errstate(over="ignore", invalid="ignore"):
            if nr <= step:
                return self._window_block(W, rows, i0, U, s)
            # blocks of rows keep the temporaries in the CPU cache (about twice as fast
            # as one pass over a thousand rows); every row's arithmetic is the same
            out = np.empty((nr, 2 * U + 1))
            sv = np.broadcast_to(np.asarray(s), (nr,))
            for b in range(0, nr, step):
                sl = slice(b, b + step)
                out[sl] = self._window_block(W, rows[sl], i0[sl], U, sv[sl])
            return out

    def _window_block(self, W, rows, i0, U: int, s=1):
        """:meth:`_window` for one block of rows."""
        nr = rows.size
        allrows = nr == self.m and self._identity(rows)
        if not allrows and nr > 1 and rows[-1] - rows[0] == nr - 1 and \
                bool(np.all(rows[1:] > rows[:-1])):
            rows = slice(int(rows[0]), int(rows[0]) + nr)    # consecutive rows: views
        a2 = self.a2 if allrows else self.a2[rows]
        v = (self.fl if allrows else self.fl[rows]) - i0[:, None].astype(float)
        th = v * (-0.5 * a2)[:, None]                    # -a^2 v / 2
        E = th * v
        np.exp(E, out=E)                                  # e^{-a^2 v^2 / 2}
        E *= W if (allrows or W.shape[0] == 1) else W[rows]
        sf = np.broadcast_to(np.asarray(s, dtype=float), (nr,))
        strided = bool(np.any(sf != 1.0))
        span = U * sf
        if float((a2 * span).max(initial=0.0)) * (_N - 1) > 700.0:   # powers could overflow
            cut = (_NEGLIGIBLE + (self.a if allrows else self.a[rows]) * span) ** 2 / a2
            far = (v * v) > cut[:, None]
            E[far] = 0.0
            th[far] = 0.0
        AB = np.empty((2, nr, self.k))                    # A and B, stacked
        A, B = AB[0], AB[1]
        np.multiply(E, self.fx if allrows else self.fx[rows], out=B)
        np.subtract(E, B, out=A)
        th += th                                          # -a^2 v
        if strided:
            np.exp(th, out=E)                             # e^{-a^2 v}
            B *= E
            th *= sf[:, None]
            Rsi = np.exp(th)                              # e^{-a^2 s v}
        else:
            Rsi = np.exp(th, out=E)
            B *= Rsi
        Rs = np.reciprocal(Rsi, out=th)                   # e^{a^2 s v}
        S = np.empty((2, 2 * U + 1, nr))                  # sums of A R^j and B R^j
        np.einsum("sij->si", AB, out=S[:, U])
        P, N = Rs, Rsi
        for u in range(1, U + 1):
            if u == 2:
                P, N = P * Rs, N * Rsi
            elif u > 2:
                P *= Rs
                N *= Rsi
            np.einsum("sij,ij->si", AB, P, out=S[:, U + u])
            np.einsum("sij,ij->si", AB, N, out=S[:, U - u])
        j = np.arange(-U, U + 1, dtype=float)[None, :] * sf[:, None]
        lq = (-0.5 * a2)[:, None]
        const = self.const if allrows else self.const[rows]
        return const[:, None] * (np.exp(lq * (j * j)) * S[0].T
                                 + np.exp(lq * ((j - 1.0) * (j - 1.0))) * S[1].T)

    @staticmethod
    def _identity(rows) -> bool:
        """Whether ``rows`` is ``0, 1, ..., m - 1`` (no gathering needed)."""
        return bool(rows[0] == 0 and rows[-1] == rows.size - 1 and
                    np.all(rows[1:] > rows[:-1])) if rows.size else True

    def _dense(self, W, rows, ilo, ihi, bad):
        r"""Candidate maximal nodes of long runs: exact samples every ``s`` nodes.

        :math:`D` is computed exactly every :math:`s = \max(1, \lfloor 0.25/a \rfloor)`
        nodes over the run and in between by 8-point Lagrange interpolation,
        whose error is at most
        :math:`\max|D^{(8)}|\,s^8\,43.07/8! \le 0.234\,(as)^8 c\sum w` (Cramér's
        bound :math:`|He_8(x)|e^{-x^2/2} \le 1.0865\sqrt{8!}`), i.e. below
        :math:`6\times10^{-6}` of :math:`c\sum w`. Every node whose value may be within
        twice that of the maximum is a candidate; returns (rows, first candidate,
        last candidate) per run, for :meth:`_span`, which settles on exact values.
        """
        n = _N
        a = self.a[rows]
        st = np.clip(np.floor(_AS / a), 1, _LAGRANGE8.shape[0] - 1).astype(np.intp)
        ilo = np.clip(ilo, 1, n - 2)
        ihi = np.clip(ihi, ilo, n - 2)
        centre = ((ilo + ihi) // 2).astype(np.intp)
        half = (ihi - ilo) / 2.0 + 1.0
        need = np.ceil(half / st) + 4.0
        Ub = _UBUCKETS[np.minimum(np.searchsorted(_UBUCKETS, need), _UBUCKETS.size - 1)]
        Ub = np.maximum(Ub, need).astype(np.intp)
        wide = (a * st * Ub > _AU_MAX) | (2 * st * Ub + 3 > n)
        bad[rows[wide]] = True
        out_r, out_lo, out_hi = [], [], []
        for U in np.unique(Ub[~wide]):
            U = int(U)
            sel = np.nonzero((Ub == U) & ~wide)[0]
            rr, s_ = rows[sel], st[sel]
            span = s_ * U
            cc = np.clip(centre[sel], span + 1, n - span - 2)
            D = self._window(W, rr, cc, U, s_)
            smax = int(s_.max())
            if smax == 1:
                V, offs, tol = D, np.arange(-U, U + 1)[None, :], np.zeros(sel.size)
            else:
                # value at node cc + s*(p - U) + r, p = 3 .. 2U - 4, r = 0 .. smax - 1
                win = np.lib.stride_tricks.sliding_window_view(D, 8, axis=1)    # p-3 .. p+4
                npos = win.shape[1]
                lw = _LAGRANGE8[s_, :smax]                                      # (nr, smax, 8)
                V = np.matmul(win, lw.transpose(0, 2, 1))                       # (nr, npos, smax)
                V[:, :, 0] = D[:, 3:3 + npos]                                   # exact samples
                offs = (np.arange(npos)[None, :, None] + (3 - U)) * s_[:, None, None] + \
                    np.arange(smax)[None, None, :]
                valid = np.broadcast_to(np.arange(smax)[None, None, :] < s_[:, None, None],
                                        V.shape)
                V = np.where(valid, V, -np.inf).reshape(sel.size, -1)
                offs = np.broadcast_to(offs, V.shape[:1] + (npos, smax)).reshape(sel.size, -1)
                wsum = self._wrows(W, rr).sum(axis=1) if W.shape[0] > 1 else \
                    np.full(sel.size, float(W.sum()))
                tol = 2.0 * 0.234 * (a[sel] * s_) ** 8 * self.const[rr] * wsum
            # R's output grid maximum lies next to a node-level local maximum of D that
            # is higher than both neighbours of the highest node (a lower bound for the
            # best interpolated value): every node above that bound starts a climb
            jm = np.argmax(V, axis=1)
            ar = np.arange(sel.size)
            left = V[ar, np.maximum(jm - 1, 0)]
            right = V[ar, np.minimum(jm + 1, V.shape[1] - 1)]
            cand = V >= (np.maximum(left, right) - 2.0 * tol)[:, None]
            ncand = np.count_nonzero(cand, axis=1)
            # an overflowed power (see _window) leaves inf or NaN: R's FFT decides
            over = (ncand > _MAXCLIMB) | ~np.isfinite(D).all(axis=1)
            bad[rr[over]] = True
            # the candidates' node range per run
            node = np.clip(cc[:, None] + offs, 1, n - 2)
            nmin = np.where(cand, node, n).min(axis=1)
            nmax = np.where(cand, node, -1).max(axis=1)
            keep = ~over
            out_r.append(rr[keep])
            out_lo.append(nmin[keep])
            out_hi.append(nmax[keep])
        if not out_r:
            z = np.zeros(0, dtype=np.intp)
            return z, z, z
        return (np.concatenate(out_r), np.concatenate(out_lo).astype(np.intp),
                np.concatenate(out_hi).astype(np.intp))

    def _span(self, W, rows, nlo, nhi, bad):
        """Node-level local maxima of :math:`D` among the candidates ``nlo .. nhi`` of runs.

        :math:`D` is computed exactly at nodes ``nlo - 1 .. nhi + 1`` (one window per
        run). No node of the sampled range outside the candidates can exceed the
        highest candidate, nor be a local maximum whose neighbourhood beats R's best
        output value (see :meth:`_dense`), so when the window's maximum is inside it,
        its inner local maxima are all that climbs from the candidates would
        usefully find. Otherwise (or for wide ranges) the runs climb from every
        node of their range (:meth:`_climb`).
        Returns lists of (rows, i*, D[i*-1 : i*+2]).
        """
        n = _N
        fr, fi, fd = [], [], []
        U = (nhi - nlo + 3) // 2                         # window 2U + 1 >= nhi - nlo + 3 nodes
        Ub = _SPANBUCKETS[np.minimum(np.searchsorted(_SPANBUCKETS, U), _SPANBUCKETS.size - 1)]
        ok = (U <= _SPANBUCKETS[-1]) & (nlo - 1 >= 1) & (nlo - 1 + 2 * Ub <= n - 2)
        retry = ~ok
        for u in np.unique(Ub[ok]):
            u = int(u)
            sel = np.nonzero(ok & (Ub == u))[0]
            rr = rows[sel]
            c = nlo[sel] - 1 + u
            D = self._window(W, rr, c, u)
            fin = np.isfinite(D).all(axis=1)             # an overflowed power: FFT
            bad[rr[~fin]] = True
            jm = np.argmax(D, axis=1)
            inner = (jm > 0) & (jm < 2 * u) & fin
            retry[sel[~inner & fin]] = True
            Di = D[inner]
            mid = Di[:, 1:-1]
            loc = (mid > Di[:, :-2]) & (mid >= Di[:, 2:])
            ri, ji = np.nonzero(loc)
            ji = ji + 1
            fr.append(rr[inner][ri])
            fi.append(c[inner][ri] + (ji - u))
            fd.append(Di[ri[:, None], ji[:, None] + np.arange(-1, 2)[None, :]])
        if retry.any():
            idx = np.nonzero(retry)[0]
            cnt = nhi[idx] - nlo[idx] + 1
            rr = np.repeat(rows[idx], cnt)
            start = np.repeat(nlo[idx] - np.cumsum(cnt) + cnt, cnt)
            i0 = start + np.arange(rr.size)
            r1, i1, d1 = self._climb(W, rr, i0, bad)
            fr += r1
            fi += i1
            fd += d1
        return fr, fi, fd

    def _climb(self, W, rows, i0, bad, U0: int = 1):
        """Move windows uphill until a node is higher than both neighbours.

        The first pass evaluates nodes ``i0 - U0 .. i0 + U0``; a row whose maximum is
        on an edge moves there and continues with a 5-node window reaching three
        nodes further uphill.
        Returns lists of (rows, i*, D[i*-1 : i*+2]).
        """
        n = _N
        fr, fi, fd = [], [], []
        U = U0
        lead = np.zeros(rows.size, dtype=np.intp)       # window centre = node + lead
        for _ in range(_PASSES):
            if rows.size == 0:
                break
            c = np.clip(i0 + lead, U + 1, n - U - 2)
            D = self._window(W, rows, c, U)
            fin = np.isfinite(D).all(axis=1)             # an overflowed power: FFT
            if not fin.all():
                bad[rows[~fin]] = True
                D, rows, c = D[fin], rows[fin], c[fin]
                lead, i0 = lead[fin], i0[fin]
            jm = np.argmax(D, axis=1)
            done = (jm > 0) & (jm < 2 * U)
            node = c + (jm - U)
            fr.append(rows[done])
            fi.append(node[done])
            three = jm[done, None] + np.arange(-1, 2)[None, :]
            fd.append(np.take_along_axis(D[done], three, axis=1))
            step = np.sign(jm[~done] - U)
            moved = node[~done]
            stuck = (moved + step < 1) | (moved + step > n - 2)
            bad[rows[~done][stuck]] = True
            keep = ~stuck
            rows, i0 = rows[~done][keep], moved[keep]
            U = 2
            lead = step[keep].astype(np.intp)           # nodes moved-1 .. moved+3 (or -3 .. +1)
        bad[rows] = True
        return fr, fi, fd

    def mode(self, W) -> np.ndarray:
        """``density(X[r, ], weights = W[r, ], bw = H[r])$x[which.max(y)]`` per row.

        Parameters
        ----------
        W : array_like, shape (m, k) or (k,)
            Weights (per row, or one vector for every row).
        """
        n = _N
        W = np.asarray(W, dtype=float)
        W = W[None, :] if W.ndim == 1 else W
        rows, short, xpk, ilo, ihi, bad = self._runs(W)
        fr, fi, fd = [], [], []
        # short runs: the coarse parabola predicts the node (91 %; to +-1: 99.9 %): exact
        # D at it and its neighbours, moving to where they point until it is a maximum
        if short.all():
            rs, xs = rows, xpk
        else:
            rs, xs = rows[short], xpk[short]
        if rs.size:
            with np.errstate(invalid="ignore"):
                i0 = np.rint((xs - self.lo[rs]) / self.xdelta[rs])
            i0 = np.clip(np.nan_to_num(i0, nan=n // 2), 2, n - 3).astype(np.intp)
            fr, fi, fd = self._settle(W, rs, i0, bad)
        # long runs: exact samples and interpolation over the run give the candidates
        if not short.all():
            rl = rows[~short]
            rc, clo, chi = self._dense(W, rl, ilo[~short], ihi[~short], bad)
            if rc.size:
                r1, i1, d1 = self._span(W, rc, clo, chi, bad)
                fr += r1
                fi += i1
                fd += d1
        out = np.full(self.m, np.nan)
        if fr:
            rows = np.concatenate(fr) if len(fr) > 1 else fr[0]
            istar = (np.concatenate(fi) if len(fi) > 1 else fi[0]).astype(np.intp)
            yn = np.maximum(np.concatenate(fd) if len(fd) > 1 else fd[0], 0.0)   # pmax(0, .)
            keep = ~bad[rows]
            if not keep.all():
                rows, istar, yn = rows[keep], istar[keep], yn[keep]
            if rows.size:
                cand_x, cand_y, cand_m = self._interpolate(rows, istar, yn)
                srt = np.sort(rows)
                if srt.size < 2 or bool(np.all(srt[1:] != srt[:-1])):
                    out[rows] = cand_x
                else:
                    # several candidates in a row: the highest, ties to the first grid point
                    order = np.lexsort((cand_m, -cand_y, rows))
                    rs = rows[order]
                    first = np.ones(rs.size, dtype=bool)
                    first[1:] = rs[1:] != rs[:-1]
                    out[rs[first]] = cand_x[order[first]]
        todo = bad | np.isnan(out)
        if todo.any():
            idx = np.nonzero(todo)[0]
            Wf = np.broadcast_to(W, (self.m, self.k))[idx]
            out[idx] = _mode_exact(self.X[idx], Wf, self.H[idx])
        return out

    def _settle(self, W, rows, i0, bad):
        """Node-level maxima of :math:`D` from predicted nodes, by exact 3-node windows.

        Where the middle node of :meth:`_window3` is not the (first) maximum, the
        parabola through the three exact values points to the next node to try (at
        least one node uphill); rows that do not settle in :data:`_PASSES` steps are
        marked bad. Returns lists of (rows, i*, D[i*-1 : i*+2]).
        """
        n = _N
        fr, fi, fd = [], [], []
        for _ in range(_PASSES):
            D = self._window3(W, rows, i0)
            fin = np.isfinite(D).all(axis=1)
            if not fin.all():
                # an overflowed power (see _window3): such a row could walk off its maximum
                # and settle on a lower local maximum, so R's FFT algorithm decides it
                bad[rows[~fin]] = True
                D, rows, i0 = D[fin], rows[fin], i0[fin]
                if rows.size == 0:
                    return fr, fi, fd
            jm = np.argmax(D, axis=1)
            done = jm == 1
            if done.all():
                fr.append(rows)
                fi.append(i0)
                fd.append(D)
                return fr, fi, fd
            fr.append(rows[done])
            fi.append(i0[done])
            fd.append(D[done])
            nd = ~done
            D, jm, rows, i0 = D[nd], jm[nd], rows[nd], i0[nd]
            d0, d1, d2 = D[:, 0], D[:, 1], D[:, 2]
            den = d0 - 2.0 * d1 + d2
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.where(den < 0, 0.5 * (d0 - d2) / den, 0.0)
            t = np.rint(np.clip(np.nan_to_num(t), -8.0, 8.0)).astype(np.intp)
            step = np.where(jm == 0, np.minimum(t, -1), np.maximum(t, 1))
            i0 = i0 + step
            stuck = (i0 < 1) | (i0 > n - 2)
            if stuck.any():
                bad[rows[stuck]] = True
                rows, i0 = rows[~stuck], i0[~stuck]
            if rows.size == 0:
                return fr, fi, fd
            i0 = np.clip(i0, 2, n - 3)
        bad[rows] = True
        return fr, fi, fd

    # -- stage 3: approx() onto the output grid near the maximal node -----------------
    def _interpolate(self, rows, istar, yn):
        n = _N
        frm, to, lo, up = self.frm[rows], self.to[rows], self.lo[rows], self.up[rows]
        xd = self.xdelta[rows]
        by = (to - frm) / float(n - 1)
        nodes = istar[:, None] + np.arange(-1, 2)[None, :]
        xn = lo[:, None] + nodes.astype(float) * xd[:, None]           # seq(lo, up, n)
        xn = np.where(nodes == n - 1, up[:, None], np.where(nodes == 0, lo[:, None], xn))
        m_lo = np.floor((xn[:, 0] - frm) / by) - 1.0
        span = int(np.ceil(2.0 * float((xd / by).max()))) + 4
        mm = m_lo[:, None] + np.arange(span, dtype=float)[None, :]
        valid = (mm >= 0) & (mm <= n - 1)
        mm = np.clip(mm, 0, n - 1)
        xo = frm[:, None] + mm * by[:, None]                            # seq(from, to, n)
        xo = np.where(mm == n - 1, to[:, None], np.where(mm == 0, frm[:, None], xo))
        inwin = valid & (xo >= xn[:, :1]) & (xo <= xn[:, 2:])
        left = xo < xn[:, 1:2]
        xi = np.where(left, xn[:, :1], xn[:, 1:2])
        xj = np.where(left, xn[:, 1:2], xn[:, 2:])
        yi = np.where(left, yn[:, :1], yn[:, 1:2])
        yj = np.where(left, yn[:, 1:2], yn[:, 2:])
        yo = yi + (yj - yi) * ((xo - xi) / (xj - xi))
        yo = np.where(xo == xj, yj, np.where(xo == xi, yi, yo))
        yo = np.where(inwin, yo, -np.inf)
        best = np.argmax(yo, axis=1)
        ar = np.arange(rows.size)
        return xo[ar, best], yo[ar, best], mm[ar, best]


def density_mode(X, W, H, *, exact: bool = False) -> np.ndarray:
    r"""The location of the maximum of R's ``density(x, weights = w, bw = h)``, per row.

    Returns ``d$x[which.max(d$y)]`` (the first maximum) of
    ``d <- density(X[r, ], weights = W[r, ], bw = H[r])`` (Gaussian kernel, ``n = 512``)
    for every row ``r``: the point estimate of the mode-based MR estimators.

    Parameters
    ----------
    X : array_like, shape (m, k)
        Samples, one per row (finite); or shape (1, k) with ``W`` of shape (m, k):
        one sample weighted m ways (the exact path then computes its grids and
        kernel once).
    W : array_like, shape (m, k) or (k,)
        Weights (R normalises nothing: pass weights summing to 1).
    H : array_like, shape (m,)
        Bandwidths (> 0); shape (1,) for one sample.
    exact : bool
        Use R's full FFT algorithm for every row (slower; for validation).

    Returns
    -------
    ndarray, shape (m,)

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(3, 25))
    >>> fast = density_mode(X, np.full(25, 1 / 25), np.full(3, 0.3))
    >>> bool(np.array_equal(fast, density_mode(X, np.full(25, 1 / 25), np.full(3, 0.3),
    ...                                        exact=True)))
    True

    Notes
    -----
    The fast path (:class:`DensityBatch`, rows in blocks of 256) never evaluates
    the whole grid: a coarse approximate density finds where the maximum can be,
    and R's binned density is then computed exactly (as a direct Toeplitz sum)
    only at the few nodes needed to decide ``which.max`` on R's output grid;
    see :class:`DensityBatch`. Rows it cannot certify fall back to R's FFT
    algorithm. Both paths agree with R up to the last-bit FFT differences
    described in the module docstring; the fast path was checked against the
    FFT path on about two million bootstrap and adversarial densities
    (``tests/test_mode.py`` keeps a smaller check).
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    W = np.asarray(W, dtype=float)
    if X.shape[0] == 1 and W.ndim == 2 and W.shape[0] > 1:     # one sample, m weightings
        H = _shaped(H, (1,))
        if exact:
            return _mode_exact(X, np.ascontiguousarray(W), H)
        X = np.broadcast_to(X, W.shape)
    m = X.shape[0]
    H = np.broadcast_to(np.asarray(H, dtype=float), (m,)).astype(float)
    if exact or m == 0:
        Wf = np.ascontiguousarray(np.broadcast_to(W, X.shape))
        return _mode_exact(X, Wf, H)
    out = np.empty(m)
    for s in range(0, m, 256):                  # blocks of rows keep temporaries in cache
        Ws = W[s:s + 256] if W.ndim == 2 and W.shape[0] > 1 else W
        out[s:s + 256] = DensityBatch(X[s:s + 256], H[s:s + 256]).mode(Ws)
    return out


def density_modes(X, W, H) -> np.ndarray:
    """:func:`density_mode` of the rows of ``X`` for several weightings at once.

    Parameters
    ----------
    X : array_like, shape (m, k)
    W : array_like, shape (nw, k)
        One weight vector per weighting (the same for every row).
    H : array_like, shape (m,)

    Returns
    -------
    ndarray, shape (nw, m)
        ``out[q, r] = density_mode(X[r], W[q], H[r])``.

    Notes
    -----
    The compiled kernel (:mod:`mrbook.rmath._mode_jit`, when numba is installed)
    does :class:`DensityBatch`'s search one row at a time (with a wider high-run
    margin and small runs evaluated at every node); the rows it cannot certify,
    and every row when numba is missing, go to :class:`DensityBatch` (and from
    there to R's FFT algorithm) unchanged. Both give R's FFT mode;
    ``benchmarks/validate_density_mode.py`` checks both.
    """
    X = np.ascontiguousarray(np.atleast_2d(np.asarray(X, dtype=float)))
    W = np.ascontiguousarray(np.atleast_2d(np.asarray(W, dtype=float)))
    m = X.shape[0]
    H = np.ascontiguousarray(np.broadcast_to(np.asarray(H, dtype=float), (m,)))
    jit = jit_kernel()
    if jit is None or m == 0:
        return np.stack([density_mode(X, w, H) for w in W]) if W.shape[0] else np.empty((0, m))
    out = np.empty((W.shape[0], m))
    status = np.empty((W.shape[0], m), dtype=np.uint8)
    jit.modes(X, H, W, out, status)
    for q in range(W.shape[0]):
        idx = np.flatnonzero(status[q] == 0)
        if idx.size:
            out[q, idx] = density_mode(X[idx], W[q], H[idx])
    return out
