"""Cut-off profiles: the lab's own, named and versioned cut-offs with the evidence they were derived from.

A profile holds the three cut-offs (HER2/EFTUD2 ratio, PIK3CA mutant copies, EFTUD2 reference minimum), its name and
version ("Lab X PIK3CA v2"), who made it and when, the SHA-256 of every evidence file and the computation (the LoB/LoD
per hotspot and the HER2 support, :mod:`tdm1core.calling.limits`). Profiles are stored (never overwritten: saving a name again
makes the next version), audited, chosen on the Settings page, and stamped by name and version on every call, report
and export made with them (:attr:`tdm1core.settings.Settings.cutoff_profile`). The built-in profile is the study's.

:func:`validate` derives the evidence from blank (and optional low-positive) exports:
- PIK3CA: per hotspot, the LoB (both EP17-A2 methods) and the LoD; the proposed cut-off is the largest LoD over the
  three hotspots rounded up to a whole copy (with every blank zero: the Poisson limit 2.996, so 3 copies, the study's).
- HER2: the ratio in the blank (non-amplified) samples, mean, SD and 99th percentile, as support for the cut-off in
  force (kept: a HER2 cut-off needs amplified samples to be set, which blanks do not give).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterator

from tdm1core.errors import InputError
from tdm1core.settings import STUDY_CUTOFFS, STUDY_PROFILE, Settings

if TYPE_CHECKING:
    from tdm1core.calling.limits import Her2Support, LimitOfBlank, LimitOfDetection

__all__ = ["CutoffProfile", "STUDY", "apply_profile", "LimitsValidation", "validate"]

from tdm1core.panel import HOTSPOTS  # noqa: E402  (the panel's one definition: a hotspot is never skipped here)


@dataclass(frozen=True)
class CutoffProfile:
    name: str
    version: int
    her2_ratio_cutoff: float
    pik3ca_mutant_cutoff_copies: float
    reference_min_copies: float
    created_at: str = ""
    created_by: str = ""
    evidence: tuple[tuple[str, str], ...] = ()  # (file name, SHA-256)
    computation: dict = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def cutoffs(self) -> tuple[float, float, float]:
        return (float(self.her2_ratio_cutoff), float(self.pik3ca_mutant_cutoff_copies), float(self.reference_min_copies))

    def describe(self) -> str:
        made = f", from {len(self.evidence)} file(s) on {self.created_at[:10]}" if self.evidence else ""
        return (f"{self.label}{made}: HER2 ratio ≥ {self.her2_ratio_cutoff:g}, PIK3CA ≥ "
                f"{self.pik3ca_mutant_cutoff_copies:g} copies, EFTUD2 > {self.reference_min_copies:g}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "her2_ratio_cutoff": self.her2_ratio_cutoff,
                "pik3ca_mutant_cutoff_copies": self.pik3ca_mutant_cutoff_copies,
                "reference_min_copies": self.reference_min_copies, "created_at": self.created_at,
                "created_by": self.created_by, "evidence": [list(e) for e in self.evidence],
                "computation": self.computation}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CutoffProfile":
        return cls(str(data["name"]), int(data["version"]), float(data["her2_ratio_cutoff"]),
                   float(data["pik3ca_mutant_cutoff_copies"]), float(data["reference_min_copies"]),
                   str(data.get("created_at", "")), str(data.get("created_by", "")),
                   tuple((str(a), str(b)) for a, b in data.get("evidence", ())), dict(data.get("computation", {})))


STUDY = CutoffProfile(STUDY_PROFILE.rsplit(" v", 1)[0], 1, *STUDY_CUTOFFS, created_at="2026-12-01",
                      created_by="the study", computation={
                          "PIK3CA": "background noise in plasma ctDNA from 10 healthy volunteers was exactly zero, so "
                                    "3 copies per 20 µL well (the study's Methods)",
                          "HER2": "ratio ≥ 1.25 from earlier work (the study's Methods)",
                          "EFTUD2": "evaluable when the reference exceeds 100 copies"})
assert STUDY.label == STUDY_PROFILE


def apply_profile(settings: Settings, profile: CutoffProfile) -> Settings:
    """The settings with the profile's three cut-offs, stamped with its name and version."""
    her2, pik, ref = profile.cutoffs
    lob = tuple((str(x["hotspot"]), float(x["nonparametric"])) for x in profile.computation.get("lob", ())
                if isinstance(x, dict) and "hotspot" in x)
    return replace(settings, her2_ratio_cutoff=her2, pik3ca_mutant_cutoff_copies=pik, reference_min_copies=ref,
                   cutoff_profile=profile.label, profile_cutoffs=profile.cutoffs, blank_limits=lob)


