"""HER2 and PIK3CA calls for one sample, from an export or from numbers typed in.

HER2 (ERBB2) copy number relative to EFTUD2: ratio = HER2 concentration /
EFTUD2 concentration; **amplified when ratio >= cut-off** (1.25). The ratio's
confidence interval is the delta-method combination of the two channels'
Poisson intervals (:data:`tdm1core.measuring.poisson.RATIO_CI_METHOD`); the call is
**borderline** when that interval crosses the cut-off (the call itself is
still made on the point estimate). The ratio is never read from the ``CNV``
column, which QuantaSoft scales by the reference copy number (2).

PIK3CA E542K / E545K / H1047R: mutant and wild-type copies per 20 µL well;
**positive when mutant copies >= cut-off** (3). A sample is PIK3CA-mutant
when any hotspot is positive.

A sample is evaluable only when its reference (EFTUD2) exceeds the minimum
(100 copies per 20 µL well) and every well used has at least the minimum of
accepted droplets. Where a sample has no EFTUD2 well, a PIK3CA hotspot uses
its own mutant + wild-type copies as the DNA-input check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

import tdm1core.measuring.poisson as poisson
from tdm1core.calling.controls import PlateControls, check_controls, is_control_sample
from tdm1core.reading.exports import CONTROL_KINDS, DdpcrExport, PooledTarget, pool_replicates
from tdm1core.errors import InputError, Problem, TargetMapError
from tdm1core.measuring.intervals import ConfidenceInterval
from tdm1core.settings import DEFAULT_SETTINGS, Settings, finite_normal
from tdm1core.targets import HOTSPOTS

__all__ = [
    "Measurement", "SampleMeasurements", "ManualEntry", "Her2Call", "HotspotCall", "Pik3caCall",
    "SampleCalls", "measure_export", "call_sample", "call_export", "call_manual", "calls_table", "call_row", "CALL_TABLE_COLUMNS",
    "AMPLIFIED", "NOT_AMPLIFIED", "NOT_EVALUABLE", "POSITIVE", "NEGATIVE", "HER2_PLASMA_CAVEAT", "with_controls",
]

AMPLIFIED = "amplified"
NOT_AMPLIFIED = "not amplified"
NOT_EVALUABLE = "not evaluable"
POSITIVE = "positive"
HER2_PLASMA_CAVEAT = ("HER2 not amplified in plasma can reflect low tumour DNA content: a copy-number gain needs far "
                      "more tumour DNA in the plasma to be seen than a point mutation does.")


def _pct(fraction: float | None) -> str:
    """A fraction as a percentage with two significant digits (0.0315 → '3.1 %', 0.00157 → '0.16 %')."""
    if fraction is None:
        return "NA"
    v = 100 * fraction
    return f"{v:.2g} %" if v < 10 else f"{v:.0f} %"
NEGATIVE = "negative"


def _round(x: float | None, digits: int) -> float | None:
    v = _num(x)
    return None if v is None else round(v, digits)


def _num(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return None
    return float(x)


@dataclass(frozen=True)
class Measurement:
    """One assay of one sample: droplets pooled over its wells, or a number typed in."""

    assay: str
    target: str
    concentration: float  # copies per µL of reaction
    ci: ConfidenceInterval | None = None
    wells: tuple[str, ...] = ()
    positives: int | None = None
    accepted_droplets: int | None = None
    min_well_droplets: int | None = None
    saturated: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def copies_per_20ul(self) -> float:
        return 20.0 * self.concentration


@dataclass(frozen=True)
class SampleMeasurements:
    sample: str
    measurements: dict[str, Measurement]
    source: str
    her2_ratio: float | None = None  # typed-in ratio (manual entry without concentrations)
    warnings: tuple[str, ...] = ()  # where the sample's wells break the plate's pattern (tdm1core.calling.completeness)


@dataclass(frozen=True)
class ManualEntry:
    """Numbers reported by a lab, copies per 20 µL well (concentration × 20).

    Give either ``her2_ratio`` or both ``her2_copies`` and ``eftud2_copies``;
    ``eftud2_copies`` is also used for the evaluability check. ``pik3ca`` maps
    a hotspot to (mutant copies, wild-type copies).
    """

    sample: str = "manual entry"
    her2_ratio: float | None = None
    her2_copies: float | None = None
    eftud2_copies: float | None = None
    pik3ca: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    accepted_droplets: int | None = None


@dataclass(frozen=True)
class Her2Call:
    ratio: float | None
    ci: ConfidenceInterval | None
    call: str
    borderline: bool
    reference_copies: float | None
    her2_copies: float | None
    reason: str
    cutoff: float
    wells: tuple[str, ...] = ()  # the wells pooled for HER2 and EFTUD2

    def to_dict(self) -> dict[str, Any]:
        return {
            "wells": list(self.wells),
            "ratio": _num(self.ratio),
            "ci_low": _num(self.ci.low) if self.ci else None,
            "ci_high": _num(self.ci.high) if self.ci else None,
            "ci_level": self.ci.level if self.ci else None,
            "ci_method": self.ci.method if self.ci else None,
            "call": self.call,
            "borderline": self.borderline,
            "reference_copies": _num(self.reference_copies),
            "her2_copies": _num(self.her2_copies),
            "cutoff": self.cutoff,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class HotspotCall:
    hotspot: str
    mutant_copies: float | None
    wildtype_copies: float | None
    mutant_ci: ConfidenceInterval | None  # copies per 20 µL
    allele_fraction: float | None
    call: str
    reason: str
    wells: tuple[str, ...] = ()
    genome_equivalents: float | None = None  # mutant + wild-type copies per 20 µL well
    detectable_vaf_95: float | None = None  # the smallest VAF detected with 95 % probability (tdm1core.calling.limits)
    cutoff: float = 3.0

    @property
    def result_text(self) -> str:
        """The call as a report says it: never a bare "negative" (AMP/CAP/ASCO: detected / not detected / not
        evaluable, with what the test could have seen)."""
        if self.call == POSITIVE:
            vaf = f", VAF {_pct(self.allele_fraction)}" if self.allele_fraction is not None else ""
            return f"detected ({self.mutant_copies:.1f} mutant copies{vaf})"
        if self.call == NEGATIVE:
            if self.detectable_vaf_95 is None:
                return "not detected (detection limit unknown: no wild-type copies measured)"
            return f"not detected (95 % detection at ≥ {_pct(self.detectable_vaf_95)} VAF)"
        return "not evaluable"

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result_text,
            "genome_equivalents": _num(self.genome_equivalents),
            "detectable_vaf_95": _num(self.detectable_vaf_95),
            "mutant_copies": _num(self.mutant_copies),
            "wildtype_copies": _num(self.wildtype_copies),
            "mutant_ci_low": _num(self.mutant_ci.low) if self.mutant_ci else None,
            "mutant_ci_high": _num(self.mutant_ci.high) if self.mutant_ci else None,
            "allele_fraction": _num(self.allele_fraction),
            "call": self.call,
            "reason": self.reason,
            "wells": list(self.wells),
        }


@dataclass(frozen=True)
class Pik3caCall:
    hotspots: tuple[HotspotCall, ...]
    any_mutant: bool | None
    cutoff: float

    def hotspot(self, name: str) -> HotspotCall:
        return next(h for h in self.hotspots if h.hotspot == name)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {h.hotspot: h.to_dict() for h in self.hotspots}
        d["any_mutant"] = self.any_mutant
        d["cutoff"] = self.cutoff
        return d


@dataclass(frozen=True)
class QcRow:
    assay: str
    target: str
    wells: str
    accepted_droplets: int | None
    min_well_droplets: int | None
    positives: int | None
    copies_per_20ul: float | None
    ok: bool
    warnings: str


@dataclass(frozen=True)
class SampleCalls:
    sample: str
    her2: Her2Call
    pik3ca: Pik3caCall
    qc: tuple[QcRow, ...]
    warnings: tuple[str, ...]
    settings: Settings
    source: str
    controls: PlateControls | None = None  # the plate's control wells (None: numbers typed in, no plate)

    def pik3ca_table(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame([{
            "hotspot": h.hotspot, "result": h.result_text, "mutant copies/20 µL": _round(h.mutant_copies, 1),
            "wild-type copies/20 µL": _round(h.wildtype_copies, 0),
            "mutant allele fraction %": None if h.allele_fraction is None else round(100 * h.allele_fraction, 2),
            "genome equivalents": _round(h.genome_equivalents, 0),
            "95 % detectable VAF %": None if h.detectable_vaf_95 is None else round(100 * h.detectable_vaf_95, 2),
            "call": h.call, "reason": h.reason, "wells": ", ".join(h.wells),
        } for h in self.pik3ca.hotspots])

    @property
    def caveats(self) -> tuple[str, ...]:
        """What this result can and cannot say (tumour content, sensitivity), for the screen, JSON and PDF."""
        out = []
        if self.her2.call == NOT_AMPLIFIED:
            out.append(HER2_PLASMA_CAVEAT)
        detected = [h for h in self.pik3ca.hotspots if h.call == POSITIVE and h.allele_fraction is not None]
        if detected:
            top = max(detected, key=lambda h: h.allele_fraction or 0.0)
            out.append(f"Tumour DNA is at least {_pct(top.allele_fraction)} of the plasma DNA analysed (the {top.hotspot} "
                       "mutant allele fraction, a lower bound of the tumour content).")
        else:
            out.append("Tumour DNA content is unknown: no PIK3CA mutation was detected to estimate it.")
        limit = self.settings.max_detectable_vaf
        weak = [h for h in self.pik3ca.hotspots if h.call == NEGATIVE and h.detectable_vaf_95 is not None
                and h.detectable_vaf_95 > limit]
        if weak:
            out.append("Input DNA limits sensitivity: " + "; ".join(
                f"{h.hotspot} could be missed below {_pct(h.detectable_vaf_95)} VAF ({h.genome_equivalents:.0f} genome "
                "equivalents)" for h in weak) + f" (the warning is set at a detectable VAF above {_pct(limit)}).")
        return tuple(out)

    def qc_table(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame([{
            "assay": q.assay, "target": q.target, "wells": q.wells, "accepted droplets": q.accepted_droplets,
            "fewest droplets in a well": q.min_well_droplets, "positive droplets": q.positives,
            "copies/20 µL": _round(q.copies_per_20ul, 1), "QC": "ok" if q.ok else "check", "warnings": q.warnings,
        } for q in self.qc])

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample,
            "source": self.source,
            "her2": self.her2.to_dict(),
            "pik3ca": self.pik3ca.to_dict(),
            "qc": [q.__dict__ | {"copies_per_20ul": _num(q.copies_per_20ul)} for q in self.qc],
            "settings": self.settings.to_dict(),
            "warnings": list(self.warnings),
            "caveats": list(self.caveats),
            "limit_profile": self.settings.cutoff_profile,
            "controls": (self.controls or PlateControls("none")).to_dict(),
        }


CALL_TABLE_COLUMNS = ("sample", "her2_ratio", "her2_call", "her2_borderline", "pik3ca_any_mutant",
                      *(f"{h} {kind}" for h in HOTSPOTS for kind in ("MUT", "WT")))


def call_row(c: "SampleCalls") -> dict[str, Any]:
    """One sample's row of :func:`calls_table`."""
    row: dict[str, Any] = {"sample": c.sample, "her2_ratio": _num(c.her2.ratio), "her2_call": c.her2.call,
                           "her2_borderline": c.her2.borderline, "pik3ca_any_mutant": c.pik3ca.any_mutant}
    for h in c.pik3ca.hotspots:
        row[f"{h.hotspot} MUT"] = _num(h.mutant_copies)
        row[f"{h.hotspot} WT"] = _num(h.wildtype_copies)
    return row


