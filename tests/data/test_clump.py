"""LD clumping: plink 1.9's algorithm in Python, checked against plink1.9 itself.

Reference: plink 1.9 ``clump_reports()`` (chrchang/plink-ng, 1.9/plink_ld.c) with
``em_phase_hethet`` for r²; the comparisons run the installed ``plink1.9 --clump``.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from mrbook.data import demo
from mrbook.data import ld
from mrbook.errors import InputError, ParameterError
from mrbook.rmath.plink import plink_clump_r2
from mrbook.data.readers import read_sumstats

HAVE_PLINK = ld.find_plink() is not None
needs_plink = pytest.mark.skipif(not HAVE_PLINK, reason="plink 1.9 is not installed "
                                 "(apt-get install plink1.9)")


@pytest.fixture(scope="session")
def demo_panel(tmp_path_factory):
    root = tmp_path_factory.getbasetemp() / "mrbook-cache"
    folder = demo.demo_dir(demo.DEFAULT_SEED, root=root)
    return folder, ld.read_panel(folder / demo.load_manifest(folder)["files"]["panel"])


def _random_panel(path, seed, n=300, m=600, missing=0.02):
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(m // 20):
        k = rng.integers(2, 6)
        f = rng.uniform(0.05, 0.95, 20)
        templ = (rng.random((k, 20)) < f).astype(np.int8)
        h = templ[rng.integers(0, k, 2 * n)] ^ (rng.random((2 * n, 20))
                                                 < rng.uniform(0.01, 0.3)).astype(np.int8)
        blocks.append(h)
    haps = np.concatenate(blocks, axis=1)
    g = (haps[0::2] + haps[1::2]).T.astype(np.int8)
    g[rng.random(g.shape) < missing] = -1
    pos = np.concatenate([np.sort(rng.choice(np.arange(1, 3_000_000), m // 2, replace=False))
                          for _ in range(2)])
    bim = pd.DataFrame({"chr": np.repeat(["1", "2"], m // 2),
                        "rsid": [f"s{i}" for i in range(m)], "cm": 0, "pos": pos,
                        "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": "F", "iid": [f"i{i}" for i in range(n)], "pat": "0",
                        "mat": "0", "sex": 0, "pheno": -9})
    ld.write_panel(path, g, bim, fam)
    p = 10 ** -rng.uniform(0, 12, m)
    sub = rng.random(m) < 0.7
    return g, pd.DataFrame({"rsid": bim["rsid"][sub], "p": p[sub]})


# --------------------------------------------------------------------------- r² and I/O

def test_r2_perfect_independent_monomorphic_and_sign():
    assert plink_r2([30, 0, 0, 0, 40, 0, 0, 0, 30]) == pytest.approx(1.0)
    assert plink_r2([0, 0, 30, 0, 40, 0, 30, 0, 0]) == pytest.approx(-1.0)
    assert math.isnan(plink_r2([50, 30, 20, 0, 0, 0, 0, 0, 0]))  # index SNP monomorphic
    # genotypes independent with allele frequency 0.5 at both SNPs: D = 0
    assert plink_r2([25, 50, 25, 50, 100, 50, 25, 50, 25]) == pytest.approx(0.0, abs=1e-12)


def plink_r2(counts):
    return plink_clump_r2(counts)


def test_r2_matches_haplotype_r2_when_phase_is_known():
    # no double heterozygotes: haplotype counts are known, r² is the haplotype r²
    counts = [40, 10, 0, 10, 0, 5, 0, 5, 30]
    k11 = 2 * 40 + 10 + 10
    k12 = 2 * 0 + 10 + 5
    k21 = 2 * 0 + 10 + 5
    k22 = 2 * 30 + 5 + 5
    tot = k11 + k12 + k21 + k22
    p1, q1 = (k11 + k12) / tot, (k11 + k21) / tot
    d = k11 / tot - p1 * q1
    assert plink_r2(counts) == pytest.approx(d * d / (p1 * (1 - p1) * q1 * (1 - q1)))


def test_bed_encoding_round_trip(tmp_path):
    assert ld.encode_bed(np.array([[0, 1, 2, -1, 2]])) == b"\x6c\x1b\x01" + bytes([0x78, 0x03])
    rng = np.random.default_rng(3)
    g = rng.integers(-1, 3, size=(7, 13)).astype(np.int8)
    bim = pd.DataFrame({"chr": "1", "rsid": [f"v{i}" for i in range(7)], "cm": 0,
                        "pos": np.arange(1, 8) * 100, "a1": "A", "a2": "C"})
    fam = pd.DataFrame({"fid": "F", "iid": [f"i{i}" for i in range(13)], "pat": "0",
                        "mat": "0", "sex": 1, "pheno": -9})
    ld.write_panel(tmp_path / "x", g, bim, fam)
    panel = ld.read_panel(tmp_path / "x.bed")
    assert panel.n_samples == 13 and panel.n_variants == 7
    assert np.array_equal(panel.genotypes(np.arange(7)), g)
    assert list(panel.index_of(["v3", "nope"])) == [3, -1]


def test_bad_panel_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        ld.read_panel(tmp_path / "missing")
    g = np.zeros((2, 4), dtype=np.int8)
    bim = pd.DataFrame({"chr": "1", "rsid": ["a", "b"], "cm": 0, "pos": [1, 2], "a1": "A",
                        "a2": "C"})
    fam = pd.DataFrame({"fid": "F", "iid": list("wxyz"), "pat": "0", "mat": "0", "sex": 1,
                        "pheno": -9})
    ld.write_panel(tmp_path / "t", g, bim, fam)
    (tmp_path / "t.bed").write_bytes(b"\x6c\x1b\x01\x00")  # truncated
    with pytest.raises(InputError, match="does not match") as err:
        ld.read_panel(tmp_path / "t")
    assert "\n" not in str(err.value)
    (tmp_path / "t.bed").write_bytes(b"\x00\x00\x00\x00\x00")
    with pytest.raises(InputError, match="magic"):
        ld.read_panel(tmp_path / "t")


# --------------------------------------------------------------------------- the algorithm

def test_window_is_kb_times_1000_minus_1(tmp_path):
    rng = np.random.default_rng(5)
    h = (rng.random(400) < 0.4).astype(np.int8)
    g = np.tile(h[0::2] + h[1::2], (4, 1)).astype(np.int8)
    bim = pd.DataFrame({"chr": "1", "rsid": list("abcd"), "cm": 0,
                        "pos": [1_000_000, 10_999_999, 11_000_000, 11_000_001],
                        "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": "F", "iid": [f"i{i}" for i in range(200)], "pat": "0",
                        "mat": "0", "sex": 0, "pheno": -9})
    ld.write_panel(tmp_path / "e", g, bim, fam)
    snps = pd.DataFrame({"rsid": list("abcd"), "p": [1e-10, 1e-9, 1e-9, 1e-8]})
    engines = ["python"] + (["plink"] if HAVE_PLINK else [])
    for engine in engines:
        kept, excl = ld.clump(snps, tmp_path / "e", kb=10000, engine=engine)
        assert kept == ["a", "c"], engine
        assert excl.set_index("snp").loc["b", "index_snp"] == "a"
        assert excl.set_index("snp").loc["d", "index_snp"] == "c"


def test_snps_absent_from_the_panel_are_dropped_with_a_reason(tmp_path):
    _, snps = _random_panel(tmp_path / "p", seed=11)
    snps = pd.concat([snps, pd.DataFrame({"rsid": ["rsNOTHERE"], "p": [1e-30]})])
    kept, excl = ld.clump(snps, tmp_path / "p", r2=0.1, kb=250, p1=1e-4, engine="python")
    assert "rsNOTHERE" not in kept
    row = excl.set_index("snp").loc["rsNOTHERE"]
    assert row["step"] == "clumping" and "not in the LD reference panel" in row["reason"]


def test_engine_plink_requested_but_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(ld, "find_plink", lambda: None)
    assert ld.resolve_engine("auto") == "python"
    with pytest.raises(ParameterError, match="plink 1.9 is not installed"):
        ld.resolve_engine("plink")
    with pytest.raises(ParameterError, match="unknown clumping engine"):
        ld.resolve_engine("bogus")


@needs_plink
@pytest.mark.parametrize("r2,kb,p1", [(0.01, 50, 1e-4), (0.01, 1000, 1.0), (0.1, 1000, 1e-4),
                                      (0.5, 50, 1.0), (0.8, 1000, 1.0)])
def test_python_equals_plink_on_random_panels_with_missing_genotypes(tmp_path, r2, kb, p1):
    _, snps = _random_panel(tmp_path / "p", seed=1)
    snps = pd.concat([snps, pd.DataFrame({"rsid": ["missing1"], "p": [1e-20]})])
    a = ld.clump(snps, tmp_path / "p", r2=r2, kb=kb, p1=p1, engine="python")
    b = ld.clump(snps, tmp_path / "p", r2=r2, kb=kb, p1=p1, engine="plink")
    assert a.kept == b.kept
    assert a.exclusions.equals(b.exclusions)


@needs_plink
@pytest.mark.parametrize("trait", ["hypothyroidism", "hyperthyroidism", "hashimoto",
                                   "osteoporosis"])
def test_python_equals_plink_on_the_demo_panel(demo_panel, trait):
    folder, panel = demo_panel
    man = demo.load_manifest(folder)
    exp = read_sumstats(folder / man["files"][trait], p_max=5e-8)
    a = ld.clump(exp[["rsid", "p"]], panel, r2=0.01, kb=10000, p1=1.0, engine="python")
    b = ld.clump(exp[["rsid", "p"]], panel, r2=0.01, kb=10000, p1=1.0, engine="plink")
    assert a.kept == b.kept
    assert sorted(a.kept) == sorted(
        man["design"][trait]["final"] + man["design"][trait]["missing_in_outcome"]
        + man["design"][trait]["palindromic"] + list(man["design"][trait]["confounder"]))
    assert len(a.kept) == man["design"][trait]["candidates"]
    assert a.exclusions.equals(b.exclusions)


@needs_plink
def test_python_equals_plink_near_the_threshold_on_the_demo_panel(demo_panel):
    """Every SNP of one chromosome with P < 0.05: thousands of r² values near 0.01."""
    folder, panel = demo_panel
    man = demo.load_manifest(folder)
    df = read_sumstats(folder / man["files"]["hypothyroidism"], p_max=0.05)
    df = df[df["chr"] == "21"]
    assert len(df) > 50
    for r2 in (0.01, 0.2):
        a = ld.clump(df[["rsid", "p"]], panel, r2=r2, kb=500, p1=0.01, engine="python")
        b = ld.clump(df[["rsid", "p"]], panel, r2=r2, kb=500, p1=0.01, engine="plink")
        assert a.kept == b.kept
        assert a.exclusions.equals(b.exclusions)


def test_proxies_are_in_strong_ld(demo_panel):
    folder, panel = demo_panel
    man = demo.load_manifest(folder)
    leads = man["design"]["hypothyroidism"]["final"][:10]
    prox = ld.find_proxies(panel, leads, r2_min=0.8, kb=500)
    assert len(prox) >= 1
    for r in prox.itertuples(index=False):
        assert abs(ld.r2_between(panel, r.target, r.proxy)) >= 0.8
        assert r.distance <= 500_000
    # the demo's missing SNPs have no proxy in the outcome file
    missing = man["design"]["hypothyroidism"]["missing_in_outcome"]
    out = read_sumstats(folder / man["files"]["osteoporosis"],
                        snps=ld.find_proxies(panel, missing, best_only=False)["proxy"])
    assert out.empty


def test_find_plink_respects_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MRBOOK_PLINK", str(tmp_path / "no-such-plink"))
    assert ld.find_plink() is None
    if shutil.which("plink1.9"):
        monkeypatch.setenv("MRBOOK_PLINK", shutil.which("plink1.9"))
        assert ld.find_plink() == shutil.which("plink1.9")


def _proxies_by_scan(panel, targets, available, r2_min, kb, best_only):
    """find_proxies as it was written first: a scan of the whole panel for every target."""
    chrom, pos = panel.bim["chr"].to_numpy(), panel.bim["pos"].to_numpy().astype(np.int64)
    ids, a1, a2 = (panel.bim[c].to_numpy() for c in ("rsid", "a1", "a2"))
    avail = np.ones(len(ids), dtype=bool) if available is None else np.isin(
        ids, np.array(sorted({str(a) for a in available}), dtype=object))
    radius, rows = ld._bp_radius(kb), []
    for t in targets:
        ti = int(panel.index_of([t])[0])
        if ti < 0:
            continue
        cand = np.where((chrom == chrom[ti]) & avail & (np.abs(pos - pos[ti]) <= radius))[0]
        cand = cand[cand != ti]
        if not len(cand):
            continue
        vals = ld.r2_with(panel, ti, cand)
        ok = np.flatnonzero(np.abs(vals) >= r2_min)
        dist = np.abs(pos[cand] - pos[ti])
        for k in sorted(ok, key=lambda k: (-abs(vals[k]), dist[k], cand[k]))[:1 if best_only else None]:
            j = cand[k]
            rows.append((t, ids[j], abs(float(vals[k])), 1 if vals[k] > 0 else -1,
                         a1[ti], a2[ti], a1[j], a2[j], int(dist[k])))
    return pd.DataFrame(rows, columns=["target", "proxy", "r2", "phase", "target_a1",
                                       "target_a2", "proxy_a1", "proxy_a2", "distance"])


def test_find_proxies_equals_a_scan_of_the_whole_panel(demo_panel):
    # find_proxies looks each target's window up in a per-chromosome position index; the rows
    # (and their order) must be those of the scan of every panel SNP it replaced, exactly
    folder, panel = demo_panel
    man = demo.load_manifest(folder)
    targets = (man["design"]["hypothyroidism"]["final"][:3] + ["rs_not_in_panel"]
               + man["design"]["osteoporosis"]["final"][:2])
    some = panel.bim["rsid"].tolist()[::2]
    for available, kb, r2_min, best in ((None, 500, 0.8, False), (some, 50, 0.5, True),
                                        (None, 0, 0.8, True)):
        got = ld.find_proxies(panel, targets, available, r2_min=r2_min, kb=kb, best_only=best)
        want = _proxies_by_scan(panel, targets, available, r2_min, kb, best)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        if kb == 500:
            assert len(got)  # the demo's instruments have proxies: rows were compared


def test_plink_threads_is_set_only_inside_the_block(demo_panel, monkeypatch):
    folder, panel = demo_panel
    if ld.find_plink() is None:
        pytest.skip("plink1.9 is not installed")
    seen = []
    real = ld.subprocess.run

    def spy(cmd, *a, **k):
        seen.append(list(cmd))
        return real(cmd, *a, **k)

    monkeypatch.setattr(ld.subprocess, "run", spy)
    df = pd.DataFrame({"rsid": panel.bim["rsid"].tolist()[:40], "p": np.geomspace(1e-12, 1e-3, 40)})
    free = ld.clump(df, panel, r2=0.1, kb=500, p1=0.01, engine="plink")
    with ld.plink_threads(1):
        one = ld.clump(df, panel, r2=0.1, kb=500, p1=0.01, engine="plink")
    assert ld.PLINK_THREADS is None
    clumps = [c for c in seen if "--clump" in c]
    assert "--threads" not in clumps[0]
    assert clumps[-1][clumps[-1].index("--threads") + 1] == "1"
    assert free.kept == one.kept and free.exclusions.equals(one.exclusions)
