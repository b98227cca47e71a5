"""The SIMULATED demo study: files, labels, formats, determinism (mrbook.data.demo).

The expected numbers are SPEC section 1's table (Li et al. 2024, West China Medical
Journal 39(10):1617-1624) and its trait metadata (OpenGWAS gwasinfo of
ebi-a-GCST90018862/60/55 and finn-b-M13_OSTEOPOROSIS).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrbook.data import demo
from mrbook.cli.main import main
from mrbook.errors import ParameterError
from mrbook.data.ld import read_panel
from mrbook.data.readers import read_sumstats

#: SPEC section 1: trait, cases, controls, N
SPEC_TRAITS = {
    "hypothyroidism": ("Hypothyroidism", 30155, 379986, 410141),
    "hyperthyroidism": ("Hyperthyroidism", 3557, 456942, 460499),
    "hashimoto": ("Hashimoto thyroiditis", 15654, 379986, 395640),
    "osteoporosis": ("Osteoporosis", 3203, 209575, 212778),
}
#: SPEC section 1: palindromic SNPs removed, per exposure
SPEC_PALINDROMIC = {
    "hypothyroidism": ["rs148844907", "rs187707293", "rs2114702", "rs2921053", "rs3118469",
                       "rs34536443", "rs41444548", "rs9265699"],
    "hyperthyroidism": ["rs12662112", "rs385863", "rs56401801"],
    "hashimoto": ["rs1993945", "rs2072109", "rs757024", "rs7754251"],
}


@pytest.fixture(scope="session")
def manifest(demo_folder) -> dict:
    return demo.load_manifest(demo_folder)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_layout_and_manifest(demo_folder, manifest):
    assert manifest["simulated"] is True
    assert manifest["seed"] == demo.DEFAULT_SEED
    for key in ("hypothyroidism", "hyperthyroidism", "hashimoto", "osteoporosis",
                "confounders"):
        assert (demo_folder / manifest["files"][key]).is_file(), key
    for ext in ("bed", "bim", "fam"):
        assert (demo_folder / f"{manifest['files']['panel']}.{ext}").is_file()
    for t, (name, ncase, ncontrol, n) in SPEC_TRAITS.items():
        info = manifest["traits"][t]
        assert (info["trait"], info["ncase"], info["ncontrol"], info["n"]) == \
            (name, ncase, ncontrol, n)
        assert ncase + ncontrol == n
    d = manifest["design"]
    assert [d[t]["candidates"] for t in ("hypothyroidism", "hyperthyroidism", "hashimoto",
                                         "osteoporosis")] == [90, 20, 18, 22]
    for t, listed in SPEC_PALINDROMIC.items():
        assert d[t]["palindromic"] == sorted(listed)


def test_every_file_says_simulated_and_records_the_seed(demo_folder, manifest):
    seed = str(demo.DEFAULT_SEED)
    for t in ("hypothyroidism", "hyperthyroidism", "hashimoto"):
        with gzip.open(demo_folder / manifest["files"][t], "rt") as fh:
            head = [next(fh) for _ in range(3)]
        assert head[0].startswith("##fileformat=VCF")
        sim = [ln for ln in head if ln.startswith("##SIMULATED=")]
        assert sim and f"Seed={seed}" in sim[0]
    fg = pd.read_csv(demo_folder / manifest["files"]["osteoporosis"], sep="\t", nrows=50)
    assert list(fg.columns[:6]) == ["#chrom", "pos", "ref", "alt", "rsids", "nearest_genes"]
    assert (fg["nearest_genes"] == "SIMULATED").all()
    fam = pd.read_csv(demo_folder / f"{manifest['files']['panel']}.fam", sep=" ", header=None)
    assert (fam[0] == "SIMULATED").all() and len(fam) == 1000
    cat = pd.read_csv(demo_folder / manifest["files"]["confounders"], sep="\t", dtype=str)
    for col in ("SNPS", "DISEASE/TRAIT", "MAPPED_TRAIT", "P-VALUE", "PUBMEDID"):
        assert col in cat.columns
    assert cat["NOTE"].str.contains("SIMULATED").all()
    assert cat["NOTE"].str.contains(f"seed={seed}").all()
    readmes = list(demo_folder.rglob("README.txt"))
    assert len(readmes) == 4  # top level, ld_panel, sumstats, confounders
    for r in readmes:
        text = r.read_text()
        assert "SIMULATED" in text and seed in text


def test_files_read_back_with_the_real_readers(demo_folder, manifest):
    for t in ("hypothyroidism", "hyperthyroidism", "hashimoto", "osteoporosis"):
        _, ncase, ncontrol, n = SPEC_TRAITS[t]
        df = read_sumstats(demo_folder / manifest["files"][t], p_max=5e-8)
        assert len(df) > manifest["design"][t]["candidates"]
        assert df["rsid"].str.match(r"^rs\d+$").all()
        if t != "osteoporosis":  # IEU VCF: N and cases from SS and ##SAMPLE
            assert (df["n"] == n).all()
            assert (df["ncase"] == ncase).all() and (df["ncontrol"] == ncontrol).all()


def test_rsids_cannot_collide_with_the_listed_real_ones(demo_folder, manifest):
    bim = pd.read_csv(demo_folder / f"{manifest['files']['panel']}.bim", sep="\t",
                      header=None, dtype=str)
    ids = bim[1]
    assert not ids.duplicated().any()
    listed = {s for v in SPEC_PALINDROMIC.values() for s in v}
    assert listed <= set(ids)
    others = ids[~ids.isin(listed)]
    # rs9 + 9 digits: 10-digit numbers above any rsID dbSNP has issued
    assert others.str.match(r"^rs9\d{9}$").all()


def test_listed_palindromes_are_ambiguous_in_both_files(demo_folder, manifest):
    out = read_sumstats(demo_folder / manifest["files"]["osteoporosis"],
                        snps=[s for v in SPEC_PALINDROMIC.values() for s in v])
    for t, listed in SPEC_PALINDROMIC.items():
        exp = read_sumstats(demo_folder / manifest["files"][t], snps=listed)
        assert sorted(exp["rsid"]) == sorted(listed)
        for df in (exp, out[out["rsid"].isin(listed)]):
            pairs = set(zip(df["effect_allele"], df["other_allele"]))
            assert pairs <= {("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")}
            assert ((df["eaf"] > 0.42) & (df["eaf"] < 0.58)).all()


def test_outcome_alleles_are_swapped_and_flipped(demo_folder, manifest):
    comp = {"A": "T", "T": "A", "C": "G", "G": "C"}
    for t in ("hypothyroidism", "hyperthyroidism", "hashimoto"):
        final = manifest["design"][t]["final"]
        exp = read_sumstats(demo_folder / manifest["files"][t], snps=final).set_index("rsid")
        out = read_sumstats(demo_folder / manifest["files"]["osteoporosis"],
                            snps=final).set_index("rsid")
        assert len(out) == len(final)
        same = swapped = flipped = 0
        for s in final:
            e = (exp.at[s, "effect_allele"], exp.at[s, "other_allele"])
            o = (out.at[s, "effect_allele"], out.at[s, "other_allele"])
            if o == e:
                same += 1
            elif o == e[::-1]:
                swapped += 1
            elif o in ((comp[e[0]], comp[e[1]]), (comp[e[1]], comp[e[0]])):
                flipped += 1
        assert same + swapped + flipped == len(final)
        assert swapped >= 2 and flipped >= 1 and same >= 1, (t, same, swapped, flipped)


def test_missing_snps_are_absent_from_the_outcome(demo_folder, manifest):
    for t in ("hypothyroidism", "hyperthyroidism", "hashimoto"):
        miss = manifest["design"][t]["missing_in_outcome"]
        out = read_sumstats(demo_folder / manifest["files"]["osteoporosis"], snps=miss)
        assert out.empty


@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 is not installed")
def test_plink_reads_the_panel(demo_folder, manifest, tmp_path):
    prefix = demo_folder / manifest["files"]["panel"]
    proc = subprocess.run(["plink1.9", "--bfile", str(prefix), "--freq", "--out",
                           str(tmp_path / "f")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-500:]
    assert "1000 founders" in proc.stdout
    frq = pd.read_csv(tmp_path / "f.frq", sep=r"\s+")
    panel = read_panel(prefix)
    assert len(frq) == panel.n_variants == manifest["n_snps"]
    g = panel.genotypes(np.arange(0, panel.n_variants, 997))
    a2 = g.sum(axis=1) / (2.0 * g.shape[1])
    maf = np.minimum(a2, 1 - a2)
    assert np.allclose(frq["MAF"].to_numpy()[::997], maf, atol=5e-5)


def test_same_seed_gives_byte_identical_files(demo_folder, tmp_path, capsys):
    # a second generation through the CLI, compared with the session's demo
    assert main(["demo-data", str(tmp_path / "again"), "--seed", str(demo.DEFAULT_SEED)]) == 0
    assert "SIMULATED" in capsys.readouterr().out
    a, b = _files(demo_folder), _files(tmp_path / "again")
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], name


def test_bad_seed_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError):
        demo.generate(tmp_path, seed="abc")
    with pytest.raises(ParameterError):
        demo.generate(tmp_path, seed=-1)


def test_cache_is_reused(demo_root, demo_folder):
    before = (demo_folder / "manifest.json").stat().st_mtime_ns
    assert demo.demo_dir(demo.DEFAULT_SEED, root=demo_root) == demo_folder
    assert (demo_folder / "manifest.json").stat().st_mtime_ns == before


def test_readme_states_the_counts(demo_folder):
    text = (demo_folder / "README.txt").read_text()
    assert re.search(r"hypothyroidism\s+candidates\s+90\s+missing 4\s+palindromic 8\s+"
                     r"confounder 9\s+final 69", text)
    assert "by construction" in text
    assert json.loads((demo_folder / "manifest.json").read_text())["simulated"] is True