def calls_table(sample_calls: "Any") -> "pd.DataFrame":
    """What a cohort needs of each sample's calls, one row per sample (:data:`CALL_TABLE_COLUMNS`; copies per 20 µL).

    The stored calls are read back in this shape, so a cohort view never has to parse a file again. A table already
    in this shape is returned as it is."""
    import pandas as pd

    if isinstance(sample_calls, pd.DataFrame):
        return sample_calls
    rows = [call_row(c) for c in sample_calls]
    return pd.DataFrame(rows, columns=list(CALL_TABLE_COLUMNS))


# ---------------------------------------------------------------- measurements

def _combine(parts: list[PooledTarget], assay: str, volume_nl: float, settings: Settings) -> Measurement:
    pos = sum(p.positives for p in parts)
    acc = sum(p.accepted_droplets for p in parts)
    saturated = any(p.saturated for p in parts)
    total = sum(p.accepted_droplets for p in parts)
    if len({p.volume_nl for p in parts}) == 1:
        volume_nl = parts[0].volume_nl
    elif total:
        volume_nl = sum(p.volume_nl * p.accepted_droplets for p in parts) / total
    conc = math.nan if saturated else poisson.concentration(pos, acc, volume_nl)
    ci = poisson.concentration_ci(pos, acc, volume_nl, settings.confidence_level)
    if saturated:
        ci = ConfidenceInterval(ci.low, math.inf, ci.level, ci.method)
    return Measurement(
        assay=assay, target=" + ".join(dict.fromkeys(p.target for p in parts)), concentration=conc, ci=ci,
        wells=tuple(w for p in parts for w in p.wells), positives=pos, accepted_droplets=acc,
        min_well_droplets=min(p.min_well_droplets for p in parts), saturated=saturated,
        warnings=tuple(w for p in parts for w in p.warnings),
    )


