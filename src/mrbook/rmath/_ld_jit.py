r"""Ground floor: plink 1.9's ``--clump`` r² of one SNP against many, compiled by numba.

Two kernels for :mod:`mrbook.data.ld`, each with the same numbers as its
Python path there (which stays the documented reference and the fallback):

* :func:`table_counts`: the 3x3 genotype tables of one panel variant against
  each of many, straight from the packed ``.bed`` bytes, as
  ``_table_counts(Panel.genotypes(...))`` (optionally after
  ``_minor_oriented``). A ``.bed`` row holds sample ``s`` in bits
  ``2 (s mod 4)`` and ``2 (s mod 4) + 1`` of byte ``s // 4`` (``00`` zero copies
  of A2, ``01`` missing, ``10`` one, ``11`` two); read as little-endian 64-bit
  words, sample ``s`` sits at bit ``2 (s mod 32)`` of word ``s // 32`` and its
  high bit one place up. With ``L`` the low and ``H`` the high bits of a word
  (shifted onto the even positions), the samples with 0, 1 and 2 copies are
  ``~H & ~L``, ``H & ~L`` and ``H & L``; masked with the founders' bits (the
  even bit of every founder: non-founders and the padding of the last byte drop
  out) and counted with ``popcount``, the nine cells are
  :math:`n_{ab} = \sum_{words} \mathrm{popcount}(X^{index}_a \,\&\, X^{other}_b)`,
  missing calls at either SNP left out as plink does pair by pair. With
  ``orient`` each SNP is flipped (0 and 2 copies swapped) when its A1 allele is
  the major one among its founders' non-missing calls (``2 n_{valid} - n_{A2} >
  n_{A2}``), as ``_minor_oriented``: the table's rows and/or columns reversed.
* :func:`clump_r2`: :func:`mrbook.rmath.plink.plink_clump_r2` of each table: the
  very functions of :mod:`mrbook.rmath.plink` (plink's ``em_phase_hethet`` and
  ``cubic_real_roots``) compiled, not a second copy: the same operations in the
  same order, ``math.log``/``acos``/``cos``/``sqrt``/``pow`` the C library's (as
  CPython's ``math``), no fast-math flags, so every value is bit-identical to the
  Python function's (tested on every pair of the bench phenome's exposures and on
  random and adversarial tables).

numba is imported by this module only (see :func:`mrbook.rmath.jit.jit_kernel`).

References
----------
Chang CC, et al. Second-generation PLINK: rising to the challenge of larger and
richer datasets. GigaScience 2015;4:7. doi:10.1186/s13742-015-0047-8 (plink 1.9's
``clump_reports``, ``em_phase_hethet``, ``cubic_real_roots``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, register_jitable

from . import plink

__all__ = ["table_counts", "clump_r2"]

_EVEN = np.uint64(0x5555555555555555)   # the low bit of every 2-bit genotype code


# --------------------------------------------------------------------------- genotype tables

@intrinsic
def _popcount(typingctx, x):
    """Number of set bits of a uint64 (LLVM's ``ctpop``: one ``popcnt`` instruction)."""
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


@njit(cache=True)
def _row(i, nv):
    """Row ``i`` of ``nv`` variants as numpy indexes (negative from the end); IndexError outside."""
    if i < -nv or i >= nv:
        raise IndexError("variant row out of range")
    return i + nv if i < 0 else i


@njit(cache=True)
def _load_words(bed, row, words):
    """Row ``row`` of the ``.bed`` bytes as little-endian uint64 words (zero-padded)."""
    nb = bed.shape[1]
    for k in range(words.shape[0]):
        w = np.uint64(0)
        for t in range(8):
            b = 8 * k + t
            if b < nb:
                w |= np.uint64(bed[row, b]) << np.uint64(8 * t)
        words[k] = w


@njit(cache=True)
def _classes(words, founders, cls):
    """Per word, the founders with 0, 1 and 2 copies of A2 (bit sets) into ``cls`` (3, nw);
    returns (non-missing calls, A2 alleles) over the founders."""
    valid = 0
    a2 = 0
    for k in range(words.shape[0]):
        lo = words[k] & _EVEN
        hi = (words[k] >> np.uint64(1)) & _EVEN
        f = founders[k]
        c0 = ~(hi | lo) & f
        c1 = hi & ~lo & f
        c2 = hi & lo & f
        cls[0, k] = c0
        cls[1, k] = c1
        cls[2, k] = c2
        n1 = np.int64(_popcount(c1))
        n2 = np.int64(_popcount(c2))
        valid += np.int64(_popcount(c0)) + n1 + n2
        a2 += n1 + 2 * n2
    return valid, a2


@njit(cache=True)
def table_counts(bed, founders, index, others, orient, out):
    """The 3x3 genotype tables of variant ``index`` against each of ``others``.

    Parameters
    ----------
    bed : uint8 array (n_variants, bytes per variant)
        The ``.bed`` genotype bytes (``Panel.bed``).
    founders : uint64 array (words per variant,)
        Bit ``2 (s mod 32)`` of word ``s // 32`` set for every founder ``s``.
    index : int
        Row of the index variant (negative: from the end, as numpy indexes).
    others : int64 array (m,)
        Rows of the other variants (the same).
    orient : bool
        Orient every variant so that A1 is its minor allele (``_minor_oriented``).
    out : int64 array (m, 9)
        ``out[r, 3 a + b]``: founders with ``a`` copies of A2 at ``index`` and ``b``
        at ``others[r]``, both calls non-missing.

    Raises
    ------
    IndexError
        A row outside ``[-n_variants, n_variants)``.
    """
    nw = founders.shape[0]
    words = np.empty(nw, dtype=np.uint64)
    ci = np.empty((3, nw), dtype=np.uint64)
    cj = np.empty((3, nw), dtype=np.uint64)
    _load_words(bed, _row(index, bed.shape[0]), words)
    valid, a2 = _classes(words, founders, ci)
    flip_i = orient and 2 * valid - a2 > a2
    for r in range(others.shape[0]):
        _load_words(bed, _row(others[r], bed.shape[0]), words)
        valid, a2 = _classes(words, founders, cj)
        flip_j = orient and 2 * valid - a2 > a2
        for a in range(3):
            ra = 2 - a if flip_i else a
            for b in range(3):
                rb = 2 - b if flip_j else b
                n = np.uint64(0)
                for k in range(nw):
                    n += _popcount(ci[a, k] & cj[b, k])
                out[r, 3 * ra + rb] = n


# --------------------------------------------------------------------------- plink's r²

# mrbook.rmath.plink's scalar functions, compiled where the loop below calls them
for _f in (plink._log, plink._acos, plink._cubic_real_roots, plink._calc_lnlike,
           plink._em_phase_hethet, plink.table_r2):
    register_jitable(_f)

#: ``clump_r2(counts, out)``: :func:`mrbook.rmath.plink.plink_clump_r2` of each row of
#: ``counts`` ((m, 9) int64) into ``out`` ((m,) float64): :func:`mrbook.rmath.plink.clump_r2_rows`
#: compiled (cached with that module's source, which it and its callees all live in)
clump_r2 = njit(cache=True)(plink.clump_r2_rows)
