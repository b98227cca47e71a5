"""Data layer: the demo study's multivariable extension (SIMULATED): thyroid traits that share loci.

The demo study (:mod:`mrbook.data.demo`) gives each thyroid trait its own loci,
so a multivariable analysis of it has nothing to separate. This module writes,
next to a generated demo study (in a folder of its own, never inside the demo's),
a second set of summary statistics in which the three thyroid traits **share loci**, as
autoimmune thyroid disease does: every locus of Hashimoto thyroiditis (HT) also
raises the risk of hypothyroidism, and some loci of each trait act on the other
two (:data:`SHARED_LOCI`: 30% of the hypothyroidism loci, 30% of the
hyperthyroidism loci and all the HT loci are shared), enough for every trait to
keep a conditional F statistic above 10. Files (:func:`mv_demo_dir`:
``<cache>/demo-mv/seed-<seed>/``):

* ``sumstats/hypothyroidism.vcf.gz``, ``hyperthyroidism.vcf.gz``,
  ``hashimoto.vcf.gz``: the demo's exposure VCFs, line for line, except in the
  regions (lead +- 100 kb) of the shared loci, where a trait's z-scores become
  ``c * z`` of the locus's own trait (``c`` in :data:`SHARED_LOCI`, + N(0, 0.2)
  noise; a neighbour never outranks its lead, so clumping keeps the leads);
* ``sumstats/osteoporosis.tsv.gz``: the demo's outcome file, line for line,
  except at those SNPs, where the outcome gains ``theta_t * beta_t`` for every
  trait ``t`` that gained an effect there (in the row's own allele orientation,
  P-value and case/control frequencies recomputed);
* ``manifest.json`` (seed, the SHA-256 of the demo files it was made from, every
  shared locus with its scale) and ``README.txt``.

The direct effects on osteoporosis are the demo's: ``theta`` = 0.0926, 0.0853 and
0.1740 (the published univariable ln ORs), so a multivariable analysis of these
files recovers them *by construction*, while a univariable analysis is pulled
away from them by the shared loci. The LD panel, the confounder table and every
SNP's alleles are the demo's own. Everything here is simulated, says so in every
file, and is no evidence about thyroid disease.

:func:`mv_demo_dir` returns the folder (written on first use, from the cached
demo, and rewritten when the demo's files change); the sources ``demo-mv:<trait>``
of :mod:`mrbook.multivariable` read it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from . import demo

#: Bump when the design changes: an extension of another version is rewritten.
MV_VERSION = 1
#: folder of the extensions in the cache root (one ``seed-<seed>`` folder per demo seed)
CACHE_FOLDER = "demo-mv"
#: region of a locus (bp either side of its lead): the demo's own locus region
REGION = 100_000

#: shared loci: the loci of ``source`` (its final instruments), a fraction of which also act
#: on ``target`` with z = c * z_source, c drawn uniformly in ``scale``
SHARED_LOCI = (
    dict(source="hashimoto", target="hypothyroidism", fraction=1.0, scale=(0.55, 0.85)),
    dict(source="hashimoto", target="hyperthyroidism", fraction=0.3, scale=(0.45, 0.75)),
    dict(source="hyperthyroidism", target="hashimoto", fraction=0.3, scale=(0.45, 0.75)),
    dict(source="hyperthyroidism", target="hypothyroidism", fraction=0.2, scale=(0.35, 0.6)),
    dict(source="hypothyroidism", target="hashimoto", fraction=0.3, scale=(0.6, 0.9)),
    dict(source="hypothyroidism", target="hyperthyroidism", fraction=0.3, scale=(0.6, 0.9)),
)
_COMPLEMENT = str.maketrans("ACGT", "TGCA")
_ZCUT = float(-special.ndtri(2.5e-8))  # |z| of P = 5e-8


def _gzip_bytes(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=1) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _note(seed: int) -> str:
    return (f"SIMULATED multivariable extension of the mrbook demo study (seed={seed}): the thyroid "
            "traits share loci. Not real GWAS results; estimates agree with the simulated direct "
            "effects by construction.")


class _VCF:
    """A demo VCF as header lines plus per-variant columns (text kept for unchanged lines)."""

    def __init__(self, text: str):
        lines = text.rstrip("\n").split("\n")
        nhead = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))
        self.header, self.body = lines[:nhead], lines[nhead:]
        f = pd.read_csv(io.StringIO("\n".join(self.body)), sep="\t", header=None, dtype=str,
                        usecols=[0, 1, 2, 3, 4, 9], keep_default_na=False)
        vals = f[9].str.split(":", n=2, expand=True)
        self.chr = f[0].to_numpy(dtype=str)
        self.pos = f[1].astype(np.int64).to_numpy()
        self.rsid = f[2].tolist()
        self.ref = f[3].tolist()
        self.alt = f[4].tolist()
        self.es = vals[0].astype(float).to_numpy(copy=True)
        self.se = vals[1].astype(float).to_numpy(copy=True)
        self.row = {s: i for i, s in enumerate(self.rsid)}

    def set_z(self, i: int, z: float) -> None:
        f = self.body[i].split("\t")
        v = f[9].split(":")
        beta = z * self.se[i]
        lp = -(math.log(2.0) + float(special.log_ndtr(-abs(z)))) / math.log(10.0)
        v[0], v[2] = f"{beta:.7g}", f"{lp:.6g}"
        f[9] = ":".join(v)
        self.body[i] = "\t".join(f)
        self.es[i] = float(v[0])

    def text(self, extra_header: str) -> str:
        head = list(self.header)
        head.insert(2, extra_header)
        return "\n".join(head + self.body) + "\n"


def _regions(vcf: _VCF, leads: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for s in leads:
        i = vcf.row[s]
        out[s] = np.flatnonzero((vcf.chr == vcf.chr[i]) & (np.abs(vcf.pos - vcf.pos[i]) <= REGION))
    return out


def generate_mv(base: str | Path, outdir: str | Path | None = None) -> dict[str, Path]:
    """Write the multivariable extension of the demo study in ``base``.

    Parameters
    ----------
    base : str or Path
        A demo study folder (:func:`mrbook.data.demo.generate` or ``demo_dir``).
    outdir : str or Path, optional
        Where to write (default: ``<base>-multivariable`` beside ``base``, never
        inside it); replaced atomically.

    Returns
    -------
    dict of str to Path
        ``manifest``, ``readme`` and one entry per trait.

    Raises
    ------
    RuntimeError
        If the design check fails (a SNP significant outside the planted loci, or
        a neighbour outranking its lead), which would change the instruments.
    """
    base = Path(base)
    outdir = Path(outdir) if outdir is not None else base.with_name(base.name + "-multivariable")
    man = demo.load_manifest(base)
    seed = int(man["seed"])
    rng = np.random.default_rng([seed, 2])
    design = man["design"]
    vcfs = {t: _VCF(gzip.decompress((base / man["files"][t]).read_bytes()).decode("utf-8"))
            for t in demo.THYROID}
    z_old = {t: v.es / v.se for t, v in vcfs.items()}
    z_new = {t: z.copy() for t, z in z_old.items()}
    shared = []
    for spec in SHARED_LOCI:
        src, tgt = spec["source"], spec["target"]
        leads = sorted(design[src]["final"])
        m = int(round(spec["fraction"] * len(leads)))
        chosen = sorted(rng.choice(leads, size=m, replace=False).tolist()) if m else []
        regions = _regions(vcfs[src], chosen)
        for lead in chosen:
            c = float(rng.uniform(*spec["scale"]))
            rows_src = regions[lead]
            lead_src = vcfs[src].row[lead]
            rows_tgt = np.array([vcfs[tgt].row.get(vcfs[src].rsid[i], -1) for i in rows_src])
            zt = c * z_old[src][rows_src] + rng.normal(0.0, 0.2, len(rows_src))
            is_lead = rows_src == lead_src
            cap = abs(float(zt[is_lead][0])) - 0.25
            zt[~is_lead] = np.clip(zt[~is_lead], -cap, cap)
            for i_t, z in zip(rows_tgt, zt):
                if i_t >= 0:
                    z_new[tgt][i_t] = z
            shared.append({"lead": lead, "source": src, "target": tgt, "scale": round(c, 6),
                           "z_target": round(float(zt[is_lead][0]), 6),
                           "significant_in_target": bool(abs(zt[is_lead][0]) > _ZCUT)})
    beta_delta = {}
    for t, v in vcfs.items():
        changed = np.flatnonzero(z_new[t] != z_old[t])
        for i in changed:
            v.set_z(int(i), float(z_new[t][i]))
        beta_delta[t] = {v.rsid[i]: (v.es[i], v.ref[i], v.alt[i]) for i in changed}
    _check(vcfs, design, shared)

    # outcome: + theta_t * beta_t at every SNP where trait t gained an effect
    fg_path = base / man["files"][demo.OUTCOME]
    lines = gzip.decompress(fg_path.read_bytes()).decode("utf-8").rstrip("\n").split("\n")
    head = lines[0].split("\t")
    col = {c: i for i, c in enumerate(head)}
    info = demo.TRAITS[demo.OUTCOME]
    phi = info["ncase"] / info["n"]
    add: dict[str, float] = {}
    for t, d in beta_delta.items():
        theta = demo.DESIGN[t]["theta"]
        for s, (b, ref, alt) in d.items():
            add.setdefault(s, 0.0)
            add[s] += theta * b  # on the exposure file's ALT allele
    alleles = {}
    for t in demo.THYROID:
        for s, (_, ref, alt) in beta_delta[t].items():
            alleles[s] = (ref, alt)
    n_out = 0
    for k in range(1, len(lines)):
        f = lines[k].split("\t")
        s = f[col["rsids"]]
        if s not in add:
            continue
        ref, alt = alleles[s]
        pal = {ref, alt} in ({"A", "T"}, {"C", "G"})
        a = f[col["alt"]]
        same = a == alt or (not pal and a == alt.translate(_COMPLEMENT))
        b = float(f[col["beta"]]) + (1.0 if same else -1.0) * add[s]
        se = float(f[col["sebeta"]])
        z = b / se
        p = 2.0 * float(special.ndtr(-abs(z)))
        lp = -(math.log(2.0) + float(special.log_ndtr(-abs(z)))) / math.log(10.0)
        fr = float(f[col["maf"]])
        dlt = b * fr * (1 - fr)
        f_ctrl = min(max(fr - phi * dlt, 0.0), 1.0)
        f_case = min(max(f_ctrl + dlt, 0.0), 1.0)
        f[col["beta"]], f[col["pval"]], f[col["mlogp"]] = f"{b:.7g}", f"{p:.6g}", f"{lp:.6g}"
        f[col["maf_cases"]], f[col["maf_controls"]] = f"{f_case:.5g}", f"{f_ctrl:.5g}"
        lines[k] = "\t".join(f)
        n_out += 1

    note = _note(seed)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}-", dir=outdir.parent))
    try:
        (tmp / "sumstats").mkdir()
        paths: dict[str, Path] = {}
        extra = (f"##SIMULATED_MULTIVARIABLE=<Description=\"{note}\",Seed={seed},"
                 f"MVVersion={MV_VERSION}>")
        for t, v in vcfs.items():
            p = tmp / man["files"][t]
            p.write_bytes(_gzip_bytes(v.text(extra)))
            paths[t] = p
        p = tmp / man["files"][demo.OUTCOME]
        p.write_bytes(_gzip_bytes("\n".join(lines) + "\n"))
        paths[demo.OUTCOME] = p
        files = {t: man["files"][t] for t in (*demo.THYROID, demo.OUTCOME)}
        manifest = {
            "simulated": True, "note": note, "generator": "mrbook.data.demo_mv",
            "mv_version": MV_VERSION, "seed": seed, "demo_version": man.get("demo_version"),
            "made_from": {t: man["sha256"][t] for t in (*demo.THYROID, demo.OUTCOME)},
            "files": files,
            "theta_direct": {t: demo.DESIGN[t]["theta"] for t in demo.THYROID},
            "shared_loci": shared, "outcome_rows_changed": n_out,
            "design": [dict(s) for s in SHARED_LOCI],
        }
        mpath = tmp / "manifest.json"
        mpath.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        paths["manifest"] = mpath
        rpath = tmp / "README.txt"
        rpath.write_text(_readme(note, shared))
        paths["readme"] = rpath
        if outdir.exists():
            shutil.rmtree(outdir)
        os.replace(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {k: outdir / p.relative_to(tmp) for k, p in paths.items()}


def _check(vcfs: dict, design: dict, shared: list) -> None:
    """Only planted and shared loci reach P < 5e-8, and in each region the lead is the strongest."""
    own = {t: sorted(set(design[t]["final"]) | set(design[t]["missing_in_outcome"])
                     | set(design[t]["palindromic"]) | set(design[t]["confounder"]))
           for t in demo.THYROID}
    for t, v in vcfs.items():
        z = v.es / v.se
        leads = own[t] + sorted({s["lead"] for s in shared if s["target"] == t})
        region_of = np.full(len(z), -1)
        for j, (lead, rows) in enumerate(_regions(v, leads).items()):
            region_of[rows] = j
            others = rows[rows != v.row[lead]]
            if len(others) and (np.abs(z[others]) >= abs(z[v.row[lead]])).any():
                raise RuntimeError(f"demo multivariable check failed for {t}: a neighbour of "
                                   f"{lead} outranks it")
        sig = np.abs(z) > _ZCUT
        if (sig & (region_of < 0)).any():
            raise RuntimeError(f"demo multivariable check failed for {t}: a SNP outside the "
                               "planted loci is significant")


def _readme(note: str, shared: list) -> str:
    lines = ["SIMULATED MULTIVARIABLE EXTENSION - NOT REAL DATA", "=" * 50, "", note, "",
             "The demo study's files with shared thyroid loci (see manifest.json). Read them as the",
             "data sources demo-mv:hypothyroidism, demo-mv:hyperthyroidism, demo-mv:hashimoto and",
             "demo-mv:osteoporosis; the LD panel and the confounder table are the demo's own.", "",
             "Shared loci (lead, locus of, also acts on, scale of z, significant there):"]
    for s in shared:
        lines.append(f"  {s['lead']:14s} {s['source']:16s} {s['target']:16s} {s['scale']:.3f}  "
                     f"{'yes' if s['significant_in_target'] else 'no'}")
    return "\n".join(lines) + "\n"


def _is_current(folder: Path, base: Path) -> bool:
    try:
        man = json.loads((folder / "manifest.json").read_text())
        base_man = demo.load_manifest(base)
    except (OSError, ValueError):
        return False
    design = json.loads(json.dumps([dict(s) for s in SHARED_LOCI]))
    return (man.get("mv_version") == MV_VERSION and man.get("design") == design
            and man.get("made_from") == {t: base_man["sha256"][t]
                                         for t in (*demo.THYROID, demo.OUTCOME)}
            and all((folder / f).exists() for f in man.get("files", {}).values()))


def mv_demo_dir(seed: int = demo.DEFAULT_SEED, root: str | Path | None = None) -> Path:
    """The multivariable extension of the cached demo study, written on first use.

    Parameters
    ----------
    seed : int
        The demo's seed (:data:`mrbook.data.demo.DEFAULT_SEED`).
    root : str or Path, optional
        Cache root (default ``$MRBOOK_CACHE`` or ``~/.cache/mrbook``).

    Returns
    -------
    Path
        ``<cache root>/demo-mv/seed-<seed>``, beside the demo's ``demo/seed-<seed>``
        (whose files it never touches); rewritten when the demo's files changed.
    """
    base = demo.demo_dir(seed, root=root)
    root = Path(root) if root is not None else demo.cache_root()
    folder = root / CACHE_FOLDER / f"seed-{int(seed)}"
    if not _is_current(folder, base):
        generate_mv(base, folder)
    return folder


#: the prefix of a data source of this extension (``demo-mv:<trait>``)
SOURCE_PREFIX = "demo-mv:"


def as_mv_source(demo_source, spec: str, cache_dir=None):
    """The ``demo-mv:<trait>`` source made from the ``demo:<trait>`` one (SIMULATED).

    Parameters
    ----------
    demo_source : mrbook.instruments.Source
        The demo trait's source (``resolve_source("demo:<trait>")``): its trait, seed
        and demo folder (whose LD panel and confounder table the extension shares).
    spec : str
        The ``demo-mv:<trait>`` text, kept as the source's ``spec``.
    cache_dir : str or Path, optional
        Cache root, as :func:`mv_demo_dir`'s ``root``.

    Returns
    -------
    Source
        The same kind ("demo", simulated), ID ``demo-mv-<trait>``, its file in
        :func:`mv_demo_dir` (written on first use).
    """
    import dataclasses

    seed = int(demo_source.meta["seed"])
    folder = mv_demo_dir(seed, root=cache_dir)
    key = demo_source.id[len("demo-"):] if demo_source.id.startswith("demo-") else demo_source.id
    meta = dict(demo_source.meta, extension="multivariable (shared thyroid loci)")
    return dataclasses.replace(demo_source, spec=spec, id=f"demo-mv-{key}",
                               path=folder / Path(demo_source.path).relative_to(demo_source.demo_dir),
                               meta=meta)