def measure_export(export: DdpcrExport, settings: Settings = DEFAULT_SETTINGS,
                   require_reference: bool = True) -> dict[str, SampleMeasurements]:
    """Map every target of an export to an assay and pool replicate wells per sample (``require_reference=False``
    for blanks and no-template controls of a mutation assay, which are run without the copy-number duplex).

    Raises
    ------
    TargetMapError
        Naming the targets that cannot be mapped, and the accepted names.
    DdpcrFormatError
        When the export has no reference (EFTUD2) wells.
    """
    tmap = settings.target_map()
    pooled = pool_replicates(export, settings)
    unknown: dict[str, None] = {}
    grouped: dict[str, dict[str, list[PooledTarget]]] = {}
    used_by_well: dict[tuple[str, str], PooledTarget] = {}
    duplicates: list[Problem] = []
    for p in pooled:
        if p.target_type in CONTROL_KINDS or p.no_data or is_control_sample(p.sample, settings):
            continue
        assay = tmap.resolve(p.target, p.channel)
        if assay is None:
            unknown[repr(p.target)] = None
            continue
        for well in p.wells:
            other = used_by_well.get((well, assay))
            if other is not None and other is not p:
                duplicates.append(Problem(f"well {well} has two targets read as {assay}: '{other.target}' and '{p.target}' "
                                          f"(samples '{other.sample}' and '{p.sample}').", column="Target"))
            used_by_well[(well, assay)] = p
        grouped.setdefault(p.sample, {}).setdefault(assay, []).append(p)
    if duplicates:
        raise TargetMapError(
            "the same well has one assay twice under different target names; it cannot be told which is right.",
            source=export.name, column="Target", problems=duplicates[:20],
            hint="Export one plate per file, and check the target names and the target map on the Settings page.")
    if unknown:
        raise TargetMapError(
            f"target(s) {', '.join(unknown)} cannot be mapped to the study's assays (accepted names: {tmap.accepted_names()}).",
            source=export.name, column="Target",
            hint="Rename the targets in QuantaSoft / QX Manager, or add your names to the target map on the Settings page.",
        )
    if require_reference and not any("EFTUD2" in assays for assays in grouped.values()):
        raise TargetMapError(
            "the export has no reference (EFTUD2) wells, so no sample can be evaluated.",
            source=export.name, column="Target",
            hint="Include the HER2/EFTUD2 duplex wells in the export, or map your reference target's name to EFTUD2 in the target map.",
        )
    from tdm1core.calling.completeness import check_plate

    pattern = check_plate(grouped, export.name)
    return {
        sample: SampleMeasurements(
            sample=sample,
            measurements={assay: _combine(parts, assay, export.volume_nl, settings) for assay, parts in assays.items()},
            source=export.name, warnings=pattern.get(sample, ()),
        )
        for sample, assays in grouped.items()
    }


