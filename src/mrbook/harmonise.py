"""Harmonise layer: allele harmonisation of exposure and outcome data, exact to TwoSampleMR 0.7.9.

This reproduces ``harmonise_data()`` of TwoSampleMR (``R/harmonise.R``: ``harmonise_data``,
``harmonise_cleanup_variables``, ``harmonise``, ``harmonise_22/21/12/11``,
``recode_indels_22/21``, ``check_palindromic``, ``flip_alleles``), including its
quirks, so that a harmonised table made here is the one R makes, row for row:

* inner ``merge(outcome, exposure, by="SNP")``; columns that both inputs share
  (other than ``SNP``) get R's suffixes ``.x`` (outcome) and ``.y`` (exposure);
* alleles upper-cased, ``other_allele.outcome == ""`` and ``eaf.outcome == "NR"`` → NA;
* one harmonisation per (``id.exposure``, ``id.outcome``) pair, with ``action``
  1, 2 or 3 per outcome and a palindrome tolerance of 0.08 (an *open* interval:
  an allele frequency is ambiguous when ``0.42 < eaf < 0.58``);
* the 2-2, 2-1, 1-2 and 1-1 allele cases (a missing other allele), indels coded
  I/D or as sequences;
* ``mr_keep``: action 2 ``!(remove | ambiguous)``, action 1 ``!remove``, action 3
  ``!(palindromic | remove | ambiguous)``; then FALSE wherever ``beta.*``/``se.*``
  is missing.

What TwoSampleMR does silently is made visible here: every row carries
``mr_keep_reason`` (None when kept), and :func:`harmonise_with_exclusions` also
lists the SNPs that never reach the harmonised table (absent from the outcome,
absent from the exposure, or without an effect allele, which R drops without a
word).

Row order
---------
R's ``merge()`` sorts by the key with the session's collation; the reference run
used ICU "root" collation (``C.UTF-8`` locale). Within each exposure-outcome
pair TwoSampleMR sorts by ``paste0(SNP, "_", k)`` (k = 1 for the first
occurrence of a SNP in the pair, 2 for the second ...). ICU root collation
compares, at the first level, punctuation before digits before letters
(``_ - , ; : ! ? . ' " ( ) [ ] { } @ * / \\ & # % ` ^ + < = > | ~ $ 0-9 aA-zZ``),
letters without case; case (lower before upper) only breaks ties. Digits are
compared as characters, not numbers. So ``rs10_1 < rs100_1 < rs11_1 < rs9_1``
(in the C locale ``rs100_1`` would come first, since ``'0' < '_'`` bytewise).
Pairs follow one another in the order in which they first appear in R's
intermediate table, which is reproduced by emulating ``merge()``'s internal
(unstable) shell sort; see :func:`r_collation_key` and :func:`_r_merge_pairs`.

Known, documented differences from R: R stops with an error ("NAs are not
allowed in subscripted assignments") in a few corner cases of indels in the 1-2
case; here those comparisons count as "no match". Missing ``SNP``,
``id.exposure`` or ``id.outcome`` values are an :class:`InputError` here (R
would match NA to NA, then lose the rows). Alleles are not validated, as in R:
an allele that is not a sequence of A/C/G/T or I/D simply fails to match, and the
SNP is removed with its reason.
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .data.frames import Columns, Rows, column_array
from .errors import InputError, ParameterError

__all__ = [
    "harmonise",
    "harmonise_with_exclusions",
    "harmonise_log",
    "r_collation_key",
    "EXCLUSION_COLUMNS",
    "LOG_ATTR",
]

#: Columns of the exclusions table.
EXCLUSION_COLUMNS = ["snp", "id_exposure", "id_outcome", "step", "reason"]
#: Key of ``DataFrame.attrs`` holding TwoSampleMR's ``attr(dat, "log")`` as a list of dicts.
LOG_ATTR = "harmonise_log"

_HARM_COLS = [
    "effect_allele.exposure", "other_allele.exposure",
    "effect_allele.outcome", "other_allele.outcome",
    "beta.exposure", "beta.outcome", "eaf.exposure", "eaf.outcome",
]
_MR_COLS = ["beta.exposure", "beta.outcome", "se.exposure", "se.outcome"]
_NA_TOKENS = {"", "NA", "NR", "NR ", "NAN", "NaN", "nan", "N/A", "na"}


# --------------------------------------------------------------------------------------
# Collation (ICU root, as R's sort/order in a C.UTF-8 session with ICU)
# --------------------------------------------------------------------------------------

# First-level (primary) order of the printable ASCII characters in ICU's root
# collation (CLDR root, alternate=non-ignorable). Letters share a weight across
# case; case is a third-level difference (lower before upper).
_ICU_ASCII_PRIMARY = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {c: i + 1 for i, c in enumerate(_ICU_ASCII_PRIMARY)}


def r_collation_key(s: str) -> tuple:
    """Sort key reproducing R's string order under ICU root collation.

    Exact for ASCII strings (what SNP identifiers are). Control characters are
    ignorable, as in ICU. Non-ASCII characters, which do not occur in SNP
    identifiers, are placed after ``z`` by code point (an approximation).

    Examples
    --------
    >>> sorted(["rs100_1", "rs10_1", "rs9_1", "rs11_1"], key=r_collation_key)
    ['rs10_1', 'rs100_1', 'rs11_1', 'rs9_1']
    >>> sorted(["B", "a", "A", "b"], key=r_collation_key)
    ['a', 'A', 'b', 'B']
    """
    prim: list[int] = []
    tert: list[int] = []
    for ch in s:
        o = ord(ch)
        if o < 32 or o == 127:
            continue  # completely ignorable
        if o < 128:
            lower = ch.lower()
            prim.append(_PRIMARY[lower])
            tert.append(1 if ch != lower else 0)
        else:
            prim.append(1000 + o)
            tert.append(0)
    return (tuple(prim), tuple(tert))


# the weights of r_collation_key as characters, per ASCII character (None: ignorable)
_PRIMARY_CHARS = {o: None if o < 32 or o == 127 else chr(_PRIMARY[chr(o).lower()])
                  for o in range(128)}
_CASE_CHARS = {o: None if o < 32 or o == 127 else chr(chr(o) != chr(o).lower())
               for o in range(128)}


@functools.lru_cache(maxsize=1 << 16)
def _collation_key_cached(s: str) -> str:
    """:func:`r_collation_key` as one string that sorts as it does, remembered (a batch
    sorts the same SNP ids for every outcome).

    The primary weights, a ``"\\0"`` (below every weight: a shorter key that is a prefix
    of a longer one comes first, as with tuples), then the case weights, each weight as
    one character; a non-ASCII character's weight, ``1000 + code point``, as its code
    point (the order is the same, as ASCII weights are below 128). Comparing two such
    strings costs a third of comparing the tuples; an ASCII string's key is made with
    two ``str.translate`` (a tenth of the cost of :func:`r_collation_key`).
    """
    if s.isascii():
        return s.translate(_PRIMARY_CHARS) + "\0" + s.translate(_CASE_CHARS)
    prim, tert = r_collation_key(s)
    return ("".join([chr(p - 1000 if p >= 1000 else p) for p in prim]) + "\0"
            + "".join(map(chr, tert)))



# --------------------------------------------------------------------------------------
# R's merge(): internal row order
# --------------------------------------------------------------------------------------

def _r_isort_with_index(x: np.ndarray) -> np.ndarray:
    """Permutation produced by R's ``isort_with_index`` (``src/main/util.c``).

    That is a shell sort with gaps 1, 4, 13, ... (< n/9), hence not stable.
    Each gap-h pass is an insertion sort (strict ``>``) of every chain
    ``r, r+h, r+2h, ...``, i.e. a stable sort of each chain; a pass is therefore
    one stable lexsort by (position mod h, value).
    Returns the 0-based original indices in sorted order.
    """
    x = np.asarray(x, dtype=np.int64).copy()
    n = len(x)
    idx = np.arange(n)
    pos = np.arange(n)
    h = 1
    while h <= n // 9:
        h = 3 * h + 1
    while h > 0:
        res = pos % h
        order = np.lexsort((pos, x, res))
        targets = np.lexsort((pos, res))
        newx = np.empty_like(x)
        newidx = np.empty_like(idx)
        newx[targets] = x[order]
        newidx[targets] = idx[order]
        x, idx = newx, newidx
        h //= 3
    return idx


def _r_match_first(keys: Sequence, table: Sequence) -> np.ndarray:
    """R's ``match(keys, table, 0L)`` (1-based, first occurrence, 0 when absent)."""
    first: dict = {}
    for i, k in enumerate(table, start=1):
        first.setdefault(k, i)
    return np.fromiter((first.get(k, 0) for k in keys), dtype=np.int64, count=len(keys))


