"""Data layer: real example data shipped inside the package (with PROVENANCE.md beside them).

:func:`read_lipids_chd` returns the lipid fractions and coronary heart disease
data of Waterworth et al. (2010), as distributed with MendelianRandomization:
28 uncorrelated variants with their associations with LDL cholesterol, HDL
cholesterol, triglycerides and CHD. They are the standard example of
multivariable MR, and real (not simulated) data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

_HERE = Path(__file__).resolve().parent

#: file name, SHA-256 and what each shipped data set holds
SHIPPED = {
    "lipids_chd": {
        "file": "lipids_chd_waterworth2010.csv",
        "sha256": "6c3a070491870877f7326830d5cb678b48f57116d31737dddcfb561fde06d899",
        "citation": ("Waterworth DM et al. Genetic variants influencing circulating lipid levels "
                     "and risk of coronary artery disease. Arterioscler Thromb Vasc Biol "
                     "2010;30:2264-2276. doi:10.1161/ATVBAHA.109.201020"),
        "distributed_with": "MendelianRandomization 0.10.0 (R/1Data.R)",
    },
}

#: the lipid exposures: column stem -> display name
LIPID_EXPOSURES = {"ldlc": "LDL cholesterol", "hdlc": "HDL cholesterol", "trig": "Triglycerides"}
LIPID_OUTCOME = "Coronary heart disease"


def shipped_path(name: str) -> Path:
    """Path of a shipped data file (``"lipids_chd"``)."""
    return _HERE / SHIPPED[name]["file"]


def provenance_path() -> Path:
    """The PROVENANCE.md describing every shipped file."""
    return _HERE / "PROVENANCE.md"


def sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_lipids_chd() -> pd.DataFrame:
    """The 28 lipid variants and CHD, as a wide multivariable table.

    Returns
    -------
    DataFrame
        ``SNP`` (``snp01`` ... ``snp28``, the package's order), ``effect_allele``,
        ``other_allele``, ``eaf``, then ``beta.<x>`` and ``se.<x>`` for x in ldlc,
        hdlc, trig, and ``beta.outcome``, ``se.outcome`` (CHD log odds): the layout
        :func:`mrbook.multivariable.read_mv_table` reads. ``attrs`` holds the
        exposure names (:data:`LIPID_EXPOSURES`), the outcome name and the citation.

    Notes
    -----
    Real data: Waterworth et al. (2010), distributed with MendelianRandomization
    0.10.0; see ``PROVENANCE.md`` beside this module.
    """
    raw = pd.read_csv(shipped_path("lipids_chd"))
    out = pd.DataFrame({"SNP": [f"snp{int(i):02d}" for i in raw["snp_index"]],
                        "effect_allele": raw["effect_allele"], "other_allele": raw["other_allele"],
                        "eaf": raw["eaf"]})
    for x in LIPID_EXPOSURES:
        out[f"beta.{x}"] = raw[x].astype(float)
        out[f"se.{x}"] = raw[f"{x}se"].astype(float)
    out["beta.outcome"] = raw["chdlodds"].astype(float)
    out["se.outcome"] = raw["chdloddsse"].astype(float)
    out.attrs.update({"exposure_names": dict(LIPID_EXPOSURES), "outcome": LIPID_OUTCOME,
                      "citation": SHIPPED["lipids_chd"]["citation"], "simulated": False,
                      "source": SHIPPED["lipids_chd"]["distributed_with"]})
    return out
