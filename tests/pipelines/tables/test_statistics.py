"""Change statistics on hand-computed cases, against brute force and against scipy."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from pipelines.tables.statistics import (
    EXACT_MAX_N,
    MIN_REPEAT_SUBJECTS,
    RepeatabilityEstimate,
    axial_mean,
    benjamini_hochberg,
    beyond_repeatability,
    combine_repeatability,
    count_sd_within,
    hodges_lehmann,
    hodges_lehmann_ci,
    holm,
    percent_change_note,
    pooled_repeatability,
    sd_within,
    signed_rank_pmf,
    smallest_real_difference,
    wilcoxon_signed_rank,
    wrap_axial,
)

# --- smallest real difference ------------------------------------------------------------------------


def test_srd_reproduces_weirs_worked_example():
    # Weir (J Strength Cond Res 2005;19:231), Table 2 data set A: two trials of 8 subjects. With two
    # trials the ANOVA error mean square is var(A2 - A1) / 2; by hand: differences -6, 4, -18, 9, -12,
    # -3, -9, 13 (mean -2.75, sum of squared deviations 799.5), MS_E = 799.5 / 7 / 2 = 57.107,
    # SEM = sqrt(MS_E) = 7.557 and the minimal difference 1.96 * sqrt(2) * SEM = 20.95.
    a1 = np.array([146, 148, 170, 90, 157, 156, 176, 205], dtype=float)
    a2 = np.array([140, 152, 152, 99, 145, 153, 167, 218], dtype=float)
    ms_error = np.var(a2 - a1, ddof=1) / 2.0
    assert ms_error == pytest.approx(57.107, abs=1e-3)
    sem = math.sqrt(ms_error)
    assert sem == pytest.approx(7.557, abs=1e-3)
    assert smallest_real_difference(sem) == pytest.approx(20.95, abs=0.01)


def test_srd_of_session_means_uses_sd_over_root_k():
    # k captures averaged: SEM = SD / sqrt(k); 2 vs 2 captures: 1.96 * sqrt(1/2 + 1/2) * SD = 1.96 SD.
    assert smallest_real_difference(1.0, k_baseline=2, k_followup=2) == pytest.approx(1.96)
    # 1 vs 4 captures: 1.96 * sqrt(1 + 1/4).
    assert smallest_real_difference(2.0, k_baseline=1, k_followup=4) == pytest.approx(
        1.96 * 2 * math.sqrt(1.25)
    )
    with pytest.raises(ValueError, match="capture counts"):
        smallest_real_difference(1.0, k_baseline=0)


def test_ita_same_change_same_verdict_near_zero_and_at_45_degrees():
    # ITA is an interval scale: its SD is absolute (1.5 deg default), so the SRD does not depend on
    # where the baseline lies. 1.96 * sqrt(2) * 1.5 = 4.158 deg at 0.8 deg and at 45 deg alike.
    for baseline in (0.8, 45.0, -20.0):
        sd = sd_within("interval", 1.5, baseline)
        srd = smallest_real_difference(sd)
        assert srd == pytest.approx(4.1578, abs=1e-4)
        assert beyond_repeatability(1.3, srd) is False
        assert beyond_repeatability(4.2, srd) is True
        assert "no % change" in percent_change_note("interval", baseline, sd)


def test_ratio_srd_scales_with_baseline():
    # CV 4 % of a 0.40 mm pore: SD 0.016 mm, SRD 1.96 * sqrt(2) * 0.016 = 2.77186 * 0.016 = 0.044350 mm.
    sd = sd_within("ratio", 0.04, 0.40)
    assert sd == pytest.approx(0.016)
    assert smallest_real_difference(sd) == pytest.approx(0.044350, abs=1e-6)
    assert percent_change_note("ratio", 0.40, sd) == ""
    # At a zero baseline a CV gives SD 0: no verdict rather than "everything is real".
    assert sd_within("ratio", 0.04, 0.0) == 0.0
    assert beyond_repeatability(0.5, smallest_real_difference(0.0)) is None
    assert percent_change_note("ratio", 0.0, 0.0) == "baseline is 0: no % change"


def test_counts_from_zero_are_never_flagged_for_one_new_feature():
    # SD = max(CV * |baseline|, 1) = 1 count at baseline 0; SRD = 1.96 * sqrt(2) = 2.772 counts.
    assert count_sd_within(0.06, 0) == 1.0
    srd = smallest_real_difference(sd_within("count", 0.06, 0), scale="count")
    assert srd == pytest.approx(2.7719, abs=1e-4)
    assert beyond_repeatability(1, srd) is False  # 0 -> 1
    assert beyond_repeatability(2, srd) is False  # 0 -> 2
    assert beyond_repeatability(3, srd) is True  # 0 -> 3
    # Many averaged captures shrink the SRD, but never below one count: 0 -> 1 stays within it.
    srd8 = smallest_real_difference(1.0, k_baseline=8, k_followup=8, scale="count")
    assert srd8 == 1.0
    assert beyond_repeatability(1.0, srd8) is False
    # Large counts: the CV governs (6 % of 100 = 6 counts, SRD 16.63).
    assert smallest_real_difference(sd_within("count", 0.06, 100), scale="count") == pytest.approx(
        16.632, abs=1e-3
    )
    # % change needs a baseline of >= 10 within-subject SDs: >= 10 counts.
    assert "below 10" in percent_change_note("count", 5, count_sd_within(0.06, 5))
    assert percent_change_note("count", 11, count_sd_within(0.06, 11)) == ""


def test_fractions_in_percentage_points():
    # pore_area_fraction: SD 0.3 pp whatever the level; SRD = 1.96 * sqrt(2) * 0.3 = 0.8315 pp.
    sd = sd_within("fraction", 0.3, 0.07)
    srd = smallest_real_difference(sd)
    assert srd == pytest.approx(0.83156, abs=1e-5)
    delta_pp = 100 * (0.080 - 0.070)  # 1.0 pp
    assert beyond_repeatability(delta_pp, srd) is True
    assert beyond_repeatability(100 * (0.077 - 0.070), srd) is False  # 0.7 pp
    assert percent_change_note("fraction", 0.07, sd).startswith("fraction")


def test_unknown_repeatability_gives_no_verdict():
    assert math.isnan(sd_within("ratio", None, 1.0))
    assert beyond_repeatability(5.0, smallest_real_difference(float("nan"))) is None
    assert math.isnan(sd_within("categorical", 0.1, 1.0))


# --- axial angles --------------------------------------------------------------------------------------


def test_axial_mean_across_zero():
    assert axial_mean([179.0, 3.0]) == pytest.approx(1.0)
    m = axial_mean([178.0, 2.0])
    assert min(m, 180.0 - m) == pytest.approx(0.0, abs=1e-9)
    assert axial_mean([10.0, 20.0, 30.0]) == pytest.approx(20.0)
    # 170, 175, 5: doubled -20, -10, +10 deg; mean vector (cos20 + 2 cos10, -sin20) = (2.90931, -0.34202),
    # angle -6.7049 deg, halved -3.3525: 176.6475 (not the arithmetic -3.33 of the unwrapped values).
    assert axial_mean([170.0, 175.0, 5.0]) == pytest.approx(176.6475, abs=1e-3)
    assert math.isnan(axial_mean([0.0, 90.0]))  # perpendicular axes cancel
    assert math.isnan(axial_mean([]))


def test_wrapped_delta_of_repeated_angles_across_180():
    # Baseline repeats 178 and 4 (axis 1), follow-up repeats 179 and 7 (axis 3): change +2, not
    # (93 - 91) = +2 by luck nor -89 as the arithmetic means of 179/3 vs 2/178 would give.
    base = axial_mean([178.0, 4.0])
    follow = axial_mean([179.0, 7.0])
    assert base == pytest.approx(1.0)
    assert follow == pytest.approx(3.0)
    assert wrap_axial(follow - base) == pytest.approx(2.0)
    assert wrap_axial(3.0 - 179.0) == pytest.approx(4.0)
    assert wrap_axial(179.0 - 3.0) == pytest.approx(-4.0)
    assert wrap_axial(90.0) == pytest.approx(-90.0)  # [-90, 90)
    np.testing.assert_allclose(wrap_axial(np.array([170.0, -170.0, 0.0])), [-10.0, 10.0, 0.0])


# --- Hodges-Lehmann ------------------------------------------------------------------------------------


def _walsh_brute(d):
    return sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))


def _signed_rank_brute(n):
    counts = np.zeros(n * (n + 1) // 2 + 1)
    for signs in itertools.product((0, 1), repeat=n):
        counts[sum(r for r, s in zip(range(1, n + 1), signs, strict=True) if s)] += 1
    return counts / 2**n


def _t_plus(x):
    x = x[x != 0]
    ranks = stats.rankdata(np.abs(x))
    return ranks[x > 0].sum()


@pytest.mark.parametrize("n", [1, 2, 5, 8, 11])
def test_signed_rank_distribution_against_enumeration(n):
    np.testing.assert_allclose(signed_rank_pmf(n), _signed_rank_brute(n), rtol=0, atol=1e-15)


def test_hodges_lehmann_is_the_median_of_walsh_averages():
    d = [1.0, -2.0, 4.0, 0.5]
    # Walsh averages by hand: 1, -0.5, 2.5, 0.75, -2, 1, -0.75, 4, 2.25, 0.5 -> median of 10 = (0.75 + 1) / 2.
    assert hodges_lehmann(d) == pytest.approx(0.875)
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 12):
        x = rng.normal(size=n)
        assert hodges_lehmann(x) == pytest.approx(float(np.median(_walsh_brute(list(x)))))


@pytest.mark.parametrize("n", [6, 7, 9, 12])
def test_hodges_lehmann_interval_inverts_the_exact_test(n):
    # Brute force, independently of the Walsh-average shortcut: the exact two-sided signed-rank test
    # (null distribution by enumerating all 2^n signs, statistic by ranking d - theta) accepts a shift
    # theta when P(T <= t) > alpha/2 and P(T >= t) > alpha/2. The interval must be exactly the closure
    # of the accepted shifts: accepted just inside both ends, rejected just outside.
    rng = np.random.default_rng(n)
    d = np.round(rng.normal(0.5, 1.0, size=n), 3) + rng.uniform(0, 1e-4, size=n)  # no ties
    pmf = _signed_rank_brute(n)
    cdf, sf = np.cumsum(pmf), np.cumsum(pmf[::-1])[::-1]

    def accepted(theta):
        t = int(round(_t_plus(d - theta)))
        return cdf[t] > 0.025 and sf[t] > 0.025

    ci = hodges_lehmann_ci(d)
    eps = 1e-7
    assert accepted(ci.low + eps) and accepted(ci.high - eps)
    assert not accepted(ci.low - eps) and not accepted(ci.high + eps)
    # Achieved coverage: 1 - 2 P(T <= k - 1) >= 95 %.
    assert ci.level >= 0.95
    assert ci.low <= ci.estimate <= ci.high
    assert "exact" in ci.method


def test_hodges_lehmann_interval_hand_case_n6():
    # n = 6: P(T+ = 0) = 1/64 = 0.0156 <= 0.025 < P(T+ <= 1) = 2/64: k = 1, the interval is the
    # smallest to the largest Walsh average (min and max of d), level 1 - 2/64 = 0.96875.
    d = [0.3, -0.1, 0.8, 1.2, 0.5, 0.9]
    ci = hodges_lehmann_ci(d)
    assert (ci.low, ci.high) == (-0.1, 1.2)
    assert ci.level == pytest.approx(1 - 2 / 64)


def test_no_95_interval_below_six_differences():
    ci = hodges_lehmann_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ci.estimate == 3.0 and math.isnan(ci.low) and math.isnan(ci.high) and math.isnan(ci.level)


def test_large_n_uses_the_normal_approximation():
    d = np.random.default_rng(0).normal(size=EXACT_MAX_N + 30)
    ci = hodges_lehmann_ci(d)
    assert "normal" in ci.method and ci.low < ci.estimate < ci.high


# --- Wilcoxon signed-rank ------------------------------------------------------------------------------


def test_wilcoxon_hand_case_all_positive():
    # n = 6, all positive, no ties: two-sided exact p = 2 * (1/64) = 0.03125.
    res = wilcoxon_signed_rank([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert res.p_value == pytest.approx(0.03125) and res.method == "exact" and res.n_zero == 0


def test_wilcoxon_zero_differences_are_dropped_and_counted():
    d = [0.0, 0.0, 1.0, 2.5, -0.5, 3.0, 4.0]
    res = wilcoxon_signed_rank(d)
    assert res.n == 7 and res.n_zero == 2
    assert res.p_value == pytest.approx(stats.wilcoxon([1.0, 2.5, -0.5, 3.0, 4.0], method="exact").pvalue)
    assert math.isnan(wilcoxon_signed_rank([0.0, 0.0]).p_value)


def test_wilcoxon_with_ties_is_the_exact_permutation_distribution():
    d = np.array([1.0, 1.0, -1.0, 2.0, 2.0, 3.0, -0.5, 4.0])
    res = wilcoxon_signed_rank(d)
    assert res.method == "exact conditional (ties)"
    # Brute force: all 2^8 sign flips of |d|, statistic T+ by mid-ranks.
    ranks = stats.rankdata(np.abs(d))
    t_obs = ranks[d > 0].sum()
    ts = np.array(
        [
            sum(r for r, s in zip(ranks, signs, strict=True) if s)
            for signs in itertools.product((0, 1), repeat=8)
        ]
    )
    p = min(1.0, 2 * min(np.mean(ts <= t_obs + 1e-9), np.mean(ts >= t_obs - 1e-9)))
    assert res.p_value == pytest.approx(p)


@pytest.mark.parametrize("seed", range(5))
def test_wilcoxon_matches_scipy_exact(seed):
    d = np.random.default_rng(seed).normal(0.3, 1.0, size=9)
    assert wilcoxon_signed_rank(d).p_value == pytest.approx(stats.wilcoxon(d, method="exact").pvalue)


# --- multiplicity ----------------------------------------------------------------------------------------


def test_holm_and_bh_hand_example():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, 1*0.04 = 0.02, 0.03, 0.06, 0.04,
    # running maximum 0.02, 0.03, 0.06, 0.06.
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    # BH: 0.005*4/1, 0.01*4/2, 0.03*4/3, 0.04*4/4 = 0.02, 0.02, 0.04, 0.04 (running minimum from the top).
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])


@pytest.mark.parametrize("seed", range(6))
def test_bh_matches_scipy_and_holm_matches_its_definition(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=15), rng.uniform(0, 0.01, size=5)])
    p[3] = p[7]  # a tie
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"))
    order = np.argsort(p)
    m = p.size
    expected = np.empty(m)
    for rank, idx in enumerate(order):
        expected[idx] = min(1.0, max((m - j) * p[order[j]] for j in range(rank + 1)))
    np.testing.assert_allclose(holm(p), expected)
    assert np.all(holm(p) >= benjamini_hochberg(p) - 1e-15)


def test_adjustment_leaves_nan_out_of_the_family():
    p = [0.01, float("nan"), 0.04]
    h, q = holm(p), benjamini_hochberg(p)
    assert math.isnan(h[1]) and math.isnan(q[1])
    np.testing.assert_allclose(h[[0, 2]], [0.02, 0.04])
    np.testing.assert_allclose(q[[0, 2]], [0.02, 0.04])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])


# --- repeatability from a run --------------------------------------------------------------------------


def test_pooled_sd_and_cv_by_hand():
    groups = [[1.0, 1.2], [2.0, 2.2, 2.4]]
    est = pooled_repeatability(groups, ["a", "b"], scale="interval")
    # s^2 = 0.02 (df 1) and 0.04 (df 2): pooled sqrt((0.02 + 0.08) / 3).
    assert est.value == pytest.approx(math.sqrt(0.1 / 3)) and est.df == 3 and est.n_subjects == 2
    assert not est.usable  # 2 subjects < 10
    cv = pooled_repeatability(groups, ["a", "b"], scale="ratio")
    cv1, cv2 = math.sqrt(0.02) / 1.1, 0.2 / 2.2
    assert cv.value == pytest.approx(math.sqrt((cv1**2 + 2 * cv2**2) / 3))
    pp = pooled_repeatability([[0.10, 0.12]], ["a"], scale="fraction")
    assert pp.value == pytest.approx(100 * math.sqrt(0.0002))  # 1.414 pp


def test_pooled_axial_sd_wraps():
    est = pooled_repeatability([[179.0, 1.0]], ["a"], scale="axial")
    assert est.value == pytest.approx(math.sqrt(2.0))  # deviations -1 and +1 around 0


def test_run_estimate_needs_ten_subjects_and_never_undercuts_the_floor():
    groups = [[1.0, 1.02] for _ in range(MIN_REPEAT_SUBJECTS)]
    subjects = list(range(MIN_REPEAT_SUBJECTS))
    est = pooled_repeatability(groups, subjects, scale="ratio")
    assert est.usable and est.df == MIN_REPEAT_SUBJECTS
    value, source = combine_repeatability(0.04, est)
    assert value == 0.04 and "floor" in source  # estimate ~1.4 % < 4 %
    big = RepeatabilityEstimate(0.09, 20, 12, True)
    value, source = combine_repeatability(0.04, big)
    assert value == 0.09 and "df = 20" in source
    few = pooled_repeatability(groups[:9], subjects[:9], scale="ratio")
    value, source = combine_repeatability(0.04, few)
    assert value == 0.04 and "9 < 10" in source
    assert combine_repeatability(None, None) == (None, "none")