@dataclass(frozen=True)
class LimitsValidation:
    """The evidence from the lab's blank wells (and low positives), and the profile it proposes."""

    lob: tuple["LimitOfBlank", ...]
    lod: tuple["LimitOfDetection", ...]
    her2: "Her2Support | None"
    proposed_pik3ca_cutoff: float
    her2_ratio_cutoff: float
    reference_min_copies: float
    blank_samples: int
    files: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()

    def profile(self, name: str, version: int = 0, created_by: str = "") -> CutoffProfile:
        return CutoffProfile(name.strip(), version, self.her2_ratio_cutoff, self.proposed_pik3ca_cutoff,
                             self.reference_min_copies, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                             created_by, self.files, self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {"method": "CLSI EP17-A2 (LoB non-parametric and parametric; LoD from low positives or Poisson)",
                "blank_samples": self.blank_samples, "files": [list(f) for f in self.files],
                "lob": [x.to_dict() for x in self.lob], "lod": [x.to_dict() for x in self.lod],
                "her2": self.her2.to_dict() if self.her2 else None,
                "proposed_pik3ca_cutoff": self.proposed_pik3ca_cutoff, "her2_ratio_cutoff": self.her2_ratio_cutoff,
                "reference_min_copies": self.reference_min_copies, "notes": list(self.notes)}

    def table(self) -> list[dict[str, Any]]:
        rows = []
        for lob, lod in zip(self.lob, self.lod):
            rows.append({"hotspot": lob.hotspot, "blank wells": lob.n, "LoB non-parametric": lob.nonparametric,
                         "LoB parametric": lob.parametric, "all blanks zero": lob.all_zero,
                         "false-positive copies/20 µL (95 % upper)": lob.upper_copies_per_well,
                         "LoD copies/20 µL": lod.lod, "LoD method": lod.method})
        return rows


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class _Blanks:
    """What the blank samples measured, per hotspot: copies, and droplets and positives where every well has them."""

    copies: dict[str, list[float]] = field(default_factory=lambda: {h: [] for h in HOTSPOTS})
    droplets: dict[str, list[int]] = field(default_factory=lambda: {h: [] for h in HOTSPOTS})
    positives: dict[str, list[int]] = field(default_factory=lambda: {h: [] for h in HOTSPOTS})
    ratios: list[float] = field(default_factory=list)
    samples: int = 0

    def add(self, measured: Any, ratio: float | None) -> None:
        """One blank sample: its mutant measurements (no reference needed) and, where the sample has the
        HER2/EFTUD2 duplex and is evaluable, its ratio."""
        self.samples += 1
        for h in HOTSPOTS:
            m = measured.measurements.get(f"{h} MUT")
            if m is None or m.concentration is None or math.isnan(m.concentration):
                continue
            self.copies[h].append(float(m.copies_per_20ul))
            if m.accepted_droplets is not None and m.positives is not None:
                self.droplets[h].append(int(m.accepted_droplets))
                self.positives[h].append(int(m.positives))
        if ratio is not None:
            self.ratios.append(float(ratio))


def _called(files: "list[tuple[bytes, str]]", settings: Settings, read: list[tuple[str, str]]) -> Iterator[Any]:
    """Every sample's calls in these exports (each file's name and SHA-256 added to ``read``)."""
    from tdm1core.calling.calls import call_export
    from tdm1core.reading.exports import read_export

    for data, name in files:
        export = read_export(data, name, settings)
        read.append((name, _sha(data)))
        yield from call_export(export, settings)


def _blank_samples(files: "list[tuple[bytes, str]]", settings: Settings,
                   read: list[tuple[str, str]]) -> Iterator[tuple[Any, float | None]]:
    """Every blank sample's measurements (any subset of the panel: a PIK3CA-only plate needs no reference wells),
    with its HER2/EFTUD2 ratio where the sample has an evaluable duplex."""
    from tdm1core.calling.calls import call_export, measure_export
    from tdm1core.reading.exports import read_export

    for data, name in files:
        export = read_export(data, name, settings)
        read.append((name, _sha(data)))
        measured = measure_export(export, settings, require_reference=False)
        with_reference = any("EFTUD2" in m.measurements for m in measured.values())
        ratios = {c.sample: c.her2.ratio for c in call_export(export, settings)} if with_reference else {}
        for sample, m in measured.items():
            yield m, ratios.get(sample)


def _few_blanks_note(lobs: list[Any]) -> list[str]:
    few = [lob for lob in lobs if lob.n < 20]
    if not few:
        return []
    counts = sorted({lob.n for lob in few})
    span = str(counts[0]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    return [f"{', '.join(lob.hotspot for lob in few)}: {span} blank well(s) each; CLSI EP17-A2 asks for at least 60 "
            "per reagent lot to establish a LoB (20 to verify one)."]


def validate(blanks: "list[tuple[bytes, str]]", settings: Settings,
             low_positives: "list[tuple[bytes, str]] | None" = None) -> LimitsValidation:
    """LoB/LoD per PIK3CA hotspot and the HER2 ratio's spread from blank exports (every sample in them is a blank)."""
    from tdm1core.calling.limits import her2_support, limit_of_blank, limit_of_detection

    if not blanks:
        raise InputError("give at least one export of blank samples (healthy-volunteer plasma, wild-type DNA or NTC).",
                         source="validation", hint="Upload the blank wells' results export(s).")
    files: list[tuple[str, str]] = []
    measured = _Blanks()
    for sample, ratio in _blank_samples(blanks, settings, files):
        measured.add(sample, ratio)
    low: dict[str, list[float]] = {h: [] for h in HOTSPOTS}
    for sample, _ in _blank_samples(list(low_positives or ()), settings, files):
        for h in HOTSPOTS:
            m = sample.measurements.get(f"{h} MUT")
            if m is not None and m.concentration is not None and m.copies_per_20ul > 0:
                low[h].append(float(m.copies_per_20ul))
    present = [h for h in HOTSPOTS if measured.copies[h]]
    if not present and not measured.ratios:
        raise InputError("neither a PIK3CA hotspot nor the HER2/EFTUD2 ratio was measured in the blank exports, so no "
                         "limit can be set.",
                         source=", ".join(n for _, n in blanks), column="Target",
                         hint="Include the blank wells of the E542K, E545K and H1047R assays (map the lab's target "
                              "names on the Settings page if they are not recognised).")
    lobs, lods = [], []
    for h in present:
        complete = len(measured.droplets[h]) == len(measured.copies[h])
        lob = limit_of_blank(h, measured.copies[h], measured.droplets[h] if complete else None,
                             measured.positives[h] if complete else None, settings.droplet_volume_nl)
        lobs.append(lob)
        lods.append(limit_of_detection(lob, low[h]))
    notes = _few_blanks_note(lobs)
    if lods:
        proposed = float(math.ceil(max(d.lod for d in lods) - 1e-9))
    else:
        proposed = settings.pik3ca_mutant_cutoff_copies
        notes.append("PIK3CA: no hotspot was measured in these blanks; the PIK3CA cut-off in force is kept.")
    support = her2_support(measured.ratios, settings.her2_ratio_cutoff) if measured.ratios else None
    if support is None:
        notes.append("HER2: no blank sample had a HER2/EFTUD2 ratio; the HER2 cut-off is not supported by these files.")
    return LimitsValidation(tuple(lobs), tuple(lods), support, max(proposed, 1.0), settings.her2_ratio_cutoff,
                            settings.reference_min_copies, measured.samples, tuple(files), tuple(notes))

