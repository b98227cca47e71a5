"""CLI layer: ``mrbook demo-data OUTDIR [--seed N]`` writes the SIMULATED demo study."""

from __future__ import annotations

import argparse
import sys

#: the demo study's default seed (:data:`mrbook.data.demo.DEFAULT_SEED`, which a test keeps
#: equal): written here so that ``mrbook --help`` does not import the simulator
DEFAULT_SEED = 20241010


def add_parser(sub) -> None:
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
    from ..errors import OutputError, ParameterError
    from ..output import check_output_dir, make_dirs, os_reason, remove_dirs

    if args.seed < 0:
        raise ParameterError(f"--seed must be a non-negative integer, got {args.seed}")
    existed = check_output_dir(args.outdir, "demo folder")  # a file there is refused as it is
    if existed:  # before the simulation: a folder where a file goes, or a file where a folder goes
        from pathlib import Path

        from ..data.demo import planned_files
        from ..output import check_output_file

        for rel in planned_files():
            for parent in reversed(Path(rel).parents[:-1]):
                check_output_dir(Path(args.outdir) / parent, "demo study's folder")
            check_output_file(Path(args.outdir) / rel, allow_stdout=False, what="demo file")
    created = [] if existed else make_dirs(args.outdir)
    try:
        try:
            paths = generate(args.outdir, seed=args.seed)
        except OSError as exc:  # full or read-only disk: the files are staged, none was moved
            raise OutputError(f"cannot write the demo study ({os_reason(exc)})",
                              args.outdir) from None
    except BaseException:
        remove_dirs(created)  # a folder made for this run and left empty goes again
        raise
    print(f"SIMULATED demo study (seed {args.seed}) written to {args.outdir}")
    for key in sorted(paths):
        print(f"  {key:16s} {paths[key]}")
    sys.stdout.flush()
    return 0
