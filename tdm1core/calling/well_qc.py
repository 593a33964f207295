"""Quality control of a plate's droplet wells, with a reason code for each finding (shown on the Droplets page's grid
and summary, in ``droplets --json`` as ``qc: [{code, message}]``, and carried into the calls' warnings).

==================  =====================================================================================================
code                fires when
==================  =====================================================================================================
LOW_DROPLETS        the well's accepted droplets are below the minimum in force (``min_accepted_droplets``)
NTC_POSITIVE        a no-template control or blank (by its target type or the lab's naming rule) has positive droplets
                    above the limit of blank: for a hotspot's mutant target, the LoB of the cut-off profile in force
                    (copies per 20 µL, as droplets of the well); otherwise ``ntc_lob_droplets`` (0)
SATURATED           a channel has no negative droplets (the concentration is not estimable)
CLIPPED             more than 1 % (and 10) of a channel's droplets sit at one identical top amplitude (the detector clipped)
RAIN                the droplets between the clusters exceed ``rain_warning_fraction`` of the well (automatic
                    thresholds, which measure rain)
REPLICATE_DISAGREE  replicate wells of one sample and target differ beyond Poisson expectation (chi-square test of
                    homogeneity of the positive fraction across the wells, p < 0.001); the wells are pooled by droplets
DRIFT               the negative cluster's median amplitude moves across the well (first vs last tenth of the droplets)
                    by more than a fifth of the distance between the clusters (or 5 robust SDs without positives)
==================  =====================================================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tdm1core.reading.plate import PlateClassification
    from tdm1core.reading.thresholds import WellClassification
    from tdm1core.settings import Settings

__all__ = ["QCFlag", "QC_CODES", "plate_qc", "REPLICATE_P"]

QC_CODES = ("LOW_DROPLETS", "NTC_POSITIVE", "SATURATED", "CLIPPED", "RAIN", "REPLICATE_DISAGREE", "DRIFT")
REPLICATE_P = 0.001
_CLIPPED_FRACTION = 0.01
_DRIFT_SHARE = 0.2


@dataclass(frozen=True)
class QCFlag:
    code: str
    message: str
    channel: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message} | ({"channel": self.channel} if self.channel else {})


def _low(c: "WellClassification", settings: "Settings") -> list[QCFlag]:
    if c.accepted < settings.min_accepted_droplets:
        return [QCFlag("LOW_DROPLETS", f"{c.accepted:,} accepted droplets, below the minimum of "
                                       f"{settings.min_accepted_droplets:,}; the well's results are less precise.")]
    return []


def _saturated_or_clipped(c: "WellClassification") -> list[QCFlag]:
    out = []
    for ch in c.channels:
        if ch.positives and not ch.negatives:
            out.append(QCFlag("SATURATED", f"{ch.channel}: no negative droplets (saturated); the concentration cannot be "
                                           "estimated. Dilute the sample.", ch.channel))
        x = c.well.channel(ch.channel)
        if len(x):
            top = int((x == x.max()).sum())
            if top > 10 and top > _CLIPPED_FRACTION * len(x):
                out.append(QCFlag("CLIPPED", f"{ch.channel}: {top:,} droplets at one identical top amplitude "
                                             f"({x.max():g}); the detector clipped them.", ch.channel))
    return out


def _rain(c: "WellClassification") -> list[QCFlag]:
    limit = c.thresholds.rain_warning_fraction
    return [QCFlag("RAIN", f"{ch.channel}: {ch.rain:,} droplets ({ch.rain / c.accepted:.1%}) between the clusters, above "
                           f"{limit:.0%}; the separation is poor.", ch.channel)
            for ch in c.channels if ch.rain is not None and c.accepted and ch.rain / c.accepted > limit]


def _drift(c: "WellClassification") -> list[QCFlag]:
    out: list[QCFlag] = []
    n = c.well.droplets
    if n < 2000:
        return out
    tenth = n // 10
    for ch in c.channels:
        x, pos = c.well.channel(ch.channel), c.positive[ch.channel]
        neg = ~pos & c.classified
        first, last = x[:tenth][neg[:tenth]], x[-tenth:][neg[-tenth:]]
        if len(first) < 100 or len(last) < 100:
            continue
        shift = float(np.median(last) - np.median(first))
        positives = x[pos & c.classified]
        if len(positives) >= 30:
            scale, what = _DRIFT_SHARE * float(np.median(positives) - np.median(x[neg])), "a fifth of the cluster distance"
        else:
            scale, what = 5 * 1.4826 * float(np.median(np.abs(x[neg] - np.median(x[neg])))), "5 robust SDs"
        if scale > 0 and abs(shift) > scale:
            out.append(QCFlag("DRIFT", f"{ch.channel}: the negative cluster moves by {shift:+.0f} across the well "
                                       f"(first vs last tenth), more than {what}.", ch.channel))
    return out


def _lob_droplets(copies: float, accepted: int, volume_nl: float) -> float:
    """A limit of blank in copies per 20 µL as positive droplets of this well (Poisson: n (1 - exp(-copies V / 20)))."""
    import math

    return accepted * (1 - math.exp(-copies * volume_nl * 1e-3 / 20))


def _ntc(c: "WellClassification", kind: str | None, lob: int, limits: dict[str, float], volume_nl: float) -> list[QCFlag]:
    """``limits``: channel -> the lab's LoB (copies per 20 µL) of the hotspot read there (the cut-off profile in force)."""
    if kind != "NTC":
        return []
    out = []
    for ch in c.channels:
        copies = limits.get(ch.channel)
        allowed = _lob_droplets(copies, ch.positives + ch.negatives, volume_nl) if copies is not None else lob
        what = f"the lab's limit of blank ({copies:g} copies/20 µL)" if copies is not None else f"the limit of blank ({lob})"
        if ch.positives > allowed:
            out.append(QCFlag("NTC_POSITIVE", f"{ch.channel}: {ch.positives:,} positive droplet(s) in a no-template "
                                              f"control or blank, above {what}; possible contamination.", ch.channel))
    return out


