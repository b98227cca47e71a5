"""CLI layer: ``mrbook mvmr``, multivariable MR on a wide table, TwoSampleMR's long tables or data sources.

Three inputs, one JSON (see :meth:`mrbook.multivariable.MVResult.to_json`):

* ``mrbook mvmr TABLE --json OUT``: a wide harmonised table (``SNP``,
  ``beta.<x>``, ``se.<x>`` per exposure, ``beta.outcome``, ``se.outcome``);
* ``mrbook mvmr --exposure-data EXP --outcome-data OUT --json OUT``:
  TwoSampleMR's long exposure table (``mv_extract_exposures``) and an outcome
  table, harmonised as ``mv_harmonise_data``;
* ``mrbook mvmr --exposures 'SRC1+SRC2+...' --outcome SRC --json OUT``: from data
  sources (files, ``demo:``/``demo-mv:<trait>``, OpenGWAS IDs), instruments
  selected, clumped and harmonised as the book does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ParameterError
from ..output import STDOUT, check_output_file, dumps, write_outputs


def add_parser(sub) -> None:
    p = sub.add_parser(
        "mvmr", help="multivariable MR: several exposures at once",
        description="Multivariable MR (TwoSampleMR mv_multiple, MendelianRandomization mr_mvivw, "
                    "mr_mvegger, mr_mvmedian; MVMR conditional F and Q) on a wide table, on "
                    "TwoSampleMR's long exposure table plus an outcome table, or from data "
                    "sources; writes one JSON object.")
    p.add_argument("table", nargs="?", default=None,
                   help="wide harmonised table: SNP, beta.<x>, se.<x> (pval.<x> optional) for "
                        "each exposure x, beta.outcome, se.outcome")
    p.add_argument("--exposure-data", default=None, metavar="EXP",
                   help="TwoSampleMR long exposure table (one row per SNP and exposure, "
                        "mv_extract_exposures output)")
    p.add_argument("--outcome-data", default=None, metavar="OUT",
                   help="TwoSampleMR outcome table for --exposure-data")
    p.add_argument("--exposures", default=None, metavar="SRC+SRC",
                   help="data sources of the exposures joined by '+' (files, demo:<trait>, "
                        "demo-mv:<trait>, OpenGWAS IDs); the first is the reference")
    p.add_argument("--outcome", default=None, metavar="SRC", help="data source of the outcome")
    p.add_argument("--json", required=True, dest="json_out",
                   help="output JSON file; '-' writes it to standard output")
    p.add_argument("--methods", default=None,
                   help="comma-separated method keys or names (default all: mv_multiple, "
                        "mr_mvivw, mr_mvegger, mr_mvmedian)")
    p.add_argument("--iterations", type=int, default=10000,
                   help="bootstrap replicates of the weighted median (10000)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the median's bootstrap (default: mr_mvmedian's own, 314159265)")
    p.add_argument("--rng", choices=["numpy", "r"], default="numpy",
                   help="random generator: numpy (default) or 'r' for R's own, so that the "
                        "median's SE equals MendelianRandomization's")
    p.add_argument("--pval-threshold", type=float, default=5e-8,
                   help="instrument P threshold (5e-8): mv_multiple's nsnp, and the selection "
                        "with --exposures")
    p.add_argument("--orientate", type=int, default=1,
                   help="exposure (1-based) the MR-Egger SNPs are oriented on (1)")
    p.add_argument("--action", type=int, choices=[1, 2, 3], default=2,
                   help="harmonisation action for palindromes (2: drop ambiguous ones)")
    p.add_argument("--clump-r2", type=float, default=0.01, help="clumping r² with --exposures (0.01)")
    p.add_argument("--clump-kb", type=float, default=10000,
                   help="clumping window (kb) with --exposures (10000)")
    p.add_argument("--ld-ref", default=None, help="PLINK fileset prefix for clumping (--exposures)")
    p.add_argument("--no-confounders", action="store_true",
                   help="with --exposures: skip the confounder look-up (default: the demo's "
                        "table for demo sources)")
    p.set_defaults(func=run)


def _check(args) -> str:
    modes = [args.table is not None,
             args.exposure_data is not None or args.outcome_data is not None,
             args.exposures is not None or args.outcome is not None]
    if sum(modes) != 1:
        raise ParameterError("give exactly one input: a wide TABLE, or --exposure-data with "
                             "--outcome-data, or --exposures with --outcome")
    if modes[1] and (args.exposure_data is None or args.outcome_data is None):
        raise ParameterError("--exposure-data and --outcome-data go together")
    if modes[2] and (args.exposures is None or args.outcome is None):
        raise ParameterError("--exposures and --outcome go together")
    if modes[2] and "+" in args.outcome and not Path(args.outcome).is_file():
        raise ParameterError(f"--outcome is one data source, got {args.outcome!r} (only "
                             "--exposures joins several with '+')")
    if args.iterations < 0 or args.iterations == 1:
        raise ParameterError(f"--iterations must be 0 (no bootstrap SE) or at least 2, "
                             f"got {args.iterations}")
    if not 0 < args.pval_threshold <= 1:
        raise ParameterError(f"--pval-threshold must be in (0, 1], got {args.pval_threshold}")
    if args.orientate < 1:
        raise ParameterError(f"--orientate must be a positive exposure number, got {args.orientate}")
    return ["table", "tsmr", "sources"][modes.index(True)]


def run(args: argparse.Namespace) -> int:
    from ..estimators.multivariable import MVMEDIAN_SEED, resolve_mv_methods
    from ..multivariable import mvmr_from_sources, read_mv_harmonised, read_mv_table, run_mvmr

    mode = _check(args)
    check_output_file(args.json_out, what="JSON result")  # before any computation
    seed = MVMEDIAN_SEED if args.seed is None else args.seed
    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        resolve_mv_methods(methods)  # fail before reading
    kw = dict(iterations=args.iterations, seed=seed, rng=args.rng)
    if mode == "table":
        data = read_mv_table(args.table)
        result = run_mvmr(data, methods, pval_threshold=args.pval_threshold,
                          orientate=args.orientate, **kw)
    elif mode == "tsmr":
        data = read_mv_harmonised(args.exposure_data, args.outcome_data, action=args.action)
        result = run_mvmr(data, methods, pval_threshold=args.pval_threshold,
                          orientate=args.orientate, **kw)
    else:
        sources = [s.strip() for s in args.exposures.split("+") if s.strip()]
        result = mvmr_from_sources(sources, args.outcome, methods=methods,
                                   p_threshold=args.pval_threshold, clump_r2=args.clump_r2,
                                   clump_kb=args.clump_kb, ld_ref=args.ld_ref,
                                   palindrome_action=args.action,
                                   confounder_table=False if args.no_confounders else None, **kw)
    out = result.to_json()
    write_outputs({args.json_out: dumps(out)})
    where = "standard output" if args.json_out == STDOUT else args.json_out
    print(f"mrbook mvmr: wrote {where}: {len(out.get('mvmr', []))} estimate(s) for "
          f"{len(out.get('strength', []))} exposure(s)", file=sys.stderr)
    return 0
