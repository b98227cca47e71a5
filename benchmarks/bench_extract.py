#!/usr/bin/env python
"""Time instrument extraction from a 10-million-variant summary-statistics file.

Run with

    .venv/bin/python benchmarks/bench_extract.py [--rows 10000000] [--also-ssf-vcf]

What is measured. A simulated GWAS-SSF file (gzip, tab-separated, ``--rows``
variants, a few hundred of them genome-wide significant) is generated once and
cached under ``--workdir`` (default ``benchmarks/data/``, git-ignored); it is
reused while the rows, seed and gzip level stay the same. On that file the script
times

(a) ``zcat FILE > /dev/null`` -- the speed of merely decompressing the file;
(b) ``read_sumstats(FILE, p_max=5e-8)`` -- the P-threshold extraction that
    :func:`mrbook.instruments.select_instruments` performs on an exposure file
    before clumping.

Each is run once to warm the page cache and then ``--repeats`` times (default 3),
zcat and extraction runs alternating so that other load on the machine hits both
alike. The median wall time is reported as rows per second (all data rows of the
file, not the rows kept), with the ratio extraction / zcat; the issue's target is
a ratio of at least 0.5. The same ratio in CPU seconds is reported as well. The
extraction time covers the ``read_sumstats`` call only, not the interpreter
start or the imports (reported separately). Every extraction run is a fresh
Python process, so its peak resident set size belongs to that one read; it is
the process's own high-water mark ``VmHWM`` (``resource.getrusage``'s
``ru_maxrss`` is recorded too, but Linux carries the parent's peak into a child
across fork and exec). The rows kept are checked against the number of
significant rows written by the generator.

``--also-ssf-vcf`` does the same for the same variants written as an IEU GWAS
VCF (the OpenGWAS format, ``ES:SE:LP:AF:SS:ID``).

Results are printed and written to ``benchmarks/results/extract.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_WORKDIR = HERE / "data"
DEFAULT_OUT = HERE / "results" / "extract.json"
TARGET_RATIO = 0.5
GENERATOR_VERSION = 1  # bump when the simulated file changes, to invalidate the cache

# GRCh38 autosome and X lengths (bp)
CHROM_LENGTHS = {
    "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259,
    "6": 170805979, "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422,
    "11": 135086622, "12": 133275309, "13": 114364328, "14": 107043718, "15": 101991189,
    "16": 90338345, "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
    "21": 46709983, "22": 50818468, "X": 156040895,
}
SSF_HEADER = ("chromosome", "base_pair_location", "effect_allele", "other_allele", "beta",
              "standard_error", "effect_allele_frequency", "p_value", "rsid", "n")
SNV_PAIRS = [(a, b) for a in "ACGT" for b in "ACGT" if a != b]
INDEL_PAIRS = [("AT", "A"), ("A", "AG"), ("CTT", "C"), ("G", "GA"), ("TA", "T"),
               ("C", "CAAAT")]
N_LOCI = 150           # simulated associated loci; 1-6 significant variants each
CHUNK = 1_000_000      # rows generated and written at a time


# --------------------------------------------------------------------------- generation


def _round_sig(x: np.ndarray, digits: int) -> np.ndarray:
    """Round positive values to ``digits`` significant digits, as decimal text would show."""
    out = np.array(x, dtype=float, copy=True)
    pos = out > 0
    e = np.floor(np.log10(out[pos])).astype(int)
    k = digits - 1 - e                         # decimals to keep
    scaled = np.round(out[pos] * 10.0 ** k)
    exact = k <= 22                            # 10**k is exact up to 1e22
    val = np.empty_like(scaled)
    val[exact] = scaled[exact] / 10.0 ** k[exact]
    val[~exact] = [float(f"{v:.{digits - 1}e}") for v in out[pos][~exact]]
    out[pos] = val
    return out


class _Simulation:
    """Everything about the simulated study that is fixed by (rows, seed)."""

    def __init__(self, rows: int, seed: int):
        self.rows = rows
        self.seed = seed
        rng = np.random.default_rng(seed)
        names = list(CHROM_LENGTHS)
        lengths = np.array([CHROM_LENGTHS[c] for c in names], dtype=float)
        counts = np.floor(rows * lengths / lengths.sum()).astype(np.int64)
        counts[0] += rows - counts.sum()
        self.chrom_names = names
        self.chrom_idx = np.repeat(np.arange(len(names)), counts)
        pos = np.empty(rows, dtype=np.int64)
        start = 0
        for c, m in zip(names, counts):
            gap = max(2, int(CHROM_LENGTHS[c] * 0.98 / max(m, 1)))
            pos[start:start + m] = 10_000 + np.cumsum(rng.integers(1, 2 * gap, size=m))
            start += m
        self.pos = pos
        # associated loci: a lead variant and up to 5 neighbours in "LD" with it
        lead = np.sort(rng.choice(max(rows - 8, 1), size=min(N_LOCI, max(rows // 1000, 1)),
                                  replace=False))
        idx, z = [], []
        for i in lead:
            zlead = (5.8 + rng.exponential(3.0)) * rng.choice([-1.0, 1.0])
            k = int(rng.integers(1, 7))
            for j in range(k):
                idx.append(i + j)
                z.append(zlead if j == 0 else zlead * rng.uniform(0.75, 1.0))
        order = np.argsort(idx, kind="stable")
        self.signal_idx = np.asarray(idx, dtype=np.int64)[order]
        self.signal_z = np.asarray(z)[order]

    def chunk(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Columns of rows ``start:stop`` (their own random stream, so chunks are independent)."""
        rng = np.random.default_rng([self.seed, start])
        m = stop - start
        eaf = np.round(rng.uniform(0.005, 0.995, size=m), 4)
        n = 400_000 - rng.integers(0, 20_000, size=m)
        se = np.round(1.0 / np.sqrt(2.0 * eaf * (1.0 - eaf) * n), 5)
        z = rng.standard_normal(m)
        lo, hi = np.searchsorted(self.signal_idx, [start, stop])
        z[self.signal_idx[lo:hi] - start] = self.signal_z[lo:hi]
        beta = np.round(z * se, 5)
        from scipy import special
        p = 2.0 * special.ndtr(-np.abs(beta / se))
        p = _round_sig(np.maximum(p, 1e-300), 4)
        pairs = SNV_PAIRS + INDEL_PAIRS
        which = np.where(rng.random(m) < 0.05,
                         rng.integers(len(SNV_PAIRS), len(pairs), size=m),
                         rng.integers(0, len(SNV_PAIRS), size=m))
        flip = rng.random(m) < 0.5       # effect allele is REF or ALT
        rs = 1000 + np.arange(start, stop, dtype=np.int64) * 13 + rng.integers(0, 13, size=m)
        eaf_missing = rng.random(m) < 0.002
        return {"chrom": self.chrom_idx[start:stop], "pos": self.pos[start:stop],
                "pair": which, "flip": flip, "eaf": eaf, "eaf_missing": eaf_missing,
                "n": n, "se": se, "beta": beta, "p": p, "rs": rs}


