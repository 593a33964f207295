"""Serial ctDNA monitoring on T-DM1: each patient's samples over time, classed by a named and versioned rule set.

``monitoring rules v1`` (:data:`RULES_V1`; stamped on every output):

* **Baseline**: the latest sample collected on or before the first ``treatment_start`` with detail T-DM1 (the first
  sample when there is no such event). **Tracking hotspot**: the PIK3CA hotspot with the highest mutant
  concentration C among those detected at baseline.
* Each later sample, in this order: ``not evaluable`` (the calls' evaluability rules in force say so for a hotspot
  detected at baseline, or for the sample); ``progression (new mutation)`` (a hotspot not detected at baseline is
  detected); ``not trackable`` (nothing detected at baseline); ``cleared`` (every hotspot detected at baseline is
  not detected: below the PIK3CA cut-off in force); ``progression`` (C >= 2 × nadir and the lower 95 % limit of C
  above the upper 95 % limit at the nadir, the nadir being the lowest C among the baseline and the earlier
  evaluable samples); ``response`` (C <= 0.5 × baseline); ``stable`` otherwise. Each sample carries the rule that
  fired, in words.
* First molecular progression: the first sample classed ``progression``; first radiological progression: the first
  imaging event PD after baseline; lead time = radiological - molecular date, in days (negative when imaging came
  first; None when either is missing).
* Units: mutant copies per mL of plasma = copies per 20 µL well × eluate_ul / template_ul / plasma_ml when every
  sample of the patient has the three volumes; otherwise copies per 20 µL well. The CIs are the calls' 95 % CIs of
  the pooled droplets (:mod:`tdm1core.measuring.poisson`), scaled alike. A sample measured on several plates or in
  replicate wells is pooled by droplets, as one result.

Sources: the molecular-response categories follow the ctDNA monitoring literature the issue cites (BR.36,
Anagnostou et al., Nat Med 2023; GIM21's cPD/cSD/cPR/cCR on T-DM1; PADA-1's switch on a rising mutation). The
thresholds (2 × nadir with non-overlapping CIs, 0.5 × baseline) are this product's choice, exploratory and not
validated for clinical decisions.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple, Sequence

from tdm1core.errors import InputError
from tdm1core.panel import HOTSPOTS
from tdm1core.settings import DEFAULT_SETTINGS, Settings

if TYPE_CHECKING:
    from tdm1core.calling.calls import SampleCalls
    from tdm1core.reading.exports import DdpcrExport
    from tdm1core.stats.serial_tables import EventRow, SampleRow

__all__ = ["MonitoringCohort", "monitoring_cohort", "RULES_DESCRIPTION", "MonitoringRules", "RULES_V1", "HotspotLevel", "StoredLevels", "Timepoint", "Timeline", "calls_by_sample", "timelines",
           "CATEGORIES", "UNIT_PER_ML", "UNIT_PER_WELL"]

UNIT_PER_ML, UNIT_PER_WELL = "copies_per_ml", "copies_per_20ul_well"
RULES_DESCRIPTION = __doc__  # the rule set in words, as the Monitoring page shows it
CATEGORIES = ("before baseline", "baseline", "cleared", "response", "stable", "progression", "progression (new mutation)",
              "not evaluable", "not trackable")


@dataclass(frozen=True)
class MonitoringRules:
    name: str = "monitoring rules"
    version: int = 1
    progression_fold: float = 2.0  # C >= fold x nadir, with non-overlapping CIs
    response_fold: float = 0.5  # C <= fold x baseline

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


RULES_V1 = MonitoringRules()


_LEVEL_KEYS = ("mutant", "low", "high", "detected", "detectable_95")  # HotspotLevel's fields as JSON names them


class HotspotLevel(NamedTuple):
    """One hotspot in one sample, in the timeline's unit. An immutable named tuple rather than a frozen dataclass:
    a registry's timelines hold 180,000 of them, and a tuple is made several times faster."""

    mutant: float | None
    low: float | None
    high: float | None
    detected: bool | None  # None: not evaluable
    detectable: float | None = None  # for a "not detected": the level detected with 95 % probability, same unit

    def to_dict(self) -> dict[str, Any]:
        return dict(zip(_LEVEL_KEYS, self))


class StoredLevels(NamedTuple):
    """A stored call as the timeline reads it (Store.stored_levels): the HER2/EFTUD2 ratio and, per hotspot, the
    stored columns (mutant, ci low, ci high, call, detectable VAF, genome equivalents)."""

    her2_ratio: float | None
    levels: dict[str, tuple]


