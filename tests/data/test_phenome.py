"""The simulated demo phenome: real file formats, a manifest, a truth table, reproducible."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from mrbook.data import ld, phenome
from mrbook.data.readers import detect_format, read_sumstats
from mrbook.errors import ParameterError


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return phenome.generate(tmp_path_factory.mktemp("ph") / "p", exposures=4, outcomes=2, seed=3,
                            loci=10)


def _digest(folder) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_files_in_the_formats_the_readers_take(small):
    folder = small["manifest"].parent
    meta = json.loads(small["phenome"].read_text())
    assert meta["simulated"] is True and meta["generator"] == "mrbook demo-phenome"
    assert phenome.load_phenome(folder)["pairs"] == 8
    formats = {t["file"]: t["format"] for t in meta["exposure_traits"] + meta["outcome_traits"]}
    assert sorted(set(formats.values())) == ["finngen", "gwas-ssf", "tsmr", "vcf"]
    for f, fmt in formats.items():
        assert detect_format(folder / f) == fmt
        df = read_sumstats(folder / f)
        assert len(df) > 100 and df["beta"].notna().all() and df["n"].notna().all() or \
            fmt == "finngen"
    panel = ld.read_panel(small["panel"])
    assert panel.n_samples == 1000 and (panel.fam["fid"] == "SIMULATED").all()
    assert "SIMULATED" in (folder / "README.txt").read_text()


def test_manifest_and_truth(small):
    man = pd.read_csv(small["manifest"])
    truth = pd.read_csv(small["truth"])
    assert list(man.columns) == ["exposure", "outcome", "exposure_name", "outcome_name"]
    assert len(man) == len(truth) == 8 and not man.duplicated(["exposure", "outcome"]).any()
    assert (man["exposure"] == truth["exposure"]).all()
    assert truth.groupby("id_outcome")["causal"].any().all()  # a causal exposure per outcome
    assert ((truth["theta"] != 0) == truth["causal"]).all()
    assert truth.loc[truth["causal"], "theta"].abs().between(0.04, 0.2).all()


def test_lead_snps_are_instruments_of_their_exposure_only(small):
    folder = small["manifest"].parent
    man = pd.read_csv(small["manifest"]).drop_duplicates("exposure")
    hits = [set(read_sumstats(folder / f, p_max=5e-8)["rsid"]) for f in man["exposure"]]
    assert all(len(h) >= 10 for h in hits)
    for i in range(len(hits)):
        for j in range(i + 1, len(hits)):
            assert not hits[i] & hits[j]


def test_same_arguments_same_bytes(small, tmp_path):
    again = phenome.generate(tmp_path / "p", exposures=4, outcomes=2, seed=3, loci=10)
    assert _digest(again["manifest"].parent) == _digest(small["manifest"].parent)
    other = phenome.generate(tmp_path / "q", exposures=4, outcomes=2, seed=4, loci=10)
    assert (other["truth"].read_bytes() != small["truth"].read_bytes())


@pytest.mark.parametrize("kw", [dict(exposures=0), dict(outcomes=1.5), dict(loci=2),
                                dict(seed=-1), dict(exposures=True)])
def test_bad_arguments(tmp_path, kw):
    with pytest.raises(ParameterError):
        phenome.generate(tmp_path / "p", **kw)
    assert not (tmp_path / "p").exists()


def test_cli_defaults_equal_the_simulator_defaults():
    """``mrbook --help`` reads the defaults from the CLI module without importing the simulator."""
    from mrbook.cli import demo_phenome as cli
    from mrbook.data import phenome

    assert (cli.DEFAULT_EXPOSURES, cli.DEFAULT_OUTCOMES, cli.DEFAULT_SEED, cli.DEFAULT_LOCI) == (
        phenome.DEFAULT_EXPOSURES, phenome.DEFAULT_OUTCOMES, phenome.DEFAULT_SEED, phenome.DEFAULT_LOCI)


def test_an_existing_folder_keeps_the_users_files(tmp_path):
    """Writing into an existing folder never deletes what was there (issue 16.3)."""
    from mrbook.data import phenome

    out = tmp_path / "ph"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    paths = phenome.generate(out, exposures=2, outcomes=1, loci=3)
    assert (out / "notes.txt").read_text() == "mine\n"
    assert paths["manifest"].is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".mrbook-phenome-")]


def test_a_file_where_the_folder_goes_is_refused_and_kept(tmp_path):
    from mrbook.data import phenome
    from mrbook.errors import OutputError

    f = tmp_path / "ph"
    f.write_text("a file\n")
    with pytest.raises(OutputError, match="must be a folder"):
        phenome.generate(f, exposures=2, outcomes=1, loci=3)
    assert f.read_text() == "a file\n"