def _alleles(c: dict[str, np.ndarray]):
    import pyarrow as pa
    pairs = SNV_PAIRS + INDEL_PAIRS
    first = pa.array([a for a, _ in pairs]).take(pa.array(c["pair"]))
    second = pa.array([b for _, b in pairs]).take(pa.array(c["pair"]))
    flip = pa.array(c["flip"])
    import pyarrow.compute as pc
    return pc.if_else(flip, second, first), pc.if_else(flip, first, second)  # effect, other


def _ssf_table(sim: _Simulation, c: dict[str, np.ndarray]):
    import pyarrow as pa
    import pyarrow.compute as pc
    ea, oa = _alleles(c)
    eaf = pc.fill_null(pc.cast(pa.array(c["eaf"], mask=c["eaf_missing"]), pa.string()), "NA")
    rsid = pc.binary_join_element_wise("rs", pc.cast(pa.array(c["rs"]), pa.string()), "")
    chrom = pa.array(sim.chrom_names).take(pa.array(c["chrom"]))
    cols = [chrom, pa.array(c["pos"]), ea, oa, pa.array(c["beta"]), pa.array(c["se"]),
            eaf, pa.array(c["p"]), rsid, pa.array(c["n"])]
    return pa.table(cols, names=list(SSF_HEADER))