def _manual_measurement(assay: str, copies: float | None, name: str) -> Measurement | None:
    if copies is None:
        return None
    if isinstance(copies, bool) or not isinstance(copies, (int, float)) or not math.isfinite(copies) or copies < 0:
        raise InputError(f"{name} must be a number of copies, 0 or more, but was {copies!r}.", source="manual entry", column=name,
                         hint="Type copies per 20 µL well as reported by QuantaSoft / QX Manager.")
    return Measurement(assay=assay, target="manual", concentration=float(copies) / 20.0)


def measure_manual(entry: ManualEntry) -> SampleMeasurements:
    m: dict[str, Measurement] = {}
    for assay, copies, name in (("HER2", entry.her2_copies, "HER2 copies"), ("EFTUD2", entry.eftud2_copies, "EFTUD2 copies")):
        meas = _manual_measurement(assay, copies, name)
        if meas:
            m[assay] = meas
    for hotspot, (mut, wt) in entry.pik3ca.items():
        if hotspot not in HOTSPOTS:
            raise InputError(f"unknown PIK3CA hotspot {hotspot!r}; use {', '.join(HOTSPOTS)}.", source="manual entry")
        for kind, copies in (("MUT", mut), ("WT", wt)):
            meas = _manual_measurement(f"{hotspot} {kind}", copies, f"PIK3CA {hotspot} {kind.lower()} copies")
            if meas:
                m[f"{hotspot} {kind}"] = meas
    ratio = entry.her2_ratio
    if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or ratio < 0):
        raise InputError(f"the HER2/EFTUD2 ratio must be a number, 0 or more, but was {ratio!r}.", source="manual entry", column="HER2 ratio")
    _check_agreement(ratio, m.get("HER2"), m.get("EFTUD2"))
    return SampleMeasurements(sample=entry.sample, measurements=m, source="manual entry", her2_ratio=ratio)


