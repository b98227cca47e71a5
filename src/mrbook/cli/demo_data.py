"""CLI layer: ``mrbook demo-data OUTDIR [--seed N]`` writes the SIMULATED demo study."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    from ..data.demo import DEFAULT_SEED

    p = sub.add_parser(
        "demo-data", help="write the simulated demo study (LD panel, GWAS files, associations)",
        description="Write the offline demo study: a SIMULATED mirror of the thyroid-osteoporosis "
                    "MR study (synthetic genome and PLINK reference panel, IEU GWAS VCFs for "
                    "the three thyroid traits, a FinnGen file for osteoporosis and a GWAS "
                    "Catalog-style association table). The same seed gives byte-identical "
                    "files. Planted truth: the published ln OR; outcome associations add "
                    "sampling noise with the outcome's standard errors, so estimates differ "
                    "from the paper's by sampling error. Agreement with the paper is by "
                    "construction, never evidence.")
    p.add_argument("outdir", help="folder to write (created; a previous demo is replaced)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"random seed (default {DEFAULT_SEED})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.demo import generate

    paths = generate(args.outdir, seed=args.seed)
    print(f"SIMULATED demo study (seed {args.seed}) written to {args.outdir}")
    for key in sorted(paths):
        print(f"  {key:16s} {paths[key]}")
    return 0
