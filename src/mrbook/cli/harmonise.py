"""CLI layer: ``mrbook harmonise EXPOSURE.csv OUTCOME.csv --out HARMONISED.csv``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, ParameterError
from ..output import STDOUT, check_output_file, write_outputs


def add_parser(sub) -> None:
    p = sub.add_parser(
        "harmonise", help="harmonise exposure and outcome tables (TwoSampleMR's harmonise_data)",
        description="Align the outcome's effect alleles to the exposure's as TwoSampleMR's "
                    "harmonise_data() does, and write the harmonised table. SNPs that cannot "
                    "be used keep a row with mr_keep FALSE and the reason; SNPs missing from "
                    "one study are listed in a second file (--exclusions).")
    p.add_argument("exposure", help="exposure table in TwoSampleMR format (SNP, beta.exposure, ...)")
    p.add_argument("outcome", help="outcome table in TwoSampleMR format (SNP, beta.outcome, ...)")
    p.add_argument("--out", required=True,
                   help="harmonised CSV to write; '-' writes it to standard output (then "
                        "--exclusions must name a file)")
    p.add_argument("--action", type=int, choices=[1, 2, 3], default=2,
                   help="palindromic SNPs: 1 keep all (assume forward strand), 2 infer strand "
                        "from allele frequencies and drop ambiguous ones (default), 3 drop all")
    p.add_argument("--tolerance", type=float, default=0.08,
                   help="allele-frequency band around 0.5 inside which a palindromic SNP is "
                        "ambiguous (0.08: the open interval 0.42-0.58)")
    p.add_argument("--exclusions", default=None,
                   help="CSV listing every SNP that does not reach the analysis, with the reason "
                        "(default: next to --out, *_exclusions.csv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.tsmr import read_tsmr
    from ..harmonise import harmonise_with_exclusions

    if not (0 <= args.tolerance < 0.5):
        raise ParameterError(f"--tolerance must be in [0, 0.5), got {args.tolerance}")
    if args.out == STDOUT and not args.exclusions:
        raise ParameterError("--out - writes the harmonised table to standard output; name a "
                             "file for the exclusions with --exclusions FILE")
    out_path = Path(args.out)
    excl_path = Path(args.exclusions) if args.exclusions else \
        out_path.with_name(out_path.stem + "_exclusions.csv")
    if args.out != STDOUT and excl_path == out_path:
        raise ParameterError("--exclusions must differ from --out")
    check_output_file(args.out, what="harmonised table")  # before any computation
    check_output_file(excl_path, what="exclusions table")
    exp = read_tsmr(args.exposure, "exposure")
    out = read_tsmr(args.outcome, "outcome")
    harmonised, exclusions = harmonise_with_exclusions(exp, out, action=args.action,
                                                       tolerance=args.tolerance)
    if not len(harmonised):
        raise InputError(f"no SNP is in both {args.exposure} and {args.outcome}", args.outcome)
    write_outputs({args.out: harmonised.to_csv(index=False),
                   excl_path: exclusions.to_csv(index=False)})
    keep = int(harmonised["mr_keep"].astype(bool).sum())
    where = "standard output" if args.out == STDOUT else args.out
    print(f"mrbook harmonise: wrote {where}: {len(harmonised)} SNPs in both studies, {keep} "
          f"usable for MR (mr_keep TRUE); {len(exclusions)} exclusion(s) listed in {excl_path}",
          file=sys.stderr)
    return 0