def _r_merge_pairs(xkeys: Sequence, ykeys: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (0-based) of R's inner ``merge(x, y, by=key)`` in R's output order.

    Emulates ``merge.data.frame`` with one key: ``xinds``/``yinds`` from
    ``match()``, the internal ``.Internal(merge())`` (shell-sorted indices, pairs
    grouped by key, x-major), then ``sort.list(bx[m$xi])`` (stable, collation).

    Two common shapes skip the shell sort, with the same result: keys unique on
    both sides (a SNP merge: the shell sort of distinct ``xinds`` is the order of
    x, so the pairs are x's rows that y holds, in x order), and one key in every
    row of x with unique keys in y (the merge with the outcome actions: a shell
    sort of equal values moves nothing).
    """
    bx = list(xkeys)
    by = list(ykeys)
    empty = np.array([], dtype=np.int64)
    if not bx or not by:
        return empty, empty
    ypos: dict = {}
    for j, k in enumerate(by):
        ypos.setdefault(k, j)
    y_unique = len(ypos) == len(by)
    if y_unique:
        xset = set(bx)
        if len(xset) == len(bx) or len(xset) == 1:
            xs = [i for i, k in enumerate(bx) if k in ypos]
            if len(xset) == len(bx):
                sort_keys = [_collation_key_cached(str(k)) for k in bx]
                xs.sort(key=sort_keys.__getitem__)  # stable
            return (np.asarray(xs, dtype=np.int64),
                    np.asarray([ypos[bx[i]] for i in xs], dtype=np.int64))
    yset = set(by)
    bxy = [k for k in bx if k in yset]
    xinds = _r_match_first(bx, bxy)
    yinds = _r_match_first(by, bxy)
    ix = _r_isort_with_index(xinds)
    iy = _r_isort_with_index(yinds)
    xs = xinds[ix]
    ys = yinds[iy]
    nx, ny = len(xs), len(ys)
    i = int(np.searchsorted(xs, 1))  # the sorted arrays put zeros first
    j = int(np.searchsorted(ys, 1))
    out_x: list[int] = []
    out_y: list[int] = []
    while i < nx:
        tmp = xs[i]
        nnx = i
        while nnx < nx and xs[nnx] == tmp:
            nnx += 1
        while j < ny and ys[j] < tmp:
            j += 1
        nny = j
        while nny < ny and ys[nny] == tmp:
            nny += 1
        for i0 in range(i, nnx):
            for j0 in range(j, nny):
                out_x.append(int(ix[i0]))
                out_y.append(int(iy[j0]))
        i, j = nnx, nny
    out_x_arr = np.asarray(out_x, dtype=np.int64)
    out_y_arr = np.asarray(out_y, dtype=np.int64)
    keys = [_collation_key_cached(str(bx[k])) for k in out_x_arr]
    order = sorted(range(len(keys)), key=keys.__getitem__)  # Python's sort is stable
    return out_x_arr[order], out_y_arr[order]


# --------------------------------------------------------------------------------------
# Small R-compatible helpers (NA = None for strings, NaN for numbers)
# --------------------------------------------------------------------------------------

def _eq(a: str | None, b: str | None) -> bool:
    """``a == b`` where an NA operand gives NA, which every caller uses as FALSE."""
    return a is not None and b is not None and a == b


def _ne(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a != b


def _nchar(a: str | None) -> float:
    return math.nan if a is None else len(a)


def _flip(a: str | None) -> str | None:
    """``flip_alleles``: complement A<->T, C<->G on the upper-cased string."""
    if a is None:
        return None
    return a.upper().translate(str.maketrans("ACGT", "TGCA"))


def _palindromic(a1: str | None, a2: str | None) -> bool:
    return (a1, a2) in {("T", "A"), ("A", "T"), ("G", "C"), ("C", "G")}


def _is_na_num(x: float) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _recode_indels_22(A1, A2, B1, B2):
    ncA1, ncA2, ncB1, ncB2 = _nchar(A1), _nchar(A2), _nchar(B1), _nchar(B2)
    if ncA1 > ncA2 and _eq(B1, "I") and _eq(B2, "D"):
        B1, B2 = A1, A2
    if ncA1 < ncA2 and _eq(B1, "I") and _eq(B2, "D"):
        B1, B2 = A2, A1
    if ncA1 > ncA2 and _eq(B1, "D") and _eq(B2, "I"):
        B1, B2 = A2, A1
    if ncA1 < ncA2 and _eq(B1, "D") and _eq(B2, "I"):
        B1, B2 = A1, A2
    if ncB1 > ncB2 and _eq(A1, "I") and _eq(A2, "D"):
        A1, A2 = B1, B2
    if ncB1 < ncB2 and _eq(A1, "I") and _eq(A2, "D"):
        A2, A1 = B1, B2
    if ncB1 > ncB2 and _eq(A1, "D") and _eq(A2, "I"):
        A2, A1 = B1, B2
    if ncB1 < ncB2 and _eq(A1, "D") and _eq(A2, "I"):
        A1, A2 = B1, B2
    keep = True
    if ncA1 > 1 and ncA1 == ncA2 and (_eq(B1, "D") or _eq(B1, "I")):
        keep = False
    if ncB1 > 1 and ncB1 == ncB2 and (_eq(A1, "D") or _eq(A1, "I")):
        keep = False
    if _eq(A1, A2):
        keep = False
    if _eq(B1, B2):
        keep = False
    return A1, A2, B1, B2, keep


def _recode_indels_21(A1, A2, B1):
    ncA1, ncA2 = _nchar(A1), _nchar(A2)
    B2 = None
    if ncA1 > ncA2 and _eq(B1, "I"):
        B1, B2 = A1, A2
    if ncA1 < ncA2 and _eq(B1, "I"):
        B1, B2 = A2, A1
    if ncA1 > ncA2 and _eq(B1, "D"):
        B1, B2 = A2, A1
    if ncA1 < ncA2 and _eq(B1, "D"):
        B1, B2 = A1, A2
    keep = True
    if _eq(A1, "I") and _eq(A2, "D"):
        keep = False
    if _eq(A1, "D") and _eq(A2, "I"):
        keep = False
    if ncA1 > 1 and ncA1 == ncA2 and (_eq(B1, "D") or _eq(B1, "I")):
        keep = False
    if _eq(A1, A2):
        keep = False
    return A1, A2, B1, B2, keep


# --------------------------------------------------------------------------------------
# The four allele cases (one row at a time; R's code is element-wise throughout)
# --------------------------------------------------------------------------------------

def _fmt(x: float) -> str:
    return "missing" if _is_na_num(x) else f"{x:.4g}"


def _alle(a: str | None, b: Any = ...) -> str:
    a = "NA" if a is None else a
    return a if b is ... else f"{a}/{'NA' if b is None else b}"


def _harmonise_22(r: dict, tol: float, action: int, log: dict) -> dict:
    A1, A2, B1, B2 = r["A1"], r["A2"], r["B1"], r["B2"]
    bA, bB, fA, fB = r["bA"], r["bB"], r["fA"], r["fB"]
    indel = _nchar(A1) > 1 or _nchar(A2) > 1 or _eq(A1, "D") or _eq(A1, "I")
    keep = True
    if indel:
        A1, A2, B1, B2, keep = _recode_indels_22(A1, A2, B1, B2)
    if _eq(A1, B2) and _eq(A2, B1):
        log["switched_alleles"] += 1
        B1, B2 = B2, B1
        bB, fB = -bB, 1 - fB
    status1 = _eq(A1, B1) and _eq(A2, B2)
    pal = _palindromic(A1, A2)
    if not pal and not status1:
        log["flipped_alleles_basic"] += 1
        B1, B2 = _flip(B1), _flip(B2)
    if _eq(A1, B2) and _eq(A2, B1):
        B1, B2 = B2, B1
        bB, fB = -bB, 1 - fB
    status1 = _eq(A1, B1) and _eq(A2, B2)
    remove = not status1
    indel_unresolved = indel and not keep
    if indel_unresolved:
        remove = True
    minf, maxf = 0.5 - tol, 0.5 + tol
    tfA = 0.5 if _is_na_num(fA) else fA
    tfB = 0.5 if _is_na_num(fB) else fB
    ambA = minf < tfA < maxf
    ambB = minf < tfB < maxf
    if action == 2:
        status2 = ((tfA < 0.5 and tfB > 0.5) or (tfA > 0.5 and tfB < 0.5)) and pal
        if status2 and not remove:
            log["flipped_alleles_palindrome"] += 1
            bB, fB = -bB, 1 - fB
    ambiguous = (ambA or ambB) and pal

    # reasons (not part of TwoSampleMR)
    o = r["orig"]
    if indel_unresolved:
        why_remove = (f"indel alleles cannot be matched {_alle(o[0], o[1])} vs "
                      f"{_alle(o[2], o[3])}")
    else:
        why_remove = f"incompatible alleles {_alle(o[0], o[1])} vs {_alle(o[2], o[3])}"
    inside = []
    for name, f, tf in (("eaf.exposure", r["fA"], tfA), ("eaf.outcome", r["fB"], tfB)):
        if minf < tf < maxf:
            inside.append(f"{name} missing, taken as 0.5" if _is_na_num(f) else f"{name} {_fmt(f)}")
    why_ambiguous = (f"palindromic with ambiguous allele frequency ({', '.join(inside)}, "
                     f"inside {minf:g}-{maxf:g})")
    return dict(A1=A1, A2=A2, B1=B1, B2=B2, bA=bA, bB=bB, fA=fA, fB=fB, remove=remove,
                palindromic=pal, ambiguous=ambiguous, why_remove=why_remove,
                why_ambiguous=why_ambiguous,
                why_palindromic=f"palindromic {_alle(A1, A2)} (action 3 drops palindromic SNPs)")


#: the single-base alleles as codes: a complement is ``3 - code`` (A<->T, C<->G), and
#: two alleles are palindromic exactly when their codes add up to 3 (A/T, C/G)
_BASE_CODE = {"A": 0, "C": 1, "G": 2, "T": 3}
_BASES = np.array(["A", "C", "G", "T"], dtype=object)


def _harmonise_22_bases(codes: np.ndarray, bB: np.ndarray, fA: np.ndarray, fB: np.ndarray,
                        tol: float, action: int, log: dict) -> dict:
    """:func:`_harmonise_22` for rows whose four alleles are single bases, all rows at once.

    ``codes`` holds the ``_BASE_CODE`` of A1, A2, B1, B2 (4 x rows). No indel can
    occur, so the steps are those of :func:`_harmonise_22` with its indel branch
    left out, each a selection, a comparison or a sign flip (``-b``, ``1 - f``), as
    R's element-wise code does them: the same values, bit for bit. Returns the
    final B1 and B2 codes, ``bB``, ``fB`` and the ``remove``, ``palindromic`` and
    ``ambiguous`` flags; adds to the counters in ``log``. (The A side never changes
    in the 2-2 case.)
    """
    a1, a2, b1, b2 = codes
    switch = (a1 == b2) & (a2 == b1)
    log["switched_alleles"] += int(switch.sum())
    b1, b2 = np.where(switch, b2, b1), np.where(switch, b1, b2)
    bB, fB = np.where(switch, -bB, bB), np.where(switch, 1 - fB, fB)
    pal = a1 + a2 == 3
    flip = ~pal & ~((a1 == b1) & (a2 == b2))
    log["flipped_alleles_basic"] += int(flip.sum())
    b1, b2 = np.where(flip, 3 - b1, b1), np.where(flip, 3 - b2, b2)
    switch = (a1 == b2) & (a2 == b1)
    b1, b2 = np.where(switch, b2, b1), np.where(switch, b1, b2)
    bB, fB = np.where(switch, -bB, bB), np.where(switch, 1 - fB, fB)
    remove = ~((a1 == b1) & (a2 == b2))
    minf, maxf = 0.5 - tol, 0.5 + tol
    tfA = np.where(np.isnan(fA), 0.5, fA)
    tfB = np.where(np.isnan(fB), 0.5, fB)
    if action == 2:
        status2 = (((tfA < 0.5) & (tfB > 0.5)) | ((tfA > 0.5) & (tfB < 0.5))) & pal
        flip = status2 & ~remove
        log["flipped_alleles_palindrome"] += int(flip.sum())
        bB, fB = np.where(flip, -bB, bB), np.where(flip, 1 - fB, fB)
    ambiguous = (((minf < tfA) & (tfA < maxf)) | ((minf < tfB) & (tfB < maxf))) & pal
    return dict(B1=b1, B2=b2, bB=bB, fB=fB, remove=remove, palindromic=pal, ambiguous=ambiguous)


def _freq_text(fA: float, fB: float) -> str:
    return f"eaf.exposure {_fmt(fA)}, eaf.outcome {_fmt(fB)}"


def _harmonise_21(r: dict, tol: float, action: int, log: dict) -> dict:
    A1, A2, B1 = r["A1"], r["A2"], r["B1"]
    B2 = None
    bA, bB, fA, fB = r["bA"], r["bB"], r["fA"], r["fB"]
    ambiguous = False
    pal = _palindromic(A1, A2)
    remove = pal
    indel = _nchar(A1) > 1 or _nchar(A2) > 1 or _eq(A1, "D") or _eq(A1, "I")
    indel_unresolved = False
    if indel:
        A1, A2, B1, B2, keep = _recode_indels_21(A1, A2, B1)
        if not keep:
            remove = indel_unresolved = True
    status1 = _eq(A1, B1)
    minf, maxf = 0.5 - tol, 0.5 + tol
    tfA = 0.5 if _is_na_num(fA) else fA
    tfB = 0.5 if _is_na_num(fB) else fB
    fs1 = (tfA < minf and tfB < minf) or (tfA > maxf and tfB > maxf)
    if status1 and not fs1:
        ambiguous = True
    if status1:
        B2 = A2
    to_swap = _eq(A2, B1)
    if to_swap:
        log["switched_alleles"] += 1
    fs2 = (tfA < minf and tfB > maxf) or (tfA > maxf and tfB < minf)
    if to_swap and not fs2:
        ambiguous = True
    if to_swap:
        B2, B1 = B1, A1
        bB, fB = -bB, 1 - fB
    to_flip = _ne(A1, B1) and _ne(A2, B1)
    if to_flip:
        log["flipped_alleles_no_oa"] += 1
        ambiguous = True
        B1 = _flip(B1)
    if _eq(A1, B1):
        B2 = A2
    if _eq(A2, B1):
        B2, B1 = B1, A1
        bB, fB = -bB, 1 - fB
    o = r["orig"]
    return _one_allele_result(A1, A2, B1, B2, bA, bB, fA, fB, remove, pal, ambiguous,
                              indel_unresolved, to_flip, o, "outcome", r)


def _harmonise_12(r: dict, tol: float, action: int, log: dict) -> dict:
    A1, B1, B2 = r["A1"], r["B1"], r["B2"]
    A2 = None
    bA, bB, fA, fB = r["bA"], r["bB"], r["fA"], r["fB"]
    ambiguous = False
    pal = _palindromic(B1, B2)
    remove = pal
    indel = _nchar(B1) > 1 or _nchar(B2) > 1 or _eq(B1, "D") or _eq(B1, "I")
    indel_unresolved = False
    if indel:
        # TwoSampleMR calls recode_indels_21(A1, B1, B2) here (not recode_indels_12)
        # and unpacks the result as A1, A2, B1, B2: reproduced as is.
        A1, A2, B1, B2, keep = _recode_indels_21(A1, B1, B2)
        if not keep:
            remove = indel_unresolved = True
    status1 = _eq(A1, B1)
    minf, maxf = 0.5 - tol, 0.5 + tol
    tfA = 0.5 if _is_na_num(fA) else fA
    tfB = 0.5 if _is_na_num(fB) else fB
    fs1 = (tfA < minf and tfB < minf) or (tfA > maxf and tfB > maxf)
    if status1 and not fs1:
        ambiguous = True
    if status1:
        A2 = B2
    to_swap = _eq(A1, B2)
    if to_swap:
        log["switched_alleles"] += 1
    fs2 = (tfA < minf and tfB > maxf) or (tfA > maxf and tfB < minf)
    if to_swap and not fs2:
        ambiguous = True
    if to_swap:
        A2, A1 = A1, B1
        bA, fA = -bA, 1 - fA
    to_flip = _ne(A1, B1) and _ne(A1, B2)
    if to_flip:
        log["flipped_alleles_no_oa"] += 1
        ambiguous = True
        A1 = _flip(A1)
    if _eq(A1, B1):
        A2 = B2
    if _eq(B2, A1):
        B2, B1 = B1, A1
        bB, fB = -bB, 1 - fB
    o = r["orig"]
    return _one_allele_result(A1, A2, B1, B2, bA, bB, fA, fB, remove, pal, ambiguous,
                              indel_unresolved, to_flip, o, "exposure", r)


def _one_allele_result(A1, A2, B1, B2, bA, bB, fA, fB, remove, pal, ambiguous,
                       indel_unresolved, to_flip, o, side, r) -> dict:
    given = f"{_alle(o[0], o[1])} vs {_alle(o[2], o[3])}"
    if indel_unresolved:
        why_remove = f"indel alleles cannot be matched {given}"
    else:
        why_remove = f"palindromic alleles {given} and the {side} gives only one allele"
    if pal:
        why_ambiguous = f"palindromic alleles {given} and the {side} gives only one allele"
    elif to_flip:
        why_ambiguous = (f"the {side} gives only one allele, matching neither allele of the "
                         f"other data set ({given})")
    else:
        why_ambiguous = (f"the {side} gives only one allele and the allele frequencies do not "
                         f"confirm the match ({_freq_text(r['fA'], r['fB'])})")
    return dict(A1=A1, A2=A2, B1=B1, B2=B2, bA=bA, bB=bB, fA=fA, fB=fB, remove=remove,
                palindromic=pal, ambiguous=ambiguous or pal, why_remove=why_remove,
                why_ambiguous=why_ambiguous,
                why_palindromic=f"palindromic {given} (action 3 drops palindromic SNPs)")


def _harmonise_11(r: dict, tol: float, action: int, log: dict) -> dict:
    A1, B1 = r["A1"], r["B1"]
    bA, bB, fA, fB = r["bA"], r["bB"], r["fA"], r["fB"]
    status1 = _eq(A1, B1)
    remove = not status1
    minf, maxf = 0.5 - tol, 0.5 + tol
    tfA = 0.5 if _is_na_num(fA) else fA
    tfB = 0.5 if _is_na_num(fB) else fB
    fs1 = (tfA < minf and tfB < minf) or (tfA > maxf and tfB > maxf)
    ambiguous = status1 and not fs1
    o = r["orig"]
    return dict(A1=A1, A2=None, B1=B1, B2=None, bA=bA, bB=bB, fA=fA, fB=fB, remove=remove,
                palindromic=False, ambiguous=ambiguous,
                why_remove=(f"effect alleles differ ({_alle(o[0])} vs {_alle(o[2])}) and "
                            f"neither data set gives the other allele"),
                why_ambiguous=("neither data set gives the other allele and the allele "
                               f"frequencies do not confirm the match "
                               f"({_freq_text(r['fA'], r['fB'])})"),
                why_palindromic="")


_CASES = {
    "2-2": (_harmonise_22, ["switched_alleles", "flipped_alleles_basic", "flipped_alleles_palindrome"]),
    "2-1": (_harmonise_21, ["switched_alleles", "flipped_alleles_no_oa"]),
    "1-2": (_harmonise_12, ["switched_alleles", "flipped_alleles_no_oa"]),
    "1-1": (_harmonise_11, []),
}
# Order of the rows of the log (R: rbind.fill(d22, d21, d12, d11)).
_LOG_CASE_ORDER = ["2-2", "2-1", "1-2", "1-1"]
# Order of the data rows before merge() re-sorts them (R: rbind(d21, d22, d12, d11)).
_DATA_CASE_ORDER = ["2-1", "2-2", "1-2", "1-1"]


# --------------------------------------------------------------------------------------
# Input checks and cleanup
# --------------------------------------------------------------------------------------

def _is_missing(v: Any) -> bool:
    """``is.na`` of one cell as pandas' ``isna`` sees it (None, NaN, NA, NaT)."""
    if v is None:
        return True
    if isinstance(v, str):
        return False
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # a list in a cell: not missing
        return False


def _check_required(df: pd.DataFrame, role: str, path, rows: Rows | None = None) -> dict:
    """Check the required columns and that ``SNP`` and ``id.<role>`` have no missing value
    (in the rows at positions ``rows`` only, when given; a row named in an error is
    counted in those rows).

    Returns those two columns as text (``as.character``: ``str`` of each value), by name.
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"the {role} data must be a table (DataFrame), got {type(df).__name__}", path)
    required = ["SNP"] + [p + role for p in ("id.", "", "beta.", "se.", "effect_allele.", "other_allele.")]
    present = df.columns
    for col in required:
        if col not in present:
            raise InputError(f"required column '{col}' is missing from the {role} data "
                             f"(needs {', '.join(required)})", path, None, col)
    text = {}
    for col in ("SNP", "id." + role):
        vals = _tolist(_taken(column_array(df, col), rows))
        if not (set(map(type, vals)) <= {str} and all(map(str.strip, vals))):  # else at once
            for k, v in enumerate(vals):
                if _is_missing(v) or (str(v).strip() == ""):
                    raise InputError(f"missing value in '{col}'", path, k + 1, col)
            vals = [str(v) for v in vals]
        text[col] = vals
    return text


def _to_numeric(col, pos: np.ndarray, name: str, path) -> np.ndarray:
    """``as.numeric`` of the column values ``col`` (:func:`~mrbook.data.frames.column_array`)
    at the rows ``pos``, as harmonise_cleanup_variables uses it, but text is an error
    (naming the input row ``pos + 1``)."""
    if isinstance(col, np.ndarray) and col.dtype.kind in "iuf":  # Series.to_numpy's result
        return np.asarray(col, dtype=float)[pos]
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return pd.Series(col, copy=False).to_numpy(dtype=float, na_value=np.nan)[pos]
    vals = col.tolist()
    out = np.empty(len(pos), dtype=float)
    for k, i in enumerate(pos.tolist()):
        v = vals[i]
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out[k] = np.nan
            continue
        if isinstance(v, (bool, np.bool_)):
            raise InputError(f"expected a number, got {v!r}", path, i + 1, name)
        if isinstance(v, (int, float, np.integer, np.floating)):
            out[k] = float(v)
            continue
        s = str(v).strip()
        if s in _NA_TOKENS:
            out[k] = np.nan
            continue
        try:
            out[k] = float(s)
        except ValueError:
            raise InputError(f"expected a number, got {str(v)!r}", path, i + 1, name) from None
    return out


def _allele(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v).upper()


#: whether pandas makes a column of strings and None a string column (pandas >= 3)
_INFERS_STR = pd.Series(["a", None]).dtype != object


def _str_or_nan(values) -> list | np.ndarray:
    """``values`` (strings and None) as pandas stores them in a column inferred from them
    and taken as object: with pandas' string columns (pandas >= 3) None becomes NaN when
    there is any string (all None stays None); before, the values stay as they are (a
    list or array is then returned itself)."""
    if _INFERS_STR and any(v is None for v in values) and any(isinstance(v, str) for v in values):
        return [np.nan if v is None else v for v in values]
    return values if isinstance(values, (list, np.ndarray)) else list(values)


#: the dtype pandas gives a column of strings (``str`` from pandas 3, object before)
_STR_DTYPE = pd.Series(["a"]).dtype


def _values_at(col, at: Rows):
    """What a DataFrame column made of ``Series(col).iloc[at.pos].to_numpy()`` holds
    (``.values`` for a categorical column), for the column values ``col``
    (:func:`~mrbook.data.frames.column_array`), made without the round trip where that is the same: a string
    column of pandas' default string dtype is taken as it is when some of the rows
    taken hold a string (as its object array would be inferred)."""
    dt = col.dtype
    if isinstance(dt, pd.CategoricalDtype):
        return col.take(at.pos)
    if isinstance(dt, pd.StringDtype) and dt == _STR_DTYPE:
        taken = at.take(col)
        if len(taken) and not taken.isna().all():
            return taken
    if isinstance(dt, (np.dtype, pd.StringDtype)):
        return (col if isinstance(col, np.ndarray) else col.to_numpy())[at.pos]
    return col.take(at.pos).to_numpy()


def _taken(col, rows: Rows | None):
    """The column values ``col`` (:func:`~mrbook.data.frames.column_array`) at the
    positions ``rows`` (an array of the same kind), or ``col`` itself when ``rows`` is None."""
    return col if rows is None else rows.take(col)


def _tolist(col) -> list:
    """``col.tolist()`` of column values (:func:`~mrbook.data.frames.column_array`);
    pandas' Arrow strings without a missing value (then all ``str``) are read from
    Arrow directly, at half the cost."""
    if isinstance(col, pd.arrays.ArrowStringArray):
        arrow = col.__arrow_array__()
        if arrow.null_count == 0:
            return arrow.to_pylist()
    return col.tolist()


def _objects(values: list) -> np.ndarray:
    """``values`` as an object array, each value as it is."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _is_typed(values) -> bool:
    """Whether ``pd.DataFrame`` keeps the array ``values`` as it is (no inference)."""
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "biuf"
    return isinstance(values, (pd.Categorical, pd.arrays.ArrowStringArray,
                               pd.arrays.IntegerArray, pd.arrays.FloatingArray,
                               pd.arrays.BooleanArray))


def _columns(cols: dict, n: int, as_object: list) -> Columns:
    """``pd.DataFrame(cols)`` for a dict of ``n``-long arrays, the columns ``as_object``
    (object arrays) kept as object, as its typed arrays (:class:`~mrbook.data.frames.Columns`).

    Each column that pandas would infer a type for is inferred first, one by one, as
    ``pd.DataFrame`` does (``Series`` and ``DataFrame`` share that step); the
    DataFrame is then made from the arrays as they are
    (:func:`~mrbook.data.frames.frame_from_arrays`): the table of
    ``pd.DataFrame(cols)`` at about a third of its cost.
    """
    arrays = [v if c in as_object or _is_typed(v) else pd.Series(v, copy=False)._values
              for c, v in cols.items()]
    return Columns(arrays, cols, n)


# --------------------------------------------------------------------------------------
# The public functions
# --------------------------------------------------------------------------------------

def _normalise_action(action, outcome_ids: list) -> dict:
    if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
        acts = [int(action)] * len(outcome_ids)
    elif isinstance(action, Sequence) and not isinstance(action, str):
        acts = list(action)
        if len(acts) == 1:
            acts = acts * len(outcome_ids)
        elif len(acts) != len(outcome_ids):
            raise ParameterError(
                "action must be one value (used for all outcomes) or one value per id.outcome "
                f"({len(outcome_ids)}), got {len(acts)}")
    else:
        raise ParameterError(f"action must be 1, 2 or 3, got {action!r}")
    for a in acts:
        if isinstance(a, bool) or a not in (1, 2, 3):
            raise ParameterError(f"action must be 1, 2 or 3, got {a!r}")
    return {oid: int(a) for oid, a in zip(outcome_ids, acts)}


class _Merged:
    """R's ``res.tab`` of harmonise_data as columns: ``merge(outcome, exposure, by="SNP")``,
    cleaned up (``harmonise_cleanup_variables``) and merged with the actions.

    Row ``r`` is outcome row ``src_o[r]`` with exposure row ``src_e[r]`` (positions in
    the rows harmonised: the rows ``bases["o"]`` and ``bases["e"]`` of the input
    tables, :class:`~mrbook.data.frames.Rows`, or all their rows where None); the
    columns harmonise reads are lists and arrays, every other column is taken from
    its input only for the rows that reach the result (:meth:`values`).
    """

    def __init__(self, snp, src_o, src_e, ide, ido, alleles, nums, action, columns, sources,
                 fixed, bases):
        self.snp, self.src_o, self.src_e = snp, src_o, src_e
        self.ide, self.ido = ide, ido
        self.A1, self.A2, self.B1, self.B2 = alleles
        self.bA, self.sA, self.fA, self.bB, self.sB, self.fB = nums
        self.action = action
        self.columns = columns      # res.tab's columns, in R's order (SNP, harmonise columns incl.)
        self.sources = sources      # column -> (input DataFrame, its column, "o" or "e")
        self.fixed = fixed          # column -> array over the rows (cleaned-up columns)
        self.bases = bases          # "o"/"e" -> the input rows harmonised (Rows) or None

    def input_rows(self, rows: np.ndarray) -> dict:
        """The input rows of the rows ``rows`` (positions) of ``res.tab``: side ("o" or
        "e") -> its rows in that input table (:class:`~mrbook.data.frames.Rows`)."""
        out = {}
        for side, src in (("o", self.src_o), ("e", self.src_e)):
            at, base = src[rows], self.bases[side]
            out[side] = Rows(at if base is None else base.pos[at])
        return out

    def values(self, name: str, rows: np.ndarray, at: dict):
        """What ``res.tab[rows, name]`` holds, as the array a DataFrame column is made of
        (``at``: :meth:`input_rows` of ``rows``)."""
        if name in self.fixed:
            return self.fixed[name][rows]
        frame, col, side = self.sources[name]
        return _values_at(column_array(frame, col), at[side])


def _harmonise_core(exposure: pd.DataFrame, outcome: pd.DataFrame, action, tolerance: float,
                    exposure_path=None, outcome_path=None, exposure_rows=None, outcome_rows=None):
    """Return (harmonised DataFrame, log rows, dropped rows without effect allele, row info).

    ``exposure_rows`` and ``outcome_rows`` (positions, or None for every row) select
    the rows of each input that are harmonised: the result is that of the tables of
    those rows (``take``, numbered from 0), each input column being taken once.

    ``row info`` lists, per row of the harmonised table, ``snp``, ``ide``, ``ido``,
    ``keep`` and ``reason``, and holds the inputs' ``SNP`` and ids as text (``exp_snp``,
    ``exp_ids``, ``out_snp``, ``out_ids``): what :func:`harmonise_with_exclusions` reads.
    """
    if not isinstance(tolerance, (int, float)) or not (0 <= tolerance < 0.5):
        raise ParameterError(f"tolerance must be a number in [0, 0.5), got {tolerance!r}")
    bases = {side: None if r is None else Rows(r)
             for side, r in (("e", exposure_rows), ("o", outcome_rows))}
    etext = _check_required(exposure, "exposure", exposure_path, bases["e"])
    otext = _check_required(outcome, "outcome", outcome_path, bases["o"])
    texts = {"exp_snp": etext["SNP"], "exp_ids": etext["id.exposure"], "out_snp": otext["SNP"],
             "out_ids": otext["id.outcome"]}
    # eaf.<role> is added (all missing) where absent, as R's code reads it
    ocols = [c for c in outcome.columns.tolist() if c != "SNP"]
    ecols = [c for c in exposure.columns.tolist() if c != "SNP"]
    absent = {}
    if "eaf.outcome" not in outcome.columns:
        ocols.append("eaf.outcome")
        absent["eaf.outcome"] = "o"
    if "eaf.exposure" not in exposure.columns:
        ecols.append("eaf.exposure")
        absent["eaf.exposure"] = "e"

    # merge(outcome_dat, exposure_dat, by = "SNP")
    osnp = otext["SNP"]
    xi, yi = _r_merge_pairs(osnp, etext["SNP"])
    common = set(ocols) & set(ecols)
    oren = {c: (c + ".x" if c in common else c) for c in ocols}
    eren = {c: (c + ".y" if c in common else c) for c in ecols}
    merged_cols = ["SNP"] + [oren[c] for c in ocols] + [eren[c] for c in ecols]
    if len(xi) == 0:
        # R returns the empty merge as is; the harmonise columns are added (empty) so
        # that callers can rely on them.
        other = [c for c in merged_cols if c not in _HARM_COLS and c != "SNP"]
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in
                              ["SNP"] + _HARM_COLS + ["remove", "palindromic", "ambiguous"]
                              + other + ["action", "mr_keep", "mr_keep_reason"]})
        return Columns.of(empty), [], [], {"snp": [], "ide": [], "ido": [],
                                           "keep": np.zeros(0, bool), "reason": [], **texts}
    for c in ("id.exposure", "id.outcome"):
        if c not in merged_cols:
            raise InputError(f"column '{c}' appears in both inputs; it must be in its own one only",
                             None, None, c)
    sources = {oren[c]: (outcome, c, "o") for c in ocols if c not in absent}
    sources.update({eren[c]: (exposure, c, "e") for c in ecols if c not in absent})

    def column(name):
        frame, col, side = sources[name]
        return _taken(column_array(frame, col), bases[side])

    def at(name):
        return xi if sources[name][2] == "o" else yi

    snp = [osnp[i] for i in xi.tolist()]
    # each id column is its own input's (a shared one is refused above)
    ide = [etext["id.exposure"][i] for i in yi.tolist()]
    ido = [otext["id.outcome"][i] for i in xi.tolist()]

    # harmonise_cleanup_variables
    nums = []
    for col, path in (("beta.exposure", exposure_path), ("se.exposure", exposure_path),
                      ("eaf.exposure", exposure_path), ("beta.outcome", outcome_path),
                      ("se.outcome", outcome_path), ("eaf.outcome", outcome_path)):
        if col in absent:
            nums.append(np.full(len(xi), np.nan))
        else:
            nums.append(_to_numeric(column(col), at(col), col, path))
    alleles = []
    for col in ("effect_allele.exposure", "other_allele.exposure",
                "effect_allele.outcome", "other_allele.outcome"):
        vals = _tolist(column(col))
        vals = [vals[i] for i in at(col).tolist()]
        alleles.append([v.upper() for v in vals] if all(type(v) is str for v in vals) else
                       [_allele(v) for v in vals])
    alleles[3] = [None if v == "" else v for v in alleles[3]]

    # merge(res.tab, data.frame(id.outcome = unique(id.outcome), action), by = "id.outcome")
    outcome_ids = list(dict.fromkeys(ido))
    acts = _normalise_action(action, outcome_ids)
    mx, my = _r_merge_pairs(ido, outcome_ids)
    if len(mx) != len(xi) or np.any(mx != np.arange(len(xi))):
        idx = mx.tolist()
        snp = [snp[k] for k in idx]
        ide = [ide[k] for k in idx]
        ido = [ido[k] for k in idx]
        alleles = [[a[k] for k in idx] for a in alleles]
        nums = [v[mx] for v in nums]
        xi, yi = xi[mx], yi[mx]
    act = [acts[outcome_ids[k]] for k in my.tolist()]
    # res.tab's columns: id.outcome first, then SNP, the merged columns, action
    columns = ["id.outcome"] + [c for c in merged_cols if c != "id.outcome"] + ["action"]
    fixed = {"se.exposure": nums[1], "se.outcome": nums[4],
             "action": np.asarray(act, dtype=np.int64)}
    for c, text in (("id.exposure", ide), ("id.outcome", ido)):
        dt = column_array(*sources[c][:2]).dtype  # pandas' strings hold the texts: taken as is
        if not (isinstance(dt, pd.StringDtype) and dt == _STR_DTYPE):
            fixed[c] = np.asarray(text, dtype=object)
    m = _Merged(snp, xi, yi, ide, ido, alleles, nums, act, columns, sources, fixed, bases)

    # combinations in order of first appearance
    combs = list(dict.fromkeys(zip(ide, ido)))
    n_candidates: dict[str, int] = {}
    for v in etext["id.exposure"]:
        n_candidates[v] = n_candidates.get(v, 0) + 1

    pieces: list[pd.DataFrame] = []
    log_rows: list[dict] = []
    dropped: list[dict] = []
    info = {"snp": [], "ide": [], "ido": [], "keep": [], "reason": []}
    for pair in combs:
        rows = (list(range(len(snp))) if len(combs) == 1 else
                [r for r, key in enumerate(zip(ide, ido)) if key == pair])
        piece, logs, drop, pinfo = _harmonise_pair(m, rows, tolerance, int(act[rows[0]]))
        n_cand = int(n_candidates.get(pair[0], 0))
        keep = np.asarray(pinfo["keep"], dtype=bool)
        proxy = _proxy_count(piece)
        for lg in logs:
            lg["candidate_variants"] = n_cand
            lg["variants_absent_from_reference"] = n_cand - len(piece)
            lg["total_variants"] = len(piece)
            lg["total_variants_for_mr"] = int(keep.sum())
            lg["proxy_variants"] = proxy
        pieces.append(piece)
        log_rows.extend(logs)
        dropped.extend(drop)
        for k in info:
            info[k].extend(pinfo[k])
    out = pieces[0] if len(pieces) == 1 else Columns.of(
        pd.concat([p.frame() for p in pieces], ignore_index=True, sort=False))
    info["keep"] = np.asarray(info["keep"], dtype=bool)
    info.update(texts)
    return out, log_rows, dropped, info


