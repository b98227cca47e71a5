"""CLI layer: ``mrbook instruments --exposure SRC --outcome SRC --out DIR`` selects the instruments."""

from __future__ import annotations

import argparse


def _traits(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def add_parser(sub) -> None:
    p = sub.add_parser(
        "instruments", help="select, clump and harmonise instruments, listing every exclusion",
        description="Select the instruments of an exposure-outcome pair as the study did: P "
                    "threshold, LD clumping (plink 1.9 or the identical Python engine), outcome "
                    "extraction (with LD proxies), harmonisation (palindromes), confounder "
                    "look-up, optional Steiger filtering. Writes DIR/harmonised.csv (input of "
                    "'mrbook mr'), DIR/exclusions.csv, DIR/snps.csv, DIR/summary.json, and "
                    "DIR/exposure.csv and DIR/outcome.csv (TwoSampleMR format, before "
                    "harmonisation: input of 'mrbook harmonise'). "
                    "Sources: a summary-statistics file, demo:<trait> (hypothyroidism, "
                    "hyperthyroidism, hashimoto, osteoporosis; SIMULATED) or an OpenGWAS ID.")
    p.add_argument("--exposure", required=True, help="exposure source")
    p.add_argument("--outcome", required=True, help="outcome source")
    p.add_argument("--out", required=True,
                   help="output folder (created if missing; its six files are written together "
                        "or not at all, other files in it are left alone)")
    p.add_argument("--p", type=float, default=5e-8, help="exposure P threshold (5e-8)")
    p.add_argument("--r2", type=float, default=0.01, help="clumping r2 (0.01)")
    p.add_argument("--kb", type=float, default=10000, help="clumping window in kb (10000)")
    p.add_argument("--ld-ref", default=None,
                   help="PLINK binary fileset prefix (default: the demo panel for demo "
                        "sources, the OpenGWAS server for OpenGWAS exposures)")
    p.add_argument("--clump-engine", choices=["auto", "plink", "python"], default="auto",
                   help="plink 1.9 when installed (auto), or force one engine")
    p.add_argument("--no-clump", dest="clump", action="store_false",
                   help="skip LD clumping (the exposure file already holds independent "
                        "instruments)")
    p.add_argument("--palindromes", type=int, choices=[1, 2, 3], default=2,
                   help="TwoSampleMR harmonisation action (2: drop ambiguous palindromes)")
    p.add_argument("--confounders", default=None,
                   help="association table (GWAS Catalog associations TSV); default: the "
                        "demo's table for demo sources; 'none' skips the step")
    p.add_argument("--confounder-traits", type=_traits, default=(),
                   help="comma-separated traits, e.g. 'body mass index,smoking' (demo "
                        "default: the planted osteoporosis confounders)")
    p.add_argument("--confounder-p", type=float, default=5e-8,
                   help="P threshold of a confounder association (5e-8)")
    p.add_argument("--steiger", action="store_true", help="drop SNPs failing Steiger filtering")
    p.add_argument("--no-proxies", dest="proxies", action="store_false",
                   help="do not replace SNPs missing from the outcome by LD proxies")
    p.add_argument("--demo-seed", type=int, default=None, help="seed of the demo study")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..instruments import check_instruments_out, select_instruments, write_instruments

    check_instruments_out(args.out)  # a file where the folder is meant: refused before any work
    conf = args.confounders
    if conf is not None and conf.strip().lower() == "none":
        conf = False
    ins = select_instruments(
        args.exposure, args.outcome, p=args.p, r2=args.r2, kb=args.kb, ld_ref=args.ld_ref,
        palindrome_action=args.palindromes, confounder_table=conf,
        confounder_traits=args.confounder_traits, confounder_p=args.confounder_p,
        steiger=args.steiger, proxies=args.proxies, clump_engine=args.clump_engine,
        clump=args.clump, demo_seed=args.demo_seed)
    paths = write_instruments(ins, args.out)
    s = ins.summary
    tag = " (SIMULATED demo data)" if s["simulated"] else ""
    print(f"{s['exposure']['trait']} -> {s['outcome']['trait']}{tag}: "
          f"{s['candidates']} candidates, {s['missing_in_outcome']} missing in outcome, "
          f"{s['palindromic']} palindromic, {s['confounder']} confounder, "
          f"{s['final']} final instruments; written to {paths['summary'].parent}")
    return 0
