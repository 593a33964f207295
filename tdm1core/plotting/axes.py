"""Axis ticks shared by the screen's figures (Plotly) and the PDF's (matplotlib), so both show the same times."""
from __future__ import annotations

import math

__all__ = ["time_axis_step"]


def time_axis_step(max_t: float) -> float:
    """Days between ticks of a time axis: 30, 60, 90, 180, 365, 730 or 1825, else a power of ten (at most ~8 ticks)."""
    for step in (30, 60, 90, 180, 365, 730, 1825):
        if max_t / step <= 8:
            return float(step)
    return float(10 ** math.ceil(math.log10(max_t / 8)))
