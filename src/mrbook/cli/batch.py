"""CLI layer: ``mrbook batch MANIFEST --out DIR``, MR on many exposure-outcome pairs on Dask."""

from __future__ import annotations

import argparse


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {n}")
    return n


def add_parser(sub) -> None:
    p = sub.add_parser(
        "batch", help="run MR on every exposure-outcome pair of a manifest (Dask, resumable)",
        description="Select instruments and run the MR methods for every pair of MANIFEST (a "
                    "CSV with columns exposure,outcome and optionally exposure_name,"
                    "outcome_name; each source a file, an OpenGWAS ID or demo:<trait>; "
                    "relative paths from the manifest's folder). Each exposure is selected "
                    "once and each outcome read once. Each pair's numbers equal 'mrbook "
                    "instruments' + 'mrbook mr' on that pair with the same parameters. Writes "
                    "DIR/results.parquet (pair x method, OR, CI, Benjamini-Hochberg FDR per "
                    "method), heterogeneity.parquet, pleiotropy.parquet, exclusions.parquet, "
                    "harmonised.parquet, pairs.parquet, errors.csv and summary.json. Run again "
                    "with the same command to resume: pairs already done are skipped. Exit "
                    "status 0 when every pair ran, 1 when some failed (the others are "
                    "written), 2 for bad usage.")
    p.add_argument("manifest", help="CSV of exposure-outcome pairs")
    p.add_argument("--out", required=True, help="output folder (created; resumed if it holds "
                                                 "a batch with the same parameters)")
    p.add_argument("--params", default=None,
                   help="parameter file (the YAML of 'mrbook build': p_threshold, clump_r2, "
                        "clump_kb, ld_ref, palindrome_action, confounder_table, "
                        "confounder_traits, methods, nboot, seed, rng, presso_n_distribution; "
                        "the book's page parameters are ignored); default: the schema's "
                        "defaults")
    eng = p.add_mutually_exclusive_group()
    eng.add_argument("--workers", type=_count, default=None,
                     help="worker processes of a local Dask cluster (default: the machine's "
                          "cores); 0 runs everything in this process without Dask")
    eng.add_argument("--scheduler", default=None,
                     help="a running Dask scheduler: its address, e.g. tcp://10.0.0.5:8786, "
                          "or the file of 'dask scheduler --scheduler-file' ('dask scheduler' + "
                          "'dask worker', or dask-jobqueue on Slurm/PBS)")
    p.add_argument("--chunk-size", type=_count, default=None,
                   help="pairs per task (default: about four tasks per worker, at most 50)")
    p.add_argument("--no-progress", action="store_true",
                   help="print nothing but errors and the last line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..batch import forkserver

    # first thing: the LocalCluster's workers fork from a server that imports the batch's
    # code beside this process (mrbook.batch.forkserver)
    if forkserver.wanted(args.out, workers=args.workers, scheduler=args.scheduler):
        forkserver.start()
    from ..batch import run_batch

    if args.chunk_size == 0:
        from ..errors import ParameterError

        raise ParameterError("--chunk-size must be at least 1")
    res = run_batch(args.manifest, args.out, params_file=args.params, workers=args.workers,
                    scheduler=args.scheduler, progress=not args.no_progress,
                    chunk_size=args.chunk_size)
    s = res.summary
    if args.no_progress:
        print(f"mrbook batch: {s['pairs_done_total']} of {s['pairs_planned']} pairs done, "
              f"{s['pairs_failed']} failed; results in {res.out}", file=sys.stderr)
    if s["pairs_failed"]:
        print(f"mrbook batch: {s['pairs_failed']} pair(s) failed: see {res.out / 'errors.csv'}",
              file=sys.stderr)
    return res.exit_code