def _proxy_count(piece: Columns) -> int:
    """``ifelse(is.null(x$proxy.outcome), 0, sum(x$proxy.outcome, na.rm=TRUE))`` ($ partial-matches)."""
    col = None
    if "proxy.outcome" in piece.columns:
        col = "proxy.outcome"
    else:
        cands = [c for c in piece.columns if str(c).startswith("proxy.outcome")]
        if len(cands) == 1:
            col = cands[0]
    if col is None:
        return 0
    values = piece.column(col)
    if values.dtype == bool:
        return int(values.sum())
    v = pd.to_numeric(pd.Series(values).map(lambda t: {True: 1, False: 0}.get(t, t)),
                      errors="coerce")
    return int(np.nansum(v.to_numpy(dtype=float)))


_PIECE_OBJECT = ["SNP", "effect_allele.exposure", "other_allele.exposure",
                 "effect_allele.outcome", "other_allele.outcome"]


def _harmonise_pair(m: _Merged, rows: list, tol: float, action: int):
    """TwoSampleMR's ``harmonise(dat, tolerance, action)`` for one exposure-outcome pair
    (the rows ``rows`` of ``m``).

    The 2-2 rows whose alleles are single bases (nearly all rows) are harmonised at
    once (:func:`_harmonise_22_bases`), every other row one at a time (``_CASES``);
    the texts of the reasons come from the row functions, for the rows not kept.
    """
    if len(rows) == len(m.snp):  # every row (rows are distinct): the lists as they are
        snp, A1, A2, B1, B2 = m.snp, m.A1, m.A2, m.B1, m.B2
    else:
        snp, A1, A2, B1, B2 = ([v[r] for r in rows] for v in (m.snp, m.A1, m.A2, m.B1, m.B2))
    counts: dict[str, int] = {}
    keys = []
    for s in snp:
        counts[s] = counts.get(s, 0) + 1
        keys.append(f"{s}_{counts[s]}")
    ridx = np.asarray(rows, dtype=np.int64)
    bA, bB, fA, fB = m.bA[ridx], m.bB[ridx], m.fA[ridx], m.fB[ridx]

    codes = np.array([[_BASE_CODE.get(a, -1) for a in al] for al in (A1, A2, B1, B2)],
                     dtype=np.int64).reshape(4, len(rows))
    is_simple = (codes >= 0).all(axis=0)  # 2-2 rows of single bases
    simple = np.flatnonzero(is_simple)
    if len(simple) == len(rows):
        case_of: list[str | None] = ["2-2"] * len(rows)
    else:
        case_of = [None if a1 is None or b1 is None else
                   ("2" if a2 is not None else "1") + "-" + ("2" if b2 is not None else "1")
                   for a1, a2, b1, b2 in zip(A1, A2, B1, B2)]
    rows_of: dict[str | None, list[int]] = {}
    for k, c in enumerate(case_of):
        rows_of.setdefault(c, []).append(k)

    given = [v.tolist() for v in (bA, bB, fA, fB)]

    def row(k):
        return dict(A1=A1[k], A2=A2[k], B1=B1[k], B2=B2[k], bA=given[0][k], bB=given[1][k],
                    fA=given[2][k], fB=given[3][k], orig=(A1[k], A2[k], B1[k], B2[k]))

    # the harmonised values of every row k (rows without an effect allele stay unused)
    al = [np.array(v, dtype=object) for v in (A1, A2, B1, B2)]
    flags = {c: np.zeros(len(rows), dtype=bool) for c in ("remove", "palindromic", "ambiguous")}
    logs_by_case: dict[str, dict] = {}
    results: dict[int, dict] = {}
    for case in _LOG_CASE_ORDER:
        krows = rows_of.get(case)
        if not krows:
            continue
        fn, counters = _CASES[case]
        lg = {"alleles": case, **{c: 0 for c in counters}}
        if case == "2-2" and len(simple):
            h = _harmonise_22_bases(codes[:, simple], bB[simple], fA[simple], fB[simple], tol,
                                    action, lg)
            al[2][simple], al[3][simple] = _BASES[h["B1"]], _BASES[h["B2"]]
            bB[simple], fB[simple] = h["bB"], h["fB"]
            for c in flags:
                flags[c][simple] = h[c]
            krows = [k for k in krows if not is_simple[k]]
        for k in krows:
            results[k] = h = fn(row(k), tol, action, lg)
            for j, c in enumerate(("A1", "A2", "B1", "B2")):
                al[j][k] = h[c]
            bA[k], bB[k], fA[k], fB[k] = h["bA"], h["bB"], h["fA"], h["fB"]
            for c in flags:
                flags[c][k] = h[c]
        if case == "2-2" and action != 2:
            lg["flipped_alleles_palindrome"] = 0
        logs_by_case[case] = lg

    def why(k):
        """The texts of row k's reasons (a 2-2 row of single bases: its row function's)."""
        if k not in results:
            results[k] = _harmonise_22(row(k), tol, action, collections.Counter())
        return results[k]

    dropped = []
    for k in rows_of.get(None, ()):
        miss = [n for n, v in (("effect_allele.exposure", A1[k]), ("effect_allele.outcome", B1[k]))
                if v is None]
        dropped.append({"snp": snp[k], "id_exposure": m.ide[rows[k]], "id_outcome": m.ido[rows[k]],
                        "reason": f"missing {' and '.join(miss)} (TwoSampleMR drops the row)",
                        "_src_e": int(m.src_e[rows[k]])})

    # rbind(d21, d22, d12, d11) then merge(d, dat, by = "SNP" (with _k suffix)): sorted by key
    data_rows = [k for case in _DATA_CASE_ORDER for k in rows_of.get(case, ())]
    sort_keys = list(map(_collation_key_cached, keys))
    data_rows.sort(key=sort_keys.__getitem__)  # stable, keys are unique
    n = len(data_rows)
    at = np.asarray(data_rows, dtype=np.int64)
    cols: dict[str, Any] = {}
    if n:
        cols["SNP"] = np.array([snp[k] for k in data_rows], dtype=object)
        for c, v in zip(_PIECE_OBJECT[1:], al):
            cols[c] = v[at]
        for c, v in (("beta.exposure", bA), ("beta.outcome", bB), ("eaf.exposure", fA),
                     ("eaf.outcome", fB)):
            cols[c] = v[at]
        remove, pal, amb = (flags[c][at] for c in ("remove", "palindromic", "ambiguous"))
        cols["remove"], cols["palindromic"], cols["ambiguous"] = remove, pal, amb
    else:
        for c in ["SNP"] + _HARM_COLS + ["remove", "palindromic", "ambiguous"]:
            cols[c] = np.array([], dtype=object)
        remove = pal = amb = np.zeros(0, dtype=bool)
    sub = np.asarray([rows[k] for k in data_rows], dtype=np.int64)
    at_input = m.input_rows(sub)
    for c in m.columns:
        if c not in _HARM_COLS and c != "SNP":
            cols[c] = m.values(c, sub, at_input)
    if action == 3:
        mr_keep = ~(pal | remove | amb)
    elif action == 2:
        mr_keep = ~(remove | amb)
    else:
        mr_keep = ~remove
    # harmonise_data: mr_keep FALSE where any of beta/se (exposure, outcome) is NA
    mr_vals = (cols["beta.exposure"], cols["beta.outcome"], m.sA[sub], m.sB[sub])
    nas = [np.isnan(np.asarray(col, dtype=float)) for col in mr_vals]
    missing = np.logical_or.reduce(nas) if n else np.zeros(0, dtype=bool)
    mr_keep = mr_keep & ~missing
    cols["mr_keep"] = mr_keep

    reasons: list[str | None] = []
    for i in np.flatnonzero(~mr_keep).tolist():
        reasons.extend([None] * (i - len(reasons)))
        h = why(data_rows[i])
        parts = []
        if remove[i]:
            parts.append(h["why_remove"])
        if action == 3 and pal[i]:
            if not remove[i] or "palindromic" not in h["why_remove"]:
                parts.append(h["why_palindromic"])
        elif action in (2, 3) and amb[i]:
            if not (remove[i] and h["why_remove"] == h["why_ambiguous"]):
                parts.append(h["why_ambiguous"])
        if missing[i]:
            parts.append("missing " + ", ".join(c for c, na in zip(_MR_COLS, nas) if na[i]))
        reasons.append("; ".join(parts) if parts else None)
    reasons.extend([None] * (n - len(reasons)))
    cols.pop("mr_keep_reason", None)
    if "samplesize.outcome" not in cols:
        cols["samplesize.outcome"] = np.full(n, np.nan)
    if n:  # what a string column of these values gives as object: NaN for None
        for c in _PIECE_OBJECT:
            values = _str_or_nan(cols[c])
            if values is not cols[c]:
                cols[c] = _objects(values)
        cols["mr_keep_reason"] = _objects(reasons)
        piece = _columns(cols, n, _PIECE_OBJECT + ["mr_keep_reason"])
    else:
        cols["mr_keep_reason"] = pd.Series(reasons, dtype=object)
        piece = Columns.of(pd.DataFrame(cols))

    # jlog: rbind.fill(log22, log21, log12, log11), then the counts of the pair
    logs = []
    for case in _LOG_CASE_ORDER:
        if case in logs_by_case:
            logs.append({"id.exposure": m.ide[rows[0]], "id.outcome": m.ido[rows[0]],
                         **logs_by_case[case]})
    for lg in logs:
        lg["incompatible_alleles"] = int(remove.sum())
        if action in (2, 3):
            lg["ambiguous_alleles"] = int(amb.sum())
    info = {"snp": [snp[k] for k in data_rows], "ide": [m.ide[rows[k]] for k in data_rows],
            "ido": [m.ido[rows[k]] for k in data_rows], "keep": mr_keep.tolist(),
            "reason": reasons}
    return piece, logs, dropped, info


