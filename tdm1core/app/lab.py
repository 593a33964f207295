"""Use cases of the lab's bench: droplet files classified and summarised, the normalised well table of an export.

Each checks the acting user first (:func:`tdm1core.app.workflows.acting_user`); the page and the command line call
them and only show or print what they return.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tdm1core.app.context import acting_user
from tdm1core.errors import InputError
from tdm1core.settings import Settings
from tdm1core.storage.access import Action, User

if TYPE_CHECKING:
    import pandas as pd

    from tdm1core.app.patient import UploadAssessment
    from tdm1core.reading.exports import DdpcrExport
    from tdm1core.reading.plate import DropletPlate, PlateClassification
    from tdm1core.reading.thresholds import DropletThresholds
    from tdm1core.storage.store import Store

__all__ = ["parse_thresholds", "is_droplet_input", "PlateView", "classify_droplets", "sample_droplet_rows",
           "WellTable", "well_table", "target_map_preview", "PlateReview", "review_plate", "read_droplet_plate", "review_read_plate", "validate_limits", "save_profile", "cutoff_profiles"]


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
    from tdm1core.calling.well_qc import plate_qc
    from tdm1core.reading.plate import classify_plate, plate_summary, read_plate

    plate = read_plate(files, settings, source=source)
    classified = classify_plate(plate, thresholds)
    return PlateView(plate, classified, thresholds, tuple(plate_summary(classified, plate_qc(classified, settings))))


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


def target_map_preview(data: bytes, name: str, settings: Settings, actor: "User | str | None" = None) -> list[dict]:
    """How each target name of an export maps to an assay with ``settings`` (name, assay, rule); nothing is stored
    (any role: the target map is a setting every user may try)."""
    acting_user(actor, Action.SETTINGS)
    from tdm1core.clinical.provenance import mapped_targets
    from tdm1core.reading.exports import read_export

    return [dict(m.__dict__) for m in mapped_targets(read_export(data, name, settings), settings)]


@dataclass(frozen=True)
class PlateReview:
    """What the lab sees of a plate: its droplets classified, the calls of its samples (None, with the reason, when the
    plate names no sample or target the calls can use), and both as tables."""

    classified: "PlateClassification"
    assessment: "UploadAssessment | None"
    not_called: str | None = None
    not_in_panel: tuple[str, ...] = ()  # one sentence per sample whose targets are not the panel's
    qc: "dict[str, tuple[Any, ...]]" = field(default_factory=dict)  # well -> QC findings (tdm1core.calling.well_qc)

    def summary_frame(self) -> "pd.DataFrame":
        """One row per well: droplets, each channel's target, positives and threshold, rain, warnings."""
        import pandas as pd

        from tdm1core.reading.plate import plate_summary

        return pd.DataFrame([{
            "well": r["well"], "sample": r["sample"], "droplets": r["droplets"],
            "QC": " ".join(f["code"] for f in r.get("qc", [])) or "ok",
            **{f"{ch} target": t for ch, t in r["targets"].items()},
            **{f"{ch} positive": r["positives"].get(t, r["positives"].get(ch)) for ch, t in r["targets"].items()},
            **{f"{ch} threshold": ("instrument" if v is None else round(v, 1)) for ch, v in r["threshold"]["values"].items()},
            "rain": sum(v for v in r["rain"].values() if v) if r["rain"] else "", "warnings": " | ".join(r["warnings"]),
        } for r in plate_summary(self.classified, self.qc)])

    def calls_frame(self) -> "pd.DataFrame | None":
        """One row per sample called from these droplets (None when no sample could be called)."""
        import pandas as pd

        if self.assessment is None:
            return None
        detected = {True: "detected", False: "not detected", None: "not evaluable"}
        return pd.DataFrame([{
            "sample": x.sample, "HER2/EFTUD2 ratio": None if x.her2.ratio is None else round(x.her2.ratio, 2),
            "HER2": x.her2.call, "PIK3CA mutant": detected[x.pik3ca.any_mutant],
            "QC": "ok" if all(q.ok for q in x.qc) else "check"} for x in self.assessment.calls])


def read_droplet_plate(files: "list[tuple[bytes, str]]", settings: Settings,
                       actor: "User | str | None" = None) -> "DropletPlate":
    """A plate's droplet files read with its names (the lab: clinicians, admins); classify it with
    :func:`review_read_plate` as often as the thresholds change, without reading it again."""
    acting_user(actor, Action.REVIEW_DROPLETS)
    from tdm1core.reading.plate import read_plate

    return read_plate(files, settings)


def review_read_plate(plate: "DropletPlate", settings: Settings, thresholds: "DropletThresholds",
                      actor: "User | str | None" = None) -> PlateReview:
    """Any plate's droplets classified (every target, mapped or not), its QC, and the calls of its panel samples; a
    plate that cannot be called (no names, no panel sample, no reference wells) is still shown, with the reason."""
    acting_user(actor, Action.REVIEW_DROPLETS)
    from tdm1core.app.patient import call_droplets
    from tdm1core.calling.well_qc import plate_qc
    from tdm1core.reading.plate import classify_plate, panel_subset

    classified = classify_plate(plate, thresholds)
    _, notes = panel_subset(classified, settings)
    qc = plate_qc(classified, settings)
    try:
        return PlateReview(classified, call_droplets(classified, settings), None, notes, qc)
    except InputError as exc:
        return PlateReview(classified, None, str(exc), notes, qc)


def review_plate(files: "list[tuple[bytes, str]]", settings: Settings, thresholds: "DropletThresholds",
                 actor: "User | str | None" = None) -> PlateReview:
    """:func:`read_droplet_plate` then :func:`review_read_plate` (the lab: clinicians, admins)."""
    user = acting_user(actor, Action.REVIEW_DROPLETS)
    return review_read_plate(read_droplet_plate(files, settings, user), settings, thresholds, user)


def validate_limits(blanks: "list[tuple[bytes, str]]", settings: Settings,
                    low_positives: "list[tuple[bytes, str]] | None" = None, actor: "User | str | None" = None) -> Any:
    """LoB/LoD per PIK3CA hotspot and the HER2 ratio's spread from the lab's blank (and low-positive) exports, with
    the cut-off profile they propose (:func:`tdm1core.calling.profiles.validate`; the lab: clinicians and admins)."""
    acting_user(actor, Action.REVIEW_DROPLETS)
    from tdm1core.calling.profiles import validate

    return validate(blanks, settings, low_positives)


def save_profile(store: "Store", validation: Any, name: str, who: "User | str | None" = None) -> Any:
    """Store the validation's profile under ``name`` as its next version (admins; audited, never overwritten)."""
    user = acting_user(who, Action.DEFAULT_SETTINGS)
    return store.save_profile(validation.profile(name, created_by=user.audit_name), user)


def cutoff_profiles(store: "Store", actor: "User | str | None" = None) -> list:
    """The built-in study profile and every stored one (each name's newest version first; any role)."""
    acting_user(actor, Action.SETTINGS)
    return store.profiles()


# ------------------------------------------------------------------ released reports (tdm1core.reporting.release)

