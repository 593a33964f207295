"""Use cases of the lab's bench: droplet files classified and summarised, the normalised well table of an export.

Each checks the acting user first (:func:`tdm1core.app.workflows.acting_user`); the page and the command line call
them and only show or print what they return.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tdm1core.app.workflows import acting_user
from tdm1core.settings import Settings
from tdm1core.storage.access import Action, User

if TYPE_CHECKING:
    from tdm1core.reading.exports import DdpcrExport
    from tdm1core.reading.plate import DropletPlate, PlateClassification
    from tdm1core.reading.thresholds import DropletThresholds

__all__ = ["parse_thresholds", "is_droplet_input", "PlateView", "classify_droplets", "sample_droplet_rows",
           "WellTable", "well_table"]


def parse_thresholds(text: str | None) -> "DropletThresholds":
    """``instrument`` (default), ``auto``, or ``ch1=V,ch2=V`` (``A04:ch1=V`` for one well): an InputError otherwise."""
    from tdm1core.reading.thresholds import DropletThresholds

    return DropletThresholds.parse(text or "instrument")


def is_droplet_input(head: bytes, name: str) -> bool:
    """True for a per-droplet amplitude file, by its name (<Plate>_<Well>_Amplitude.csv) or its first line."""
    from tdm1core.reading.plate import is_droplet_file

    return is_droplet_file(head, name)


@dataclass(frozen=True)
class PlateView:
    """A plate's droplets classified with the thresholds chosen, and one summary record per well."""

    plate: "DropletPlate"
    classified: "PlateClassification"
    thresholds: "DropletThresholds"
    summary: tuple[dict[str, Any], ...]


def classify_droplets(files: "list[tuple[bytes, str]]", settings: Settings, thresholds: "DropletThresholds",
                      source: str | None = None, actor: "User | str | None" = None) -> PlateView:
    """Read a plate of droplet files and classify every well (the lab: clinicians and admins)."""
    acting_user(actor, Action.REVIEW_DROPLETS)
    from tdm1core.reading.plate import classify_plate, plate_summary, read_plate

    plate = read_plate(files, settings, source=source)
    classified = classify_plate(plate, thresholds)
    return PlateView(plate, classified, thresholds, tuple(plate_summary(classified)))


def sample_droplet_rows(classified: "PlateClassification", sample: str) -> list[dict[str, Any]]:
    """The droplets behind one sample's calls: each well and channel with its thresholds and counts."""
    from tdm1core.reading.plate import sample_droplets

    return [{"well": p.well, "channel": p.channel, "target": p.target.strip(), "thresholds": list(p.thresholds),
             "droplets": int(p.classified.sum()),
             "positives": None if p.positive is None else int((p.positive & p.classified).sum())}
            for p in sample_droplets(classified, sample)]


@dataclass(frozen=True)
class WellTable:
    """The normalised well table of an export, with what the reader found and the target map it used."""

    export: "DdpcrExport"
    target_map: tuple[str, ...]


def well_table(data: bytes, name: str, settings: Settings, actor: "User | str | None" = None) -> WellTable:
    """Read any ddPCR results export into the normalised well table (the lab: clinicians and admins)."""
    acting_user(actor, Action.REVIEW_DROPLETS)
    from tdm1core.clinical.provenance import mapped_targets
    from tdm1core.reading.exports import read_export

    export = read_export(data, name, settings)
    return WellTable(export, tuple(str(m) for m in mapped_targets(export, settings)))
