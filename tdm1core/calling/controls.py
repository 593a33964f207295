"""Plate controls: no-template controls (NTC), negative controls (wild-type DNA) and positive controls.

A control well is recognised from the export (QuantaSoft's ``TargetType`` ``Ch1NTC``/``Ch1Negative Control``/
``Ch1Positive Control``, QX Manager's ``SampleType`` ``NTC``/``NegCtrl``/``PosCtrl``) or from the lab's naming rule
(settings ``ntc_pattern``, ``negative_control_pattern``, ``positive_control_pattern``: regular expressions on the
sample name, case-insensitive). Control wells are never called as patient samples.

The checks (dMIQE 2020; the cut-off profile's limits of blank, :mod:`tdm1core.calling.limits`):
- an NTC fails when any target has more copies per 20 µL than its limit of blank (the profile's LoB for a PIK3CA
  mutant assay, 0 for every other target: an NTC holds no DNA);
- a negative control fails when a PIK3CA mutant assay has more copies than its LoB;
- a positive control fails when a PIK3CA mutant assay is below the cut-off (it must be called positive): the hotspots
  its name names (e.g. "Pos ctrl E545K"), or, when it names none, every mutant assay it was run in.
A failed control marks every result of the plate "not evaluable: plate control failed", with the reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tdm1core.reading.exports import DdpcrExport
    from tdm1core.settings import Settings

__all__ = ["ControlWell", "PlateControls", "control_kind", "check_controls", "is_control_sample"]

NTC, NEGATIVE, POSITIVE, UNSPECIFIED = "NTC", "negative control", "positive control", "control (type not given)"


def _match(pattern: str, sample: str) -> bool:
    return bool(pattern) and re.search(pattern, sample or "", re.IGNORECASE) is not None


def control_kind(sample: str, export_kind: str, settings: "Settings") -> str | None:
    """NTC, negative control, positive control, an unspecified control, or None for a sample."""
    if export_kind == "ntc" or _match(settings.ntc_pattern, sample):
        return NTC
    if export_kind in (NEGATIVE, POSITIVE):
        return export_kind
    if _match(settings.negative_control_pattern, sample):
        return NEGATIVE
    if _match(settings.positive_control_pattern, sample):
        return POSITIVE
    if export_kind == "control":
        low = (sample or "").lower()
        return POSITIVE if "pos" in low else NEGATIVE if "neg" in low else UNSPECIFIED
    return None


def _expected(sample: str, assay: str | None) -> bool:
    """Whether a positive control should be positive in this mutant assay: when its name names hotspots (e.g.
    "Pos ctrl E545K"), only in those; otherwise in every mutant assay it was run in."""
    from tdm1core.panel import HOTSPOTS

    named = [h for h in HOTSPOTS if h.lower() in (sample or "").lower()]
    return not named or (assay or "").split()[0] in named


def is_control_sample(sample: str, settings: "Settings") -> bool:
    """True when the lab's naming rule makes this sample a control (never called as a patient sample)."""
    return control_kind(sample, "unknown", settings) is not None


@dataclass(frozen=True)
class ControlWell:
    well: str
    sample: str
    kind: str
    target: str
    assay: str | None
    positives: int | None
    copies_per_20ul: float | None
    problem: str | None = None


@dataclass(frozen=True)
class PlateControls:
    """The plate's control wells and whether they passed: "passed", "failed" or "none" (no control on the plate)."""

    status: str
    reasons: tuple[str, ...] = ()
    wells: tuple[ControlWell, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def describe(self) -> str:
        if self.status == "none":
            return "no control wells on this plate (none could be checked)"
        kinds = sorted({w.kind for w in self.wells})
        if self.status == "passed":
            return f"passed ({len({w.well for w in self.wells})} control well(s): {', '.join(kinds)})"
        return "failed: " + "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reasons": list(self.reasons), "summary": self.describe(),
                "wells": [{"well": w.well, "sample": w.sample, "kind": w.kind, "target": w.target, "assay": w.assay,
                           "positives": w.positives, "copies_per_20ul": w.copies_per_20ul, "problem": w.problem}
                          for w in self.wells]}


def check_controls(export: "DdpcrExport", settings: "Settings") -> PlateControls:
    """Check every control well of the export against the profile's limits of blank and the cut-off."""
    tmap = settings.target_map()
    lob = dict(settings.blank_limits)
    cut = settings.pik3ca_mutant_cutoff_copies
    wells: list[ControlWell] = []
    reasons: list[str] = []
    for row in export.wells.itertuples(index=False):
        kind = control_kind(str(row.sample), str(row.target_type), settings)
        if kind is None:
            continue
        assay = tmap.resolve(str(row.target), str(row.channel))
        copies = None if row.copies_per_20ul is None or row.copies_per_20ul != row.copies_per_20ul else float(row.copies_per_20ul)
        positives = None if row.positives is None or row.positives != row.positives else int(row.positives)
        problem = None
        mutant = assay is not None and assay.endswith(" MUT")
        limit = lob.get(assay.split()[0], 0.0) if mutant and assay else 0.0
        if copies is not None and kind == NTC and copies > limit:
            problem = (f"NTC {row.well} ({row.sample}) {row.target}: {copies:.2f} copies/20 µL ({positives} positive "
                       f"droplet(s)), above the limit of blank {limit:g}")
        elif copies is not None and kind == NEGATIVE and mutant and copies > limit:
            problem = (f"negative control {row.well} ({row.sample}) {row.target}: {copies:.2f} mutant copies/20 µL, "
                       f"above the limit of blank {limit:g}")
        elif kind == POSITIVE and mutant and _expected(str(row.sample), assay) and (copies is None or copies < cut):
            shown = "no result" if copies is None else f"{copies:.2f} mutant copies/20 µL"
            problem = (f"positive control {row.well} ({row.sample}) {row.target}: {shown}, below the cut-off {cut:g} "
                       "it must reach")
        wells.append(ControlWell(str(row.well), str(row.sample), kind, str(row.target), assay, positives, copies, problem))
        if problem:
            reasons.append(problem)
    if not wells:
        return PlateControls("none")
    return PlateControls("failed" if reasons else "passed", tuple(dict.fromkeys(reasons)), tuple(wells))
