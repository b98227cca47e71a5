"""RRNG reproduces R's default generator (Mersenne-Twister, Inversion, Rejection).

Expected values are what R prints; the R call is written beside each.  Values given
with 10 printed digits are compared with an absolute tolerance of 5e-10; values
quoted with 16-17 significant digits (R's ``print(x, digits = 17)``) exactly.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mrbook.rmath.rng import make_rng
from mrbook.rmath.generator import RRNG, qnorm, r_set_seed_state

ATOL = 5e-10


# --- uniforms and the seed ---------------------------------------------------------


def test_runif_seed1():
    # set.seed(1); print(runif(5), digits = 17)
    expected = [0.26550866314209998, 0.37212389963679016, 0.57285336335189641,
                0.90820778999477625, 0.2016819310374558]
    np.testing.assert_array_equal(RRNG(1).runif(5), expected)
    # set.seed(1); runif(3)  ->  0.2655087 0.3721239 0.5728534
    np.testing.assert_allclose(RRNG(1).runif(3), [0.2655087, 0.3721239, 0.5728534], rtol=0, atol=5e-8)


def test_runif_seed0():
    # set.seed(0); runif(5)  ->  0.8966972 0.2655087 0.3721239 0.5728534 0.9082078
    np.testing.assert_allclose(RRNG(0).runif(5),
                               [0.8966972, 0.2655087, 0.3721239, 0.5728534, 0.9082078],
                               rtol=0, atol=5e-8)


def test_random_seed_vector():
    # set.seed(1); .Random.seed[1:4]  ->  10403 624 -169270483 -442010614
    rs = RRNG(1).random_seed
    assert rs.dtype == np.int32 and rs.size == 626
    assert rs[:4].tolist() == [10403, 624, -169270483, -442010614]
    words = r_set_seed_state(1)
    assert words[0] == 624 and words.size == 625
    assert words[1:].view(np.int32).tolist() == rs[2:].tolist()


def test_runif_min_max_recycling_and_special_cases():
    # runif(n, a, b) = a + (b - a) * u; a == b returns a without drawing.
    u = RRNG(7).unif_rand(3)
    got = RRNG(7).runif(4, min=[0.0, 2.0], max=[1.0, 2.0])
    np.testing.assert_array_equal(got, [u[0], 2.0, 0.0 + (1.0 - 0.0) * u[1], 2.0])
    with pytest.warns(RuntimeWarning):
        got = RRNG(7).runif(3, min=[0.0, 1.0, 0.0], max=[1.0, 0.0, 1.0])
    assert np.isnan(got[1])
    np.testing.assert_array_equal(got[[0, 2]], u[:2])


def test_seed_validation():
    with pytest.raises(ValueError):
        RRNG(2**31)
    with pytest.raises(ValueError):
        RRNG(-(2**31))  # NA_integer_
    # negative seeds are valid R integers (taken as unsigned 32-bit words)
    assert RRNG(-1).runif(1).size == 1
    # set.seed(3.9) is set.seed(3) (asInteger truncates)
    np.testing.assert_array_equal(RRNG(3.9).runif(2), RRNG(3).runif(2))


# --- normals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "seed, expected, atol",
    [
        # set.seed(1); print(rnorm(5), digits = 10)
        (1, [-0.6264538107, 0.1836433242, -0.8356286124, 1.5952808021, 0.3295077718], ATOL),
        # set.seed(42); rnorm(3)   (8 printed decimals)
        (42, [1.37095845, -0.56469817, 0.36312841], 5e-9),
        # set.seed(123); rnorm(3)  (8 printed decimals)
        (123, [-0.56047565, -0.23017749, 1.55870831], 5e-9),
        # set.seed(1234); print(rnorm(1), digits = 10)
        (1234, [-1.207065749], ATOL),
    ],
)
def test_rnorm_printed(seed, expected, atol):
    np.testing.assert_allclose(RRNG(seed).rnorm(len(expected)), expected, rtol=0, atol=atol)


def test_rnorm_seed42_full_precision():
    # set.seed(42); print(rnorm(3), digits = 17)
    np.testing.assert_array_equal(
        RRNG(42).rnorm(3), [1.3709584471466685, -0.56469817139608869, 0.3631284113373392]
    )


def test_rnorm_recycles_mean_and_sd():
    # rnorm(7, mean = c(0, 10, 100), sd = c(1, 2)): draw i uses mean[i %% 3], sd[i %% 2]
    mean = np.array([0.0, 10.0, 100.0])
    sd = np.array([1.0, 2.0])
    z = RRNG(99).norm_rand(7)
    expected = np.array([mean[i % 3] + sd[i % 2] * z[i] for i in range(7)])
    np.testing.assert_array_equal(RRNG(99).rnorm(7, mean, sd), expected)
    # equal-length vectors, as TwoSampleMR's rnorm(nboot*k, rep(b, each=nboot), rep(se, each=nboot))
    b = np.array([0.1, -0.2, 0.3])
    se = np.array([0.01, 0.02, 0.03])
    mu, sigma = np.repeat(b, 4), np.repeat(se, 4)
    np.testing.assert_array_equal(RRNG(5).rnorm(12, mu, sigma), mu + sigma * RRNG(5).norm_rand(12))


def test_rnorm_standard_is_norm_rand():
    np.testing.assert_array_equal(RRNG(11).rnorm(50), RRNG(11).norm_rand(50))


def test_rnorm_zero_or_bad_sd_consumes_nothing():
    # rnorm.c: sd == 0 or infinite mean return mean; NaN mean, sd < 0 or non-finite sd give
    # NaN; none of these draws a random number.
    z = RRNG(3).norm_rand(2)
    got = RRNG(3).rnorm(4, mean=[1.0, 2.0, np.inf, 4.0], sd=[1.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(got, [1.0 + z[0], 2.0, np.inf, 4.0 + z[1]])
    with pytest.warns(RuntimeWarning, match="NAs produced"):
        got = RRNG(3).rnorm(4, mean=[0.0, np.nan, 0.0, 0.0], sd=[1.0, 1.0, -1.0, np.inf])
    np.testing.assert_array_equal(got[0], z[0])
    assert np.isnan(got[1:]).all()


def test_stream_continuity():
    a = RRNG(2024)
    split = np.concatenate([a.rnorm(1), a.rnorm(333), a.rnorm(1000)])
    np.testing.assert_array_equal(split, RRNG(2024).rnorm(1334))
    # mixing functions: one stream, consumed in call order (normals take two uniforms)
    b = RRNG(8)
    mixed = (b.runif(3), b.rnorm(2), b.sample(10, 3), b.rnorm(1))
    c = RRNG(8)
    u = c.unif_rand(3)
    z = c.norm_rand(2)
    s = c.sample(10, 3)
    z2 = c.norm_rand(1)
    np.testing.assert_array_equal(mixed[0], u)
    np.testing.assert_array_equal(mixed[1], z)
    np.testing.assert_array_equal(mixed[2], s)
    np.testing.assert_array_equal(mixed[3], z2)


def test_set_seed_restarts_the_stream():
    r = RRNG(1234)
    first = r.rnorm(10)
    r.rnorm(5)
    r.set_seed(1234)
    np.testing.assert_array_equal(r.rnorm(10), first)


def test_make_rng_r_kind():
    rng = make_rng(1, "r")
    assert isinstance(rng, RRNG) and rng.kind == "r"
    np.testing.assert_allclose(rng.rnorm(1), [-0.6264538107], rtol=0, atol=ATOL)


# --- sample ----------------------------------------------------------------------


def test_sample_permutation_seed1():
    # set.seed(1); sample(10)  ->  9 4 7 1 2 5 3 10 6 8   (R >= 3.6, sample.kind = "Rejection")
    assert (RRNG(1).sample(10) + 1).tolist() == [9, 4, 7, 1, 2, 5, 3, 10, 6, 8]


def test_sample_subset_seed123():
    # set.seed(123); sample(1:100, 5)  ->  31 79 51 14 67
    assert (RRNG(123).sample(100, 5) + 1).tolist() == [31, 79, 51, 14, 67]


@pytest.mark.parametrize(
    "seed, n, size, replace, expected",
    [
        (1, 100, 5, False, [68, 39, 1, 34, 87]),  # set.seed(1); sample(1:100, 5)
        (1, 20, 10, False, [4, 7, 1, 2, 13, 19, 11, 17, 14, 3]),  # set.seed(1); sample(1:20, 10)
        (42, 6, 3, False, [1, 5, 6]),  # set.seed(42); sample(1:6, 3)
        (1, 10, 8, False, [9, 4, 7, 1, 2, 5, 3, 10]),  # set.seed(1); sample(1:10, 8)
        # set.seed(1); sample(1:1000, 8, replace = TRUE)
        (1, 1000, 8, True, [836, 679, 129, 930, 509, 471, 299, 270]),
    ],
)
def test_sample_more(seed, n, size, replace, expected):
    assert (RRNG(seed).sample(n, size, replace=replace) + 1).tolist() == expected


def test_sample_properties():
    s = RRNG(5).sample(1000, 200)
    assert s.dtype == np.int64 and len(set(s.tolist())) == 200 and s.min() >= 0 and s.max() < 1000
    assert RRNG(5).sample(1).tolist() == [0]
    with pytest.raises(ValueError):
        RRNG(5).sample(3, 4)


def test_unif_index_rejection():
    # R_unif_index(dn): rbits(ceil(log2(dn))) in 16-bit chunks, rejected while >= dn.
    r, ref = RRNG(77), RRNG(77)
    for dn in (1, 2, 3, 7, 100, 65536, 65537, 10**6):
        bits = math.ceil(math.log2(dn))
        while True:
            v = 0
            for _ in range(0, bits + 1, 16):
                v = 65536 * v + math.floor(ref.unif_rand(1)[0] * 65536)
            v &= (1 << bits) - 1
            if v < dn:
                break
        assert r.unif_index(dn) == v


# --- qnorm -----------------------------------------------------------------------


def _qnorm5_scalar(p: float) -> float:
    """Line-by-line transliteration of R's qnorm5(p, 0, 1, TRUE, FALSE) (src/nmath/qnorm.c)."""
    if p == 0:
        return -math.inf
    if p == 1:
        return math.inf
    q = p - 0.5
    if abs(q) <= .425:
        r = .180625 - q * q
        return (q * (((((((r * 2509.0809287301226727 +
                           33430.575583588128105) * r + 67265.770927008700853) * r +
                         45921.953931549871457) * r + 13731.693765509461125) * r +
                       1971.5909503065514427) * r + 133.14166789178437745) * r +
                     3.387132872796366608)
                / (((((((r * 5226.495278852854561 +
                         28729.085735721942674) * r + 39307.89580009271061) * r +
                       21213.794301586595867) * r + 5394.1960214247511077) * r +
                     687.1870074920579083) * r + 42.313330701600911252) * r + 1.))
    r = (0.5 - p + 0.5) if q > 0 else p
    r = math.sqrt(-math.log(r))
    if r <= 5.:
        r += -1.6
        val = ((((((((r * 7.7454501427834140764e-4 +
                      .0227238449892691845833) * r + .24178072517745061177) *
                    r + 1.27045825245236838258) * r +
                   3.64784832476320460504) * r + 5.7694972214606914055) *
                 r + 4.6303378461565452959) * r +
                1.42343711074968357734)
               / (((((((r *
                        1.05075007164441684324e-9 + 5.475938084995344946e-4) *
                       r + .0151986665636164571966) * r +
                      .14810397642748007459) * r + .68976733498510000455) *
                    r + 1.6763848301838038494) * r +
                   2.05319162663775882187) * r + 1.))
    else:
        r += -5.
        val = ((((((((r * 2.01033439929228813265e-7 +
                      2.71155556874348757815e-5) * r +
                     .0012426609473880784386) * r + .026532189526576123093) *
                   r + .29656057182850489123) * r +
                  1.7848265399172913358) * r + 5.4637849111641143699) *
                r + 6.6579046435011037772)
               / (((((((r *
                        2.04426310338993978564e-15 + 1.4215117583164458887e-7) *
                       r + 1.8463183175100546818e-5) * r +
                      7.868691311456132591e-4) * r + .0148753612908506148525)
                    * r + .13692988092273580531) * r +
                   .59983220655588793769) * r + 1.))
    return -val if q < 0.0 else val


