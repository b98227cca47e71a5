#!/usr/bin/env python
"""Check the fast mode path against R's full FFT algorithm on many densities.

:func:`mrbook.rmath.density.density_mode` finds ``which.max`` of R's ``density()``
without evaluating the whole grid (:class:`mrbook.rmath.density.DensityBatch`); rows
it cannot certify fall back to the FFT. This script draws bootstrap replicates
the way ``mr_mode()`` does, for simulated MR data sets of varied size and
shape (a valid cluster, pleiotropic clusters, outliers, weak instruments),
and compares the fast path with the FFT path (``exact=True``) for equal,
second-order and first-order (NOME) weights. Any difference is printed with
the data-set seed. Run it after touching ``rdensity.py``:

    .venv/bin/python benchmarks/validate_density_mode.py --datasets 200

Each data set gives ``3 * nboot`` densities (600 by default).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from mrbook.rmath import density as rd
from mrbook.estimators.mode import _boot_bandwidth, _norm_weights, mode_bandwidth


#: the SNP counts the data sets are drawn from (``--k`` chooses others)
SNP_COUNTS = (3, 4, 5, 8, 12, 20, 40, 79, 150, 300)


def simulated(seed: int, ks=SNP_COUNTS):
    """bx, by, sx, sy of a varied simulated MR data set."""
    g = np.random.default_rng(seed)
    k = int(g.choice(list(ks)))
    bx = g.uniform(0.02, 0.2, k) * g.choice([-1, 1], k)
    sx = g.uniform(0.002, 0.02, k)
    sy = g.uniform(0.002, 0.03, k)
    theta = g.normal(0, 0.5)
    by = theta * bx
    # pleiotropic clusters and outliers
    for _ in range(int(g.integers(0, 3))):
        idx = g.choice(k, size=max(1, k // int(g.integers(3, 8))), replace=False)
        by[idx] += g.normal(0, 0.05) * np.abs(bx[idx]) / 0.1
    if g.random() < 0.3:
        by[g.integers(0, k)] += g.normal(0, 0.5)
    by = by + g.normal(0, sy)
    return bx, by, sx, sy


def check(seed: int, nboot: int, ks=SNP_COUNTS) -> int:
    bx, by, sx, sy = simulated(seed, ks)
    g = np.random.default_rng(seed + 10**6)
    b_iv = by / bx
    se1 = np.sqrt(sy**2 / bx**2 + by**2 * sx**2 / bx**4)
    se2 = sy / np.abs(bx)
    k = bx.size
    bad = 0
    for se, weights in ((se1, (np.full(k, 1.0 / k), _norm_weights(se1))),
                        (se2, (_norm_weights(se2),))):
        X = b_iv[None, :] + se[None, :] * g.standard_normal((nboot, k))
        H = mode_bandwidth(X)
        jit = rd.jit_kernel()
        compiled = rd.density_modes(X, np.stack(weights), H) if jit is not None else None
        if jit is not None:
            XT = np.ascontiguousarray(X.T)
            hb = _boot_bandwidth(XT, X, 1.0, jit)
            nb = int(np.count_nonzero(hb != _boot_bandwidth(XT, X, 1.0)))
            if nb:
                bad += nb
                print(f"seed {seed} k {k}: {nb} compiled bandwidths differ", flush=True)
        for q, W in enumerate(weights):
            fast = rd.density_mode(X, W, H)
            slow = rd.density_mode(X, W, H, exact=True)
            for label, got in (("fast", fast), ("compiled", None if compiled is None else
                                                 compiled[q])):
                if got is None:
                    continue
                diff = ~((got == slow) | (np.isnan(got) & np.isnan(slow)))
                if diff.any():
                    bad += int(diff.sum())
                    print(f"seed {seed} k {k}: {int(diff.sum())} {label} rows differ, e.g. "
                          f"row {int(np.argmax(diff))}", flush=True)
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--nboot", type=int, default=200)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--k", default=",".join(map(str, SNP_COUNTS)),
                    help="SNP counts to draw the data sets from, e.g. 600,1000,2000 "
                         "(long high runs and wide exact windows appear from ~500 SNPs)")
    args = ap.parse_args(argv)
    ks = tuple(int(v) for v in args.k.split(","))
    t0 = time.perf_counter()
    bad = 0
    for seed in range(args.first_seed, args.first_seed + args.datasets):
        bad += check(seed, args.nboot, ks)
    n = args.datasets * 3 * args.nboot
    paths = "fast and compiled paths" if rd.jit_kernel() is not None else "fast path"
    print(f"{n} densities, {bad} differ from the FFT path "
          f"({paths}; {time.perf_counter() - t0:.0f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