def _check_agreement(ratio: float | None, her2: Measurement | None, ref: Measurement | None) -> None:
    """A typed ratio and typed copies must say the same thing (to the ratio's rounding); if not, neither is used."""
    if ratio is None or her2 is None or ref is None or not ref.concentration > 0:
        return
    computed = her2.concentration / ref.concentration
    if abs(ratio - computed) > 0.005 + 0.005 * computed:
        raise InputError(
            f"the HER2/EFTUD2 ratio typed ({ratio:g}) disagrees with the copies typed (HER2 {her2.copies_per_20ul:g} / "
            f"EFTUD2 {ref.copies_per_20ul:g} = {computed:.2f}); it cannot be told which is right.", source="manual entry",
            column="HER2 ratio", hint="Clear the ratio or the copies, or correct the one that is wrong.")


# ---------------------------------------------------------------- calls

def non_finite(values: dict[str, float | None]) -> str | None:
    """The one rule before any comparison with a cut-off: every number that goes into it is finite and not denormal
    (NaN compares false, so it would silently fall on the "below" side). Returns the not-evaluable reason, or None."""
    bad = [f"{name} {value!r}" for name, value in values.items() if value is not None and not finite_normal(value)]
    if not bad:
        return None
    return ("not a finite number: " + ", ".join(bad) + " (check the droplet volume setting and the inputs; no call is "
            "made from a number that is not finite)")


def _numbers_of(*measurements: Measurement | None) -> dict[str, float | None]:
    """Every number of these measurements that a call is computed from (concentration and CI limits)."""
    out: dict[str, float | None] = {}
    for m in measurements:
        if m is None or m.saturated:
            continue
        out[f"{m.assay} concentration"] = m.concentration  # a denormal stays odd even when x20 makes it normal
        out[f"{m.assay} copies"] = m.copies_per_20ul
        if m.ci is not None:
            out[f"{m.assay} CI low"], out[f"{m.assay} CI high"] = m.ci.low, m.ci.high
    return out


