"""Estimators layer: MR estimators behind one contract (see :mod:`mrbook.estimators._registry`).

Importing this package registers every method in :data:`METHODS`.
"""

from ._registry import METHODS, ORDER, MethodSpec, Params, default_methods, register, resolve_methods
from . import basic, median, mode  # noqa: F401  (registration)
# beyond TwoSampleMR (MendelianRandomization 0.10.0), registered in the order of issue 18
from . import mixture, lasso, cml, mbe  # noqa: F401,E401  (registration)
from . import divw, raps, robust  # noqa: F401  (registration: issue 18's extended estimators)

__all__ = ["METHODS", "ORDER", "MethodSpec", "Params", "default_methods", "register",
           "resolve_methods"]
