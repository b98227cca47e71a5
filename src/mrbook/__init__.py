"""mrbook: reproducible two-sample Mendelian randomization, exact to TwoSampleMR.

The public API is re-exported here; everything is computed by pure functions in the
submodules (``mrbook.estimators``, ``mrbook.analysis``, ``mrbook.harmonise`` ...).
"""

__version__ = "0.1.0"
