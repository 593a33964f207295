"""What the store returns: the outcome of an import, a patient-table preview, the demo's removal plan, the status."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ImportResult", "PatientChange", "PatientPreview", "DemoRemovalPlan", "StoreStatus"]


@dataclass(frozen=True)
class ImportResult:
    kind: str
    name: str
    sha256: str
    file_id: int | None
    duplicate: bool
    message: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientChange:
    patient_id: str
    changes: dict[str, tuple[str, str]]  # column -> (old, new)


@dataclass(frozen=True)
class PatientPreview:
    name: str
    sha256: str
    new: tuple[str, ...]
    changed: tuple[PatientChange, ...]
    unchanged: int

    def summary(self) -> str:
        return f"{len(self.new)} new, {len(self.changed)} changed, {self.unchanged} unchanged patient(s)"

    def changes_table(self) -> pd.DataFrame:
        import pandas as pd

        rows = [{"patient_id": c.patient_id, "column": col, "stored": old, "new": new}
                for c in self.changed for col, (old, new) in c.changes.items()]
        return pd.DataFrame(rows, columns=["patient_id", "column", "stored", "new"])


@dataclass(frozen=True)
class DemoRemovalPlan:
    """What removing the synthetic demo deletes, and what it keeps."""

    files: int
    wells: int
    patients: int
    kept_patients: int  # demo patients a user's own import changed: kept
    serial_samples: int = 0  # the SYNTHETIC demo series' samples (with their events), when it was imported

    def summary(self) -> str:
        text = (f"{self.files} demo file(s) with {self.wells} well row(s) and {self.patients} demo-only patient(s)")
        if self.serial_samples:
            text += f", and the demo series' {self.serial_samples} serial sample(s) with their events"
        if self.kept_patients:
            text += f"; {self.kept_patients} patient(s) that your own imports changed are kept"
        return text

    def to_dict(self) -> dict[str, int]:
        return {"files": self.files, "wells": self.wells, "patients": self.patients, "kept_patients": self.kept_patients,
                "serial_samples": self.serial_samples}


@dataclass(frozen=True)
class StoreStatus:
    url: str
    files: int
    wells: int
    patients: int
    audit_entries: int
    calls: int
    revision: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.url, "files": self.files, "wells": self.wells, "patients": self.patients,
                "audit_entries": self.audit_entries, "calls": self.calls, "schema_revision": self.revision}