def _limits_by_channel(names: list[Any], settings: "Settings") -> dict[str, float]:
    """Each channel whose target is a hotspot's mutant assay, with that hotspot's LoB in the profile in force."""
    lob = dict(getattr(settings, "blank_limits", ()) or ())
    if not lob:
        return {}
    tmap = settings.target_map()
    out = {}
    for n in names:
        assay = tmap.resolve(n.target, n.label) or ""
        hotspot = assay.split()[0] if assay.endswith(" MUT") else None
        if hotspot in lob:
            out[n.channel] = float(lob[hotspot])
    return out


def _replicates(classified: "PlateClassification") -> dict[str, list[QCFlag]]:
    """Wells of one sample and target whose positive fractions differ beyond Poisson (chi-square, p < 0.001)."""
    from tdm1core.measuring.special import chi2_sf

    plate = classified.plate
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for n in plate.names:
        groups.setdefault((n.sample, n.target.strip()), []).append((n.well, n.channel))
    by_well = {c.well.well: c for c in classified.wells}
    out: dict[str, list[QCFlag]] = {}
    for (sample, target), members in groups.items():
        counts = []
        for well, channel in members:
            c = by_well.get(well)
            ch = next((x for x in c.channels if x.channel == channel), None) if c is not None else None
            if ch is not None and ch.positives + ch.negatives > 0:
                counts.append((well, ch.positives, ch.negatives))
        if len(counts) < 2:
            continue
        table = np.array([[p, q] for _, p, q in counts], dtype=float)
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
        if (expected == 0).any():
            continue
        stat = float(((table - expected) ** 2 / expected).sum())
        p = chi2_sf(stat, len(counts) - 1)
        if p < REPLICATE_P:
            wells = ", ".join(w for w, _, _ in counts)
            pooled = f"pooled by droplets: {int(table[:, 0].sum()):,} positive of {int(table.sum()):,}"
            for well, _, _ in counts:
                out.setdefault(well, []).append(QCFlag(
                    "REPLICATE_DISAGREE", f"{target} of {sample}: wells {wells} differ beyond Poisson (chi-square "
                    f"{stat:.1f}, df {len(counts) - 1}, p {p:.1e}); {pooled}."))
    return out


def plate_qc(classified: "PlateClassification", settings: "Settings", ntc_lob_droplets: int = 0) -> dict[str, tuple[QCFlag, ...]]:
    """Every well's QC findings (an empty tuple for a clean well), keyed by well."""
    from tdm1core.calling.controls import control_kind

    replicates = _replicates(classified)
    out: dict[str, tuple[QCFlag, ...]] = {}
    for c in classified.wells:
        well = c.well.well or c.well.name
        names = classified.plate.names_of(c.well.well)
        kind = next((k for n in names if (k := control_kind(n.sample, n.target_type, settings)) is not None), None)
        limits = _limits_by_channel(names, settings)
        flags = (_low(c, settings) + _ntc(c, kind, ntc_lob_droplets, limits, settings.droplet_volume_nl)
                 + _saturated_or_clipped(c) + _rain(c)
                 + replicates.get(well, []) + _drift(c))
        out[well] = tuple(flags)
    return out
