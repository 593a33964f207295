"""Settings: every cut-off of the study as one typed, validated value.

Pass a :class:`Settings` to every call; each result carries the settings it
was made with, and every screen, CSV, JSON and PDF stamps them.
"""
from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from tdm1core.errors import SettingsError

if TYPE_CHECKING:
    from tdm1core.targets import TargetMap

__all__ = ["Settings", "PLAUSIBLE_RANGES", "settings_changes", "CI_METHODS", "CONCENTRATION_SOURCES", "DEFAULT_SETTINGS", "STUDY_PROFILE", "STUDY_CUTOFFS"]

STUDY_PROFILE = "study (Table 3 cut-offs) v1"
STUDY_CUTOFFS = (1.25, 3.0, 100.0)  # HER2 ratio, PIK3CA mutant copies, EFTUD2 reference minimum

CI_METHODS = ("log-log", "log", "plain")

# The one table of plausible physical ranges of every numeric setting (closed intervals; the page's inputs use it
# too). A value outside it, a non-finite or a denormal number is refused with the range and the reason in the message:
# a setting can never turn a sample's numbers into NaN or infinity that would then fall on one side of a cut-off.
PLAUSIBLE_RANGES: dict[str, tuple[float, float, str]] = {
    "her2_ratio_cutoff": (0.5, 10.0, "a HER2/EFTUD2 ratio cut-off (study: 1.25)"),
    "pik3ca_mutant_cutoff_copies": (0.1, 1000.0, "mutant copies per 20 µL well (study: 3)"),
    "reference_min_copies": (1.0, 1e6, "EFTUD2 copies per 20 µL well (study: 100)"),
    "min_accepted_droplets": (0, 100_000, "accepted droplets per well (a 20 µL well holds about 20,000)"),
    "droplet_volume_nl": (0.3, 2.0, "a droplet volume in nL (Bio-Rad: 0.85, older QuantaSoft 0.91)"),
    "legacy_droplet_volume_nl": (0.3, 2.0, "a droplet volume in nL (older QuantaSoft: 0.91)"),
    "confidence_level": (0.5, 0.999, "a confidence level (0.95)"),
    "max_detectable_vaf": (0.0001, 0.5, "a mutant allele fraction (0.01 = 1 %)"),
}
_WHOLE_NUMBERS = ("min_accepted_droplets",)


# Settings that only the cohort's statistics and the patient table's dates read: stored calls are not keyed by them
# (tests/test_store.py proves a call made under any value of them is the same call).
NOT_READ_BY_CALLS = ("km_ci_method", "date_order")


def _short_hash(data: dict[str, Any]) -> str:
    """sha256 of the sorted-key JSON, first 16 hex digits (frozen: migrations 0003 and 0008 compute the same)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def finite_normal(value: float) -> bool:
    """The one rule for a number that may decide anything: finite, and zero or not denormal."""
    try:
        return math.isfinite(value) and (value == 0 or abs(value) >= sys.float_info.min)
    except OverflowError:  # an int too large for a float
        return False


def _check_range(name: str, value: Any, low: float, high: float, why: str) -> None:
    """One named check, one error: a finite, normal number within the setting's plausible range."""
    whole = name in _WHOLE_NUMBERS
    number = not isinstance(value, bool) and isinstance(value, (int,) if whole else (int, float))
    if number and finite_normal(value) and low <= value <= high:
        return
    kind = "a whole number" if whole else "a number"
    raise SettingsError(f"'{name}' must be {kind} from {low:,g} to {high:,g} ({why}), but was {value!r}.",
                        column=name, hint="Correct it on the Settings page or in the command line option.")
CONCENTRATION_SOURCES = ("recomputed", "exported")