@dataclass(frozen=True)
class Timepoint:
    sample_id: str
    collection_date: str
    days_from_baseline: int
    hotspots: dict[str, HotspotLevel]
    her2_ratio: float | None
    category: str
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"sample_id": self.sample_id, "collection_date": self.collection_date,
                "days_from_baseline": self.days_from_baseline,
                "hotspots": {h: v.to_dict() for h, v in self.hotspots.items()}, "her2_ratio": self.her2_ratio,
                "category": self.category, "rule": self.rule}


@dataclass(frozen=True)
class Timeline:
    patient_id: str
    unit: str
    rules: str
    baseline_sample: str | None
    tracking_hotspot: str | None
    timepoints: tuple[Timepoint, ...]
    first_molecular_progression: str | None
    first_radiological_progression: str | None
    lead_time_days: int | None
    events: tuple[Any, ...] = ()
    warnings: tuple[str, ...] = ()
    settings: Settings = field(default=DEFAULT_SETTINGS, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"patient_id": self.patient_id, "unit": self.unit, "rules": self.rules,
                "baseline_sample": self.baseline_sample, "tracking_hotspot": self.tracking_hotspot,
                "timepoints": [t.to_dict() for t in self.timepoints],
                "first_molecular_progression": self.first_molecular_progression,
                "first_radiological_progression": self.first_radiological_progression,
                "lead_time_days": self.lead_time_days,
                "events": [{"event_date": e.event_date, "event_type": e.event_type, "detail": e.detail} for e in self.events],
                "warnings": list(self.warnings)}

    def table(self) -> Any:
        import pandas as pd

        rows = []
        for t in self.timepoints:
            row = {"sample": t.sample_id, "date": t.collection_date, "day": t.days_from_baseline}
            for h, v in t.hotspots.items():
                row[f"{h} ({self.unit})"] = v.mutant
                row[f"{h} detected"] = {True: "yes", False: "no", None: "not evaluable"}[v.detected]
            rows.append(row | {"HER2/EFTUD2": t.her2_ratio, "category": t.category, "rule": t.rule})
        return pd.DataFrame(rows)


# ------------------------------------------------------------------ the calls of each sample, pooled over plates

def _merge(parts: list[Any], volume_nl: float, level: float) -> Any:
    """One assay measured on several plates: droplets summed, the concentration and CI from the pooled counts."""
    from dataclasses import replace

    import tdm1core.measuring.poisson as poisson

    if len(parts) == 1:
        return parts[0]
    if any(p.positives is None or p.accepted_droplets is None for p in parts):
        raise InputError(f"{parts[0].assay} is measured on several plates, but one of them has no droplet counts to "
                         "pool.", column="Positives", hint="Export the droplet counts (Positives, Accepted Droplets).")
    pos, acc = sum(p.positives for p in parts), sum(p.accepted_droplets for p in parts)
    conc = poisson.concentration(pos, acc, volume_nl)
    return replace(parts[0], concentration=conc, ci=poisson.concentration_ci(pos, acc, volume_nl, level),
                   wells=tuple(w for p in parts for w in p.wells), positives=pos, accepted_droplets=acc,
                   min_well_droplets=min(p.min_well_droplets or acc for p in parts),
                   saturated=any(p.saturated for p in parts), warnings=tuple(w for p in parts for w in p.warnings))


def calls_by_sample(exports: Iterable["DdpcrExport"], settings: Settings = DEFAULT_SETTINGS) -> dict[str, "SampleCalls"]:
    """Every sample's calls, each sample pooled over all the exports that measure it (a failed plate control makes
    that plate's samples not evaluable). The exports' order changes nothing."""
    from tdm1core.calling.calls import SampleMeasurements, call_sample, measure_export, with_controls
    from tdm1core.calling.controls import check_controls

    measured: dict[str, list[Any]] = {}
    failed: dict[str, Any] = {}
    volumes: list[float] = []
    for export in sorted(exports, key=lambda e: e.sha256):
        controls = check_controls(export, settings)
        volumes.append(export.volume_nl)
        for sample, sm in measure_export(export, settings, require_reference=False).items():
            measured.setdefault(sample, []).append(sm)
            if controls.failed:
                failed[sample] = controls
    if len(set(volumes)) > 1:
        raise InputError("the exports use different droplet volumes, so their droplets cannot be pooled.",
                         column="droplet volume", hint="Export every plate from the same instrument software version.")
    out = {}
    for sample, parts in measured.items():
        assays: dict[str, list[Any]] = {}
        for sm in parts:
            for assay, m in sm.measurements.items():
                assays.setdefault(assay, []).append(m)
        merged = SampleMeasurements(sample, {a: _merge(ms, volumes[0], settings.confidence_level) for a, ms in assays.items()},
                                    ", ".join(sorted({sm.source for sm in parts})),
                                    warnings=tuple(w for sm in parts for w in sm.warnings))
        calls = call_sample(merged, settings)
        out[sample] = with_controls(calls, failed[sample]) if sample in failed else calls
    return out


