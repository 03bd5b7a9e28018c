"""Change statistics as pure functions: smallest real differences, axial angles, Hodges–Lehmann
estimates with their exact intervals, the Wilcoxon signed-rank test and multiplicity adjustment.

Arrays and numbers in, numbers out (no pandas); :mod:`pipelines.tables.changes` and
:mod:`pipelines.tables.cohort` apply them per metric with the scale the metric catalogue
(:mod:`pipelines.tables.catalogue`) gives it.

Smallest real difference
------------------------
Weir (J Strength Cond Res 2005;19:231-240): the standard error of measurement is the within-subject
SD, ``SEM = SD_within``, and a single-measurement difference is beyond measurement error at 95 % when
``|delta| > SRD = 1.96 * sqrt(2) * SEM`` (the "minimal difference"; also Beckerman et al., Clin Rehabil
2001;15:558). The within-subject SD comes from the metric's scale:

- ratio: ``CV * |baseline|`` (a CV is only meaningful on a ratio scale);
- interval, axial: an absolute SD in the metric's unit (ITA in degrees, not a CV of an angle);
- fraction: an absolute SD in percentage points (the delta is in percentage points too);
- count: ``max(CV * |baseline|, 1)`` counts, and the SRD is never below one count, so that a change
  of one (0 -> 1 included) is never flagged (see :func:`count_sd_within`).

A session that averages ``k`` captures has ``SEM = SD / sqrt(k)``, so the SRD of a change between
sessions with ``k1`` and ``k2`` captures is ``1.96 * sqrt(SD**2 / k1 + SD**2 / k2)`` (Weir's formula
when ``k1 = k2 = 1``).

Cohort inference
----------------
The Hodges–Lehmann one-sample estimator is the median of the Walsh averages ``(d_i + d_j) / 2,
i <= j``; its distribution-free confidence interval is ``[W_(k), W_(M + 1 - k)]`` of the ``M = n(n +
1)/2`` ordered Walsh averages, ``k`` read off the exact null distribution of the signed-rank statistic
(Hollander, Wolfe & Chicken, Nonparametric Statistical Methods, 3rd ed. 2014, section 3.3; Bauer,
J Am Stat Assoc 1972;67:687). It is the set of shifts the exact two-sided signed-rank test does not
reject. The test itself: zero differences are dropped and counted (Wilcoxon's convention), the
p-value is exact for up to :data:`EXACT_MAX_N` non-zero differences (scipy's exact distribution
without ties; the exact conditional distribution over all ``2**n`` signs of the mid-ranks with ties),
normal with tie correction beyond. Holm (Scand J Stat 1979;6:65) controls the family-wise error,
Benjamini & Hochberg (J R Stat Soc B 1995;57:289) the false discovery rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "Z_95",
    "EXACT_MAX_N",
    "MIN_REPEATS",
    "MIN_REPEAT_SUBJECTS",
    "PCT_BASELINE_SDS",
    "sd_within",
    "count_sd_within",
    "smallest_real_difference",
    "beyond_repeatability",
    "percent_change_note",
    "axial_mean",
    "wrap_axial",
    "walsh_averages",
    "hodges_lehmann",
    "signed_rank_pmf",
    "hodges_lehmann_ci",
    "HLInterval",
    "WilcoxonResult",
    "wilcoxon_signed_rank",
    "holm",
    "benjamini_hochberg",
    "RepeatabilityEstimate",
    "pooled_repeatability",
    "combine_repeatability",
]

#: The normal quantile Weir's SRD uses (he writes 1.96).
Z_95 = 1.96
#: Largest number of non-zero differences for which p-values and intervals use exact distributions.
EXACT_MAX_N = 50
#: A run estimates its own repeatability only from groups with at least this many captures ...
MIN_REPEATS = 2
#: ... found in at least this many subjects.
MIN_REPEAT_SUBJECTS = 10
#: A % change is reported only when the baseline is at least this many within-subject SDs above 0.
PCT_BASELINE_SDS = 10.0
#: Scales whose repeatability is a coefficient of variation.
_CV_SCALES = frozenset({"ratio", "count"})
#: Scales with an absolute within-subject SD (fractions: in percentage points).
_SD_SCALES = frozenset({"interval", "axial", "fraction"})


def _finite(x: object) -> bool:
    try:
        return math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def count_sd_within(cv: float, baseline: float) -> float:
    """Within-subject SD of a count: ``max(cv * |baseline|, 1)`` counts.

    A CV says nothing at a baseline of 0 (the SD would be 0 and any new feature "real"); a feature
    that appears or vanishes at the detection threshold or at the edge of the region is within
    measurement error. The floor of one count (the SD of a Poisson count with mean 1) is a
    documented assumption, not a literature value.
    """
    if not (_finite(cv) and _finite(baseline)):
        return float("nan")
    return max(float(cv) * abs(float(baseline)), 1.0)


def sd_within(scale: str, repeatability: float | None, baseline: float) -> float:
    """Within-subject SD in the unit of the change (percentage points for fractions).

    Parameters
    ----------
    scale : str
        ``ratio``, ``count``, ``interval``, ``axial`` or ``fraction``.
    repeatability : float or None
        CV for ratio and count scales; absolute SD for interval and axial scales (metric unit) and
        for fractions (percentage points).
    baseline : float
        The baseline value (only used by ratio and count scales).

    Returns
    -------
    float
        NaN when the repeatability is unknown or the scale has no change statistics.
    """
    if repeatability is None or not _finite(repeatability):
        return float("nan")
    if scale == "ratio":
        return float(repeatability) * abs(float(baseline)) if _finite(baseline) else float("nan")
    if scale == "count":
        return count_sd_within(float(repeatability), baseline)
    if scale in _SD_SCALES:
        return float(repeatability)
    return float("nan")


def smallest_real_difference(
    sd: float, *, k_baseline: int = 1, k_followup: int = 1, z: float = Z_95, scale: str = ""
) -> float:
    """Smallest real difference of a change between two session means (Weir 2005).

    ``z * sqrt(sd**2 / k_baseline + sd**2 / k_followup)``, i.e. ``1.96 * sqrt(2) * SEM`` for single
    captures. For ``scale='count'`` the result is never below one count.

    Parameters
    ----------
    sd : float
        Within-subject SD of one capture (see :func:`sd_within`).
    k_baseline, k_followup : int, keyword-only
        Captures averaged in each session.
    z : float, keyword-only
        Normal quantile (1.96: 95 %, two-sided).
    scale : str, keyword-only
        The metric's scale.
    """
    if k_baseline < 1 or k_followup < 1:
        raise ValueError(f"capture counts must be >= 1, got {k_baseline} and {k_followup}")
    if not _finite(sd):
        return float("nan")
    if sd < 0:
        raise ValueError(f"a within-subject SD cannot be negative, got {sd}")
    srd = z * math.sqrt(sd**2 / k_baseline + sd**2 / k_followup)
    if scale == "count":
        srd = max(srd, 1.0)
    return srd


def beyond_repeatability(delta: float, srd: float) -> bool | None:
    """``|delta| > srd``; None when either is unknown, or when the SRD is 0 (a CV at a zero baseline
    gives no smallest real difference, so nothing can be said)."""
    if not (_finite(delta) and _finite(srd)) or srd <= 0:
        return None
    return bool(abs(delta) > srd)


def percent_change_note(scale: str, baseline: float, sd: float) -> str:
    """Why a % change is not reported (``""`` when it is).

    A % change is defined for ratio and count scales only, and only against a baseline well above
    zero: at least :data:`PCT_BASELINE_SDS` within-subject SDs (for counts that is at least 10
    counts), so that the measurement error of the denominator stays under ~10 %. With an unknown SD
    any positive baseline is accepted.
    """
    if scale == "fraction":
        return "fraction: change in percentage points, no % change"
    if scale in ("interval", "axial"):
        return f"{scale} scale: no % change (the zero is arbitrary)"
    if scale not in _CV_SCALES:
        return f"{scale} scale: no % change"
    if not _finite(baseline):
        return "no baseline value"
    if baseline <= 0:
        return "baseline is 0: no % change"
    if _finite(sd) and baseline < PCT_BASELINE_SDS * sd:
        return f"baseline below {PCT_BASELINE_SDS:g} within-subject SDs: no % change"
    return ""


def axial_mean(angles_deg: np.ndarray | list[float], *, period: float = 180.0) -> float:
    """Circular mean of axial angles (an angle and itself + ``period`` are the same axis).

    The angles are mapped onto the full circle (``360 / period`` times each), averaged as unit
    vectors and mapped back (Mardia & Jupp, Directional Statistics, 2000, section 9.3.2), giving a
    value in ``[0, period)``: the mean of 179 and 3 degrees is 1, not 91. NaNs are ignored; NaN
    when there is no angle or the mean resultant length is ~0 (the axes cancel).
    """
    a = np.asarray(angles_deg, dtype=float).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        return float("nan")
    t = np.deg2rad(a) * (360.0 / period)
    c, s = float(np.mean(np.cos(t))), float(np.mean(np.sin(t)))
    if math.hypot(c, s) < 1e-9:
        return float("nan")
    return float(np.rad2deg(math.atan2(s, c)) * (period / 360.0)) % period


def wrap_axial(delta_deg: np.ndarray | float, *, period: float = 180.0) -> np.ndarray | float:
    """A difference of axial angles wrapped into ``[-period/2, period/2)``: 3 - 179 is +4 degrees."""
    half = period / 2.0
    out = (np.asarray(delta_deg, dtype=float) + half) % period - half
    return float(out) if np.ndim(out) == 0 else out


def walsh_averages(d: np.ndarray | list[float]) -> np.ndarray:
    """Sorted Walsh averages ``(d_i + d_j) / 2`` for ``i <= j`` (``n(n + 1) / 2`` of them)."""
    d = np.asarray(d, dtype=float).ravel()
    i, j = np.triu_indices(d.size)
    return np.sort((d[i] + d[j]) / 2.0)


def hodges_lehmann(d: np.ndarray | list[float]) -> float:
    """Hodges–Lehmann one-sample estimate: the median of the Walsh averages (Hodges & Lehmann, Ann
    Math Stat 1963;34:598). NaNs are ignored; NaN without data."""
    d = np.asarray(d, dtype=float).ravel()
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    return float(np.median(walsh_averages(d)))


def signed_rank_pmf(n: int) -> np.ndarray:
    """Exact null distribution of the signed-rank statistic ``T+`` for ``n`` untied non-zero
    differences: ``pmf[t] = P(T+ = t)``, ``t = 0 .. n(n + 1)/2``.

    Each rank ``r`` joins the positive sum with probability 1/2, independently: the pmf is built by
    ``n`` convolutions (probabilities, exact to float64 rounding).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    m = n * (n + 1) // 2
    pmf = np.zeros(m + 1)
    pmf[0] = 1.0
    top = 0
    for r in range(1, n + 1):
        shifted = np.zeros_like(pmf)
        shifted[r : top + r + 1] = pmf[: top + 1]
        pmf = 0.5 * (pmf + shifted)
        top += r
    return pmf


