"""Use cases: from an upload (or typed numbers) to a result, a report and a stored row.

Pages and the command line call these, always passing the settings explicitly, so that what is shown,
downloaded and stored is one computation.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .calls import ManualEntry, SampleCalls, call_export, call_manual
from .ddpcr import DdpcrExport, read_export
from .errors import InputError
from .provenance import Provenance, mapped_targets
from .risk import PatientResult
from .settings import Settings

if TYPE_CHECKING:
    from .store import ImportResult, Store

__all__ = ["UploadAssessment", "assess_upload", "assess_manual", "patient_result", "save_result", "is_demo_export",
           "settings_hash"]


def settings_hash(settings: Settings) -> str:
    """A short hash of the settings and target map (stamped on stored results and audit entries)."""
    import json

    return hashlib.sha256(json.dumps(settings.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def is_demo_export(sha256: str) -> bool:
    """True when the bytes are the built-in synthetic demo export."""
    from .demo import demo_export_path

    return sha256 == hashlib.sha256(demo_export_path().read_bytes()).hexdigest()


@dataclass(frozen=True)
class UploadAssessment:
    """A read export with the calls of every sample, and the provenance every output carries."""

    export: DdpcrExport
    calls: tuple[SampleCalls, ...]
    provenance: Provenance
    settings: Settings
    data: bytes = b""

    @property
    def samples(self) -> list[str]:
        return [c.sample for c in self.calls]

    def sample(self, name: str) -> SampleCalls:
        for c in self.calls:
            if c.sample == name:
                return c
        raise InputError(f"sample {name!r} is not in the export; its samples are {', '.join(self.samples)}.",
                         source=self.export.name, column="Sample", hint="Pick one of the samples listed.")


def assess_upload(data: bytes, name: str, settings: Settings) -> UploadAssessment:
    """Read an export and call every sample with ``settings`` (raises :class:`InputError`)."""
    export = read_export(data, name, settings)
    calls = tuple(call_export(export, settings))
    tmap = tuple(str(m) for m in mapped_targets(export, settings))
    prov = Provenance(export.name, export.sha256, export.format, demo=is_demo_export(export.sha256),
                      droplet_volume_nl=export.volume_nl, target_map=tmap)
    return UploadAssessment(export, calls, prov, settings, data)


def assess_manual(entry: ManualEntry, settings: Settings) -> tuple[SampleCalls, Provenance]:
    return call_manual(entry, settings), Provenance.manual_entry()


def patient_result(calls: SampleCalls, er: object, pr: object, patient_id: str | None = None,
                   collection_date: str | None = None) -> PatientResult:
    return PatientResult.from_calls(calls, er, pr, (patient_id or "").strip() or None, collection_date or None)


def save_result(store: "Store", assessment: UploadAssessment, result: PatientResult, who: str | None = None) -> "ImportResult":
    """Store the export with exactly the calls shown (the session's settings and target map), and audit it."""
    shown: dict[str, Any] = {
        "sample": result.calls.sample, "flag": result.flag.status, "her2_call": result.calls.her2.call,
        "her2_ratio": result.calls.her2.ratio, "er": result.er, "pr": result.pr,
        "settings_hash": settings_hash(assessment.settings), "target_map": list(assessment.provenance.target_map),
    }
    return store.import_ddpcr(assessment.data, assessment.export.name, who,
                              settings=assessment.settings, export=assessment.export, sample_calls=list(assessment.calls),
                              shown=shown)