def _vcf_table(sim: _Simulation, c: dict[str, np.ndarray]):
    import pyarrow as pa
    import pyarrow.compute as pc
    ea, oa = _alleles(c)
    m = len(c["pos"])
    lp = np.round(-np.log10(c["p"]), 4)
    af = pc.fill_null(pc.cast(pa.array(c["eaf"], mask=c["eaf_missing"]), pa.string()), ".")
    rsid = pc.binary_join_element_wise("rs", pc.cast(pa.array(c["rs"]), pa.string()), "")
    s = lambda x: pc.cast(pa.array(x), pa.string())  # noqa: E731
    sample = pc.binary_join_element_wise(s(c["beta"]), s(c["se"]), s(lp), af, s(c["n"]),
                                         rsid, ":")
    chrom = pa.array(sim.chrom_names).take(pa.array(c["chrom"]))
    dot = pa.array(["."]).take(pa.array(np.zeros(m, dtype=np.int64)))
    cols = [chrom, pa.array(c["pos"]), rsid, oa, ea, dot,
            pa.array(["PASS"]).take(pa.array(np.zeros(m, dtype=np.int64))), dot,
            pa.array(["ES:SE:LP:AF:SS:ID"]).take(pa.array(np.zeros(m, dtype=np.int64))), sample]
    return pa.table(cols, names=list(VCF_COLUMNS)), int(np.sum(10.0 ** -lp < 5e-8))


VCF_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
               "bench-sim-1")
VCF_META = """##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele Frequency">
##FORMAT=<ID=ES,Number=A,Type=Float,Description="Effect size estimate relative to the alternative allele">
##FORMAT=<ID=SE,Number=A,Type=Float,Description="Standard error of effect size estimate">
##FORMAT=<ID=LP,Number=A,Type=Float,Description="-log10 p-value for effect estimate">
##FORMAT=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency in the association study">
##FORMAT=<ID=SS,Number=A,Type=Float,Description="Sample size used to estimate genetic effect">
##FORMAT=<ID=ID,Number=1,Type=String,Description="Study variant identifier">
##META=<ID=TotalVariants,Number=1,Type=Integer,Description="Total number of variants in input">
##SAMPLE=<ID=bench-sim-1,TotalVariants={rows},StudyType=Continuous,TotalControls=400000>
##source=mrbook benchmarks/bench_extract.py (simulated)
"""