# ------------------------------------------------------------------ the rules

def _stored_level(values: tuple | None, factor: float) -> HotspotLevel:
    """A hotspot from a stored call's columns: (mutant, ci low, ci high, call, detectable VAF, genome equivalents)."""
    if values is None or values[0] is None or values[3] == "not evaluable":
        return HotspotLevel(None, None, None, None)
    mutant, low, high, call, vaf, ge = values
    positive = call == "positive"
    detectable = vaf * ge * factor if not positive and vaf is not None and ge else None
    return HotspotLevel(mutant * factor, None if low is None else low * factor, None if high is None else high * factor,
                        positive, detectable)


def _sample_levels(calls: Any, factor: float) -> dict[str, HotspotLevel]:
    """Every hotspot's level in a sample: from a stored call's columns (StoredLevels), or from its calls."""
    if type(calls) is StoredLevels:
        stored = calls.levels
        return {h: _stored_level(stored.get(h), factor) for h in HOTSPOTS}
    return {h: _level(calls, h, factor) for h in HOTSPOTS}


def _level(calls: Any, hotspot: str, factor: float) -> HotspotLevel:
    """A hotspot's level in a sample from its calls (SampleCalls)."""
    from tdm1core.calling.calls import NOT_EVALUABLE, POSITIVE

    spot = next((h for h in calls.pik3ca.hotspots if h.hotspot == hotspot), None)  # three at most
    if spot is None or spot.call == NOT_EVALUABLE or spot.mutant_copies is None:
        return HotspotLevel(None, None, None, None)
    ci = spot.mutant_ci
    detectable = None
    if spot.call != POSITIVE and spot.detectable_vaf_95 is not None and spot.genome_equivalents:
        detectable = spot.detectable_vaf_95 * spot.genome_equivalents * factor
    return HotspotLevel(spot.mutant_copies * factor, None if ci is None else ci.low * factor,
                        None if ci is None else ci.high * factor, spot.call == POSITIVE, detectable)


def _baseline(samples: list["SampleRow"], events: list["EventRow"]) -> tuple[int, str]:
    starts = sorted(e.event_date for e in events if e.event_type == "treatment_start" and "t-dm1" in e.detail.lower())
    if starts:
        before = [i for i, s in enumerate(samples) if s.collection_date <= starts[0]]
        if before:
            return before[-1], f"the latest sample on or before the first T-DM1 start ({starts[0]})"
        return 0, f"no sample on or before the first T-DM1 start ({starts[0]}): the first sample"
    return 0, "no T-DM1 start in the events: the first sample"


def _classify(point: dict[str, HotspotLevel], base: dict[str, HotspotLevel], tracking: str | None,
              nadir: HotspotLevel | None, rules: MonitoringRules) -> tuple[str, str]:
    detected_base = [h for h, v in base.items() if v.detected]
    if any(point[h].detected is None for h in detected_base) or all(v.detected is None for v in point.values()):
        return "not evaluable", "a hotspot detected at baseline is not evaluable in this sample (the calls' rules in force)"
    new = [h for h, v in point.items() if v.detected and not base[h].detected]
    if new:
        return "progression (new mutation)", f"{', '.join(new)} detected, not detected at baseline"
    if tracking is None:
        return "not trackable", "no PIK3CA hotspot was detected at baseline"
    if not any(point[h].detected for h in detected_base):
        return "cleared", f"every hotspot detected at baseline ({', '.join(detected_base)}) is not detected"
    c, b = point[tracking], base[tracking]
    if nadir is not None and c.mutant is not None and nadir.mutant is not None and c.mutant >= rules.progression_fold * nadir.mutant \
            and c.low is not None and nadir.high is not None and c.low > nadir.high:
        return "progression", (f"{tracking} {c.mutant:.3g} >= {rules.progression_fold:g} × nadir {nadir.mutant:.3g}, and "
                               f"its lower 95 % limit {c.low:.3g} is above the nadir's upper limit {nadir.high:.3g}")
    if c.mutant is not None and b.mutant and c.mutant <= rules.response_fold * b.mutant:
        return "response", f"{tracking} {c.mutant:.3g} <= {rules.response_fold:g} × baseline {b.mutant:.3g}"
    return "stable", f"{tracking} {c.mutant:.3g}: neither progression nor response (baseline {b.mutant:.3g})"


