"""Poisson statistics of droplet digital PCR.

Concentration (Bio-Rad Droplet Digital PCR Applications Guide, p.35)::

    lambda = -ln(negatives / accepted droplets)      copies per droplet
    concentration = lambda / V                        copies per µL of reaction
    copies per 20 µL well = 20 * concentration

Confidence interval of a concentration (reproduces QuantaSoft's
``PoissonConfMax/Min``, see ``shared/docs/ddpcr_formats.md`` §5.3):

* at least 100 positive and 100 negative droplets: Wald interval on the
  positive fraction p = x/N, p ± z·sqrt(p(1-p)/N), mapped through -ln(1-p)/V;
* fewer than 100 positive droplets: the exact Bayesian interval for a Poisson
  count, the highest-posterior-density (HPD) interval of Gamma(x+1, 1)
  (flat prior), mapped through -ln(1-c/N)/V;
* fewer than 100 negative droplets: the same with the negatives,
  lambda = -ln(c/N) with c from HPD Gamma(n0+1, 1); with 0 negatives the
  well is saturated and the upper limit is infinite.

The ratio of two concentrations (HER2/EFTUD2) gets the delta-method interval
QuantaSoft uses for ``PoissonRatioMax/Min``: with the relative half-widths
h = (high - low) / (2 z C) of both channels, ratio ± z·ratio·sqrt(h_T² + h_R²)
(independent channels), clipped at 0.
"""
from __future__ import annotations

import math
from functools import lru_cache


from tdm1core.measuring.intervals import ConfidenceInterval

__all__ = [
    "concentration",
    "copies_per_20ul",
    "concentration_ci",
    "ratio_ci",
    "z_value",
    "CONC_CI_METHOD",
    "RATIO_CI_METHOD",
    "gamma_hpd",
]

CONC_CI_METHOD = (
    "Poisson: Wald interval on the positive-droplet fraction (>=100 positive and negative droplets, "
    "as QuantaSoft); exact Bayesian HPD interval of Gamma(x+1) at low counts"
)
RATIO_CI_METHOD = "delta method combining both channels' Poisson intervals (independent channels, as QuantaSoft's PoissonRatio)"
WALD_MIN = 100


@lru_cache(maxsize=64)
def z_value(level: float) -> float:
    from statistics import NormalDist  # exact to double precision; no scipy import for a cohort view

    return NormalDist().inv_cdf(0.5 + level / 2)


def concentration(positives: int, accepted: int, volume_nl: float) -> float:
    """Copies per µL of reaction; ``nan`` without droplets, ``inf`` when saturated."""
    if accepted <= 0:
        return math.nan
    negatives = accepted - positives
    if negatives <= 0:
        return math.inf
    lam = -math.log(negatives / accepted)
    return (lam if lam > 0 else 0.0) / (volume_nl * 1e-3)


def copies_per_20ul(conc: float) -> float:
    return 20.0 * conc


def _gamma_upper(shape: int, x: float) -> float:
    """Q(shape, x) = P(X > x) for X ~ Gamma(integer shape, 1): e^-x sum_{k<shape} x^k / k! (in logs, no overflow)."""
    if x <= 0:
        return 1.0
    log_x = math.log(x)
    terms = [k * log_x - x - math.lgamma(k + 1) for k in range(shape)]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def _lower_end(count: int, hi: float) -> float:
    """The x in (0, count) with the Gamma(count + 1) density equal to that at ``hi`` (count ln x - x equal),
    by Newton steps kept inside a bisection bracket."""
    target = count * math.log(hi) - hi
    lo_b, hi_b = 0.0, float(count)
    x = count * math.exp((target - count * math.log(count) + count) / count)  # the left tail's own solution, a start
    x = min(max(x, 1e-300), count * (1 - 1e-15))
    for _ in range(200):
        g = count * math.log(x) - x - target
        if g > 0:
            hi_b = x
        else:
            lo_b = x
        step = g / (count / x - 1)
        new = x - step
        if not lo_b < new < hi_b:
            new = (lo_b + hi_b) / 2 if lo_b > 0 else hi_b / 2
        if abs(new - x) <= 1e-15 * x:
            return new
        x = new
    return x