def _gzip_member(data, level: int) -> bytes:
    """One complete gzip member (zlib releases the GIL, so members compress in parallel)."""
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def generate(kind: str, path: Path, rows: int, seed: int, level: int, p_max: float) -> dict:
    """Write the simulated file as gzip members of ``CHUNK`` rows; return its metadata.

    Chunks are compressed on all CPUs while the next one is generated; the result
    is a multi-member gzip file, as bgzip writes (``zcat`` and pyarrow read it as
    one stream).
    """
    import pyarrow as pa
    import pyarrow.csv as pv

    t0 = time.perf_counter()
    sim = _Simulation(rows, seed)
    tmp = path.with_name(path.name + ".part")
    expected = 0
    raw = 0
    if kind == "vcf":
        header = VCF_META.format(rows=rows) + "\t".join(VCF_COLUMNS) + "\n"
    else:
        header = "\t".join(SSF_HEADER) + "\n"
    opts = pv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none",
                           batch_size=65536)
    workers = max(1, os.cpu_count() or 1)
    try:
        with open(tmp, "wb") as out, ThreadPoolExecutor(workers) as pool:
            pending: deque = deque()
            first = header.encode()
            raw += len(first)
            for start in range(0, rows, CHUNK):
                c = sim.chunk(start, min(start + CHUNK, rows))
                if kind == "vcf":
                    table, k = _vcf_table(sim, c)
                    expected += k
                else:
                    table = _ssf_table(sim, c)
                    expected += int(np.sum(c["p"] < p_max))
                sink = pa.BufferOutputStream()
                pv.write_csv(table, sink, opts)
                buf = sink.getvalue()
                raw += buf.size
                if first:
                    buf, first = first + buf.to_pybytes(), b""
                pending.append(pool.submit(_gzip_member, buf, level))
                while len(pending) > workers:
                    out.write(pending.popleft().result())
            if first:  # no data rows at all
                pending.append(pool.submit(_gzip_member, first, level))
            while pending:
                out.write(pending.popleft().result())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    meta = {"kind": kind, "rows": rows, "seed": seed, "gzip_level": level,
            "generator_version": GENERATOR_VERSION, "p_max": p_max,
            "significant_rows": expected, "bytes": path.stat().st_size,
            "uncompressed_bytes": raw, "gzip_members": -(-rows // CHUNK) if rows else 1,
            "generation_s": round(time.perf_counter() - t0, 2)}
    path.with_name(path.name + ".json").write_text(json.dumps(meta, indent=2))
    return meta


def ensure_file(kind: str, workdir: Path, rows: int, seed: int, level: int,
                p_max: float) -> tuple[Path, dict]:
    ext = "vcf.gz" if kind == "vcf" else "tsv.gz"
    path = workdir / f"sim_{kind}_{rows}_seed{seed}_gz{level}.{ext}"
    meta_path = path.with_name(path.name + ".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if (meta.get("generator_version") == GENERATOR_VERSION and meta.get("p_max") == p_max
                and meta.get("bytes") == path.stat().st_size):
            print(f"reusing {path} ({meta['bytes'] / 1e6:.0f} MB)", flush=True)
            return path, {**meta, "reused": True}
    workdir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(workdir).free
    need = rows * 60  # generous upper bound on the compressed size
    if free < need + (2 << 30):
        raise SystemExit(f"not enough disk space in {workdir}: {free / 1e9:.1f} GB free, "
                         f"need about {need / 1e9:.1f} GB plus 2 GB headroom")
    print(f"generating {path} ({rows:,} rows, gzip -{level}) ...", flush=True)
    meta = generate(kind, path, rows, seed, level, p_max)
    print(f"  {meta['bytes'] / 1e6:.0f} MB in {meta['generation_s']:.1f} s, "
          f"{meta['significant_rows']} rows with p < {p_max:g}", flush=True)
    return path, {**meta, "reused": False}


# --------------------------------------------------------------------------- timing


def time_zcat(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, shell included) of ``zcat FILE > /dev/null``."""
    cmd = f"zcat {shlex.quote(str(path))} > /dev/null"
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def _proc_status_mb(key: str) -> float | None:
    """``VmHWM``/``VmRSS`` of this process from /proc (Linux), in MB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def child(path: str, fmt: str, p_max: float) -> None:
    """One extraction in this (fresh) process; print a JSON line with the measurements."""
    t0 = time.perf_counter()
    from mrbook.data.readers import read_sumstats
    import_s = time.perf_counter() - t0
    rss0 = _proc_status_mb("VmRSS")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    df = read_sumstats(path, fmt=fmt, p_max=p_max)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    hwm = _proc_status_mb("VmHWM")
    print(json.dumps({
        "seconds": wall, "import_s": import_s, "kept": int(len(df)),
        "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
        # Linux keeps ru_maxrss across fork+exec, so a child of a big parent reports the
        # parent's peak; VmHWM is this process's own high-water mark
        "peak_rss_mb": hwm if hwm is not None else r1.ru_maxrss / 1024,
        "ru_maxrss_mb": r1.ru_maxrss / 1024, "rss_after_import_mb": rss0,
    }))


def time_extract(path: Path, fmt: str, p_max: float) -> dict:
    out = subprocess.run([sys.executable, __file__, "--_child", str(path), fmt, repr(p_max)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_file(kind: str, path: Path, meta: dict, repeats: int, p_max: float) -> dict:
    rows = meta["rows"]
    fmt = "vcf" if kind == "vcf" else "gwas-ssf"
    print(f"\n[{fmt}] {path.name}: {rows:,} rows, {meta['bytes'] / 1e6:.0f} MB", flush=True)
    time_zcat(path)  # warm the page cache
    time_extract(path, fmt, p_max)  # warm-up (imports, page cache)
    zcat, zcpu, ext = [], [], []
    for i in range(repeats):  # alternate, so that other load on the machine hits both alike
        wall, cpu = time_zcat(path)
        zcat.append(wall)
        zcpu.append(cpu)
        ext.append(time_extract(path, fmt, p_max))
        print(f"  run {i + 1}: zcat {wall:.2f} s (cpu {cpu:.2f} s); read_sumstats "
              f"{ext[-1]['seconds']:.2f} s (cpu {ext[-1]['cpu_s']:.2f} s, peak RSS "
              f"{ext[-1]['peak_rss_mb']:.0f} MB, kept {ext[-1]['kept']})", flush=True)
    z_med = statistics.median(zcat)
    e_med = statistics.median(r["seconds"] for r in ext)
    kept = {r["kept"] for r in ext}
    res = {
        "format": fmt, "file": str(path), "rows": rows, "file_bytes": meta["bytes"],
        "uncompressed_bytes": meta["uncompressed_bytes"],
        "significant_rows_written": meta["significant_rows"],
        "rows_kept": sorted(kept)[0] if len(kept) == 1 else sorted(kept),
        "zcat": {"command": "zcat FILE > /dev/null", "median_s": z_med, "times_s": zcat,
                 "cpu_s": zcpu, "rows_per_s": rows / z_med},
        "extract": {"call": f"read_sumstats(FILE, fmt={fmt!r}, p_max={p_max:g})",
                    "median_s": e_med, "times_s": [r["seconds"] for r in ext],
                    "cpu_s": [r["cpu_s"] for r in ext], "rows_per_s": rows / e_med,
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in ext),
                    "rss_after_import_mb": (statistics.median(r["rss_after_import_mb"]
                                                              for r in ext)
                                            if ext[0]["rss_after_import_mb"] else None),
                    "import_s": statistics.median(r["import_s"] for r in ext)},
        "ratio": (rows / e_med) / (rows / z_med),
        # the same ratio in CPU seconds (all threads of the extraction counted): less
        # sensitive to other load on the machine, and conservative for a threaded reader
        "cpu_ratio": statistics.median(zcpu) / statistics.median(r["cpu_s"] for r in ext),
        "target_ratio": TARGET_RATIO,
    }
    res["meets_target"] = res["ratio"] >= TARGET_RATIO
    res["kept_matches_generator"] = res["rows_kept"] == meta["significant_rows"]
    return res


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _zcat_version() -> str | None:
    try:
        out = subprocess.run(["gzip", "--version"], capture_output=True, text=True)
        return out.stdout.splitlines()[0]
    except (OSError, IndexError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="variants in the file")
    ap.add_argument("--seed", type=int, default=20240501)
    ap.add_argument("--gzip-level", type=int, default=6, choices=range(1, 10),
                    help="compression level of the simulated file (bgzip/gzip default: 6)")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                    help="where the simulated files are cached (default benchmarks/data)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--p-max", type=float, default=5e-8)
    ap.add_argument("--also-ssf-vcf", action="store_true",
                    help="also benchmark the same variants as an IEU GWAS VCF")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child:
        child(args._child[0], args._child[1], float(args._child[2]))
        return 0

    kinds = ["ssf"] + (["vcf"] if args.also_ssf_vcf else [])
    results = []
    for kind in kinds:
        path, meta = ensure_file(kind, args.workdir, args.rows, args.seed, args.gzip_level,
                                 args.p_max)
        res = bench_file(kind, path, meta, args.repeats, args.p_max)
        res["generation"] = meta
        results.append(res)

    print()
    print(f"{'format':<9} {'rows':>12} {'MB (gz)':>8} {'zcat rows/s':>13} "
          f"{'extract rows/s':>15} {'ratio':>6} {'cpu ratio':>9} {'peak RSS':>9}")
    for r in results:
        print(f"{r['format']:<9} {r['rows']:>12,} {r['file_bytes'] / 1e6:>8.0f} "
              f"{r['zcat']['rows_per_s']:>13,.0f} {r['extract']['rows_per_s']:>15,.0f} "
              f"{r['ratio']:>6.2f} {r['cpu_ratio']:>9.2f} {r['extract']['peak_rss_mb']:>6.0f} MB"
              f"{'' if r['meets_target'] else '  < target ' + str(TARGET_RATIO)}")
        if not r["kept_matches_generator"]:
            print(f"  WARNING: kept {r['rows_kept']} rows, generator wrote "
                  f"{r['significant_rows_written']} with p < {args.p_max:g}")

    report = {
        "benchmark": "instrument extraction (read_sumstats with p_max) vs zcat",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "processor": platform.processor() or None},
        "versions": {"mrbook": _version("mrbook"), "pyarrow": _version("pyarrow"),
                     "numpy": _version("numpy"), "pandas": _version("pandas"),
                     "zcat": _zcat_version()},
        "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "settings": {"rows": args.rows, "seed": args.seed, "gzip_level": args.gzip_level,
                     "repeats": args.repeats, "p_max": args.p_max},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if load is not None and os.cpu_count() and load > os.cpu_count():
        print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs -- other work was "
              "running; wall-clock numbers are noisy (see cpu ratio)")
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
