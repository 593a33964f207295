"""The assay panel, defined once: the copy-number duplex (HER2 with its reference EFTUD2) and the PIK3CA hotspots,
with the names labs give them and their role in the flag.

Every reader of the panel takes it from here: the target map (:mod:`tdm1core.targets`), the calls, the limits of
blank, the plate controls, the store (one row per hotspot of a call), the PDF, the CSV tables, the FHIR export and
the pages. A new hotspot is one :class:`Hotspot` entry and its tests (tests/test_fourth_hotspot.py adds one).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Hotspot", "PANEL_HOTSPOTS", "HOTSPOTS", "HGVS", "GENE", "COPY_NUMBER_TARGET", "REFERENCE",
           "FLAG_ROLE", "hotspot"]

GENE = "PIK3CA"
COPY_NUMBER_TARGET = "HER2"  # ERBB2: the flag's input ("not amplified")
REFERENCE = "EFTUD2"  # the reference of the copy-number ratio and the DNA-input check


@dataclass(frozen=True)
class Hotspot:
    """One PIK3CA hotspot: its name, the HGVS protein and coding changes, and the tokens labs name its assay by."""

    name: str
    hgvs_p: str
    hgvs_c: str

    @property
    def tokens(self) -> frozenset[str]:
        c = self.hgvs_c.upper().removeprefix("C.")
        return frozenset({self.name.upper(), c, f"C{c}", f"C.{c}"})


PANEL_HOTSPOTS: tuple[Hotspot, ...] = (
    Hotspot("E542K", "p.Glu542Lys", "c.1624G>A"),
    Hotspot("E545K", "p.Glu545Lys", "c.1633G>A"),
    Hotspot("H1047R", "p.His1047Arg", "c.3140A>G"),
)
HOTSPOTS: tuple[str, ...] = tuple(h.name for h in PANEL_HOTSPOTS)
HGVS: dict[str, str] = {h.name: h.hgvs_p for h in PANEL_HOTSPOTS}

# the flag's rule reads HER2 only; the hotspots are reported beside it (tdm1core.clinical.risk)
FLAG_ROLE = {COPY_NUMBER_TARGET: "decides the flag (not amplified AND ER and/or PR positive)",
             REFERENCE: "reference and DNA-input check", **{h: "reported; not part of the flag" for h in HOTSPOTS}}


def hotspot(name: str) -> Hotspot:
    return next(h for h in PANEL_HOTSPOTS if h.name == name)