@dataclass(frozen=True)
class HLInterval:
    """A Hodges–Lehmann estimate with its confidence interval.

    Attributes
    ----------
    estimate, low, high : float
        Estimate and interval ends (NaN when the interval is not attainable with ``n`` values).
    level : float
        Coverage actually achieved by the interval (exact intervals are discrete: at least the
        nominal level); NaN when not attainable.
    method : str
        How the interval was computed.
    n : int
        Number of differences used.
    """

    estimate: float
    low: float
    high: float
    level: float
    method: str
    n: int


def hodges_lehmann_ci(d: np.ndarray | list[float], *, confidence: float = 0.95) -> HLInterval:
    """Hodges–Lehmann estimate and its distribution-free confidence interval.

    The interval ``[W_(k), W_(M + 1 - k)]`` of the ordered Walsh averages, with ``k`` the largest
    integer such that ``P(T+ <= k - 1) <= (1 - confidence) / 2`` under the exact null distribution
    (:func:`signed_rank_pmf`) for up to :data:`EXACT_MAX_N` differences; beyond, the normal
    approximation ``k = floor(M/2 - z sqrt(n(n+1)(2n+1)/24))`` (Hollander, Wolfe & Chicken 2014,
    section 3.3). Zero and tied differences stay in the Walsh averages (the interval is then
    approximately, not exactly, distribution-free). With fewer than 6 differences no 95 % interval
    exists (``P(T+ = 0) = 2**-n > 0.025``): ends and level are NaN.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    d = np.asarray(d, dtype=float).ravel()
    d = d[np.isfinite(d)]
    n = int(d.size)
    nan = float("nan")
    if n == 0:
        return HLInterval(nan, nan, nan, nan, "", 0)
    walsh = walsh_averages(d)
    estimate = float(np.median(walsh))
    m = walsh.size
    alpha2 = (1.0 - confidence) / 2.0
    if n <= EXACT_MAX_N:
        cdf = np.cumsum(signed_rank_pmf(n))
        # Largest k with P(T+ <= k - 1) <= alpha/2; a tiny tolerance keeps a tail exactly at
        # alpha/2 (float rounding of the cumulative sum) inside.
        k = int(np.count_nonzero(cdf <= alpha2 * (1.0 + 1e-12)))
        method = "Hodges-Lehmann, exact signed-rank interval"
        level = 1.0 - 2.0 * float(cdf[k - 1]) if k >= 1 else nan
    else:
        z = float(stats.norm.ppf(1.0 - alpha2))
        k = int(math.floor(m / 2.0 - z * math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)))
        method = "Hodges-Lehmann, normal-approximation signed-rank interval"
        level = confidence
    if k < 1:
        return HLInterval(estimate, nan, nan, nan, method, n)
    return HLInterval(estimate, float(walsh[k - 1]), float(walsh[m - k]), level, method, n)


@dataclass(frozen=True)
class WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired differences against 0.

    Attributes
    ----------
    p_value : float
        NaN when there is no non-zero difference.
    n : int
        Differences given (finite).
    n_zero : int
        Zero differences, dropped before ranking (Wilcoxon's convention).
    method : str
        ``exact``, ``exact conditional (ties)``, ``normal approximation (tie-corrected)`` or ``""``.
    """

    p_value: float
    n: int
    n_zero: int
    method: str