def _droplet_problem(m: Measurement, settings: Settings) -> str | None:
    if m.saturated:
        return f"{m.assay} well {', '.join(m.wells)} is saturated (no negative droplets)"
    if m.min_well_droplets is not None and m.min_well_droplets < settings.min_accepted_droplets:
        return (f"{m.assay} well {', '.join(m.wells)} has {m.min_well_droplets:,} accepted droplets "
                f"(minimum {settings.min_accepted_droplets:,})")
    return None


def _her2_problem(her2: Measurement | None, ref: Measurement | None, ref_copies: float | None,
                  settings: Settings) -> str | None:
    """Why the wells cannot give a ratio (droplets, a number that is not finite, too little DNA), else None."""
    problems = [p for p in (_droplet_problem(m, settings) for m in (her2, ref) if m) if p]
    if problems:
        return "; ".join(problems)
    broken = non_finite(_numbers_of(her2, ref))
    if broken:
        return broken
    if ref is not None and ref_copies is not None and not ref_copies > settings.reference_min_copies:
        return (f"reference EFTUD2 is {ref_copies:.1f} copies per 20 µL well, not above the minimum of "
                f"{settings.reference_min_copies:g}: too little DNA to evaluate")
    return None


def _her2_ratio(sm: SampleMeasurements, her2: Measurement | None, ref: Measurement | None,
                settings: Settings) -> tuple[float, ConfidenceInterval | None] | str:
    """The ratio and its CI from the wells (or the typed ratio), or why there is none."""
    if her2 is not None and ref is not None:
        if not (her2.ci and ref.ci):
            return her2.concentration / ref.concentration, None
        ratio, ci = poisson.ratio_ci(her2.concentration, her2.ci, ref.concentration, ref.ci, settings.confidence_level)
        return ratio, ci if ci is not None and ci.defined else None
    if sm.her2_ratio is not None:
        return float(sm.her2_ratio), None
    if her2 is None and ref is None:
        return "no HER2/EFTUD2 well and no ratio given"
    return "the HER2 well is missing" if her2 is None else "the EFTUD2 reference well is missing"


def _her2_reason(ratio: float, ci: ConfidenceInterval | None, cut: float, borderline: bool,
                 her2: Measurement | None, ref: Measurement | None) -> str:
    op = ">=" if ratio >= cut else "<"
    reason = f"HER2/EFTUD2 ratio {ratio:.2f} {op} cut-off {cut:g}"
    if ci is not None:
        reason += f" ({ci.level:.0%} CI {ci.low:.2f}–{ci.high:.2f}"
        reason += ", crosses the cut-off: borderline)" if borderline else ")"
    if ref is None:
        reason += "; EFTUD2 copies not given, so the reference minimum was not checked"
    elif her2 is not None and set(her2.wells) == set(ref.wells) and any("nL droplets in" in w for w in her2.warnings):
        reason += "; the droplet volume the export implies does not change this ratio (both targets share the well)"
    return reason


def call_her2(sm: SampleMeasurements, settings: Settings = DEFAULT_SETTINGS) -> Her2Call:
    """HER2 amplified when the HER2/EFTUD2 ratio is at or above the cut-off; not evaluable with the reason when the
    wells cannot say (checked in this order: droplets, finite numbers, DNA input, wells present, a finite ratio)."""
    cut = settings.her2_ratio_cutoff
    her2, ref = sm.measurements.get("HER2"), sm.measurements.get("EFTUD2")
    ref_copies = ref.copies_per_20ul if ref and not ref.saturated else None
    her2_copies = her2.copies_per_20ul if her2 and not her2.saturated else None
    wells = tuple(dict.fromkeys((her2.wells if her2 else ()) + (ref.wells if ref else ())))

    def not_evaluable(reason: str) -> Her2Call:
        return Her2Call(None, None, NOT_EVALUABLE, False, ref_copies, her2_copies, reason, cut, wells)

    problem = _her2_problem(her2, ref, ref_copies, settings)
    if problem:
        return not_evaluable(problem)
    found = _her2_ratio(sm, her2, ref, settings)
    if isinstance(found, str):
        return not_evaluable(found)
    ratio, ci = found
    broken = non_finite({"HER2/EFTUD2 ratio": ratio, **({"ratio CI low": ci.low, "ratio CI high": ci.high} if ci else {})})
    if broken:
        return not_evaluable(broken)
    borderline = bool(ci is not None and ci.low < cut <= ci.high)
    return Her2Call(ratio, ci, AMPLIFIED if ratio >= cut else NOT_AMPLIFIED, borderline, ref_copies, her2_copies,
                    _her2_reason(ratio, ci, cut, borderline, her2, ref), cut, wells)