def _days(a: str, b: str) -> int:
    return (dt.date.fromisoformat(a) - dt.date.fromisoformat(b)).days


def _patient_rows(patient: str, samples: Sequence["SampleRow"], events: Sequence["EventRow"],
                  calls: dict[str, "SampleCalls"]) -> tuple[list["SampleRow"], list["EventRow"], list[str]]:
    rows = sorted((s for s in samples if s.patient_id == patient), key=lambda s: (s.collection_date, s.sample_id))
    evs = sorted((e for e in events if e.patient_id == patient), key=lambda e: (e.event_date, e.event_type))
    warnings = [f"sample {s.sample_id} ({s.collection_date}) has no ddPCR result in the exports given."
                for s in rows if s.sample_id not in calls]
    return [s for s in rows if s.sample_id in calls], evs, warnings


def _unit(rows: list["SampleRow"], warnings: list[str]) -> str:
    factors = [s.per_ml_factor for s in rows]
    per_ml = bool(rows) and all(f is not None for f in factors)
    if any(f is not None for f in factors) and not per_ml:
        warnings.append("some samples lack the three volumes, so every value is in copies per 20 µL well.")
    return UNIT_PER_ML if per_ml else UNIT_PER_WELL


def _next_nadir(nadir: HotspotLevel | None, level: HotspotLevel | None, category: str) -> HotspotLevel | None:
    """The nadir after this sample: its level when lower (an evaluable sample only)."""
    if nadir is None or level is None or level.mutant is None or nadir.mutant is None or category == "not evaluable":
        return nadir
    return level if level.mutant < nadir.mutant else nadir


def _points(rows: list["SampleRow"], levels: list[dict[str, HotspotLevel]], i0: int, why: str, tracking: str | None,
            calls: dict[str, "SampleCalls"], rules: MonitoringRules) -> list[Timepoint]:
    base = levels[i0]
    nadir = base[tracking] if tracking else None
    points = []
    for i, (s, lv) in enumerate(zip(rows, levels)):
        if i < i0:
            category, rule = "before baseline", "collected before the baseline sample"
        elif i == i0:
            category, rule = "baseline", why
        else:
            category, rule = _classify(lv, base, tracking, nadir, rules)
            nadir = _next_nadir(nadir, lv[tracking] if tracking else None, category)
        c = calls[s.sample_id]
        ratio = c.her2_ratio if type(c) is StoredLevels else c.her2.ratio
        points.append(Timepoint(s.sample_id, s.collection_date, _days(s.collection_date, rows[i0].collection_date),
                                lv, ratio, category, rule))
    return points


def _progressions(points: list[Timepoint], evs: list["EventRow"], base_date: str) -> tuple[str | None, str | None, int | None]:
    molecular = next((t.collection_date for t in points
                      if t.category.startswith("progression") and t.collection_date > base_date), None)
    radiological = next((e.event_date for e in evs
                         if e.event_type == "imaging" and e.detail == "PD" and e.event_date > base_date), None)
    return molecular, radiological, (_days(radiological, molecular) if molecular and radiological else None)


def timeline(patient: str, samples: Sequence["SampleRow"], events: Sequence["EventRow"],
             calls: dict[str, "SampleCalls"], settings: Settings = DEFAULT_SETTINGS,
             rules: MonitoringRules = RULES_V1) -> Timeline:
    """One patient's timeline (samples with no calls in the exports are listed in the warnings, not guessed)."""
    rows, evs, warnings = _patient_rows(patient, samples, events, calls)
    unit = _unit(rows, warnings)
    if not rows:
        return Timeline(patient, unit, rules.label, None, None, (), None, None, None, tuple(evs), tuple(warnings), settings)
    i0, why = _baseline(rows, evs)
    per_ml = unit == UNIT_PER_ML
    levels = [_sample_levels(calls[s.sample_id], (s.per_ml_factor or 1.0) if per_ml else 1.0) for s in rows]
    found = [h for h in HOTSPOTS if levels[i0][h].detected]
    tracking = max(found, key=lambda h: levels[i0][h].mutant or 0.0) if found else None
    points = _points(rows, levels, i0, why, tracking, calls, rules)
    molecular, radiological, lead = _progressions(points, evs, rows[i0].collection_date)
    return Timeline(patient, unit, rules.label, rows[i0].sample_id, tracking, tuple(points), molecular, radiological,
                    lead, tuple(evs), tuple(warnings), settings)


