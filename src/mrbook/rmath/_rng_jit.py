r"""Ground floor: numpy's normal draws for bootstrap replicates, compiled by numba.

numba compiles ``numpy.random.Generator.standard_normal`` from the same
ziggurat algorithm and tables as numpy and calls the generator's own bit
generator (PCG64), so a draw here is the very draw numpy's
``standard_normal`` would have made next, and the generator's state
afterwards is the same (tested on 200 million draws). It is three times as
fast as numpy's own loop on the project's machine (0.23 against 0.77 ms for
79,000 draws): the draws were the bootstrap estimators' largest single cost.

numba is imported by this module only (see :func:`mrbook.rmath.density.jit_kernel`).
"""

from __future__ import annotations

from numba import njit

__all__ = ["normal_each", "standard_normals"]


@njit(cache=True)
def normal_each(gen, mean, sd, out):
    """``out[j, t] = z * sd[j] + mean[j]`` for the next ``out.size`` standard normals ``z``.

    The draws fill ``out`` (k, each) in C order, as ``gen.standard_normal(k * each)
    .reshape(k, each)`` does; the product and the sum are rounded one by one, as
    numpy's ``z *= sd[:, None]; z += mean[:, None]`` (no fused multiply-add).
    """
    k, each = out.shape
    for j in range(k):
        m = mean[j]
        s = sd[j]
        for t in range(each):
            out[j, t] = gen.standard_normal() * s + m


@njit(cache=True)
def standard_normals(gen, out):
    """``out[:] = gen.standard_normal(out.size)`` (``out`` one-dimensional)."""
    for i in range(out.size):
        out[i] = gen.standard_normal()
