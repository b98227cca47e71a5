"""Bit-level before/after check of the robust IVW / robust MR-Egger fits (lmrob's MM-estimator).

Speed work on ``mrbook.rmath.lmrob`` must not move a single output bit. This script
runs ``mr_ivw_robust``, ``mr_egger_robust`` and ``lmrob`` itself (p = 1, 2 and 3,
with and without weights) on

* the reference case ``../shared/reference/bmi_chd_79snp`` (seeds 1234, 1, 2, 3),
* the demo study's harmonised tables (``--demo DIR``: every ``*/harmonised.csv`` below it,
  as ``mrbook instruments`` writes them),
* ``--n-random`` random tables (default 250 seeds: 3 to 400 SNPs, clean, with planted
  pleiotropic outliers, with duplicated rows, with exact-fit majorities),

and writes every output float as its IEEE-754 hex (``--save FILE``) or compares them with
such a file (``--compare FILE``), printing the count of fits, of differing values and the
largest relative difference.

    .venv/bin/python benchmarks/lmrob_bits.py --demo /tmp/demo --save before.json
    # ... change the code ...
    .venv/bin/python benchmarks/lmrob_bits.py --demo /tmp/demo --compare before.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from mrbook.estimators import METHODS, Params
from mrbook.rmath.generator import RRNG
from mrbook.rmath.lmrob import LmrobControl, lmrob
from mrbook.rmath.rng import make_rng

HERE = Path(__file__).resolve().parent
REF = HERE.parent / ".." / "shared" / "reference" / "bmi_chd_79snp" / "test_commondata_harmonised.csv"
COLS = ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome")


def _enc(v):
    """A value as exactly comparable JSON: floats as hex, arrays as lists of hex."""
    if isinstance(v, (float, np.floating)):
        return float(v).hex()
    if isinstance(v, np.ndarray):
        return [_enc(x) for x in v.ravel().tolist()]
    if isinstance(v, (bool, np.bool_, int, np.integer, str)) or v is None:
        return v if not isinstance(v, np.generic) else v.item()
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    return repr(v)


def _vectors(path: Path):
    import pandas as pd
    d = pd.read_csv(path)
    if "mr_keep" in d:
        d = d[d["mr_keep"].astype(bool)]
    return tuple(d[c].to_numpy(dtype=float) for c in COLS)


def random_table(seed: int):
    """A random MR table; the kind (clean, outliers, duplicates, exact majority) varies with the seed."""
    g = np.random.default_rng(seed)
    k = int(g.choice([3, 4, 5, 7, 10, 15, 25, 40, 79, 120, 200, 400]))
    bx = g.uniform(0.02, 0.2, k) * g.choice([-1.0, 1.0], k)
    sy = g.uniform(0.005, 0.03, k)
    theta = g.normal(0, 0.5)
    by = theta * bx + g.normal(0, 1, k) * sy * g.uniform(0.5, 2.0)
    kind = seed % 5
    if kind == 1:                          # planted pleiotropy on a share of SNPs
        m = max(1, int(k * g.uniform(0.1, 0.45)))
        by[:m] += g.normal(0.05, 0.05, m)
    elif kind == 2:                        # duplicated rows: singular subsamples occur
        j = g.integers(0, k, max(1, k // 4))
        bx[j[1:]], by[j[1:]], sy[j[1:]] = bx[j[0]], by[j[0]], sy[j[0]]
    elif kind == 3 and k >= 5:             # a majority exactly on a line: an exact fit
        m = k // 2 + 1
        by[:m] = theta * bx[:m]
    elif kind == 4:                        # rounded effects (ties among residuals)
        bx, by = np.round(bx, 3), np.round(by, 3)
        bx[bx == 0] = 0.001
    sx = g.uniform(0.002, 0.01, k)
    return bx, by, sx, sy


def fits(vecs, seeds):
    """Every output of the two estimators and of lmrob on one table, at each R seed."""
    bx, by, sx, sy = vecs
    out = {}
    ctrl = LmrobControl(k_max=500, maxit_scale=500)
    for s in seeds:
        for key in ("mr_ivw_robust", "mr_egger_robust"):
            res = METHODS[key].func(bx, by, sx, sy, Params(), make_rng(s))
            out[f"{key}@{s}"] = {k: _enc(v) for k, v in sorted(res.items())}
        k = bx.size
        designs = {"p1w": (bx[:, None], by, sy ** -2.0), "p2": (np.column_stack([np.ones(k), bx]), by, None)}
        if k >= 4:
            designs["p3w"] = (np.column_stack([np.ones(k), bx, sx]), by, sy ** -2.0)
        for name, (X, y, w) in designs.items():
            if k <= X.shape[1]:
                continue
            f = lmrob(X, y, w, rng=RRNG(s), control=ctrl)
            out[f"lmrob_{name}@{s}"] = {"coef": _enc(f.coef), "se": _enc(f.se), "cov": _enc(f.cov),
                                        "scale": _enc(f.scale), "coef_s": _enc(f.coef_s),
                                        "converged": bool(f.converged), "notes": list(f.notes)}
    return out


def collect(demo: Path | None, n_random: int) -> dict:
    import warnings
    warnings.simplefilter("ignore")
    cases = {}
    if REF.exists():
        cases["reference"] = fits(_vectors(REF), (1234, 1, 2, 3))
    else:
        print(f"[lmrob_bits] {REF} absent: reference case skipped")
    if demo is not None:
        for f in sorted(demo.glob("*/harmonised.csv")):
            cases[f"demo:{f.parent.name}"] = fits(_vectors(f), (1234, 7))
    for seed in range(n_random):
        cases[f"random:{seed}"] = fits(random_table(seed), (1234 + seed,))
    return cases


def _flat(v, path=""):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _flat(x, f"{path}/{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _flat(x, f"{path}[{i}]")
    else:
        yield path, v


def compare(before: dict, after: dict) -> int:
    a, b = dict(_flat(before)), dict(_flat(after))
    n_fit = sum(len(c) for c in before.values())
    diff, worst = [], (0.0, None)
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            diff.append(k)
            try:
                x, y = float.fromhex(a[k]), float.fromhex(b[k])
                r = abs(x - y) / max(abs(x), abs(y)) if not (math.isnan(x) or math.isnan(y)) else math.inf
            except (KeyError, TypeError, ValueError):
                r = math.inf
            if r > worst[0] or worst[1] is None:
                worst = (r, k)
    print(f"{len(before)} tables, {n_fit} fits, {len(a)} values compared: {len(diff)} differ")
    for k in diff[:20]:
        print(f"  {k}: {a.get(k)} -> {b.get(k)}")
    if diff:
        print(f"largest relative difference {worst[0]:.3g} at {worst[1]}")
    return 1 if diff else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", type=Path, help="folder with <pair>/harmonised.csv tables of the demo")
    ap.add_argument("--n-random", type=int, default=250)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", type=Path)
    g.add_argument("--compare", type=Path)
    a = ap.parse_args(argv)
    got = collect(a.demo, a.n_random)
    if a.save:
        a.save.write_text(json.dumps(got))
        print(f"{len(got)} tables written to {a.save}")
        return 0
    return compare(json.loads(a.compare.read_text()), got)


if __name__ == "__main__":
    sys.exit(main())
