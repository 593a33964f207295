"""The hospital record in (issue 29): patient data imported from FHIR (a Bundle or a Bulk Data export), previewed
as new / changed / unchanged patients like a table import, then stored all or nothing (research teams).

What is stored is the patient table the record maps to (docs/fhir.md), never the FHIR input: a record holds names,
addresses and contacts that this product must not keep. The audit entry names every input file with its SHA-256
and the import's options.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tdm1core.app.context import acting_user
from tdm1core.errors import CohortFormatError, Problem
from tdm1core.fhir.mapping import FhirMapping, FhirOptions, map_fhir
from tdm1core.fhir.reading import FhirFormatError, read_fhir
from tdm1core.settings import Settings
from tdm1core.storage.access import Action

if TYPE_CHECKING:
    from tdm1core.storage.access import User
    from tdm1core.storage.store import ImportResult, PatientPreview, Store

__all__ = ["FhirPreview", "preview_fhir", "import_fhir", "FhirOptions"]


@dataclass(frozen=True)
class FhirPreview:
    """What a FHIR import would do: the patients' preview, the mapping (with what was not mapped), the rows it
    stores and the table they make (the bytes stored)."""

    patients: "PatientPreview"
    mapping: FhirMapping
    records: tuple[dict, ...]
    table: bytes
    name: str

    def summary(self) -> str:
        return f"{self.patients.summary()}; {self.mapping.summary()}"


def preview_fhir(store: "Store", files: "list[tuple[bytes, str]]", settings: Settings,
                 options: FhirOptions | None = None, actor: "User | str | None" = None) -> FhirPreview:
    """Read and map the FHIR input and compare it with what is stored (nothing is written). Columns the record
    gives no value for keep their stored values; a row that fails the patient table's checks refuses the import."""
    acting_user(actor, Action.IMPORT)
    import pandas as pd

    from tdm1core.app.cohort import patient_changes
    from tdm1core.stats.cohort import SCHEMA, normalised_table, validate_patients

    fhir = read_fhir(files)
    mapping = map_fhir(fhir, options)
    if not mapping.rows:
        raise FhirFormatError("no Patient with a pseudonymous identifier; nothing was stored.", source=fhir.name,
                              problems=[Problem(str(u)) for u in mapping.unmapped[:20]],
                              hint="Check the patient-ID setting (an identifier system, or Patient.id).")
    stored = store.stored_patients()
    blank = {f.name: "" for f in SCHEMA}
    merged = [{**blank, **stored.get(row["patient_id"], {}), **row} for row in mapping.rows]
    raw = pd.DataFrame.from_records(merged).fillna("").astype(str)
    name = f"{fhir.name} (mapped from FHIR)"
    try:
        cohort = validate_patients(raw, name, settings=settings)
    except CohortFormatError as exc:
        raise _by_patient(exc, raw, name) from None
    records = normalised_table(raw, cohort).to_dict("records")
    buf = io.StringIO()
    pd.DataFrame.from_records(records).to_csv(buf, index=False)
    table = buf.getvalue().encode("utf-8")
    preview = patient_changes(stored, records, name, hashlib.sha256(table).hexdigest())
    return FhirPreview(preview, mapping, tuple(records), table, name)


def import_fhir(store: "Store", files: "list[tuple[bytes, str]]", settings: Settings,
                options: FhirOptions | None = None, who: "User | str | None" = None) -> "ImportResult":
    """Preview, then store the mapped patients and their monitoring events in one transaction (nothing on error)."""
    who = acting_user(who, Action.IMPORT)
    from tdm1core.app.cohort import _stored_patients

    p = preview_fhir(store, files, settings, options, who)
    provenance = {"fhir_inputs": [{"name": n, "sha256": sha} for n, sha in p.mapping.files],
                  "fhir_options": p.mapping.options.lines(), "not_mapped": len(p.mapping.unmapped)}
    result = store.store_patients(p.table, p.name, list(p.records), who, file_format=f"FHIR ({p.mapping.kind}), mapped",
                                  provenance=provenance, events=p.mapping.events)
    if not result.duplicate:
        _stored_patients(store, settings)
    return result


def _by_patient(exc: CohortFormatError, raw: Any, name: str) -> CohortFormatError:
    """The patient table's problems named by patient ID (the rows of a FHIR import are not a file's rows)."""
    ids = list(raw["patient_id"])

    def who(row: int | None) -> str:
        return f"patient {ids[row - 2]}" if row is not None and 2 <= row < len(ids) + 2 else "the import"

    problems = [Problem(f"{who(p.row)}: {p.message}", column=p.column, value=p.value) for p in exc.problems]
    return CohortFormatError(exc.message, source=name, problems=problems,
                             hint="Correct the record (or the import's options) and import again; nothing was stored.")
