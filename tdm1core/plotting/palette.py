"""One palette for the screen (Plotly) and the PDF (matplotlib, reportlab): Okabe-Ito colours, readable without colour
(each flag also has an icon and words)."""
from __future__ import annotations

from tdm1core.clinical.risk import AT_RISK, INCOMPLETE, NOT_FLAGGED

__all__ = ["PALETTE", "GROUP_COLOURS", "FLAG_STYLE", "GREY", "RESISTANT", "NOT_RESISTANT"]

GREY = "#595959"
RESISTANT = "#D55E00"
NOT_RESISTANT = "#0072B2"
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000", "#F0E442"]
FLAG_STYLE = {  # status -> (icon, colour, background)
    AT_RISK: ("⚠", "#D55E00", "#FBE3D6"),
    NOT_FLAGGED: ("✓", "#0072B2", "#DCEBF6"),
    INCOMPLETE: ("?", GREY, "#EDEDED"),
}
GROUP_COLOURS = {status: colour for status, (_, colour, _) in FLAG_STYLE.items()}