def _exact_tied_p(d: np.ndarray) -> float:
    """Exact conditional two-sided p of the signed-rank statistic with tied |d|: all ``2**n`` sign
    assignments of the (mid-)ranks, counted by convolution on doubled ranks (integers)."""
    ranks2 = np.rint(2.0 * stats.rankdata(np.abs(d))).astype(int)
    total = int(ranks2.sum())
    pmf = np.zeros(total + 1)
    pmf[0] = 1.0
    for r in ranks2:
        shifted = np.zeros_like(pmf)
        shifted[r:] = pmf[: total + 1 - r]
        pmf = 0.5 * (pmf + shifted)
    t_obs = int(ranks2[d > 0].sum())
    low, high = float(pmf[: t_obs + 1].sum()), float(pmf[t_obs:].sum())
    return min(1.0, 2.0 * min(low, high))


def wilcoxon_signed_rank(d: np.ndarray | list[float]) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test that the differences ``d`` are symmetric about 0.

    Zero differences are dropped and counted; with up to :data:`EXACT_MAX_N` non-zero differences the
    p-value is exact (``scipy.stats.wilcoxon(method='exact')`` without ties; the exact conditional
    distribution over all sign assignments of the mid-ranks with ties, as ``scipy``'s permutation
    method computes it), beyond that normal with tie correction (``method='asymptotic'``).
    """
    d = np.asarray(d, dtype=float).ravel()
    d = d[np.isfinite(d)]
    nonzero = d[d != 0]
    n_zero = int(d.size - nonzero.size)
    if nonzero.size == 0:
        return WilcoxonResult(float("nan"), int(d.size), n_zero, "")
    tied = np.unique(np.abs(nonzero)).size < nonzero.size
    if nonzero.size > EXACT_MAX_N:
        p = float(stats.wilcoxon(nonzero, method="asymptotic").pvalue)
        method = "normal approximation (tie-corrected)"
    elif tied:
        p, method = _exact_tied_p(nonzero), "exact conditional (ties)"
    else:
        p, method = float(stats.wilcoxon(nonzero, method="exact").pvalue), "exact"
    return WilcoxonResult(min(p, 1.0), int(d.size), n_zero, method)


def _adjust_input(p: np.ndarray | list[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p-values must be one-dimensional, got shape {p.shape}")
    ok = np.isfinite(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    return p, ok


def holm(p: np.ndarray | list[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error). NaNs are not part of the family and stay
    NaN: ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`` over the ``m`` finite p-values."""
    p, ok = _adjust_input(p)
    out = np.full(p.shape, np.nan)
    vals = p[ok]
    m = vals.size
    if m == 0:
        return out
    order = np.argsort(vals, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * vals[order])
    adj = np.empty(m)
    adj[order] = np.maximum.accumulate(scaled)
    out[ok] = adj
    return out