@lru_cache(maxsize=4096)
def gamma_hpd(count: int, level: float) -> tuple[float, float]:
    """Highest-posterior-density interval of Gamma(count + 1, 1): the ends have equal density and the interval holds
    ``level`` (plain Python: the upper end by Newton steps inside a bisection bracket on the coverage; no scipy, so a
    call does not import it). Checked against scipy.stats.gamma in the tests."""
    if count == 0:
        return 0.0, -math.log(1 - level)
    shape = count + 1
    lo_b, hi_b = float(count), count + 40.0 * math.sqrt(shape) + 40.0
    hi = count + 1.96 * math.sqrt(shape)
    log_norm = math.lgamma(shape)
    for _ in range(200):
        lo = _lower_end(count, hi)
        coverage = _gamma_upper(shape, lo) - _gamma_upper(shape, hi)
        f = coverage - level
        if abs(f) < 1e-14:
            break
        if f > 0:
            hi_b = hi
        else:
            lo_b = hi
        density_hi = math.exp(count * math.log(hi) - hi - log_norm)
        slope = density_hi * (1 - (count / hi - 1) / (count / lo - 1))  # d coverage / d hi along equal densities
        new = hi - f / slope if slope > 0 else (lo_b + hi_b) / 2
        if not lo_b < new < hi_b:
            new = (lo_b + hi_b) / 2
        if abs(new - hi) <= 1e-14 * hi:
            hi = new
            break
        hi = new
    return _lower_end(count, hi), hi


def concentration_ci(positives: int, accepted: int, volume_nl: float, level: float = 0.95) -> ConfidenceInterval:
    """Confidence interval of a concentration in copies/µL (see module docstring)."""
    v = volume_nl * 1e-3
    n = accepted
    x = positives
    n0 = n - x
    if n <= 0:
        return ConfidenceInterval(math.nan, math.nan, level, CONC_CI_METHOD)
    if x >= WALD_MIN and n0 >= WALD_MIN:
        z = z_value(level)
        p = x / n
        half = z * math.sqrt(p * (1 - p) / n)
        lo, hi = p - half, p + half
        return ConfidenceInterval(-math.log(1 - lo) / v, -math.log(1 - hi) / v, level, CONC_CI_METHOD)
    if x < WALD_MIN:
        c_lo, c_hi = gamma_hpd(x, level)
        lo = (-math.log(1 - c_lo / n) / v if c_lo < n else math.inf) if c_lo > 0 else 0.0
        hi = -math.log(1 - c_hi / n) / v if c_hi < n else math.inf
        return ConfidenceInterval(lo, hi, level, CONC_CI_METHOD)
    # few negatives: lambda = -ln(c/N), c from HPD of the negative count
    if n0 == 0:
        c_lo, c_hi = gamma_hpd(0, level)
        return ConfidenceInterval(-math.log(min(c_hi / n, 1.0)) / v, math.inf, level, CONC_CI_METHOD)
    c_lo, c_hi = gamma_hpd(n0, level)
    hi = -math.log(c_lo / n) / v if c_lo > 0 else math.inf
    lo = -math.log(min(c_hi / n, 1.0)) / v
    return ConfidenceInterval(lo, hi, level, CONC_CI_METHOD)


def ratio_ci(
    target: float, target_ci: ConfidenceInterval, reference: float, reference_ci: ConfidenceInterval, level: float = 0.95
) -> tuple[float, ConfidenceInterval]:
    """Ratio target/reference and its delta-method interval."""
    if not (reference > 0) or math.isinf(reference) or math.isnan(target) or math.isinf(target):
        return math.nan, ConfidenceInterval(math.nan, math.nan, level, RATIO_CI_METHOD)
    ratio = target / reference
    z = z_value(level)
    h_r = (reference_ci.high - reference_ci.low) / (2 * z * reference)
    if target <= 0:
        # no target droplets: the ratio is 0; its upper limit is the target's upper limit over the reference
        return 0.0, ConfidenceInterval(0.0, target_ci.high / reference, level, RATIO_CI_METHOD)
    h_t = (target_ci.high - target_ci.low) / (2 * z * target)
    half = z * ratio * math.hypot(h_t, h_r)  # (hypot: no overflow on huge half-widths)
    return ratio, ConfidenceInterval(max(ratio - half, 0.0), ratio + half, level, RATIO_CI_METHOD)
