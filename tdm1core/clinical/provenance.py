"""Provenance: what a result was made from, stamped on every screen, CSV/XLSX, JSON and PDF.

A report carries exactly what the screen shows: the input file (name, SHA-256, layout), whether it is the
built-in synthetic demo or numbers typed in by hand, the droplet volume used and the target map in force
(which target name of the export was read as which assay, and by which rule).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tdm1core.reading.exports import DdpcrExport
    from tdm1core.settings import Settings

__all__ = ["Provenance", "MappedTarget", "mapped_targets", "DEMO_NOTICE", "MANUAL_NOTICE"]

DEMO_NOTICE = "SYNTHETIC DEMO DATA: not patient data"
MANUAL_NOTICE = "MANUAL ENTRY: numbers typed in by hand, no droplet QC"


@dataclass(frozen=True)
class MappedTarget:
    """One target name of an export and the assay it was read as."""

    target: str
    channel: str
    assay: str | None
    rule: str  # "lab alias", "built-in" or "not mapped"

    def __str__(self) -> str:
        where = f" ({self.channel})" if self.channel else ""
        return f"{self.target.strip()}{where} → {self.assay or 'not mapped'} [{self.rule}]"


def mapped_targets(export: "DdpcrExport", settings: "Settings") -> tuple[MappedTarget, ...]:
    """The target map in force for this export: every distinct (target, channel) and its assay."""
    from tdm1core.targets import normalise_name

    tmap = settings.target_map()
    seen: dict[tuple[str, str], MappedTarget] = {}
    w = export.wells
    for target, channel, kind in zip(w["target"], w["channel"], w["target_type"]):
        key = (str(target).strip(), str(channel))
        if key in seen:
            continue
        assay = tmap.resolve(str(target), str(channel))
        if kind == "ntc" and assay is None:
            continue
        rule = "lab alias" if normalise_name(str(target)) in tmap.aliases else ("built-in" if assay else "not mapped")
        seen[key] = MappedTarget(key[0], key[1], assay, rule)
    return tuple(seen.values())


@dataclass(frozen=True)
class Provenance:
    """Where a report's input came from, and how it was read."""

    file_name: str
    sha256: str | None
    detail: str = ""
    demo: bool = False
    manual: bool = False
    droplet_volume_nl: float | None = None
    target_map: tuple[str, ...] = field(default=())
    droplets: str | None = None  # how droplets were classified, when the calls come from droplet files
    files: tuple[tuple[str, str], ...] = ()  # (name, SHA-256) of each file read, when there were several

    @classmethod
    def manual_entry(cls) -> "Provenance":
        return cls("manual entry", None, "", manual=True)

    @property
    def notices(self) -> tuple[str, ...]:
        """The prominent notices (demo data, manual entry)."""
        return tuple(n for n, on in ((DEMO_NOTICE, self.demo), (MANUAL_NOTICE, self.manual)) if on)

    def lines(self) -> list[str]:
        """Provenance as sentence lines, for CSV comment rows, XLSX 'About' sheets and the screen."""
        out = list(self.notices)
        text = f"Input: {self.file_name}"
        if self.detail:
            text += f" ({self.detail})"
        out.append(text + ".")
        out.append(f"Input SHA-256: {self.sha256 or 'not applicable (manual entry)'}.")
        if self.droplet_volume_nl is not None:
            out.append(f"Droplet volume used: {self.droplet_volume_nl:g} nL.")
        if self.droplets:
            out.append(f"Droplet classification: {self.droplets}.")
        if self.files:
            out.append(f"Files read: {len(self.files)} (their SHA-256 are in the JSON and the audit; the input SHA-256 "
                       "above is the hash of all of them).")
        if self.target_map:
            out.append("Target map: " + "; ".join(self.target_map) + ".")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"file_name": self.file_name, "sha256": self.sha256, "format": self.detail, "demo": self.demo,
                "manual_entry": self.manual, "droplet_volume_nl": self.droplet_volume_nl,
                "target_map": list(self.target_map), "notices": list(self.notices), "droplet_classification": self.droplets,
                "files": [{"name": n, "sha256": h} for n, h in self.files]}
