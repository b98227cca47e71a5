"""plink's clump r² and the genotype tables with and without the compiled kernel: bit for bit.

:func:`mrbook.data.ld.pair_tables` and :func:`mrbook.data.ld.clump_r2` hand the work
to numba when it is installed (mrbook.rmath._ld_jit): the 3x3 tables counted from the
packed ``.bed`` bytes must be those of ``_table_counts(Panel.genotypes(...))`` (missing
calls and non-founders present, minor-allele orientation), and every r² must be
:func:`mrbook.data.plink_clump_r2`'s to the last bit (NaN where it gives NaN, the
same signed zeros).
"""

from __future__ import annotations

import sys
from itertools import product

import numpy as np
import pandas as pd
import pytest

from mrbook.data import ld
from mrbook.rmath import jit as rj
from mrbook.rmath.plink import plink_clump_r2

jit = rj.jit_kernel("ld")
needs_numba = pytest.mark.skipif(jit is None, reason="numba is not installed (or MRBOOK_JIT=0)")


def _numpy_only(monkeypatch):
    monkeypatch.setitem(rj._JIT, "ld", None)
    assert rj.jit_kernel("ld") is None


def _bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).view(np.int64)


def _panel_with_parents(path, n=133, m=40, seed=5):
    """A panel with missing calls, non-founders (a parent listed) and a sample count
    that fills neither a byte nor a 64-bit word; a few SNPs in strong LD."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 3, n)
    g = np.empty((m, n), dtype=np.int8)
    for i in range(m):
        if i % 3 == 0:
            g[i] = rng.integers(0, 3, n)               # independent
        elif i % 3 == 1:
            g[i] = np.where(rng.random(n) < 0.9, base, rng.integers(0, 3, n))  # in LD with base
        else:
            g[i] = np.where(rng.random(n) < 0.9, 2 - base, base)               # opposite phase
    g[rng.random(g.shape) < 0.05] = -1
    g[5] = 2                                           # monomorphic
    g[6] = -1                                          # every call missing
    g[7, :] = 1                                        # all heterozygous
    bim = pd.DataFrame({"chr": np.where(np.arange(m) < 25, "1", "X"),
                        "rsid": [f"v{i}" for i in range(m)], "cm": 0,
                        "pos": rng.integers(1, 5000, m), "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": "F", "iid": [f"i{i}" for i in range(n)], "pat": "0",
                        "mat": "0", "sex": 0, "pheno": -9})
    fam.loc[rng.random(n) < 0.25, "pat"] = "i0"
    fam.loc[[3, 64, 65, 132], "mat"] = "i1"
    ld.write_panel(path, g, bim, fam)
    return ld.read_panel(path)


def _tables_by_loop(g, index, others):
    """The 3x3 tables counted one sample at a time (founders' genotype matrix ``g``)."""
    out = np.zeros((len(others), 9), dtype=np.int64)
    for r, j in enumerate(others):
        for a, b in zip(g[index], g[j]):
            if a >= 0 and b >= 0:
                out[r, 3 * a + b] += 1
    return out


@pytest.mark.parametrize("orient", [False, True])
def test_compiled_tables_equal_the_genotype_counts(tmp_path, monkeypatch, orient):
    panel = _panel_with_parents(tmp_path / "p")
    assert 0 < panel.founders.sum() < panel.n_samples      # non-founders present
    g = panel.genotypes(np.arange(panel.n_variants))
    assert (g == -1).any()
    if orient:
        g = ld._minor_oriented(g)
        assert not np.array_equal(g, panel.genotypes(np.arange(panel.n_variants)))
    others = np.arange(panel.n_variants)                   # the index SNP itself included
    got = {i: ld.pair_tables(panel, i, others, orient) for i in range(panel.n_variants)}
    for i, tab in got.items():
        assert np.array_equal(tab, _tables_by_loop(g, i, others))
    _numpy_only(monkeypatch)
    for i, tab in got.items():
        assert np.array_equal(tab, ld.pair_tables(panel, i, others, orient))


def test_tables_of_an_index_out_of_range_raise(tmp_path):
    panel = _panel_with_parents(tmp_path / "p", m=10)
    with pytest.raises(IndexError):
        ld.pair_tables(panel, 0, [1, 10])
    with pytest.raises(IndexError):
        ld.r2_with(panel, -11, [1])


def _tables(seed):
    """Random and adversarial 3x3 tables: tiny to large counts, mostly-zero tables,
    monomorphic SNPs, only double heterozygotes, a few cells besides the centre, and
    every table of at most 3 samples."""
    rng = np.random.default_rng(seed)
    parts = [rng.integers(0, hi, (3000, 9)) for hi in (2, 4, 10, 60, 1000, 10**6)]
    for hi in (3, 50, 5000):
        t = rng.integers(0, hi, (3000, 9))
        t[rng.random(t.shape) < 0.6] = 0
        parts.append(t)
    t = rng.integers(0, 40, (1000, 9))
    t[:, 3:] = 0                                           # index SNP monomorphic
    parts.append(t)
    t = rng.integers(0, 40, (1000, 9))
    t[:, [1, 2, 4, 5, 7, 8]] = 0                           # other SNP monomorphic
    parts.append(t)
    t = np.zeros((300, 9), dtype=np.int64)
    t[:, 4] = np.arange(300)                               # double heterozygotes only
    parts.append(t)
    t = np.zeros((3000, 9), dtype=np.int64)
    t[:, 4] = rng.integers(1, 100, 3000)
    for _ in range(2):
        t[np.arange(3000), rng.integers(0, 9, 3000)] += rng.integers(0, 100, 3000)
    parts.append(t)
    parts.append(np.array([c for c in product(range(4), repeat=9) if sum(c) <= 3]))
    return np.concatenate(parts).astype(np.int64)


@needs_numba
@pytest.mark.parametrize("seed", [1, 2])
def test_compiled_r2_is_plink_clump_r2_bit_for_bit(seed):
    tables = _tables(seed)
    got = ld.clump_r2(tables)
    want = np.array([plink_clump_r2(row) for row in tables.tolist()])
    assert np.array_equal(_bits(got), _bits(want))
    # the cases were there: NaN (monomorphic), 0 (|D| < 2^-44), both signs, |r²| = 1
    assert np.isnan(want).any() and (want == 0).any() and (want < 0).any() and (want > 0).any()
    assert (np.abs(want) == 1).any()


def test_clump_r2_without_numba_is_the_python_function(monkeypatch):
    tables = _tables(3)[::7]
    _numpy_only(monkeypatch)
    got = ld.clump_r2(tables)
    assert np.array_equal(_bits(got), _bits([plink_clump_r2(row) for row in tables]))


def test_r2_with_on_a_panel_with_parents_and_missing_calls(tmp_path, monkeypatch):
    panel = _panel_with_parents(tmp_path / "p")
    others = np.arange(panel.n_variants)
    got = [ld.r2_with(panel, i, others, o) for i in range(panel.n_variants) for o in (False, True)]
    _numpy_only(monkeypatch)
    want = [ld.r2_with(panel, i, others, o) for i in range(panel.n_variants) for o in (False, True)]
    assert all(np.array_equal(_bits(a), _bits(b)) for a, b in zip(got, want))
    assert any(np.isnan(a).any() for a in got)             # the monomorphic SNPs


def test_by_chromosome_orders_each_chromosome_by_position(tmp_path):
    panel = _panel_with_parents(tmp_path / "p")
    chrom = panel.bim["chr"].to_numpy()
    assert set(panel.by_chromosome) == {"1", "X"}
    for c, (rows, pos) in panel.by_chromosome.items():
        on_c = np.flatnonzero(chrom == c)
        want = on_c[np.argsort(panel.positions[on_c], kind="stable")]
        assert np.array_equal(rows, want) and np.array_equal(pos, panel.positions[want])
    assert panel.positions.dtype == np.int64


def test_proxies_and_python_clumping_equal_without_numba(tmp_path, monkeypatch):
    panel = _panel_with_parents(tmp_path / "p")
    targets = [f"v{i}" for i in range(0, panel.n_variants, 4)]
    snps = pd.DataFrame({"rsid": panel.bim["rsid"], "p": np.linspace(1e-9, 0.5, panel.n_variants)})
    prox = ld.find_proxies(panel, targets, r2_min=0.3, kb=5, best_only=False)
    clumped = ld.clump(snps, panel, r2=0.1, kb=5, p1=0.1, engine="python")
    assert len(prox) and len(clumped.kept) < panel.n_variants
    _numpy_only(monkeypatch)
    pd.testing.assert_frame_equal(prox, ld.find_proxies(panel, targets, r2_min=0.3, kb=5,
                                                        best_only=False), check_exact=True)
    again = ld.clump(snps, panel, r2=0.1, kb=5, p1=0.1, engine="python")
    assert clumped.kept == again.kept
    pd.testing.assert_frame_equal(clumped.exclusions, again.exclusions, check_exact=True)


@needs_numba
def test_numba_starts_only_when_it_pays(tmp_path, monkeypatch):
    # a process without numba computes its first JIT_AFTER_PAIRS pairs in Python (one
    # `mrbook instruments` run does not pay numba's start-up), then the kernel
    panel = _panel_with_parents(tmp_path / "p")
    others = np.arange(panel.n_variants)
    want = ld.r2_with(panel, 3, others)
    monkeypatch.delitem(sys.modules, "numba")
    monkeypatch.setattr(ld, "_pairs_counted", 0)
    monkeypatch.setattr(ld, "JIT_AFTER_PAIRS", 2 * panel.n_variants)
    used = []
    monkeypatch.setitem(rj._JIT, "ld", _Spy(jit, used))
    for k in range(4):
        assert np.array_equal(_bits(ld.r2_with(panel, 3, others)), _bits(want))
        assert used == ["table_counts", "clump_r2"] * max(k - 1, 0)


class _Spy:
    """A kernel module that records which kernels ran."""

    def __init__(self, kern, used):
        self._kern, self._used = kern, used

    def __getattr__(self, name):
        self._used.append(name)
        return getattr(self._kern, name)
