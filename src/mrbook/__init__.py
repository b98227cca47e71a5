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

import sys
import types

from .output import VERSION as __version__

#: public name -> the submodule that defines it; imported on first use (PEP 562), so that
#: ``import mrbook`` and ``mrbook --help`` do not load numpy, pandas and scipy
_API = {
    "MRAnalysis": ".analysis", "add_odds_ratios": ".analysis", "analyse": ".analysis",
    "heterogeneity": ".analysis", "leaveoneout": ".analysis", "pleiotropy": ".analysis",
    "run_mr": ".analysis", "singlesnp": ".analysis",
    "METHODS": ".estimators", "Params": ".estimators",
    "harmonise": ".harmonise", "harmonise_with_exclusions": ".harmonise",
    "select_instruments": ".instruments",
    "read_harmonised": ".data.tsmr", "read_tsmr": ".data.tsmr",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    if name in _API:
        import importlib

        value = getattr(importlib.import_module(_API[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mrbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


class _Package(types.ModuleType):
    """``mrbook.harmonise`` is the function (as when it was imported eagerly), even after
    the submodule of the same name is loaded and the import system sets the attribute."""

    @property
    def harmonise(self):
        from .harmonise import harmonise
        return harmonise

    @harmonise.setter
    def harmonise(self, value):  # the import system binding the submodule: keep the function
        pass


sys.modules[__name__].__class__ = _Package