def benjamini_hochberg(p: np.ndarray | list[float]) -> np.ndarray:
    """Benjamini–Hochberg q-values (false discovery rate). NaNs stay NaN and are not counted:
    ``q_(i) = min_{j >= i} min(1, m p_(j) / j)``."""
    p, ok = _adjust_input(p)
    out = np.full(p.shape, np.nan)
    vals = p[ok]
    m = vals.size
    if m == 0:
        return out
    order = np.argsort(vals, kind="stable")
    scaled = vals[order] * m / np.arange(1, m + 1)
    q = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    adj = np.empty(m)
    adj[order] = q
    out[ok] = adj
    return out


@dataclass(frozen=True)
class RepeatabilityEstimate:
    """Repeatability pooled from a run's repeat captures.

    Attributes
    ----------
    value : float
        Pooled CV (ratio, count) or within-subject SD (interval, axial; fractions in percentage
        points); NaN without usable groups.
    df : int
        Degrees of freedom, ``sum(n_i - 1)`` over the groups used.
    n_subjects : int
        Subjects with at least :data:`MIN_REPEATS` captures in some group.
    usable : bool
        True when ``n_subjects >= MIN_REPEAT_SUBJECTS`` (the estimate may replace the default).
    """

    value: float
    df: int
    n_subjects: int
    usable: bool


