"""Ground floor: the compiled kernels (numba), each imported on its first use.

``import mrbook`` does not import numba (~0.2 s); the bootstrap estimators and
the LD look-ups (:mod:`mrbook.data.ld`) ask :func:`jit_kernel` for a kernel
module when they first need it, and take their numpy path, with the same
numbers, when it gives None.
"""

from __future__ import annotations

import importlib
import os

__all__ = ["jit_kernel"]

_JIT: dict = {}


def jit_kernel(name: str = "mode"):
    """A compiled kernel module (``mrbook.rmath._<name>_jit``), or None.

    ``"mode"`` is :mod:`mrbook.rmath._mode_jit` (the density mode search),
    ``"median"`` :mod:`mrbook.rmath._median_jit` (the weighted median's
    interpolation), ``"rng"`` :mod:`mrbook.rmath._rng_jit` (numpy's normal
    draws), ``"ld"`` :mod:`mrbook.rmath._ld_jit` (plink's clumping r² from the
    ``.bed`` bytes). Imported on first use, so that ``import mrbook`` does not
    pay numba's import time. None (numpy only) when numba is missing, when the
    environment variable ``MRBOOK_JIT`` is ``0``, or when numba has nowhere to
    cache compiled code (neither the package's ``__pycache__`` nor the user's
    cache directory is writable: it would compile for seconds in every process).
    """
    if name not in _JIT:
        _JIT[name] = None
        if os.environ.get("MRBOOK_JIT", "1") != "0":
            try:
                _JIT[name] = importlib.import_module(f"{__package__}._{name}_jit")
            except ImportError:                   # numba missing
                pass
            except RuntimeError:                  # numba: "cannot cache function ..."
                pass
    return _JIT[name]
