"""CLI layer: ``mrbook mr HARMONISED.csv --json OUT.json``, the MR engine on a harmonised table."""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import ParameterError
from ..output import STDOUT, _clean, check_output_file, dumps, records, write_outputs


def add_parser(sub) -> None:
    p = sub.add_parser(
        "mr", help="run MR methods and sensitivity analyses on a harmonised table",
        description="Run the MR methods, Cochran's Q, the MR-Egger intercept, leave-one-out, "
                    "single-SNP and Steiger analyses on a harmonised table in TwoSampleMR's "
                    "column names, and write one JSON object.")
    p.add_argument("harmonised", help="harmonised CSV/TSV (SNP, beta.exposure, se.exposure, "
                                      "beta.outcome, se.outcome, ...)")
    p.add_argument("--json", required=True, dest="json_out",
                   help="output JSON file; '-' writes it to standard output")
    p.add_argument("--seed", type=int, default=1234, help="seed of the bootstrap stream (1234)")
    p.add_argument("--nboot", type=int, default=1000, help="bootstrap replicates (1000)")
    p.add_argument("--methods", default=None,
                   help="comma-separated method keys or names (default: TwoSampleMR's defaults)")
    p.add_argument("--rng", choices=["numpy", "r"], default="numpy",
                   help="random generator: numpy (default) or 'r' for R's own "
                        "Mersenne-Twister, so bootstrap SEs equal TwoSampleMR's at the same seed")
    p.add_argument("--presso", action="store_true", help="also run MR-PRESSO")
    p.add_argument("--presso-nsim", type=int, default=1000, help="MR-PRESSO simulations (1000)")
    p.set_defaults(func=run)


def analyse_to_json(dat, seed=1234, nboot=1000, methods=None, rng="numpy", presso=False,
                    presso_nsim=1000, source=None) -> dict:
    """Everything ``mrbook mr`` writes, as a JSON-ready dict (SPEC section 5)."""
    from .. import __version__
    from ..analysis import iter_pairs, leaveoneout, mr_tables, singlesnp
    from ..estimators import Params
    from ..sensitivity.steiger import directionality_test

    params = Params(nboot=nboot)
    tables = mr_tables(dat, methods=methods, params=params, seed=seed, rng=rng)
    mr = tables["results"]
    multi = sum(1 for _ in iter_pairs(dat, keep_only=False)) > 1
    ok = mr[mr["status"] == "ok"]
    out = {
        "mr": _mr_rows(ok, multi),
        "not_run": records(mr[mr["status"] != "ok"], ["method", "reason"], multi),
        "heterogeneity": records(tables["heterogeneity"], ["method", "q", "q_df", "q_pval"],
                                 multi),
    }
    pl = records(tables["pleiotropy"], ["egger_intercept", "se", "pval"], multi)
    out["pleiotropy"] = pl if multi else (pl[0] if pl else None)
    out["leaveoneout"] = records(leaveoneout(dat), ["snp", "b", "se", "pval"], multi)
    out["singlesnp"] = records(singlesnp(dat), ["snp", "b", "se", "pval"], multi)
    try:  # needs P-values and sample sizes (or r columns)
        dt = directionality_test(dat)
    except (KeyError, ValueError):
        dt = None
    if dt is not None and len(dt):
        rows = records(dt, ["snp_r2_exposure", "snp_r2_outcome", "correct_causal_direction",
                            "steiger_pval"], multi)
        out["directionality"] = rows if multi else rows[0]
    if presso:
        out["mr_presso"] = _presso_json(dat, presso_nsim, seed, rng, multi)
    excluded = dat[~dat["mr_keep"].astype(bool)]
    out["excluded"] = [
        {"SNP": s, "reason": r} | ({"id.exposure": e, "id.outcome": o} if multi else {})
        for s, r, e, o in zip(excluded["SNP"], excluded["mr_keep_reason"],
                              excluded["id.exposure"], excluded["id.outcome"])]
    out["meta"] = {"mrbook_version": __version__, "seed": seed, "nboot": nboot, "rng": rng,
                   "input": source}
    return out


