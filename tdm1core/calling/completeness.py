"""Is every well of a sample there? The plate's own pattern, checked before any call.

A file cut at a row boundary, or a row deleted by hand, reads as a valid export: every remaining row is whole. What
gives it away is the plate's pattern, which a real run keeps for every sample:

* **duplex partners**: where the plate runs its assays as duplexes (HER2 with EFTUD2, a hotspot's mutant with its
  wild-type probe, in one well), a well with only one probe of its pair lost a row. QuantaSoft writes every Ch1 row before the Ch2 rows, so a cut
  file loses the reference and wild-type rows of the last wells first. This refuses the file, naming the wells.
* **replicates**: a sample with fewer wells of an assay than the plate's other samples have (a replicate lost);
* **panel**: a sample missing an assay of the panel (its PIK3CA wells lost), said with how many of the plate's
  other samples have it.

The last two are warnings on that sample (a lab may rerun one sample in fewer wells), shown with every result, which
also lists the wells it pooled.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from tdm1core.errors import DdpcrFormatError, Problem
from tdm1core.panel import COPY_NUMBER_TARGET, HOTSPOTS, REFERENCE

__all__ = ["assay_group", "partner", "check_duplex_partners", "pattern_warnings", "panel_groups", "check_plate"]


COPY_NUMBER_GROUP = f"{COPY_NUMBER_TARGET}/{REFERENCE}"


def assay_group(assay: str) -> str:
    """The duplex an assay belongs to: 'HER2/EFTUD2', or the hotspot's name."""
    return COPY_NUMBER_GROUP if assay in (COPY_NUMBER_TARGET, REFERENCE) else assay.split()[0]


def partner(assay: str) -> str:
    """The other probe of the assay's duplex."""
    if assay in (COPY_NUMBER_TARGET, REFERENCE):
        return REFERENCE if assay == COPY_NUMBER_TARGET else COPY_NUMBER_TARGET
    hotspot, kind = assay.split()
    return f"{hotspot} {'WT' if kind == 'MUT' else 'MUT'}"


def check_duplex_partners(assays_by_well: Mapping[str, set[str]], source: str) -> None:
    """Refuse a plate on which a well lost one probe of a duplex the plate otherwise runs together."""
    duplex = any(partner(a) in assays for assays in assays_by_well.values() for a in assays)
    problems = [
        Problem(f"well {well} has {a} but no {partner(a)} row, while the plate's other wells hold both probes of their "
                "duplex (a row was lost: the file may be cut off or edited).", column="Target")
        for well, assays in sorted(assays_by_well.items())
        for a in sorted(assays) if duplex and partner(a) not in assays
    ]
    if problems:
        raise DdpcrFormatError(
            f"{len(problems)} well(s) lost one probe of a duplex; no call is made from an incomplete plate.",
            source=source, column="Target", problems=problems[:20],
            hint="Export the whole plate again from QuantaSoft or QX Manager and upload the complete file.")


def panel_groups() -> tuple[str, ...]:
    return (COPY_NUMBER_GROUP,) + HOTSPOTS


def pattern_warnings(wells_by_sample: Mapping[str, Mapping[str, Sequence[str]]]) -> dict[str, tuple[str, ...]]:
    """Per sample, the warnings where its wells break the panel or the plate's pattern (``wells_by_sample``: sample
    → assay group → its wells). A replicate count is compared only on plates of three samples or more."""
    groups = Counter(g for by_group in wells_by_sample.values() for g in by_group)
    usual = {g: Counter(len(set(w[g])) for w in wells_by_sample.values() if g in w).most_common(1)[0][0] for g in groups}
    n = len(wells_by_sample)
    out: dict[str, tuple[str, ...]] = {}
    for sample, by_group in wells_by_sample.items():
        notes = []
        missing = [g for g in panel_groups() if g not in by_group]
        if missing:
            others = max((groups[g] for g in missing), default=0)
            notes.append(f"Sample {sample} has no {', '.join(missing)} wells of the panel"
                         + (f", while {others} of the plate's other {n - 1} samples have them" if others else "")
                         + ": if they were run, the file is incomplete.")
        for g in sorted(by_group):
            if n >= 3 and len(set(by_group[g])) < usual[g]:
                notes.append(f"Sample {sample} has {len(set(by_group[g]))} {g} well(s) ({', '.join(by_group[g])}), "
                             f"while the plate's samples usually have {usual[g]}: a replicate may be missing; check "
                             "that the file is complete.")
        if notes:
            out[sample] = tuple(notes)
    return out


def check_plate(grouped: Mapping[str, Mapping[str, Sequence[Any]]], source: str) -> dict[str, tuple[str, ...]]:
    """Refuse a plate whose duplex wells lost a probe; warn where a sample has fewer wells than the plate's pattern.
    ``grouped``: sample → assay → the pooled targets (each with its ``wells``) of the export being called."""
    assays_by_well: dict[str, set[str]] = {}
    wells_by_sample: dict[str, dict[str, list[str]]] = {}
    for sample, assays in grouped.items():
        for assay, parts in assays.items():
            wells = [w for p in parts for w in p.wells]
            for well in wells:
                assays_by_well.setdefault(well, set()).add(assay)
            group = wells_by_sample.setdefault(sample, {}).setdefault(assay_group(assay), [])
            group.extend(w for w in wells if w not in group)
    check_duplex_partners(assays_by_well, source)
    return pattern_warnings(wells_by_sample)