def test_qnorm_matches_scalar_transliteration_bitwise():
    rng = np.random.default_rng(0)
    p = np.concatenate([
        rng.random(20000),
        rng.random(2000) * 0.08,
        1 - rng.random(2000) * 0.08,
        10.0 ** -rng.uniform(10, 300, 500),  # r > 5 branch
        1 - 10.0 ** -rng.uniform(1, 15, 200),
        [0.075, 0.925, 0.5 - 0.425, 0.5 + 0.425, np.nextafter(0.075, 0), np.nextafter(0.925, 1),
         math.exp(-25), np.nextafter(math.exp(-25), 1), 5e-324, 2.2250738585072014e-308,
         np.nextafter(1.0, 0), 0.5, 0.0, 1.0],
    ])
    expected = np.array([_qnorm5_scalar(x) for x in p.tolist()])
    np.testing.assert_array_equal(qnorm(p), expected)


def test_qnorm_known_values():
    # print(qnorm(c(0.975, 0.025, 0.5)), digits = 16)  ->  1.959963984540054 -1.959963984540054 0
    np.testing.assert_allclose(qnorm([0.975, 0.025, 0.5]), [1.959963984540054, -1.959963984540054, 0],
                               rtol=1e-15, atol=0)
    # qnorm(1e-10)  ->  -6.361341
    np.testing.assert_allclose(qnorm(1e-10), [-6.361341], rtol=0, atol=5e-7)
    # qnorm(c(0, 1)) -> -Inf Inf; qnorm(0.3, 2, 0) -> 2
    assert qnorm([0.0, 1.0]).tolist() == [-np.inf, np.inf]
    assert qnorm(0.3, 2.0, 0.0).tolist() == [2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(qnorm([1.5, -0.1])).all()


# --- a bootstrap R actually ran --------------------------------------------------


def _weighted_median_rows(B: np.ndarray, w: np.ndarray) -> np.ndarray:
    """TwoSampleMR weighted_median() applied to each row of B (Bowden 2016 interpolation)."""
    order = np.argsort(B, axis=1, kind="stable")
    bs = np.take_along_axis(B, order, axis=1)
    ws = w[order]
    cs = (np.cumsum(ws, axis=1) - 0.5 * ws) / ws.sum(axis=1, keepdims=True)
    below = (cs < 0.5).sum(axis=1) - 1
    i = np.arange(B.shape[0])
    return bs[i, below] + (bs[i, below + 1] - bs[i, below]) * (0.5 - cs[i, below]) / (
        cs[i, below + 1] - cs[i, below]
    )


def test_bootstrap_matches_twosamplemr_weighted_median(shared_dir):
    """set.seed(1234); mr_weighted_median(...)$se, TwoSampleMR 0.7.9 on R 4.2.2.

    The bootstrap draws ``matrix(rnorm(nboot*k, rep(bx, each=nboot), rep(se_exp, each=nboot)),
    nboot, k)`` and the same for the outcome, 158,000 normals from one stream; the SE is the
    ``sd()`` of the 1000 weighted medians (see ../shared/reference/CONVENTIONS.md).
    """
    import json

    path = shared_dir / "reference" / "bmi_chd_79snp" / "twosamplemr.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    ref = json.loads(path.read_text())
    rows = [r for r in ref["harmonised_data"] if r["mr_keep"]]
    bx, by, sx, sy = (np.array([r[c] for r in rows], dtype=float)
                      for c in ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome"))
    k, nboot = len(rows), int(ref["meta"]["nboot"])
    per_method = next(iter(ref["per_combination"].values()))["per_method"]

    w_wm = 1.0 / (sy**2 / bx**2 + by**2 * sx**2 / bx**4)
    for method, w in (("mr_weighted_median", w_wm), ("mr_simple_median", np.full(k, 1.0 / k))):
        rng = RRNG(int(ref["meta"]["seed"]))
        bxb = rng.rnorm(nboot * k, np.repeat(bx, nboot), np.repeat(sx, nboot)).reshape(k, nboot).T
        byb = rng.rnorm(nboot * k, np.repeat(by, nboot), np.repeat(sy, nboot)).reshape(k, nboot).T
        se = np.std(_weighted_median_rows(byb / bxb, w), ddof=1)
        assert se == pytest.approx(per_method[method]["se"], rel=1e-12, abs=0), method