def _dna_input_problem(mut_copies: float, wt_copies: float | None, ref_copies: float | None, cut: float,
                       minimum: float) -> str | None:
    """A hotspot's DNA input: EFTUD2 above the minimum, else its own mutant + wild-type copies; an absent mutation
    with no measured input is not a negative (a mutation seen is seen)."""
    if ref_copies is not None:
        return None if ref_copies > minimum else f"reference EFTUD2 {ref_copies:.1f} copies, not above {minimum:g}"
    if wt_copies is not None:
        total = wt_copies + mut_copies
        return None if total > minimum else f"only {total:.1f} copies of PIK3CA DNA, not above {minimum:g}"
    if mut_copies < cut:
        return ("the DNA input was not measured (no reference EFTUD2 and no wild-type copies for this hotspot), so an "
                "absent mutation cannot be told from absent DNA")
    return None


def _hotspot_problem(sm: SampleMeasurements, mut: Measurement | None, wt: Measurement | None,
                     mut_copies: float | None, wt_copies: float | None, settings: Settings) -> str | None:
    """Why a hotspot cannot be called (in this order: wells, droplets, finite numbers, copies, DNA input), else None."""
    if mut is None:
        return "no well for this hotspot" if wt is None else "the mutant probe is missing"
    problems = [p for p in (_droplet_problem(m, settings) for m in (mut, wt) if m) if p]
    if problems:
        return "; ".join(problems)
    ref = sm.measurements.get("EFTUD2")
    ref_copies = ref.copies_per_20ul if ref is not None and not ref.saturated else None
    broken = non_finite(_numbers_of(mut, wt, ref if ref_copies is not None else None))
    if broken:
        return broken
    if mut_copies is None:
        return "the mutant copies could not be computed"
    return _dna_input_problem(mut_copies, wt_copies, ref_copies, settings.pik3ca_mutant_cutoff_copies,
                              settings.reference_min_copies)


def call_hotspot(sm: SampleMeasurements, hotspot: str, settings: Settings = DEFAULT_SETTINGS) -> HotspotCall:
    """A hotspot positive at or above the mutant cut-off, negative below it with a measured DNA input, else not
    evaluable with the reason; with its allele fraction, genome equivalents and 95 % detectable allele fraction."""
    from tdm1core.calling.limits import detectable_vaf

    cut = settings.pik3ca_mutant_cutoff_copies
    mut, wt = sm.measurements.get(f"{hotspot} MUT"), sm.measurements.get(f"{hotspot} WT")
    mut_copies = mut.copies_per_20ul if mut and not mut.saturated else None
    wt_copies = wt.copies_per_20ul if wt and not wt.saturated else None
    wells = tuple(dict.fromkeys((mut.wells if mut else ()) + (wt.wells if wt else ())))
    mut_ci = None
    if mut is not None and mut.ci is not None:
        mut_ci = ConfidenceInterval(20 * mut.ci.low, 20 * mut.ci.high, mut.ci.level, mut.ci.method)
    ge = mut_copies + wt_copies if mut_copies is not None and wt_copies is not None else None
    af = mut_copies / ge if mut_copies is not None and ge is not None and ge > 0 else None

    def result(call: str, reason: str) -> HotspotCall:
        return HotspotCall(hotspot, mut_copies, wt_copies, mut_ci, af, call, reason, wells, ge,
                           detectable_vaf(ge, cut, 0.95) if call != NOT_EVALUABLE else None, cut)

    problem = _hotspot_problem(sm, mut, wt, mut_copies, wt_copies, settings)
    if problem or mut_copies is None:  # (None copies are a problem: the second test is for the type checker)
        return result(NOT_EVALUABLE, problem or "the mutant copies could not be computed")
    if mut_copies >= cut:
        return result(POSITIVE, f"{mut_copies:.1f} mutant copies >= cut-off {cut:g}")
    return result(NEGATIVE, f"{mut_copies:.1f} mutant copies < cut-off {cut:g}")


