r"""Estimators layer: the estimator contract and the method registry.

Every MR estimator is a function

    f(bx, by, sx, sy, params: Params, rng: BootstrapRNG) -> dict

taking numpy arrays of the SNP-exposure betas ``bx``, SNP-outcome betas ``by``
and their standard errors ``sx``, ``sy`` (already harmonised, ``mr_keep`` rows
only), and returning a dict with at least ``b``, ``se``, ``pval`` and ``nsnp``
(floats; NaN when the method cannot be computed) plus any method-specific extras
(``Q``, ``Q_df``, ``Q_pval``, ``b_i``, ``se_i``, ``pval_i`` ...). This is
TwoSampleMR's contract (``R/mr.R``: every ``mr_*`` takes
``b_exp, b_out, se_exp, se_out, parameters``).

Two optional parts of the contract serve methods beyond TwoSampleMR's:

* A method that gives its own confidence interval rather than
  :math:`b \pm z_{1-\alpha/2}\,se` (the contamination mixture, whose interval
  comes from its profile likelihood and has no standard error) returns it as
  ``ci_low`` and ``ci_upp`` and is registered with ``interval=True``; the rows
  of every other method carry NaN there and their limits are computed from
  ``b`` and ``se`` as before.
* A method that needs the GWAS sample size (cML's BIC) is registered with
  ``needs_samplesize=True`` and called with the keyword ``n``; where the
  table has none it is reported as not run, with the reason.

Methods are registered with :func:`register`; tables, plots and tests loop
over :data:`METHODS` in TwoSampleMR's ``mr_method_list()`` order, which is also
the order in which stochastic methods consume the shared random stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import ParameterError


@dataclass(frozen=True)
class Params:
    """Method parameters, TwoSampleMR's ``default_parameters()``.

    Attributes
    ----------
    nboot : int
        Bootstrap replicates for median and mode standard errors (1000).
    penk : float
        Penalty constant of the penalised median and mode (20).
    phi : float
        Bandwidth multiplier of the mode estimators (1).
    alpha : float
        Significance level for the mode-based confidence intervals (0.05).
    qthresh : float
        Q-test threshold of Rücker's model selection (0.05).
    over_dispersion : bool
        MR-RAPS models over-dispersion (balanced pleiotropy) (True).
    loss_function : str
        MR-RAPS loss: ``"huber"`` (default), ``"l2"`` or ``"tukey"``.
    """

    nboot: int = 1000
    penk: float = 20.0
    phi: float = 1.0
    alpha: float = 0.05
    qthresh: float = 0.05
    over_dispersion: bool = True
    loss_function: str = "huber"


@dataclass(frozen=True)
class MethodSpec:
    r"""One registered estimator.

    Attributes
    ----------
    key : str
        TwoSampleMR's function name, e.g. ``"mr_ivw"``: the key users pass.
    name : str
        Display name, exactly as TwoSampleMR prints it ("Inverse variance weighted").
    func : callable
        The estimator, following the contract in this module's docstring.
    min_snps : int
        Fewest SNPs with which the method runs; with fewer it is reported as not run.
    default : bool
        Whether ``mr()`` runs it when no methods are named (TwoSampleMR's ``use_by_default``).
    citation : str
        Short reference with DOI.
    stochastic : bool
        Whether its standard error comes from a bootstrap (uses the random stream).
    max_snps : int or None
        Most SNPs the method accepts (the Wald ratio takes exactly one).
    heterogeneity : bool
        Whether the method reports its own Cochran's Q (TwoSampleMR's ``heterogeneity_test``).
    interval : bool
        Whether the method reports its own confidence interval (``ci_low``,
        ``ci_upp``) instead of :math:`b \pm z\,se`.
    needs_samplesize : bool
        Whether the method needs the sample size ``n`` (keyword argument).
    joint : callable or None
        For a family of estimators that one computation serves (the mode-based
        estimators: TwoSampleMR's ``mr_mode()`` returns all of them from one
        bootstrap), ``joint(bx, by, sx, sy, params, rng, names)`` returns
        ``{name: result}`` for the family's methods named; members share it.
        :func:`mrbook.analysis.run_mr` uses it with numpy's generator (one set of
        draws for all the modes requested); with R's generator each method runs
        on its own, drawing as TwoSampleMR's ``mr()`` does.
    """

    key: str
    name: str
    func: Callable = field(repr=False)
    min_snps: int
    default: bool
    citation: str
    stochastic: bool = False
    max_snps: int | None = None
    heterogeneity: bool = False
    joint: Callable | None = field(default=None, repr=False)
    interval: bool = False
    needs_samplesize: bool = False


#: TwoSampleMR's ``mr_method_list()`` order (R/mr.R). The registry is kept in it.
ORDER = [
    "mr_wald_ratio",
    "mr_two_sample_ml",
    "mr_egger_regression",
    "mr_egger_regression_bootstrap",
    "mr_simple_median",
    "mr_weighted_median",
    "mr_penalised_weighted_median",
    "mr_ivw",
    "mr_ivw_radial",
    "mr_ivw_mre",
    "mr_ivw_fe",
    "mr_simple_mode",
    "mr_weighted_mode",
    "mr_weighted_mode_nome",
    "mr_simple_mode_nome",
    "mr_penalised_mode",
    "mr_raps",
    "mr_sign",
    "mr_uwr",
    "mr_grip",
]

METHODS: dict[str, MethodSpec] = {}


def register(key: str, name: str, *, min_snps: int, default: bool, citation: str,
             stochastic: bool = False, max_snps: int | None = None,
             heterogeneity: bool = False, joint: Callable | None = None,
             interval: bool = False, needs_samplesize: bool = False):
    """Decorator that adds an estimator to :data:`METHODS`."""

    def deco(func):
        if key not in ORDER:
            ORDER.append(key)
        METHODS[key] = MethodSpec(key, name, func, min_snps, default, citation,
                                  stochastic, max_snps, heterogeneity, joint, interval,
                                  needs_samplesize)
        # keep the dict in registry order
        items = sorted(METHODS.items(), key=lambda kv: ORDER.index(kv[0]))
        METHODS.clear()
        METHODS.update(items)
        return func

    return deco


def default_methods() -> list[str]:
    """Keys of the methods TwoSampleMR's ``mr()`` runs by default, in order."""
    return [k for k, m in METHODS.items() if m.default]


def resolve_methods(methods) -> list[MethodSpec]:
    """Turn method keys or display names into registry entries, in registry order.

    Parameters
    ----------
    methods : iterable of str or None
        Keys (``"mr_ivw"``) or display names (``"Inverse variance weighted"``);
        None for the defaults.

    Raises
    ------
    ParameterError
        For an unknown name, listing the known ones.
    """
    if methods is None:
        methods = default_methods()
    if isinstance(methods, str):
        methods = [methods]
    by_name = {m.name.lower(): k for k, m in METHODS.items()}
    keys = []
    for m in methods:
        k = m if m in METHODS else by_name.get(str(m).lower())
        if k is None:
            known = ", ".join(METHODS)
            raise ParameterError(f"unknown MR method {m!r}; known methods: {known}")
        if k not in keys:
            keys.append(k)
    return [METHODS[k] for k in ORDER if k in keys]
