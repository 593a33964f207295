"""Classifying droplets: the instrument's own classes, thresholds typed in, or thresholds found automatically.

The classification is a setting (:class:`DropletThresholds`), stamped on every output made from droplets.

* ``instrument``: keep QuantaSoft's Cluster codes or QX Manager's 0/1 classes; the counts then equal the
  instrument's results export exactly (droplets it left unclassified, cluster 0 or 'u', are left out and counted).
* ``manual``: a droplet is positive in a channel when its amplitude is at or above that channel's threshold (as
  QuantaSoft and PoDCall count); one value per channel for the plate, optionally overridden per well.
* ``auto``: per well and channel (:func:`auto_threshold`):

  1. the negative cluster is the lowest-amplitude peak, reaching a tenth of the highest, of a kernel density estimate
     (Gaussian kernel, Silverman's bandwidth 0.9 min(SD, IQR/1.349) n^-1/5, on 512 bins between the 0.1st and
     99.9th percentiles);
  2. its centre m and spread s come from its lower half only (s = median(m - x | x < m) / 0.6745, the half-normal
     MAD), so positives and rain cannot widen it;
  3. the fence F = m + 0.6745 s + Q x 1.349 s is Tukey's far fence of a normal cluster with PoDCall's outlier
     parameter Q (default 9; Jeanmougin et al., Bioinformatics 2023, doi:10.1093/bioinformatics/btac766), about
     12.8 SD above the centre;
  4. a positive cluster (HER2, EFTUD2, wild-type PIK3CA) is the first density peak beyond m + 5 s (the negative
     cluster's edge: 3e-7 of a normal cluster lies beyond it, 0.006 droplets of 20,000) that reaches 2 % of the highest peak and holds
     ``min_cluster`` droplets within 3 bandwidths, with a dip to half its height or less on the way from the edge
     (a shallower dip is a shoulder of the negative cluster, e.g. crosstalk), or, beyond the histogram,
     ``min_cluster`` droplets above F; the
     threshold is then the deepest point of the density between m + 5 s and that peak (the midpoint of a flat empty
     stretch), never below m + 5 s. With no positive cluster (the ctDNA case: 0-5 mutant droplets among 15,000) the
     threshold is F itself, so a lone droplet is positive only far outside the negative cluster.

  Rain is the droplets between the clusters: above m + 5 s and below the threshold, plus (with a positive cluster)
  those at or above it but more than 5 of the positive cluster's SDs below its centre. A well whose rain exceeds
  ``rain_warning_fraction`` of its droplets is warned about. The 1D method sees one channel at a time: spectral
  crosstalk beyond F would be called positive; the 2D plot shows it, and manual thresholds correct it.
* ``extreme``: an extreme-value threshold for low-level mutant detection, after ddpcRquant (Trypsteen et al., Anal
  Bioanal Chem 2015, doi:10.1007/s00216-015-8773-4), per well and channel (:func:`extreme_threshold`): the droplets
  below the automatic threshold (the negative population) make ``ev_blocks`` blocks; a Gumbel distribution (the
  generalised extreme-value law with shape 0, the limit for normal-tailed noise) is fitted by moments to the block
  maximum (scale = SD·√6/π, location = mean − 0.5772·scale), whose mean and SD are computed exactly for blocks drawn
  at random from the negatives (so the threshold does not depend on the droplets' order, unlike ddpcRquant's
  consecutive blocks); the threshold is its quantile at ``ev_p`` (default 0.9995), which about one block in 2,000
  of pure negatives would exceed.
  Where a channel has a positive cluster (wild type, reference), the negatives are those below the negative cluster's
  edge (m + 5 s) and the threshold is never above the automatic method's density valley. ddpcRquant fits the full
  three-parameter law to no-template-control wells with a baseline correction; this is the simpler two-parameter
  form on each well's own negatives, named so on every output.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tdm1core.reading.droplets import DropletWell
from tdm1core.errors import SettingsError

__all__ = ["DropletThresholds", "AutoThreshold", "ExtremeThreshold", "extreme_threshold", "ChannelClassification", "WellClassification", "auto_threshold",
           "classify_well", "THRESHOLD_METHODS", "INSTRUMENT_THRESHOLDS"]

THRESHOLD_METHODS = ("instrument", "manual", "auto", "extreme")


@dataclass(frozen=True)
class DropletThresholds:
    """How droplets are classified (see the module docstring); stamped on every output made from droplets."""

    method: str = "instrument"
    channels: tuple[tuple[str, float], ...] = ()  # manual: (channel, threshold) for the whole plate
    wells: tuple[tuple[str, str, float], ...] = ()  # manual: (well, channel, threshold) overrides
    q: float = 9.0  # auto: PoDCall's outlier parameter
    min_cluster: int = 30  # auto: droplets above the fence that make a positive cluster
    rain_warning_fraction: float = 0.02
    ev_blocks: int = 100  # extreme: blocks of the negative droplets
    ev_p: float = 0.9995  # extreme: the Gumbel quantile that is the threshold

    def __post_init__(self) -> None:
        if self.method not in THRESHOLD_METHODS:
            raise SettingsError(f"the threshold method must be one of {', '.join(THRESHOLD_METHODS)}, but was "
                                f"{self.method!r}.", column="threshold")
        object.__setattr__(self, "channels", tuple((str(c), _value(v, c)) for c, v in self.channels))
        object.__setattr__(self, "wells", tuple((str(w).upper(), str(c), _value(v, f"{w} {c}")) for w, c, v in self.wells))
        if self.method == "manual" and not self.channels and not self.wells:
            raise SettingsError("manual thresholds need a value for at least one channel, e.g. ch1=2500,ch2=3000.",
                                column="threshold")
        if not (10 <= self.ev_blocks <= 10_000) or not (0.5 < self.ev_p < 1):
            raise SettingsError("the extreme-value threshold's parameters are out of range (10-10,000 blocks, quantile "
                                "between 0.5 and 1).", column="threshold")
        if not (0 < self.q <= 100) or not (1 <= self.min_cluster <= 10_000) or not (0 < self.rain_warning_fraction < 1):
            raise SettingsError("the automatic threshold's parameters are out of range (Q 0-100, minimum cluster "
                                "1-10,000 droplets, rain warning fraction 0-1).", column="threshold")

    @classmethod
    def parse(cls, text: str) -> "DropletThresholds":
        """``auto``, ``instrument`` or ``ch1=2500,ch2=3000`` (manual; ``A04:ch1=2600`` overrides one well)."""
        t = (text or "").strip()
        if t.lower() in THRESHOLD_METHODS:
            return cls(method=t.lower())
        channels, wells = [], []
        for part in filter(None, (p.strip() for p in t.split(","))):
            well = None
            if ":" in part:
                well, part = part.split(":", 1)
            if "=" not in part:
                raise SettingsError(f"a threshold must look like ch1=2500 (or A04:ch1=2600), but was {part!r}.",
                                    column="--threshold", hint="Use auto, instrument, or ch1=VALUE,ch2=VALUE.")
            name, value = part.split("=", 1)
            channel = _channel_name(name)
            try:
                number = float(value)
            except ValueError:
                raise SettingsError(f"the threshold of {name} must be a number, but was {value!r}.",
                                    column="--threshold") from None
            (wells.append((well.strip(), channel, number)) if well else channels.append((channel, number)))
        return cls(method="manual", channels=tuple(channels), wells=tuple(wells))

    def for_well(self, well: str | None, channel: str) -> float | None:
        for w, c, v in self.wells:
            if w == (well or "").upper() and c == channel:
                return v
        return dict(self.channels).get(channel)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = dict(self.channels)
        d["wells"] = [{"well": w, "channel": c, "threshold": v} for w, c, v in self.wells]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DropletThresholds":
        """The inverse of :meth:`to_dict` (a saved default read back; refused with a clear message when damaged)."""
        try:
            channels = data.get("channels") or {}
            wells = data.get("wells") or []
            return cls(method=data.get("method", "instrument"), channels=tuple(dict(channels).items()),
                       wells=tuple((w["well"], w["channel"], w["threshold"]) for w in wells),
                       q=float(data.get("q", 9.0)), min_cluster=int(data.get("min_cluster", 30)),
                       rain_warning_fraction=float(data.get("rain_warning_fraction", 0.02)),
                       ev_blocks=int(data.get("ev_blocks", 100)), ev_p=float(data.get("ev_p", 0.9995)))
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise SettingsError(f"the saved droplet thresholds cannot be read ({exc}).", column="threshold",
                                hint="Save the thresholds again on the Droplets page.") from None

    def describe(self) -> str:
        if self.method == "instrument":
            return "droplets classified by the instrument (QuantaSoft clusters / QX Manager classes)"
        if self.method == "extreme":
            return (f"extreme-value thresholds after ddpcRquant (Gumbel fitted to the maxima of {self.ev_blocks} blocks "
                    f"of each well's negative droplets, quantile {self.ev_p:g})")
        if self.method == "auto":
            return (f"automatic thresholds (negative-cluster fence Q = {self.q:g}, density valley when a cluster of "
                    f">= {self.min_cluster} droplets lies above it)")
        parts = [f"{c} {v:g}" for c, v in self.channels] + [f"{w} {c} {v:g}" for w, c, v in self.wells]
        return "manual thresholds (positive at or above): " + ", ".join(parts)


INSTRUMENT_THRESHOLDS = DropletThresholds()


def _value(v: Any, where: str) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise SettingsError(f"the threshold of {where} must be a number, but was {v!r}.", column="threshold") from None
    if not math.isfinite(x) or abs(x) > 1e6:
        raise SettingsError(f"the threshold of {where} must be a finite amplitude, but was {v!r}.", column="threshold")
    return x


def _channel_name(name: str) -> str:
    n = name.strip().lower().replace(" ", "")
    if n in ("ch1", "ch2", "ch3", "ch4", "ch5", "ch6"):
        return "Ch" + n[2]
    raise SettingsError(f"{name!r} is not a channel; use ch1 to ch6.", column="--threshold")


@dataclass(frozen=True)
class AutoThreshold:
    threshold: float
    negative_centre: float
    negative_sd: float
    fence: float
    positive_centre: float | None  # None when no positive cluster lies above the fence
    rain: int
    rain_high: float | None = None  # rain: above m + 5 s and below this (the threshold, or the positive cluster's foot)


def _quantile(xs: np.ndarray, p: float) -> float:
    """The ``p`` quantile of sorted ``xs`` (numpy's default linear interpolation)."""
    i = p * (xs.size - 1)
    lo = int(math.floor(i))
    hi = min(lo + 1, xs.size - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (i - lo))


def _median(xs: np.ndarray) -> float:
    n = xs.size
    return float((xs[(n - 1) // 2] + xs[n // 2]) / 2)


def _count(xs: np.ndarray, lo: float = -math.inf, hi: float = math.inf, closed_low: bool = False) -> int:
    """How many of sorted ``xs`` lie in (lo, hi) (or [lo, hi) with ``closed_low``)."""
    return max(0, int(np.searchsorted(xs, hi, "left") - np.searchsorted(xs, lo, "left" if closed_low else "right")))


def _bandwidth(xs: np.ndarray) -> float:
    """Silverman's rule of thumb, 0.9 min(SD, IQR / 1.349) n^(-1/5) (robust to a second cluster through the IQR)."""
    sd = float(np.std(xs))
    spread = min(sd, (_quantile(xs, 0.75) - _quantile(xs, 0.25)) / 1.349) or sd or 1.0
    return 0.9 * spread * xs.size ** -0.2


def _smoothed_histogram(xs: np.ndarray, lo: float, hi: float, h: float, bins: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """A kernel density estimate on a grid: the histogram of sorted ``xs`` on [lo, hi] (as numpy.histogram counts it)
    smoothed by a Gaussian of SD ``h``."""
    edges = np.linspace(lo, hi, bins + 1)
    at = np.searchsorted(xs, edges, "left")
    at[-1] = np.searchsorted(xs, hi, "right")
    counts = np.diff(at).astype(np.float64)
    sigma = max(1.0, h / ((hi - lo) / bins))
    half = int(min(bins, math.ceil(4 * sigma)))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    density = np.convolve(counts, kernel / kernel.sum(), mode="same")
    return density, (edges[:-1] + edges[1:]) / 2


def auto_threshold(x: np.ndarray, q: float = 9.0, min_cluster: int = 30, presorted: bool = False) -> AutoThreshold | None:
    """The automatic threshold of one channel's amplitudes (module docstring); None with fewer than 100 droplets."""
    xs = np.asarray(x, dtype=np.float64) if presorted else np.sort(np.asarray(x, dtype=np.float64))
    n = xs.size
    if n < 100:
        return None
    h = _bandwidth(xs)
    lo, hi = _quantile(xs, 0.001), _quantile(xs, 0.999)
    if not hi > lo:
        lo, hi = float(xs[0]) - 1.0, float(xs[-1]) + 1.0
    density, centres = _smoothed_histogram(xs, lo, hi, h)
    top = float(density.max())
    all_peaks = np.flatnonzero((density[1:-1] >= density[:-2]) & (density[1:-1] > density[2:])) + 1
    peaks = all_peaks[density[all_peaks] >= 0.1 * top]
    m = float(centres[peaks[0]] if peaks.size else centres[int(np.argmax(density))])
    k = int(np.searchsorted(xs, m, "left"))
    s = (m - _median(xs[:k])) / 0.6745 if k >= 10 else 0.0
    if not s > 0:
        s = max((_quantile(xs, 0.75) - _quantile(xs, 0.25)) / 1.349, 1e-6 * max(1.0, abs(m)), 1e-9)
    fence = m + 0.6745 * s + q * 1.349 * s
    edge = m + 5 * s  # the negative cluster's edge: no automatic threshold below it
    # a positive cluster: a density peak beyond the edge that reaches 2 % of the highest and holds min_cluster droplets,
    # joined to the negative cluster by a dip to half its height or less (a shallower dip is a shoulder: crosstalk)
    from_edge = int(np.searchsorted(centres, edge))
    candidates = [int(p) for p in all_peaks if centres[p] > edge and density[p] >= 0.02 * top
                  and _count(xs, centres[p] - 3 * h, centres[p] + 3 * h) >= min_cluster
                  and density[from_edge:p + 1].min() <= 0.5 * density[p]]
    positive_centre = None
    threshold = fence
    beyond = n - int(np.searchsorted(xs, fence, "right"))
    if candidates:
        positive_centre = float(centres[candidates[0]])
        threshold = _valley(xs, edge, positive_centre, h) if positive_centre - edge > 2 * h else edge
    elif beyond >= min_cluster:  # a cluster beyond the histogram's 99.9th percentile
        positive_centre = _median(xs[n - beyond:])
        threshold = _valley(xs, edge, positive_centre, h) if positive_centre - edge > 2 * h else fence
    rain = _count(xs, edge, threshold)
    rain_high = float(threshold)
    if positive_centre is not None:
        # the positive cluster's centre and spread from its upper half (rain lies below it)
        pos = xs[int(np.searchsorted(xs, threshold, "left")):]
        positive_centre = _median(pos)
        upper = pos[int(np.searchsorted(pos, positive_centre, "right")):]
        sp = (_median(upper) - positive_centre) / 0.6745 if upper.size >= 10 else 0.0
        if sp > 0:
            rain += _count(xs, threshold, positive_centre - 5 * sp, closed_low=True)
            rain_high = max(rain_high, positive_centre - 5 * sp)
    return AutoThreshold(float(threshold), m, s, float(fence), positive_centre, rain, rain_high)


def _valley(xs: np.ndarray, lo: float, hi: float, h: float) -> float:
    """The deepest point of the density of sorted ``xs`` between ``lo`` and ``hi``, the ends left out (they are the
    clusters' own slopes): the middle of the longest stretch within 1 % of the bottom."""
    bins = 256
    part = xs[int(np.searchsorted(xs, lo, "left")):int(np.searchsorted(xs, hi, "right"))]
    density, centres = _smoothed_histogram(part, lo, hi, h, bins)
    inner = slice(bins // 16, bins - bins // 16)
    d, c = density[inner], centres[inner]
    at_min = d <= d.min() + 0.01 * (d.max() - d.min())
    # the longest stretch at the bottom (the empty gap between clusters), and its middle
    edges = np.flatnonzero(np.diff(np.concatenate([[0], at_min.astype(np.int8), [0]])))
    starts, ends = edges[0::2], edges[1::2] - 1
    k = int(np.argmax(ends - starts))
    return float((c[starts[k]] + c[ends[k]]) / 2)


@dataclass(frozen=True)
class ExtremeThreshold:
    threshold: float
    location: float
    scale: float
    blocks: int
    negatives: int


def extreme_threshold(x: np.ndarray, blocks: int = 100, p: float = 0.9995, q: float = 9.0,
                      min_cluster: int = 30) -> ExtremeThreshold | None:
    """The extreme-value threshold of one channel (see the module docstring); None with too few droplets."""
    auto = auto_threshold(x, q, min_cluster)
    if auto is None:
        return None
    clustered = auto.positive_centre is not None
    # the negative population: below the threshold, or (with a positive cluster) below the negative cluster's edge
    edge = auto.negative_centre + 5 * auto.negative_sd if clustered else auto.threshold
    negatives = np.sort(x[x < edge])
    n = len(negatives)
    size = n // blocks
    if size < 5:
        return None
    # the mean and SD of the maximum of a block of ``size`` droplets drawn from the negatives, exactly from their
    # sorted values (P(max = x_(i)) = (i/n)^size - ((i-1)/n)^size): the threshold does not depend on the order
    cdf = (np.arange(1, n + 1) / n) ** size
    weight = np.diff(np.r_[0.0, cdf])
    mean = float(weight @ negatives)
    sd = math.sqrt(max(float(weight @ negatives ** 2) - mean ** 2, 0.0))
    scale = sd * math.sqrt(6) / math.pi
    location = mean - 0.5772156649015329 * scale
    threshold = location - scale * math.log(-math.log(p))
    if clustered:  # never inside a positive cluster: the density valley bounds it
        threshold = min(threshold, auto.threshold)
    return ExtremeThreshold(threshold, location, scale, blocks, int(len(negatives)))


def _conditional_pass(well: DropletWell, thresholds: DropletThresholds, positive: dict[str, np.ndarray],
                      first: list["ChannelClassification"]) -> list["ChannelClassification"]:
    """The two-dimensional refinement of the automatic method for duplex wells: Ch1 is thresholded again within the
    droplets negative, and within those positive, in Ch2; then Ch2 within Ch1's refined classes; twice. A negative
    cluster shifted by spectral crosstalk is so judged against its own centre and spread (quadrant gates that may
    step at the other channel's threshold). The parts keep the one-channel threshold unless their negative clusters
    sit more than 3 SD apart (no crosstalk, nothing to correct) or one has fewer than 100 droplets."""
    by_channel = {c.channel: c for c in first}
    details = {ch: dict(by_channel[ch].detail) for ch in ("Ch1", "Ch2")}
    for _ in range(2):
        changed = False
        for ch, other in (("Ch1", "Ch2"), ("Ch2", "Ch1")):
            x = well.channel(ch)
            pos = positive[ch]
            split = positive[other].copy()
            parts = [(f"{other}-", ~split), (f"{other}+", split)]
            autos = [auto_threshold(x[subset], thresholds.q, thresholds.min_cluster) if subset.sum() >= 100 else None
                     for _, subset in parts]
            sd = float(by_channel[ch].detail["negative_sd"] or 0.0)
            # crosstalk: the two parts' negative clusters sit apart; otherwise the one-channel threshold stands
            a0, a1 = autos
            shifted = a0 is not None and a1 is not None and abs(a0.negative_centre - a1.negative_centre) > 3 * sd
            changed |= shifted
            for (label, subset), auto in zip(parts, autos):
                t = auto.threshold if shifted and auto is not None else by_channel[ch].threshold
                pos[subset] = x[subset] >= t
                details[ch][f"threshold among {label}"] = t
        if not changed:
            break
    return [ChannelClassification(c.channel, c.method, c.threshold, 0, 0, 0, c.rain, details.get(c.channel, c.detail))
            for c in first]


@dataclass(frozen=True)
class ChannelClassification:
    channel: str
    method: str
    threshold: float | None  # None for instrument classes
    positives: int
    negatives: int
    unclassified: int
    rain: int | None
    detail: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class WellClassification:
    """The droplets of one well classified: a positive mask per channel, the counts, rain and warnings."""

    well: DropletWell
    thresholds: DropletThresholds
    positive: dict[str, np.ndarray]  # channel -> bool per droplet
    classified: np.ndarray  # bool per droplet: classified in every channel used
    channels: tuple[ChannelClassification, ...]
    warnings: tuple[str, ...]

    @property
    def accepted(self) -> int:
        return int(self.classified.sum())

    def channel(self, name: str) -> ChannelClassification:
        return next(c for c in self.channels if c.channel == name)

    def clusters(self) -> dict[str, int]:
        """Counts keyed Ch1+Ch2+, Ch1+Ch2-, Ch1-Ch2+, Ch1-Ch2- (classified droplets; the first two channels)."""
        if not {"Ch1", "Ch2"} <= set(self.positive):
            return {}
        p1, p2, ok = self.positive["Ch1"], self.positive["Ch2"], self.classified
        return {"Ch1+Ch2+": int((p1 & p2 & ok).sum()), "Ch1+Ch2-": int((p1 & ~p2 & ok).sum()),
                "Ch1-Ch2+": int((~p1 & p2 & ok).sum()), "Ch1-Ch2-": int((~p1 & ~p2 & ok).sum())}


def classify_well(well: DropletWell, thresholds: DropletThresholds,
                  instrument_keys: dict[str, str] | None = None) -> WellClassification:
    """Classify every channel of ``well``. ``instrument_keys`` maps channel -> the file's class column (QX Manager
    target names, from the results export); QuantaSoft classes are already per channel."""
    n = well.droplets
    positive: dict[str, np.ndarray] = {}
    classified = np.ones(n, dtype=bool)
    out: list[ChannelClassification] = []
    warnings: list[str] = list(well.warnings)
    order: list[str] = list(well.channels)
    if thresholds.method == "instrument" and not well.instrument_by_channel and instrument_keys:
        # targets multiplexed in one channel are classified each by its own class column ("Ch1:TARGET")
        order = sorted(instrument_keys, key=lambda s: (well.channels.index(s.split(":", 1)[0]), s))
    for ch in order:
        x = well.channel(ch)
        if thresholds.method == "instrument":
            key = ch if well.instrument_by_channel else (instrument_keys or {}).get(ch)
            cls = well.instrument.get(key) if key is not None else None
            if cls is None:
                continue  # no instrument class for this channel (no Cluster column, or a target not in the results)
            pos = cls == 1
            unclassified = cls == -1
            classified &= ~unclassified
            positive[ch] = pos
            out.append(ChannelClassification(ch, "instrument", None, int((pos & ~unclassified).sum()),
                                             int(((cls == 0)).sum()), int(unclassified.sum()), None))
            continue
        if thresholds.method == "manual":
            t = thresholds.for_well(well.well, ch)
            if t is None:
                continue
            pos = x >= t
            positive[ch] = pos
            out.append(ChannelClassification(ch, "manual", float(t), int(pos.sum()), int(n - pos.sum()), 0, None))
            continue
        if thresholds.method == "extreme":
            ev = extreme_threshold(x, thresholds.ev_blocks, thresholds.ev_p, thresholds.q, thresholds.min_cluster)
            if ev is None:
                warnings.append(f"{ch}: too few droplets ({n:,}) for an extreme-value threshold; not classified.")
                continue
            pos = x >= ev.threshold
            positive[ch] = pos
            out.append(ChannelClassification(ch, "extreme", ev.threshold, int(pos.sum()), int(n - pos.sum()), 0, None,
                                             {"gumbel_location": ev.location, "gumbel_scale": ev.scale,
                                              "blocks": float(ev.blocks), "negatives": float(ev.negatives)}))
            continue
        auto = auto_threshold(x, thresholds.q, thresholds.min_cluster)
        if auto is None:
            warnings.append(f"{ch}: too few droplets ({n:,}) for an automatic threshold; not classified.")
            continue
        pos = x >= auto.threshold
        positive[ch] = pos
        out.append(ChannelClassification(ch, "auto", auto.threshold, int(pos.sum()), int(n - pos.sum()), 0, auto.rain,
                                         {"negative_centre": auto.negative_centre, "negative_sd": auto.negative_sd,
                                          "fence": auto.fence, "positive_centre": auto.positive_centre,
                                          "rain_high": auto.rain_high}))
        if n and auto.rain / n > thresholds.rain_warning_fraction:
            warnings.append(f"{ch}: heavy rain, {auto.rain:,} droplets ({auto.rain / n:.1%}) between the clusters; "
                            "check the droplet plot and the threshold.")
    if thresholds.method == "auto" and {"Ch1", "Ch2"} <= set(positive):
        out = _conditional_pass(well, thresholds, positive, out)
    # a droplet unclassified in one channel is out of every channel's count (the well's accepted droplets)
    final = []
    for c in out:
        pos = positive[c.channel] & classified
        final.append(ChannelClassification(c.channel, c.method, c.threshold, int(pos.sum()), int(classified.sum() - pos.sum()),
                                           int(n - classified.sum()), c.rain, c.detail))
    return WellClassification(well, thresholds, positive, classified, tuple(final), tuple(warnings))
