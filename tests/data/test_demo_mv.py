"""The demo study's multivariable extension: additive, SIMULATED, deterministic, as designed."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from mrbook.data import demo
from mrbook.data.demo_mv import REGION, generate_mv, mv_demo_dir


@pytest.fixture(scope="module")
def mvdir(demo_root):
    return mv_demo_dir(root=demo_root)


def lines(path):
    return gzip.decompress(path.read_bytes()).decode("utf-8").rstrip("\n").split("\n")


def test_the_demo_files_are_untouched(mvdir, demo_folder, demo_root):
    man = demo.load_manifest(demo_folder)
    for key, rel in man["files"].items():
        if key == "panel":
            continue
        assert demo._sha256(demo_folder / rel) == man["sha256"][key], key
    assert mvdir == demo_root / "demo-mv" / demo_folder.name
    # nothing was added to the demo's folder: its files are the manifest's, the READMEs and itself
    listed = {str(demo_folder / f) for k, f in man["files"].items() if k != "panel"}
    listed |= {f"{demo_folder / man['files']['panel']}.{e}" for e in ("bed", "bim", "fam")}
    listed |= {str(p) for p in demo_folder.rglob("README.txt")} | {str(demo_folder / "manifest.json")}
    assert {str(p) for p in demo_folder.rglob("*") if p.is_file()} == listed
    assert len(list(demo_folder.rglob("README.txt"))) == 4


def test_only_the_shared_regions_change(mvdir, demo_folder):
    man = json.loads((mvdir / "manifest.json").read_text())
    base = demo.load_manifest(demo_folder)
    for t in demo.THYROID:
        old, new = lines(demo_folder / base["files"][t]), lines(mvdir / man["files"][t])
        assert new[2].startswith("##SIMULATED_MULTIVARIABLE=")          # the one added header line
        old_body = [ln for ln in old if not ln.startswith("#")]
        new_body = [ln for ln in new if not ln.startswith("#")]
        assert len(old_body) == len(new_body)
        pos = {ln.split("\t")[2]: (ln.split("\t")[0], int(ln.split("\t")[1])) for ln in old_body}
        leads = [s["lead"] for s in man["shared_loci"] if s["target"] == t]
        for a, b in zip(old_body, new_body):
            if a != b:
                c, p = pos[a.split("\t")[2]]
                assert any(pos[L][0] == c and abs(pos[L][1] - p) <= REGION for L in leads)
                assert a.split("\t")[:9] == b.split("\t")[:9]          # alleles, position, AF kept


def test_outcome_gains_the_direct_effects_of_the_shared_traits(mvdir, demo_folder):
    man = json.loads((mvdir / "manifest.json").read_text())
    s = next(x for x in man["shared_loci"] if x["source"] == "hashimoto"
             and x["target"] == "hypothyroidism")
    vcf = {ln.split("\t")[2]: ln.split("\t") for ln in lines(mvdir / man["files"]["hypothyroidism"])
           if not ln.startswith("#")}[s["lead"]]
    beta_t = float(vcf[9].split(":")[0])
    fg_old = {ln.split("\t")[4]: ln.split("\t") for ln in lines(demo_folder / man["files"]["osteoporosis"])}
    fg_new = {ln.split("\t")[4]: ln.split("\t") for ln in lines(mvdir / man["files"]["osteoporosis"])}
    extra = sum(demo.DESIGN[x["target"]]["theta"] * float(
        {ln.split("\t")[2]: ln.split("\t") for ln in lines(mvdir / man["files"][x["target"]])
         if not ln.startswith("#")}[s["lead"]][9].split(":")[0])
        for x in man["shared_loci"] if x["lead"] == s["lead"])
    sign = 1.0 if fg_old[s["lead"]][3] in (vcf[4], vcf[4].translate(str.maketrans("ACGT", "TGCA"))) \
        else -1.0
    delta = float(fg_new[s["lead"]][8]) - float(fg_old[s["lead"]][8])
    assert extra > 0 and beta_t != 0
    assert delta == pytest.approx(sign * extra, rel=1e-5)
    assert sum(a != b for a, b in zip(sorted(fg_old), sorted(fg_new))) == 0  # same SNPs


def test_regeneration_is_byte_identical_and_says_simulated(mvdir, demo_folder, tmp_path):
    again = generate_mv(demo_folder, tmp_path / "mv")
    man = json.loads((mvdir / "manifest.json").read_text())
    for key, rel in man["files"].items():
        assert (mvdir / rel).read_bytes() == again[key].read_bytes(), key
    assert man["simulated"] is True and "SIMULATED" in (mvdir / "README.txt").read_text()
    assert man["theta_direct"] == {t: demo.DESIGN[t]["theta"] for t in demo.THYROID}
    assert np.all([s["scale"] > 0 for s in man["shared_loci"]])