@dataclass(frozen=True)
class Settings:
    """Cut-offs and methods, with the study's defaults.

    Parameters
    ----------
    her2_ratio_cutoff
        HER2/EFTUD2 concentration ratio at or above which HER2 is amplified (study: 1.25).
    pik3ca_mutant_cutoff_copies
        Mutant copies per 20 µL well at or above which a PIK3CA hotspot is positive (study: 3).
    reference_min_copies
        The reference (EFTUD2) must exceed this many copies per 20 µL well for the
        sample to be evaluable (study: 100).
    min_accepted_droplets
        Minimum accepted droplets per well (common practice: 10,000).
    droplet_volume_nl
        Droplet volume in nL for QuantaSoft 1.7.x and QX Manager exports (Bio-Rad: 0.85).
    legacy_droplet_volume_nl
        Droplet volume in nL for the older QuantaSoft layout (``TypeAssay``/``Assay``): 0.91.
    confidence_level
        Level of every confidence interval (0.95).
    concentration_source
        "recomputed" (default): concentrations from the droplet counts at the droplet volume set; "exported": where an
        export's concentrations imply a per-well droplet volume (0.70-0.95 nL, as some instruments size droplets),
        use that volume, so the numbers are the instrument's own.
    date_order
        None (default): patient tables must use ISO dates (YYYY-MM-DD) or Excel date cells; "DMY" or "MDY": also read
        DD/MM/YYYY (or DD.MM.YYYY) or MM/DD/YYYY, the same way for every row.
    target_aliases
        The lab's own target names, as (name, assay) pairs, checked before the
        built-in aliases (see :mod:`tdm1core.targets`).
    km_ci_method
        Confidence interval of the Kaplan-Meier curve and median: "log-log" (EZR, the
        study), "log" (R's default) or "plain".
    max_detectable_vaf
        A "not detected" whose 95 % detectable mutant allele fraction is above this (a fraction; 0.01 = 1 %) is
        flagged "input DNA limits sensitivity" (:mod:`tdm1core.calling.limits`).
    ntc_pattern, negative_control_pattern, positive_control_pattern
        The lab's naming rule for control wells (regular expressions on the sample name, case-insensitive; empty:
        only the export's own sample types), see :mod:`tdm1core.calling.controls`.
    blank_limits
        The limit of blank per PIK3CA hotspot that plate controls are checked against (from the cut-off profile).
    cutoff_profile, profile_cutoffs
        The named, versioned cut-off profile the three cut-offs come from (built in: the study's) and that profile's
        own (HER2, PIK3CA, EFTUD2) values. When the cut-offs in force differ from the profile's, the profile is
        stamped as ``custom (edited from …)``, so a hand-changed cut-off never carries a profile's name.
    """

    her2_ratio_cutoff: float = 1.25
    pik3ca_mutant_cutoff_copies: float = 3.0
    reference_min_copies: float = 100.0
    min_accepted_droplets: int = 10_000
    droplet_volume_nl: float = 0.85
    legacy_droplet_volume_nl: float = 0.91
    confidence_level: float = 0.95
    km_ci_method: str = "log-log"
    concentration_source: str = "recomputed"
    date_order: str | None = None
    target_aliases: tuple[tuple[str, str], ...] = ()
    max_detectable_vaf: float = 0.01
    cutoff_profile: str = STUDY_PROFILE
    profile_cutoffs: tuple[float, float, float] | None = STUDY_CUTOFFS
    blank_limits: tuple[tuple[str, float], ...] = ()  # (hotspot, LoB copies/20 µL) from the profile; none: 0
    ntc_pattern: str = r"^\s*(NTC|no[ _-]?template|water|H2O)\b"
    negative_control_pattern: str = r"^\s*(neg(ative)?[ _-]?(ctrl|control)|wild[ _-]?type[ _-]?(ctrl|control))\b"
    positive_control_pattern: str = r"^\s*pos(itive)?[ _-]?(ctrl|control)\b"

    def __post_init__(self) -> None:
        for name, (low, high, why) in PLAUSIBLE_RANGES.items():
            _check_range(name, getattr(self, name), low, high, why)
        if self.km_ci_method not in CI_METHODS:
            raise SettingsError(
                f"'km_ci_method' must be one of {', '.join(CI_METHODS)}, but was {self.km_ci_method!r}.",
                column="km_ci_method",
            )
        if self.concentration_source not in CONCENTRATION_SOURCES:
            raise SettingsError(
                f"'concentration_source' must be one of {', '.join(CONCENTRATION_SOURCES)}, but was {self.concentration_source!r}.",
                column="concentration_source",
            )
        if self.date_order not in (None, "DMY", "MDY"):
            raise SettingsError(f"'date_order' must be DMY, MDY or unset, but was {self.date_order!r}.", column="date_order")
        if not isinstance(self.cutoff_profile, str) or not self.cutoff_profile.strip() or len(self.cutoff_profile) > 200:
            raise SettingsError(f"'cutoff_profile' must be a profile name of 1-200 characters, but was {self.cutoff_profile!r}.",
                                column="cutoff_profile")
        in_force = (float(self.her2_ratio_cutoff), float(self.pik3ca_mutant_cutoff_copies), float(self.reference_min_copies))
        if self.profile_cutoffs is not None:
            recorded = tuple(float(x) for x in self.profile_cutoffs)
            object.__setattr__(self, "profile_cutoffs", recorded)
            if recorded != in_force:  # a cut-off changed by hand: the profile's name no longer describes it
                object.__setattr__(self, "cutoff_profile", f"custom (edited from {self.cutoff_profile})")
                object.__setattr__(self, "profile_cutoffs", None)
        object.__setattr__(self, "target_aliases", tuple((str(a), str(b)) for a, b in self.target_aliases))
        import re

        for name in ("ntc_pattern", "negative_control_pattern", "positive_control_pattern"):
            pattern = getattr(self, name)
            try:
                if not isinstance(pattern, str) or len(pattern) > 300:
                    raise re.error("not a short text")
                re.compile(pattern)
            except re.error as exc:
                raise SettingsError(f"'{name}' is not a usable regular expression ({exc}).", column=name,
                                    hint="Write a Python regular expression, e.g. ^NTC, or leave it empty.") from None
        object.__setattr__(self, "blank_limits", tuple((str(h), float(v)) for h, v in self.blank_limits))
        for hotspot, limit in self.blank_limits:
            _check_range(f"blank_limits[{hotspot}]", limit, 0.0, 1000.0, "a limit of blank in copies per 20 µL well")
        from tdm1core.targets import TargetMap

        TargetMap(self.target_aliases)  # validates the assay names

    def target_map(self) -> "TargetMap":
        from tdm1core.targets import TargetMap

        return TargetMap(self.target_aliases)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_aliases"] = {a: b for a, b in self.target_aliases}
        return data

    def fingerprint(self) -> str:
        """A short hash of every setting and the target map, stamped on outputs (and the key of stored statistics)."""
        return _short_hash(self.to_dict())

    def calls_fingerprint(self) -> str:
        """A short hash of the settings the calls read (all but :data:`NOT_READ_BY_CALLS`) and the target map: the key
        of stored calls, so changing the Kaplan-Meier CI method or the date order never re-reads a stored file."""
        return _short_hash({k: v for k, v in self.to_dict().items() if k not in NOT_READ_BY_CALLS})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Settings":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; known settings are {', '.join(sorted(known))}.")
        data = dict(data)
        if "target_aliases" in data:
            aliases = data["target_aliases"]
            if isinstance(aliases, dict):
                aliases = list(aliases.items())
            data["target_aliases"] = tuple(tuple(pair) for pair in aliases)
        if isinstance(data.get("blank_limits"), dict):
            data["blank_limits"] = tuple(data["blank_limits"].items())
        elif data.get("blank_limits") is not None:
            data["blank_limits"] = tuple(tuple(x) for x in data["blank_limits"])
        if data.get("profile_cutoffs") is not None:
            data["profile_cutoffs"] = tuple(data["profile_cutoffs"])
        if "cutoff_profile" not in data:  # stored before profiles existed: the study's, or custom when edited
            data.setdefault("profile_cutoffs", STUDY_CUTOFFS)
        return cls(**data)

    def describe(self) -> str:
        """One line for stamping on every output."""
        return (
            f"HER2/EFTUD2 ratio cut-off {self.her2_ratio_cutoff:g} (amplified when >=); "
            f"PIK3CA mutant cut-off {self.pik3ca_mutant_cutoff_copies:g} copies/20 µL (positive when >=); "
            f"EFTUD2 reference > {self.reference_min_copies:g} copies/20 µL; "
            f"min {self.min_accepted_droplets:,} accepted droplets/well; "
            f"droplet volume {self.droplet_volume_nl:g} nL (older QuantaSoft {self.legacy_droplet_volume_nl:g} nL); "
            f"{self.confidence_level:.0%} CIs; KM CI method {self.km_ci_method}; cut-off profile {self.cutoff_profile}"
            + ("" if self.concentration_source == "recomputed" else "; concentrations as exported (per-well droplet volumes)")
            + ("; lab target aliases " + ", ".join(f"{a} → {b}" for a, b in self.target_aliases) if self.target_aliases else "")
        )


DEFAULT_SETTINGS = Settings()


def settings_changes(old: Settings, new: Settings) -> list[str]:
    """What changes from ``old`` to ``new``, one 'name: old → new' line per setting (for a confirmation)."""
    a, b = old.to_dict(), new.to_dict()
    return [f"{name}: {a[name]!r} → {b[name]!r}" for name in b if a.get(name) != b[name]]