def _mr_rows(ok, multi: bool) -> list[dict]:
    """The ``mr`` rows {method, nsnp, b, se, pval}, plus ``ci_low`` and ``ci_upp`` for a
    method that gives its own interval (e.g. the contamination mixture; see
    :func:`mrbook.analysis.run_mr`) and a method's optional fields
    (:data:`~mrbook.analysis.MR_OPTIONAL_COLUMNS`, robust MR-Egger's intercept) in its
    own row only: the other rows are exactly as before."""
    from ..analysis import MR_OPTIONAL_COLUMNS

    extra = [c for c in MR_OPTIONAL_COLUMNS if c in ok.columns]
    rows = records(ok, ["method", "nsnp", "b", "se", "pval"] + extra, multi)
    for row in rows:
        for c in extra:
            if row[c] is None:
                del row[c]
    if {"ci_low", "ci_upp"} <= set(ok.columns):
        for row, lo, up in zip(rows, ok["ci_low"], ok["ci_upp"]):
            if not (math.isnan(lo) and math.isnan(up)):
                row.update(ci_low=_clean(lo), ci_upp=_clean(up))
    return rows


def _presso_json(dat, nsim, seed, rng, multi):
    from ..analysis import iter_pairs
    from ..sensitivity.presso import mr_presso
    from ..rmath.rng import make_rng

    res = []
    for pair, rows in iter_pairs(dat):
        item = {"id.exposure": pair["id_exposure"], "id.outcome": pair["id_outcome"]} if multi else {}
        try:
            r = mr_presso(rows["beta.exposure"].to_numpy(float), rows["beta.outcome"].to_numpy(float),
                          rows["se.exposure"].to_numpy(float), rows["se.outcome"].to_numpy(float),
                          snps=rows["SNP"].tolist(), n_distribution=nsim, rng=make_rng(seed, rng))
        except ValueError as exc:
            item["error"] = str(exc)
        else:
            item.update(_presso_dict(r))
        res.append(item)
    return res if multi else res[0]


def _presso_dict(r: dict) -> dict:
    import pandas as pd

    def conv(v):
        if isinstance(v, pd.DataFrame):
            return records(v, list(v.columns), False)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return _clean(v)

    return conv(r)


def run(args: argparse.Namespace) -> int:
    from ..data.tsmr import read_harmonised
    from ..estimators import resolve_methods

    if args.nboot < 2:
        raise ParameterError(f"--nboot must be at least 2, got {args.nboot}")
    if args.seed < 0:
        raise ParameterError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.presso and args.presso_nsim < 10:
        raise ParameterError(f"--presso-nsim must be at least 10, got {args.presso_nsim}")
    methods = None
    if args.methods is not None:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise ParameterError("--methods: give at least one method key, e.g. mr_ivw")
        resolve_methods(methods)  # fail before reading
    check_output_file(args.json_out, what="JSON result")  # before any computation
    dat = read_harmonised(args.harmonised)
    result = analyse_to_json(dat, seed=args.seed, nboot=args.nboot, methods=methods, rng=args.rng,
                             presso=args.presso, presso_nsim=args.presso_nsim,
                             source=str(args.harmonised))
    write_outputs({args.json_out: dumps(result)})
    used = int(dat["mr_keep"].astype(bool).sum())
    pairs = {(e, o) for e, o in zip(dat["id.exposure"], dat["id.outcome"])}
    where = "standard output" if args.json_out == STDOUT else args.json_out
    print(f"mrbook mr: wrote {where}: {len(result['mr'])} estimate(s) from {used} of {len(dat)} "
          f"SNPs ({len(dat) - used} excluded, see 'excluded')"
          + (f", {len(pairs)} exposure-outcome pairs" if len(pairs) > 1 else ""), file=sys.stderr)
    return 0
