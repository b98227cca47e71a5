"""mrbook: reproducible two-sample Mendelian randomization, exact to TwoSampleMR.

The everyday API is re-exported here; everything is computed by pure functions
in the submodules (``mrbook.estimators``, ``mrbook.analysis``,
``mrbook.harmonise``, ``mrbook.instruments`` ...).

Examples
--------
>>> import mrbook
>>> sorted(mrbook.METHODS)[:3]
['mr_egger_regression', 'mr_ivw', 'mr_ivw_fe']
"""

from .analysis import (MRAnalysis, add_odds_ratios, analyse, heterogeneity, leaveoneout,
                       pleiotropy, run_mr, singlesnp)
from .estimators import METHODS, Params
from .harmonise import harmonise, harmonise_with_exclusions
from .instruments import select_instruments
from .output import VERSION as __version__
from .data.tsmr import read_harmonised, read_tsmr

__all__ = [
    "METHODS", "MRAnalysis", "Params", "add_odds_ratios", "analyse", "harmonise",
    "harmonise_with_exclusions", "heterogeneity", "leaveoneout", "pleiotropy", "read_harmonised",
    "read_tsmr", "run_mr", "select_instruments", "singlesnp", "__version__",
]
