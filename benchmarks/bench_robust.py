"""Robust IVW and robust MR-Egger (lmrob's MM-estimator) beside pytwosamplemr's ports, interleaved.

bench_engine.py times each engine's repeats as a block; on a shared machine the load
changes between blocks. Here the calls alternate one by one (mrbook, pytwosamplemr, and
optionally another checkout of mrbook, e.g. main before a change), each timed in CPU time
of this process (``time.process_time``: waiting for a core is not counted), on the 79
``mr_keep`` rows of BMI -> CHD, at the default seed 1234.

    .venv/bin/python benchmarks/bench_robust.py --repeats 300
    .venv/bin/python benchmarks/bench_robust.py --repeats 300 --before /work/main/src
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / ".." / "shared" / "reference" / "bmi_chd_79snp" / "test_commondata_harmonised.csv"
KEYS = ("mr_ivw_robust", "mr_egger_robust")


def _load_mrbook(src: str | None):
    """mrbook's estimator functions and make_rng, from ``src`` (a checkout's src/) or installed."""
    for m in [m for m in sys.modules if m == "mrbook" or m.startswith("mrbook.")]:
        del sys.modules[m]
    if src:
        sys.path.insert(0, src)
    try:
        import mrbook
        import mrbook.estimators as est
        from mrbook.rmath.rng import make_rng
    finally:
        if src:
            sys.path.remove(src)
    return {k: est.METHODS[k].func for k in KEYS}, est.Params, make_rng, Path(mrbook.__file__).parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--before", help="src/ folder of another mrbook checkout to time alongside")
    a = ap.parse_args(argv)
    d = pd.read_csv(a.data)
    d = d[d["mr_keep"].astype(bool)]
    v = tuple(d[c].to_numpy(dtype=float) for c in ("beta.exposure", "beta.outcome", "se.exposure",
                                                    "se.outcome"))
    engines = {}
    if a.before:
        engines["before"] = _load_mrbook(a.before)
    engines["mrbook"] = _load_mrbook(None)
    for name, (_, _, _, where) in engines.items():
        print(f"{name}: {where}")
    import pytwosamplemr as pt
    obj = pt.mr_input(bx=v[0], bxse=v[2], by=v[1], byse=v[3])
    ports = {"mr_ivw_robust": lambda: pt.mr_ivw(obj, robust=True),
             "mr_egger_robust": lambda: pt.mr_egger(obj, robust=True)}
    print(f"load average at start {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min); "
          f"{a.repeats} interleaved calls each, CPU ms: median (min)")
    for key in KEYS:
        calls = {}
        for name, (funcs, params, make_rng, _) in engines.items():
            calls[name] = (lambda f=funcs[key], p=params(), mk=make_rng: f(*v, p, mk(1234)))
        calls["pytwosamplemr"] = ports[key]
        for c in calls.values():             # warm-up
            c()
        ts = {k: [] for k in calls}
        for _ in range(a.repeats):
            for k, c in calls.items():
                t = time.process_time()
                c()
                ts[k].append(time.process_time() - t)
        med = {k: float(np.median(x)) * 1e3 for k, x in ts.items()}
        mn = {k: float(np.min(x)) * 1e3 for k, x in ts.items()}
        parts = [f"{k} {med[k]:.2f} ({mn[k]:.2f})" for k in calls]
        ratio = med["pytwosamplemr"] / med["mrbook"]
        extra = f", before/mrbook {med['before'] / med['mrbook']:.2f}x" if "before" in med else ""
        print(f"{key:16s} " + "  ".join(parts) + f"  pyt/mrbook {ratio:.2f}x "
              f"(min {mn['pytwosamplemr'] / mn['mrbook']:.2f}x){extra}")
    print(f"load average at end {os.getloadavg()[0]:.1f} (1 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
