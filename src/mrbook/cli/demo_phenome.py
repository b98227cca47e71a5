"""CLI layer: ``mrbook demo-phenome DIR`` writes a SIMULATED phenome for ``mrbook batch``."""

from __future__ import annotations

import argparse

#: the demo phenome's defaults (:mod:`mrbook.data.phenome`'s DEFAULT_*, which a test keeps
#: equal): written here so that ``mrbook --help`` does not import the simulator
DEFAULT_EXPOSURES, DEFAULT_OUTCOMES, DEFAULT_SEED, DEFAULT_LOCI = 40, 5, 1, 50


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo-phenome", help="write a simulated phenome (many exposures x outcomes, known truth)",
        description="Write a SIMULATED phenome: GWAS files of EXPOSURES quantitative traits "
                    "(IEU VCF, GWAS-SSF, TwoSampleMR CSV) and OUTCOMES diseases (FinnGen, "
                    "GWAS-SSF), an LD panel, a GWAS Catalog-style association table, "
                    "DIR/manifest.csv (every pair, the input of 'mrbook batch') and "
                    "DIR/truth.csv (which pairs are causal, and their true effect). Nothing in "
                    "it is real. The same arguments give byte-identical files.")
    p.add_argument("outdir", help="folder to write (created if missing; other files in it are kept)")
    p.add_argument("--exposures", type=int, default=DEFAULT_EXPOSURES,
                   help=f"number of exposures (default {DEFAULT_EXPOSURES})")
    p.add_argument("--outcomes", type=int, default=DEFAULT_OUTCOMES,
                   help=f"number of outcomes (default {DEFAULT_OUTCOMES})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument("--loci", type=int, default=DEFAULT_LOCI,
                   help=f"independent instruments per exposure (default {DEFAULT_LOCI})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ..data.phenome import generate

    paths = generate(args.outdir, exposures=args.exposures, outcomes=args.outcomes,
                     seed=args.seed, loci=args.loci)
    meta = json.loads(paths["phenome"].read_text())
    print(f"SIMULATED demo phenome (seed {args.seed}) written to {args.outdir}: "
          f"{meta['exposures']} exposures x {meta['outcomes']} outcomes = {meta['pairs']} pairs, "
          f"{meta['causal_pairs']} causal (truth.csv)")
    print(f"  next: mrbook batch {paths['manifest']} --out RESULTS_DIR")
    return 0
