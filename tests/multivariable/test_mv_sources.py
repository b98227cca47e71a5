"""Multivariable MR from data sources (input c) on the SIMULATED demo study and its extension.

The demo's design (manifest.json) fixes every instrument's fate; the multivariable
selection must find exactly it: 90 + 20 + 18 lead loci (each exposure's
instruments; clumping keeps one SNP per locus), 7 absent from the outcome, 15
ambiguous palindromes, 12 linked to confounders: 94 SNPs, every other one listed
with its step and reason.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mrbook.data import demo
from mrbook.errors import ParameterError
from mrbook.multivariable import MV_STEPS, mv_select_instruments, mvmr_from_sources, run_mvmr

MV_SOURCES = {"Hypothyroidism": "demo-mv:hypothyroidism", "Hyperthyroidism": "demo-mv:hyperthyroidism",
              "Hashimoto thyroiditis": "demo-mv:hashimoto"}


@pytest.fixture(scope="module")
def mv(demo_root):
    return mvmr_from_sources(MV_SOURCES, "demo-mv:osteoporosis", cache_dir=demo_root, iterations=200)


def design(demo_folder, role):
    man = demo.load_manifest(demo_folder)["design"]
    return set().union(*(man[t][role] for t in demo.THYROID))


def test_every_step_of_the_selection(mv, demo_folder):
    flow = {s["step"]: s for s in mv.data.meta["flow"]}
    assert flow["clumping"]["remaining"] == 90 + 20 + 18
    assert flow["missing_in_exposure"]["removed"] == 0
    assert flow["missing_in_outcome"]["removed"] == 4 + 2 + 1
    assert flow["palindromic"]["removed"] == 8 + 3 + 4
    assert flow["confounder"]["removed"] == 9 + 0 + 3
    assert flow["confounder"]["remaining"] == mv.data.n == 94
    assert set(mv.data.snps) == design(demo_folder, "final")
    ex = mv.data.exclusions
    assert set(ex.loc[ex["step"] == "palindromic", "snp"]) == design(demo_folder, "palindromic")
    assert set(ex.loc[ex["step"] == "missing_in_outcome", "snp"]) == \
        design(demo_folder, "missing_in_outcome")
    assert set(ex.loc[ex["step"] == "confounder", "snp"]) == design(demo_folder, "confounder")
    assert set(ex["step"]) <= set(MV_STEPS) and ex["reason"].map(bool).all()
    assert not ex["snp"].duplicated().any()                     # one row per lost SNP
    sel = mv.data.meta["selection"]
    assert len(sel) == mv.data.meta["union"] and sel["final"].sum() == 94
    assert (sel.loc[~sel["final"], "reason"] != "").all()      # every lost SNP has its reason


def test_shared_loci_make_instruments_of_several_exposures(mv, demo_root):
    from mrbook.data.demo_mv import mv_demo_dir

    man = json.loads((mv_demo_dir(root=demo_root) / "manifest.json").read_text())
    sel = mv.data.meta["selection"].set_index("snp")
    shared_sig = [s for s in man["shared_loci"] if s["significant_in_target"]]
    assert len(shared_sig) >= 10
    names = dict(zip(demo.THYROID, ("Hypothyroidism", "Hyperthyroidism", "Hashimoto thyroiditis")))
    for s in shared_sig:
        assert names[s["target"]] in sel.loc[s["lead"], "instrument_for"]
    # mv_multiple counts each exposure's instruments among the 94 SNPs: more than its own loci
    nsnp = mv.mvmr[mv.mvmr["method_key"] == "mv_multiple"]["nsnp"].tolist()
    assert nsnp[0] > 69 and nsnp[1] > 15 and nsnp[2] > 10


def test_estimates_recover_the_simulated_direct_effects(mv):
    theta = [demo.DESIGN[t]["theta"] for t in demo.THYROID]
    ivw = mv.mvmr[mv.mvmr["method_key"] == "mv_multiple"]
    z = (ivw["b"].to_numpy() - theta) / ivw["se"].to_numpy()
    assert np.all(np.abs(z) < 2.5), z
    # conditional F above the rule of thumb for every trait (the extension's design)
    assert (mv.strength["conditional_f"] > 10).all()
    # alone, hypothyroidism and HT absorb each other's effects through the shared loci
    uni = mv.univariable["b"].to_numpy()
    assert uni[0] > ivw["b"].iloc[0] and uni[2] > ivw["b"].iloc[2]


def test_the_first_exposure_is_the_reference_and_alleles_are_aligned(mv, demo_root):
    d = mv_select_instruments(list(MV_SOURCES.values())[::-1], "demo-mv:osteoporosis",
                              cache_dir=demo_root)
    assert d.meta["harmonised_to"] == "demo-mv-hashimoto" and d.snps == mv.data.snps
    order = [d.exposures.index(e) for e in mv.data.exposures]
    np.testing.assert_allclose(d.bx[:, order], mv.data.bx, rtol=1e-12)
    np.testing.assert_allclose(d.by, mv.data.by, rtol=1e-12)


def test_the_univariable_demo_sources_work_too(demo_root):
    d = mv_select_instruments(["demo:hypothyroidism", "demo:hyperthyroidism"], "demo:osteoporosis",
                              cache_dir=demo_root)
    assert d.n == 69 + 15 and d.meta["simulated"] is True
    res = run_mvmr(d, ["mv_multiple", "mr_mvivw"])
    assert (res.mvmr["status"] == "ok").all()


def test_deterministic(mv, demo_root):
    again = mvmr_from_sources(MV_SOURCES, "demo-mv:osteoporosis", cache_dir=demo_root,
                              iterations=200)
    assert json.dumps(again.to_json()) == json.dumps(mv.to_json())


@pytest.mark.parametrize("exposures,message", [
    (["demo-mv:hypothyroidism"], "at least two exposures"),
    (["demo-mv:hypothyroidism", "demo-mv:thyroid"], "unknown demo trait 'thyroid'"),
    (["demo-mv:hypothyroidism", "demo-mv:hypo"], "the same exposure is given twice"),
])
def test_bad_sources(demo_root, exposures, message):
    with pytest.raises(ParameterError, match=message):
        mv_select_instruments(exposures, "demo-mv:osteoporosis", cache_dir=demo_root)


def test_opengwas_ids_use_the_client(demo_root, monkeypatch):
    """OpenGWAS exposures without a panel: tophits clumped on the server per exposure, then
    their union clumped by ld/clump, every association looked up (the client mocked by the
    demo-mv files: no network, no token)."""
    from mrbook.data import demo_mv, opengwas
    from mrbook.data.readers import read_sumstats

    folder = demo_mv.mv_demo_dir(root=demo_root)
    base = demo.demo_dir(root=demo_root)
    man = demo.load_manifest(base)
    leads = set().union(*(set(man["design"][t][r]) for t in demo.THYROID
                          for r in ("final", "missing_in_outcome", "palindromic")),
                        *(set(man["design"][t]["confounder"]) for t in demo.THYROID))
    ids = {"ebi-a-GCST90018862": "hypothyroidism", "ebi-a-GCST90018860": "hyperthyroidism",
           "ebi-a-GCST90018855": "hashimoto", "finn-b-M13_OSTEOPOROSIS": "osteoporosis"}
    calls = []

    def tophits(self, id, pval=5e-8, clump=True, r2=0.001, kb=10000, **kw):
        calls.append(("tophits", id, clump))
        df = read_sumstats(folder / demo.TRAITS[ids[id]]["file"], p_max=pval)
        return (df[df["rsid"].isin(leads)] if clump else df).assign(id=id, trait=ids[id])

    def associations(self, variants, study, proxies=True, **kw):
        calls.append(("associations", study, proxies))
        df = read_sumstats(folder / demo.TRAITS[ids[study]]["file"], snps=list(variants))
        return df.assign(id=study, trait=ids[study])

    def ld_clump(self, rsids, pvals, r2=0.001, kb=10000, **kw):
        calls.append(("ld_clump", len(rsids)))
        return [s for s in rsids if s in leads]

    for name, f in (("tophits", tophits), ("associations", associations), ("ld_clump", ld_clump)):
        monkeypatch.setattr(opengwas.OpenGWAS, name, f)
    d = mv_select_instruments(list(ids)[:3], "finn-b-M13_OSTEOPOROSIS",
                              confounder_table=base / man["files"]["confounders"],
                              confounder_traits=demo.DEFAULT_CONFOUNDER_TRAITS)
    assert [c[:3] for c in calls[:3]] == [("tophits", i, True) for i in list(ids)[:3]]
    assert calls[3][0] == "ld_clump" and d.meta["settings"]["clump_engine"] == "opengwas"
    assert [c for c in calls if c[0] == "associations"][-1] == (
        "associations", "finn-b-M13_OSTEOPOROSIS", False)
    assert d.n == 94 and d.meta["simulated"] is False   # the client's data count as real


def test_a_runs_parameters_pass_straight_through(mv, demo_root):
    from mrbook.multivariable import MV_RUN_KEYS
    from mrbook.params import defaults

    run = defaults()
    assert set(MV_RUN_KEYS) <= set(run)
    got = mvmr_from_sources(list(MV_SOURCES.values()), "demo-mv:osteoporosis", cache_dir=demo_root,
                            iterations=200, **{k: run[k] for k in MV_RUN_KEYS})
    assert got.data.snps == mv.data.snps                 # the run's defaults are the function's
    assert got.mvmr["b"].tolist() == mv.mvmr["b"].tolist()