def pooled_repeatability(
    groups: list[np.ndarray] | list[list[float]], subjects: list[object], *, scale: str
) -> RepeatabilityEstimate:
    """Pooled within-subject repeatability from groups of repeat captures.

    Parameters
    ----------
    groups : list of array-like
        The values of one subject x region x session each (repeat captures of the same skin).
    subjects : list
        The subject of each group (a subject counts once however many groups it has).
    scale : str, keyword-only
        ``ratio``/``count``: pooled CV, ``sqrt(sum((n_i - 1) CV_i**2) / sum(n_i - 1))`` with
        ``CV_i = s_i / |mean_i|`` (groups with mean 0 left out); ``interval``: pooled SD
        ``sqrt(sum((n_i - 1) s_i**2) / sum(n_i - 1))``; ``fraction``: the same in percentage
        points; ``axial``: the same with deviations from each group's axial mean wrapped to
        +-90 degrees.

    Returns
    -------
    RepeatabilityEstimate
        ``usable`` only with at least :data:`MIN_REPEATS` captures in at least
        :data:`MIN_REPEAT_SUBJECTS` subjects.
    """
    if len(groups) != len(subjects):
        raise ValueError(f"{len(groups)} groups but {len(subjects)} subjects")
    if scale not in _CV_SCALES | _SD_SCALES:
        raise ValueError(f"no repeatability for scale {scale!r}")
    ss, df = 0.0, 0
    used: set[object] = set()
    for values, subject in zip(groups, subjects, strict=True):
        v = np.asarray(values, dtype=float).ravel()
        v = v[np.isfinite(v)]
        if v.size < MIN_REPEATS:
            continue
        if scale == "axial":
            dev = wrap_axial(v - axial_mean(v))
            if not np.all(np.isfinite(dev)):
                continue
            s2 = float(np.sum(np.square(dev)) / (v.size - 1))
        elif scale in _CV_SCALES:
            mean = float(v.mean())
            if mean == 0:
                continue
            s2 = float(v.var(ddof=1)) / mean**2
        else:
            s2 = float(v.var(ddof=1)) * (1e4 if scale == "fraction" else 1.0)
        ss += (v.size - 1) * s2
        df += v.size - 1
        used.add(subject)
    value = math.sqrt(ss / df) if df else float("nan")
    return RepeatabilityEstimate(value, df, len(used), len(used) >= MIN_REPEAT_SUBJECTS)


def combine_repeatability(
    default: float | None, estimate: RepeatabilityEstimate | None
) -> tuple[float | None, str]:
    """The repeatability to use and where it came from.

    A run's estimate is used only when :attr:`RepeatabilityEstimate.usable`, and never below the
    default (the literature floor): measurement conditions within one session (same position,
    minutes apart) are better than between sessions, so a smaller run estimate would understate the
    error that matters for a change.
    """
    if estimate is None or not estimate.usable or not _finite(estimate.value):
        if estimate is not None and estimate.df > 0:
            why = (
                f"run repeats too few to estimate (subjects with >= {MIN_REPEATS} captures: "
                f"{estimate.n_subjects} < {MIN_REPEAT_SUBJECTS}, df = {estimate.df})"
            )
            return default, ("default; " + why) if default is not None else why
        return default, "default" if default is not None else "none"
    tag = f"run estimate (df = {estimate.df}, {estimate.n_subjects} subjects)"
    if default is not None and estimate.value < default:
        return default, f"default floor (above the {tag} of {estimate.value:.4g})"
    return estimate.value, tag