def call_pik3ca(sm: SampleMeasurements, settings: Settings = DEFAULT_SETTINGS) -> Pik3caCall:
    hotspots = tuple(call_hotspot(sm, h, settings) for h in HOTSPOTS)
    calls = [h.call for h in hotspots]
    if POSITIVE in calls:
        any_mutant: bool | None = True
    elif all(c == NEGATIVE for c in calls):
        any_mutant = False
    else:
        any_mutant = None
    return Pik3caCall(hotspots, any_mutant, settings.pik3ca_mutant_cutoff_copies)


def _qc(sm: SampleMeasurements, settings: Settings) -> tuple[QcRow, ...]:
    rows = []
    for assay, m in sm.measurements.items():
        problem = _droplet_problem(m, settings)
        rows.append(QcRow(
            assay=assay, target=m.target, wells=", ".join(m.wells) or "manual", accepted_droplets=m.accepted_droplets,
            min_well_droplets=m.min_well_droplets, positives=m.positives,
            copies_per_20ul=None if m.saturated else m.copies_per_20ul, ok=problem is None and not m.warnings,
            warnings="; ".join(([problem] if problem else []) + list(m.warnings)),
        ))
    return tuple(rows)


def call_sample(sm: SampleMeasurements, settings: Settings = DEFAULT_SETTINGS) -> SampleCalls:
    """HER2 and PIK3CA calls and QC for one sample."""
    qc = _qc(sm, settings)
    warnings: list[str] = []
    for assay, m in sm.measurements.items():  # each warning stays one whole sentence
        problem = _droplet_problem(m, settings)
        if problem:
            warnings.append(f"{assay}: {problem[0].upper() + problem[1:]}.")
        warnings.extend(f"{assay}: {w}" for w in m.warnings)
    warnings.extend(sm.warnings)
    warnings = list(dict.fromkeys(warnings))
    return SampleCalls(sm.sample, call_her2(sm, settings), call_pik3ca(sm, settings), qc, tuple(warnings), settings, sm.source)


def call_export(export: DdpcrExport, settings: Settings = DEFAULT_SETTINGS) -> list[SampleCalls]:
    """Calls for every sample of an export, in plate order, with the plate's controls checked
    (:mod:`tdm1core.calling.controls`): a failed control makes every call of the plate not evaluable, with the reason."""
    controls = check_controls(export, settings)
    return [with_controls(call_sample(sm, settings), controls) for sm in measure_export(export, settings).values()]


def with_controls(calls: SampleCalls, controls: PlateControls) -> SampleCalls:
    """The calls with the plate's controls attached; when a control failed, every call is not evaluable."""
    from dataclasses import replace

    if not controls.failed:
        return replace(calls, controls=controls)
    why = "plate control failed: " + "; ".join(controls.reasons)
    her2 = replace(calls.her2, call=NOT_EVALUABLE, borderline=False, reason=why)
    spots = tuple(replace(h, call=NOT_EVALUABLE, reason=why, detectable_vaf_95=None) for h in calls.pik3ca.hotspots)
    pik = replace(calls.pik3ca, hotspots=spots, any_mutant=None)
    return replace(calls, her2=her2, pik3ca=pik, controls=controls,
                   warnings=(f"Plate control failed, so no result of this plate is evaluable: {'; '.join(controls.reasons)}.",)
                   + calls.warnings)


def call_manual(entry: ManualEntry, settings: Settings = DEFAULT_SETTINGS) -> SampleCalls:
    return call_sample(measure_manual(entry), settings)
