"""What a plate well is called: rows A-P, columns 1-24 (a 384-well plate holds every 96-well name), merged wells M1+.

The one pattern every reader uses (results exports, droplet file names, sample sheets): ``A00``, ``A25`` or ``Q01``
is a shifted or edited cell, never a well."""
from __future__ import annotations

import re

__all__ = ["PLATE_WELL", "is_plate_well", "is_merged_well"]

PLATE_WELL = r"[A-Pa-p](?:0?[1-9]|1[0-9]|2[0-4])"
_PLATE = re.compile(PLATE_WELL)
_MERGED = re.compile(r"M0*[1-9][0-9]{0,2}")


def is_plate_well(text: str) -> bool:
    return _PLATE.fullmatch(text) is not None


def is_merged_well(text: str) -> bool:
    return _MERGED.fullmatch(text) is not None
