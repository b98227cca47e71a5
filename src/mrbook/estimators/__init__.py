"""MR estimators behind one contract (see :mod:`mrbook.estimators._registry`).

Importing this package registers every method in :data:`METHODS`.
"""

from ._registry import METHODS, ORDER, MethodSpec, Params, default_methods, register, resolve_methods
from . import basic, median  # noqa: F401  (registration)

try:  # the mode estimators live in their own module
    from . import mode  # noqa: F401
except ImportError:  # pragma: no cover - only while the module is being written
    pass

__all__ = ["METHODS", "ORDER", "MethodSpec", "Params", "default_methods", "register",
           "resolve_methods"]
