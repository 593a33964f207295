"""Limits of blank and detection from the lab's own wells (CLSI EP17-A2), and what each sample could have detected.

**Each sample** (every PIK3CA hotspot call): the genome equivalents analysed, GE = mutant + wild-type copies per
20 µL well, and the smallest mutant allele fraction detectable with 95 % probability at the cut-off c,
VAF95 = λ95(c) / GE, where λ95(c) is the expected number of mutant copies in the well with P(Poisson(λ95) ≥ c) = 0.95
(the copies in a well are Poisson; for c = 3, λ95 = 6.296). A "not detected" with 200 GE (VAF95 ≈ 3.1 %) is not the
same result as one with 4,000 (≈ 0.16 %).

**Blanks** (healthy-volunteer plasma, wild-type DNA, NTC), per hotspot, on the mutant copies per 20 µL well:
- LoB, non-parametric (EP17-A2): the results sorted, rank position 0.5 + N × 0.95, the value there, interpolated
  between the neighbouring ranks; when the rank is beyond N (N < 10) the largest blank is used, and said so.
- LoB, parametric: mean + 1.645 × SD (sample SD).
- Every blank zero (the study's case): the upper 95 % Poisson limit of the false-positive droplet rate that N zero
  wells support, 3.0 / (total droplets) (−ln 0.05 = 2.996, "the rule of three"), also as copies per 20 µL well.
- LoD: LoB + 1.645 × SD of the low-positive samples' results (EP17-A2's classical approach), or, without low
  positives, the Poisson detection limit λ95(⌊LoB⌋ + 1): the expected copies that exceed the LoB with 95 % probability.
**HER2** in non-amplified samples: the ratio's mean, SD and 99th percentile (same rank rule), beside the cut-off.

Plain Python (no scipy): the Poisson tail by summation, its inverse by bisection.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["poisson_at_least", "lambda_detected", "lambda95", "detectable_vaf", "poisson_upper_limit",
           "nonparametric_percentile", "LimitOfBlank", "limit_of_blank", "LimitOfDetection", "limit_of_detection",
           "Her2Support", "her2_support", "Z95"]

Z95 = 1.645  # one-sided 95 % normal quantile, as EP17-A2 writes it


def poisson_at_least(count: int, lam: float) -> float:
    """P(X ≥ count) for X ~ Poisson(lam)."""
    if count <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    term = math.exp(-lam)
    below = term
    for k in range(1, count):
        term *= lam / k
        below += term
    return max(0.0, min(1.0, 1.0 - below))


def lambda_detected(count: int, probability: float = 0.95) -> float:
    """The expected count λ with P(Poisson(λ) ≥ count) = probability (bisection to 1e-12)."""
    if count <= 0:
        return 0.0
    lo, hi = 0.0, float(count) + 10.0 * math.sqrt(count) + 20.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if poisson_at_least(count, mid) < probability:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


def lambda95(cutoff: float, probability: float = 0.95) -> float:
    """λ95 for a positive call at ``cutoff`` copies per well (≥ cutoff: a whole number of copies ≥ ⌈cutoff⌉)."""
    return lambda_detected(int(math.ceil(cutoff - 1e-12)), probability)


def detectable_vaf(genome_equivalents: float | None, cutoff: float, probability: float = 0.95) -> float | None:
    """The smallest mutant allele fraction detected with ``probability`` at ``cutoff``, as a fraction (None when no
    genome equivalents were measured)."""
    if genome_equivalents is None or not genome_equivalents > 0 or math.isnan(genome_equivalents):
        return None
    return min(1.0, lambda95(cutoff, probability) / genome_equivalents)


def poisson_upper_limit(observed: int, level: float = 0.95) -> float:
    """The exact one-sided upper ``level`` limit of a Poisson mean after ``observed`` counts (λ with
    P(Poisson(λ) ≤ observed) = 1 − level); −ln(0.05) = 2.996 after zero counts."""
    if observed < 0:
        raise ValueError("a count cannot be negative")
    return lambda_detected(observed + 1, level)


def nonparametric_percentile(values: Sequence[float], pct: float = 0.95) -> tuple[float, float, bool]:
    """EP17-A2's rank rule: (value, rank position, capped). Rank position 0.5 + N × pct on the values sorted
    (ranks 1..N), interpolated between neighbouring ranks; a rank beyond N gives the largest value (capped True)."""
    xs = sorted(float(v) for v in values)
    n = len(xs)
    if n == 0:
        raise ValueError("no values")
    rank = 0.5 + n * pct
    if rank >= n:
        return xs[-1], rank, rank > n
    if rank <= 1:
        return xs[0], rank, False
    low = int(math.floor(rank))
    frac = rank - low
    return xs[low - 1] + frac * (xs[low] - xs[low - 1]), rank, False


def _mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


@dataclass(frozen=True)
class LimitOfBlank:
    """The limit of blank of one hotspot, by both EP17-A2 methods, in mutant copies per 20 µL well."""

    hotspot: str
    n: int
    nonparametric: float
    rank: float
    rank_capped: bool
    parametric: float | None
    mean: float
    sd: float | None
    all_zero: bool
    total_droplets: int | None
    positive_droplets: int | None
    upper_rate_per_droplet: float | None  # 95 % upper limit of the false-positive droplet rate
    upper_copies_per_well: float | None   # the same as copies per 20 µL well
    method: str = ("CLSI EP17-A2: non-parametric (rank 0.5 + N×0.95 of the sorted blanks, interpolated) and "
                   "parametric (mean + 1.645 SD)")

    def describe(self) -> str:
        parts = [f"{self.hotspot}: LoB {self.nonparametric:.3g} copies/20 µL (non-parametric, N {self.n}, rank "
                 f"{self.rank:g}{' beyond N: the largest blank' if self.rank_capped else ''})"]
        if self.parametric is not None:
            parts.append(f"{self.parametric:.3g} (parametric, mean {self.mean:.3g} + 1.645 × SD {self.sd:.3g})")
        if self.all_zero:
            parts.append("every blank was zero")
        if self.upper_rate_per_droplet is not None:
            parts.append(f"{self.positive_droplets} positive droplet(s) in {self.total_droplets:,} support a false-positive "
                         f"rate of at most {self.upper_rate_per_droplet:.3g} per droplet "
                         f"({self.upper_copies_per_well:.3g} copies/20 µL well; Poisson 95 % upper limit)")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def limit_of_blank(hotspot: str, copies: Sequence[float], droplets: Sequence[int] | None = None,
                   positives: Sequence[int] | None = None, droplet_volume_nl: float = 0.85) -> LimitOfBlank:
    """The LoB of one hotspot from its blank wells' mutant copies per 20 µL (and their accepted and positive
    droplets, for the Poisson bound on the false-positive rate)."""
    values = [float(v) for v in copies]
    if not values:
        raise ValueError(f"{hotspot}: no blank results")
    npv, rank, capped = nonparametric_percentile(values, 0.95)
    mean, sd = _mean_sd(values)
    total = sum(int(d) for d in droplets) if droplets else None
    pos = sum(int(p) for p in positives) if positives is not None and droplets else None
    rate = per_well = None
    if total and pos is not None:
        rate = poisson_upper_limit(pos, 0.95) / total
        per_well = rate * 20_000.0 / droplet_volume_nl  # λ per droplet × droplets per 20 µL (small λ: copies ≈ λ·V⁻¹)
    return LimitOfBlank(hotspot, len(values), npv, rank, capped, None if sd is None else mean + Z95 * sd, mean, sd,
                        all(v == 0 for v in values), total, pos, rate, per_well)


@dataclass(frozen=True)
class LimitOfDetection:
    hotspot: str
    lod: float
    method: str
    n_low_positives: int = 0
    sd_low_positives: float | None = None

    def describe(self) -> str:
        return f"{self.hotspot}: LoD {self.lod:.3g} copies/20 µL ({self.method})"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def limit_of_detection(lob: LimitOfBlank, low_positives: Sequence[float] | None = None) -> LimitOfDetection:
    """LoB + 1.645 × SD of the low positives (two or more), else the Poisson detection limit λ95(⌊LoB⌋ + 1)."""
    values = [float(v) for v in (low_positives or ())]
    if len(values) >= 2:
        _, sd = _mean_sd(values)
        assert sd is not None
        return LimitOfDetection(lob.hotspot, lob.nonparametric + Z95 * sd,
                                f"LoB + 1.645 × SD of {len(values)} low-positive results (CLSI EP17-A2)", len(values), sd)
    count = int(math.floor(lob.nonparametric)) + 1
    return LimitOfDetection(lob.hotspot, lambda_detected(count, 0.95),
                            f"Poisson detection limit: the expected copies exceeding the LoB ({lob.nonparametric:.3g}) "
                            f"with 95 % probability, P(Poisson ≥ {count}) = 0.95")


@dataclass(frozen=True)
class Her2Support:
    n: int
    mean: float
    sd: float | None
    p99: float
    p99_rank_capped: bool
    cutoff: float
    ratios: tuple[float, ...] = field(default=(), repr=False)

    def describe(self) -> str:
        sd = f", SD {self.sd:.3f}" if self.sd is not None else ""
        z = f"; the cut-off is {(self.cutoff - self.mean) / self.sd:.1f} SD above the mean" if self.sd else ""
        side = "above" if self.cutoff > self.p99 else "not above"
        high = [r for r in self.ratios if r >= self.cutoff]
        warn = (f". Warning: {len(high)} blank(s) at or above the cut-off (ratio {', '.join(f'{r:.2f}' for r in high[:5])}): "
                "a blank should not read as amplified; check it before using these limits" if high else "")
        return (f"HER2/EFTUD2 in {self.n} blank sample(s): mean {self.mean:.3f}{sd}, 99th percentile "
                f"{self.p99:.3f}{' (the largest: N < 50)' if self.p99_rank_capped else ''}; the cut-off {self.cutoff:g} is "
                f"{side} it{z}{warn}")

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in ((k, getattr(self, k)) for k in self.__dataclass_fields__)}


def her2_support(ratios: Iterable[float], cutoff: float) -> Her2Support:
    values = [float(r) for r in ratios if r is not None and not math.isnan(float(r))]
    if not values:
        raise ValueError("no HER2/EFTUD2 ratio in the non-amplified samples")
    mean, sd = _mean_sd(values)
    p99, _, capped = nonparametric_percentile(values, 0.99)
    return Her2Support(len(values), mean, sd, p99, capped, cutoff, tuple(values))