def harmonise(exposure: pd.DataFrame, outcome: pd.DataFrame, action: int | Sequence[int] = 2,
              tolerance: float = 0.08, *, exposure_path=None, outcome_path=None) -> pd.DataFrame:
    """Harmonise exposure and outcome effects to the same allele (TwoSampleMR ``harmonise_data``).

    Parameters
    ----------
    exposure, outcome : DataFrame
        TwoSampleMR-format tables. Required: ``SNP``, ``id.<role>``, ``<role>``,
        ``beta.<role>``, ``se.<role>``, ``effect_allele.<role>``,
        ``other_allele.<role>`` (values may be missing); ``eaf.<role>`` is used when
        present. All other columns are carried through.
    action : int or sequence of int
        1 (alleles assumed on the forward strand), 2 (infer the strand of
        palindromic SNPs from allele frequencies; default) or 3 (drop all
        palindromic SNPs). A sequence gives one action per ``id.outcome`` in order
        of first appearance after the merge.
    tolerance : float
        Half-width of the ambiguous allele-frequency band around 0.5 (0.08: an
        eaf strictly between 0.42 and 0.58 is ambiguous). TwoSampleMR fixes 0.08.
    exposure_path, outcome_path : str, optional
        File names used in error messages.

    Returns
    -------
    DataFrame
        TwoSampleMR's columns and row order (``SNP``, the harmonised alleles, betas
        and eafs, ``remove``, ``palindromic``, ``ambiguous``, the other input columns,
        ``action``, ``mr_keep``), plus ``mr_keep_reason`` (None when kept). The log
        (TwoSampleMR's ``attr(dat, "log")``) is in ``.attrs["harmonise_log"]``;
        :func:`harmonise_log` returns it as a DataFrame.

    Raises
    ------
    InputError
        A required column is missing, a SNP or id is missing, or a beta, se or eaf
        is text that is not a number (``NA``, ``NR`` and empty are missing values).
    ParameterError
        ``action`` or ``tolerance`` out of range.
    """
    out, log_rows, _, _ = _harmonise_core(exposure, outcome, action, tolerance,
                                          exposure_path, outcome_path)
    out = out.frame()
    out.attrs[LOG_ATTR] = log_rows
    return out


