"""The Bio-Rad results-export layouts, one record each (``shared/docs/ddpcr_formats.md``).

A record says how to recognise the layout (the exact header names it must have, and may or may not have), where each
canonical field is, how channels and well kinds are read, and which droplet volume applies. The reader
(:mod:`tdm1core.reading.exports`) knows no layout by name: a new Bio-Rad layout, or another vendor's well-level table
in the same shape, is one record in :data:`LAYOUTS` plus its fixture and tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = ["ExportLayout", "LAYOUTS", "layout_of", "known_layouts", "AMPLITUDE_HEADERS", "FORMAT_QS17",
           "FORMAT_QS_OLD", "FORMAT_QXM", "FORMAT_QXM_REDUCED", "FORMAT_QSAP"]

FORMAT_QS17 = "QuantaSoft 1.7.x"
FORMAT_QS_OLD = "QuantaSoft (older layout)"
FORMAT_QXM = "QX Manager"
FORMAT_QXM_REDUCED = "QX Manager (reduced column set)"
FORMAT_QSAP = "QuantaSoft Analysis Pro"

_CONC_UL = r"Conc\(copies/(µ|u|\u03bc)L\)"  # QX Manager and QuantaSoft Analysis Pro spell the micro sign three ways


@dataclass(frozen=True)
class ExportLayout:
    """One results-export layout.

    ``required``: header names it must have (exact names, never substrings); ``any_of``: at least one of these too
    (empty: no such condition); ``conc_pattern``: a regular expression the concentration column's name must match
    (it then replaces ``columns['conc']``); ``columns``: canonical field -> header name; ``channel_from``: ``"dye"``
    (DyeName(s) and SampleType, QX Manager / Analysis Pro) or ``"target_type"`` (``Ch1Unknown``, ``Ch2NTC``, ...);
    ``legacy_volume``: 0.91 nL droplets (``Settings.legacy_droplet_volume_nl``); ``volume_nl``: a partition volume
    fixed by the instrument (another vendor's chips), which then replaces the setting; ``short_rows``: data rows may have
    one field fewer than the header; ``described``: how the refusal message names it."""

    name: str
    required: frozenset[str]
    columns: dict[str, str]
    described: str
    any_of: frozenset[str] = frozenset()
    conc_pattern: str | None = None
    channel_from: str = "target_type"
    legacy_volume: bool = False
    volume_nl: float | None = None
    short_rows: bool = False

    def droplet_volume(self, settings_volume_nl: float, legacy_volume_nl: float) -> float:
        """The droplet (partition) volume this layout's counts are computed with, in nL."""
        if self.volume_nl is not None:
            return self.volume_nl
        return legacy_volume_nl if self.legacy_volume else settings_volume_nl

    def matches(self, header: list[str]) -> "ExportLayout | None":
        """This layout with its concentration column resolved, when the header is this layout's; else None."""
        names = set(header)
        if not self.required <= names or (self.any_of and not self.any_of & names):
            return None
        if self.conc_pattern is None:
            return self
        conc = next((h for h in header if re.fullmatch(self.conc_pattern, h)), None)
        if conc is None:
            return None
        return replace(self, columns={**self.columns, "conc": conc})


_COMMON = {"well": "Well", "status": "Status", "positives": "Positives", "merged": "MergedWells"}
_QS = {**_COMMON, "sample": "Sample", "conc": "Concentration", "negatives": "Negatives", "accepted": "AcceptedDroplets"}
_QXM = {**_COMMON, "target": "Target", "target_type": "TargetType", "negatives": "Negatives",
        "accepted": "Accepted Droplets", "dye": "DyeName(s)", "sample_type": "SampleType", "conc": "Conc(copies/µL)"}
_QXM_REQUIRED = frozenset({"Well", "Sample description 1", "Target", "Accepted Droplets", "Positives", "Negatives"})

# in the order they are tried: the first whose names the header has is the file's layout
LAYOUTS: tuple[ExportLayout, ...] = (
    ExportLayout(FORMAT_QS17, frozenset({"Well", "TargetType", "Target", "Concentration", "CopiesPer20uLWell",
                                         "AcceptedDroplets"}),
                 {**_QS, "target": "Target", "target_type": "TargetType"},
                 "QuantaSoft 1.7.x 'Well,ExptType,Experiment,Sample,TargetType,Target,Status,Concentration,...'"),
    ExportLayout(FORMAT_QS_OLD, frozenset({"Well", "TypeAssay", "Assay", "Concentration", "AcceptedDroplets"}),
                 {**_QS, "target": "Assay", "target_type": "TypeAssay"}, "older QuantaSoft '...,TypeAssay,Assay,...'",
                 legacy_volume=True, short_rows=True),
    ExportLayout(FORMAT_QXM, _QXM_REQUIRED, {**_QXM, "sample": "Sample description 1"},
                 "QX Manager 'Well,Sample description 1,...,Target,Conc(copies/µL),...' (73 or 81 columns, CSV or .xlsx)",
                 any_of=frozenset({"Copies/20µLWell", "PoissonConfMax"}), conc_pattern=_CONC_UL, channel_from="dye"),
    ExportLayout(FORMAT_QXM_REDUCED, _QXM_REQUIRED, {**_QXM, "sample": "Sample description 1"},
                 "QX Manager's reduced 16-column ';' set", conc_pattern=_CONC_UL, channel_from="dye"),
    ExportLayout(FORMAT_QSAP, frozenset({"Well", "Sample", "Target", "Accepted Droplets", "Positives", "Negatives"}),
                 {**_QXM, "sample": "Sample"}, "QuantaSoft Analysis Pro 'Well,Sample,Target,Conc(copies/µL),...'",
                 conc_pattern=_CONC_UL, channel_from="dye"),
)

# per-droplet amplitude files (one per well), named in the refusal when one is given as a results export
AMPLITUDE_HEADERS = ({"Ch1 Amplitude", "Ch2 Amplitude"}, {"Assay1 Amplitude", "Assay2 Amplitude"},
                     {"Ch1Amplitude", "Ch2Amplitude"})


def layout_of(header: list[str]) -> ExportLayout | None:
    """The layout named by the exact header names (the first record of :data:`LAYOUTS` that matches), else None."""
    return next((found for layout in LAYOUTS if (found := layout.matches(header)) is not None), None)


def known_layouts() -> str:
    """The layouts this program reads, for the message that refuses any other."""
    return "; ".join(layout.described for layout in LAYOUTS)