def timelines(samples: Sequence["SampleRow"], events: Sequence["EventRow"], calls: dict[str, "SampleCalls"],
              settings: Settings = DEFAULT_SETTINGS, patient: str | None = None,
              rules: MonitoringRules = RULES_V1) -> list[Timeline]:
    """Every patient's timeline (or one patient's), in patient order (the rows grouped by patient once: a registry
    of 10,000 patients is not searched 10,000 times)."""
    by_patient: dict[str, list["SampleRow"]] = {}
    for s in samples:
        by_patient.setdefault(s.patient_id, []).append(s)
    events_of: dict[str, list["EventRow"]] = {}
    for e in events:
        events_of.setdefault(e.patient_id, []).append(e)
    patients = sorted(by_patient)
    if patient is not None:
        if patient not in by_patient:
            raise InputError(f"patient {patient!r} has no sample in the sample table.", column="--patient",
                             hint="Give a patient_id of the sample table.")
        patients = [patient]
    return [timeline(p, by_patient[p], events_of.get(p, []), calls, settings, rules) for p in patients]


# ------------------------------------------------------------------ the cohort of timelines

@dataclass(frozen=True)
class MonitoringCohort:
    """Across patients: the lead time of molecular over radiological progression, and Kaplan-Meier time to
    progression (imaging PD) by molecular response at a landmark."""

    patients: int
    lead_times: tuple[int, ...]  # the patients with both dates
    molecular_first: int  # of those, molecular progression before imaging (lead time > 0)
    landmark_days: int
    km: Any  # KaplanMeierResult, or None with fewer than one patient past the landmark
    landmark_rule: str
    groups: tuple[tuple[str, str], ...] = ()  # (patient, group at the landmark)

    @property
    def median_lead_time(self) -> float | None:
        import statistics

        return float(statistics.median(self.lead_times)) if self.lead_times else None

    def to_dict(self) -> dict[str, Any]:
        return {"patients": self.patients, "with_both_dates": len(self.lead_times),
                "lead_time_median": self.median_lead_time,
                "lead_time_range": [min(self.lead_times), max(self.lead_times)] if self.lead_times else None,
                "molecular_before_imaging": self.molecular_first, "landmark_days": self.landmark_days,
                "landmark_rule": self.landmark_rule, "km": None if self.km is None else self.km.to_dict()}


def _ttp(tl: Timeline) -> tuple[float, float] | None:
    """(days from the T-DM1 start to the first imaging PD, 1) or to the last imaging or sample (censored, 0)."""
    starts = sorted(e.event_date for e in tl.events if e.event_type == "treatment_start" and "t-dm1" in e.detail.lower())
    if not tl.timepoints:
        return None
    origin = starts[0] if starts else next(p.collection_date for p in tl.timepoints if p.category == "baseline")
    pd_dates = [e.event_date for e in tl.events if e.event_type == "imaging" and e.detail == "PD" and e.event_date > origin]
    if pd_dates:
        return float(_days(pd_dates[0], origin)), 1.0
    last = max([e.event_date for e in tl.events if e.event_type == "imaging"] + [p.collection_date for p in tl.timepoints])
    return float(max(_days(last, origin), 0)), 0.0


def _group_at(tl: Timeline, landmark: int) -> str | None:
    """Molecular response at the landmark: the latest evaluable sample after baseline and by the landmark day."""
    seen = [p for p in tl.timepoints if 0 < p.days_from_baseline <= landmark
            and p.category not in ("not evaluable", "before baseline", "not trackable")]
    if not seen:
        return None
    return "cleared" if seen[-1].category == "cleared" else "not cleared"


def monitoring_cohort(found: Sequence[Timeline], landmark_days: int = 56,
                      settings: Settings = DEFAULT_SETTINGS) -> MonitoringCohort:
    """Lead times and Kaplan-Meier TTP (to imaging PD) by molecular response at ``landmark_days`` (landmark rule:
    only those progression-free and followed beyond it enter, time counted from it)."""
    from tdm1core.stats.survival import LANDMARK_RULE, kaplan_meier

    leads = tuple(t.lead_time_days for t in found if t.lead_time_days is not None)
    times, events, groups, named = [], [], [], []
    for t in found:
        ttp, group = _ttp(t), _group_at(t, landmark_days)
        if ttp is None or group is None:
            continue
        times.append(ttp[0])
        events.append(ttp[1])
        groups.append(group)
        named.append((t.patient_id, group))
    km = kaplan_meier(times, events, groups, settings.km_ci_method, settings.confidence_level, landmark=landmark_days) \
        if times else None
    return MonitoringCohort(len(found), leads, sum(1 for d in leads if d > 0), landmark_days, km,
                            f"{LANDMARK_RULE}; molecular response at day {landmark_days}: the latest evaluable sample "
                            "by then (cleared, or not cleared)", tuple(named))