def harmonise_log(harmonised: pd.DataFrame) -> pd.DataFrame:
    """TwoSampleMR's ``attr(dat, "log")`` of a :func:`harmonise` result, as a DataFrame.

    One row per exposure-outcome pair and allele case ("2-2", "2-1", "1-2", "1-1"):
    ``id.exposure, id.outcome, alleles, switched_alleles, flipped_alleles_basic,
    flipped_alleles_palindrome`` (2-2) / ``flipped_alleles_no_oa`` (2-1, 1-2),
    ``incompatible_alleles, ambiguous_alleles`` (actions 2 and 3),
    ``candidate_variants, variants_absent_from_reference, total_variants,
    total_variants_for_mr, proxy_variants``. Columns a row lacks are NA, as with
    ``plyr::rbind.fill``.
    """
    return pd.DataFrame(list(harmonised.attrs.get(LOG_ATTR, [])))


def harmonise_with_exclusions(exposure: pd.DataFrame, outcome: pd.DataFrame,
                              action: int | Sequence[int] = 2, tolerance: float = 0.08, *,
                              include_outcome_only: bool = True, exposure_path=None,
                              outcome_path=None, exposure_rows=None, outcome_rows=None,
                              as_columns: bool = False,
                              ) -> tuple[pd.DataFrame | Columns, pd.DataFrame | Columns]:
    """:func:`harmonise`, plus a table of every SNP that does not reach the analysis.

    Parameters
    ----------
    exposure, outcome, action, tolerance, exposure_path, outcome_path
        As :func:`harmonise`.
    include_outcome_only : bool
        List the outcome SNPs found in no exposure (see below).
    exposure_rows, outcome_rows : sequence of int, optional
        Harmonise only the rows at these positions of ``exposure`` / ``outcome``: the
        result is that of ``exposure.take(exposure_rows)`` (rows numbered from 0)
        given as ``exposure``, without making that table (a caller that harmonises
        a few rows of a large table many times, as ``mrbook batch``, saves a copy
        per call). A row named in an error is counted in the rows selected.
    as_columns : bool
        Give the two tables as :class:`~mrbook.data.frames.Columns` (the log in
        ``harmonised.attrs``): each made on demand, whole or only some of its rows (a
        caller that keeps some rows makes one table instead of two).

    Returns
    -------
    (harmonised, exclusions)
        ``harmonised`` as from :func:`harmonise`. ``exclusions`` has the columns
        ``snp, id_exposure, id_outcome, step, reason`` (step is "harmonise"), one row
        per SNP and exposure-outcome pair that is lost:

        * exposure SNPs of ``id.exposure`` with no row for ``id.outcome`` in the
          outcome data: "absent from outcome data" (every pair of an exposure id with
          an outcome id counts, even one that shares no SNP);
        * rows without an effect allele, which TwoSampleMR drops silently;
        * harmonised rows with ``mr_keep`` FALSE, with their ``mr_keep_reason``;
        * with ``include_outcome_only``, outcome SNPs found in no exposure at all:
          "absent from exposure data (outcome only)", ``id_exposure`` None.

        Within a pair: absent SNPs in exposure input order, then dropped rows, then
        not-kept rows in harmonised order; outcome-only SNPs come last.
    """
    out, log_rows, dropped, info = _harmonise_core(exposure, outcome, action, tolerance,
                                                   exposure_path, outcome_path, exposure_rows,
                                                   outcome_rows)
    if as_columns:
        out.attrs[LOG_ATTR] = log_rows
    else:
        out = out.frame()
        out.attrs[LOG_ATTR] = log_rows

    exp_ids, out_ids, exp_snp, out_snp = (info[k] for k in ("exp_ids", "out_ids", "exp_snp",
                                                             "out_snp"))
    out_by_id: dict[str, set] = {}
    for s, oid in zip(out_snp, out_ids):
        out_by_id.setdefault(oid, set()).add(s)
    exp_by_id: dict[str, list] = {}
    for s, eid in zip(exp_snp, exp_ids):
        exp_by_id.setdefault(eid, []).append(s)
    dropped_by: dict[tuple, list] = {}
    for d in dropped:
        dropped_by.setdefault((d["id_exposure"], d["id_outcome"]), []).append(d)
    not_kept: dict[tuple, list] = {}
    for s, eid, oid, keep, reason in zip(info["snp"], info["ide"], info["ido"], info["keep"],
                                         info["reason"]):
        if not keep:
            not_kept.setdefault((eid, oid), []).append((s, reason))

    rows: list[tuple] = []
    for ide, snps_e in exp_by_id.items():
        for ido, oset in out_by_id.items():
            for s in snps_e:
                if s not in oset:
                    rows.append((s, ide, ido, "harmonise", "absent from outcome data"))
            for d in dropped_by.get((ide, ido), ()):
                rows.append((d["snp"], ide, ido, "harmonise", d["reason"]))
            for s, reason in not_kept.get((ide, ido), ()):
                rows.append((s, ide, ido, "harmonise", reason))
    if include_outcome_only:
        all_exp = set(exp_snp)
        for s, ido in zip(out_snp, out_ids):
            if s not in all_exp:
                rows.append((s, None, ido, "harmonise", "absent from exposure data (outcome only)"))
    excl = _columns({c: _objects(_str_or_nan([r[k] for r in rows]))
                     for k, c in enumerate(EXCLUSION_COLUMNS)}, len(rows), EXCLUSION_COLUMNS)
    return out, (excl if as_columns else excl.frame())
