"""The target map: from the names a lab types in QuantaSoft / QX Manager to the study's assays.

Assays (keys): ``HER2``, ``EFTUD2`` (reference), and for each PIK3CA hotspot
``E542K``, ``E545K``, ``H1047R`` a mutant probe (``<hotspot> MUT``, FAM) and a
wild-type probe (``<hotspot> WT``, HEX).

A name is matched in this order:

1. the lab's own aliases (``Settings.target_aliases``, editable on the Settings page);
2. the built-in rules on the name's words, case and punctuation ignored:
   ``HER2``/``ERBB2``/``NEU`` -> HER2; ``EFTUD2`` -> EFTUD2; a hotspot
   (``E545K``, ``p.E545K``, ``c.1633G>A``) with ``MUT``/``MT``/``MUTANT`` or
   ``WT``/``WILD TYPE``; a hotspot alone takes its probe from the channel
   (FAM / Ch1 = mutant, HEX or VIC / Ch2 = wild type).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ASSAYS", "HOTSPOTS", "TargetMap", "normalise_name", "check_alias_rows"]

from tdm1core.panel import HOTSPOTS, PANEL_HOTSPOTS

ASSAYS = ("HER2", "EFTUD2") + tuple(f"{h} {kind}" for h in HOTSPOTS for kind in ("MUT", "WT"))

_HOTSPOT_TOKENS = {h.name: set(h.tokens) for h in PANEL_HOTSPOTS}
_MUTANT = {"MUT", "MT", "MUTANT", "MUTATION", "M", "ALT"}
_WILDTYPE = {"WT", "WILD", "WILDTYPE", "W", "NORMAL"}
_HER2 = {"HER2", "ERBB2", "NEU", "HER2/NEU", "ERBB-2", "HER-2"}
_EFTUD2 = {"EFTUD2", "EFTUD-2"}

EXAMPLES = (
    "HER2 or ERBB2",
    "EFTUD2",
    "PIK3CA E542K MUT / PIK3CA E542K WT",
    "E545K MUT / E545K WT",
    "H1047R (FAM channel = mutant, HEX/VIC = wild type)",
)


def check_alias_rows(rows: Iterable[tuple[str | None, str | None]]) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """The (alias, assay) pairs of an alias form, and a message for every row that cannot be used.

    A blank row is skipped; a row with only one of the two filled, an unknown assay, or an alias given twice (as the
    target map reads names: case and separators ignored) is a problem, never silently dropped."""
    pairs: list[tuple[str, str]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, (alias, assay) in enumerate(rows, start=1):
        a = (alias or "").strip()
        b = (assay or "").strip()
        if not a and not b:
            continue
        if not a:
            problems.append(f"Row {i}: an assay ({b}) is chosen but the target name is blank; type the name or clear the row.")
            continue
        if not b:
            problems.append(f"Row {i}: the target name {a!r} has no assay; choose one or clear the row.")
            continue
        if normalise_name(b) not in ASSAYS:
            problems.append(f"Row {i}: {b!r} is not an assay; use one of {', '.join(ASSAYS)}.")
            continue
        key = normalise_name(a)
        if key in seen:
            problems.append(f"Row {i}: the target name {a!r} is already mapped in row {seen[key]}.")
            continue
        seen[key] = i
        pairs.append((a, normalise_name(b)))
    return tuple(pairs), problems


def normalise_name(name: str) -> str:
    """Upper case, stray spaces removed, separators folded to one space."""
    text = str(name).strip().upper()
    text = re.sub(r"\bP\.", "", text)
    text = re.sub(r"[\s_\-:/|,]+", " ", text)
    return text.strip()


def _tokens(name: str) -> list[str]:
    return normalise_name(name).replace("(", " ").replace(")", " ").split()


class TargetMap:
    """Resolve target names to assays (see module docstring)."""

    def __init__(self, aliases: Iterable[tuple[str, str]] | dict[str, str] = ()) -> None:
        items = aliases.items() if isinstance(aliases, dict) else aliases
        self.aliases: dict[str, str] = {}
        for alias, assay in items:
            assay_key = normalise_name(assay)
            if assay_key not in ASSAYS:
                from tdm1core.errors import SettingsError

                raise SettingsError(
                    f"target alias {alias!r} points to {assay!r}, which is not an assay; use one of {', '.join(ASSAYS)}.",
                    column="target_aliases",
                )
            key = normalise_name(alias)
            if self.aliases.get(key, assay_key) != assay_key:
                from tdm1core.errors import SettingsError

                raise SettingsError(
                    f"target alias {alias!r} is mapped twice, to {self.aliases[key]} and to {assay_key}; a name can "
                    "mean one assay only.", column="target_aliases", hint="Keep one mapping for the name.")
            self.aliases[key] = assay_key

    def resolve(self, name: str, channel: str | None = None) -> str | None:
        """The assay for a target name, or ``None`` when it cannot be mapped.

        ``channel`` is ``"FAM"``/``"Ch1"`` or ``"HEX"``/``"VIC"``/``"Ch2"`` where known.
        """
        key = normalise_name(name)
        if key in self.aliases:
            return self.aliases[key]
        tokens = set(_tokens(name))
        if tokens & _HER2 and not tokens & _EFTUD2:
            return "HER2"
        if tokens & _EFTUD2 and not tokens & _HER2:
            return "EFTUD2"
        hotspots = [h for h, forms in _HOTSPOT_TOKENS.items() if tokens & forms]
        if len(hotspots) != 1:
            return None
        hotspot = hotspots[0]
        if tokens & _MUTANT and not tokens & _WILDTYPE:
            return f"{hotspot} MUT"
        if tokens & _WILDTYPE and not tokens & _MUTANT:
            return f"{hotspot} WT"
        ch = (channel or "").upper()
        if ch in {"FAM", "CH1", "1"}:
            return f"{hotspot} MUT"
        if ch in {"HEX", "VIC", "CH2", "2"}:
            return f"{hotspot} WT"
        return None

    @staticmethod
    def accepted_names() -> str:
        return "; ".join(EXAMPLES)
