"""FHIR resources mapped to the patient table and to the events of serial monitoring (docs/fhir.md has the table of
FHIR path → column).

Read: ``Patient`` (the pseudonymous identifier of :attr:`FhirOptions.patient_id_system`, else ``Patient.id``; never
a name, address or contact), ``Observation`` (ER and PR by immunohistochemistry; the imaging response, RECIST 1.1),
``Condition`` (the breast cancer and its stage), ``MedicationStatement`` / ``MedicationAdministration`` /
``MedicationRequest`` (T-DM1 and the therapies before it), ``Specimen`` (the ctDNA sample's ID), and ``Medication``
where a medication is referenced. Each value is taken only when it is coded as :mod:`tdm1core.fhir.codes` says, or
(stage, RECIST) written as the patient table itself accepts; everything else is listed in :attr:`FhirMapping.unmapped`
by resource and path, never guessed, and a column with no value from the record keeps what is stored.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from tdm1core.fhir import codes as C
from tdm1core.fhir.reading import FhirInput, Located

__all__ = ["FhirOptions", "Unmapped", "FhirMapping", "map_fhir", "MAPPED_COLUMNS"]

MAPPED_COLUMNS = ("patient_id", "age", "stage", "er_status", "pr_status", *sorted({t.column for t in C.THERAPIES if t.column}),
                  "tdm1_start_date", "first_response", "best_response", "progression", "progression_or_last_followup_date",
                  "ctdna_sample_id")
_GOOD_OBSERVATION = {"final", "amended", "corrected"}
_GIVEN = {"MedicationStatement": {"active", "completed", "stopped", "on-hold"},
          "MedicationAdministration": {"completed", "in-progress", "stopped", "on-hold"}}
_ORDERED = {"active", "completed", "on-hold", "stopped"}
_RANK = {"CR": 0, "PR": 1, "SD": 2, "PD": 3, "NE": 4}


@dataclass(frozen=True)
class FhirOptions:
    """The import's settings (stamped on its preview and in the audit log).

    patient_id_system
        The identifier system of the pseudonymous patient ID (e.g. the hospital's research-pseudonym system); None:
        ``Patient.id``. A patient without an identifier of this system is listed, not imported.
    sample_id_system
        The identifier system of the ctDNA sample's ID on a ``Specimen`` (default: the one this product exports).
    course_gap_days
        T-DM1 records that start more than this many days after the previous record ended (or started) begin a new
        course; a patient with two courses is listed (the table holds one T-DM1 line).
    """

    patient_id_system: str | None = None
    sample_id_system: str = C.SAMPLE_SYSTEM
    course_gap_days: int = 90

    def __post_init__(self) -> None:
        from tdm1core.errors import SettingsError

        if not isinstance(self.course_gap_days, int) or not 0 <= self.course_gap_days <= 3650:
            raise SettingsError(f"the T-DM1 course gap must be 0-3650 days, but was {self.course_gap_days!r}.",
                                column="course_gap_days")
        for name in ("patient_id_system", "sample_id_system"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 500):
                raise SettingsError(f"{name} must be an identifier system (a URI of 1-500 characters).", column=name)

    def lines(self) -> list[str]:
        return [f"FHIR patient ID: {self.patient_id_system or 'Patient.id'}; sample ID system: {self.sample_id_system}; "
                f"a new T-DM1 course after a gap of more than {self.course_gap_days} days"]


@dataclass(frozen=True)
class Unmapped:
    """Something in the input that was not mapped: where (file and entry or line), the resource, the path, why."""

    where: str
    resource: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.resource} ({self.where}), {self.path}: {self.reason}"


@dataclass(frozen=True)
class FhirMapping:
    """The mapped rows (per patient, only the columns the record gives), the serial-monitoring events, what was not
    mapped, the resource types not read (counts), the input's files and the options."""

    rows: tuple[dict[str, str], ...]
    events: tuple[Any, ...]
    unmapped: tuple[Unmapped, ...]
    not_read: dict[str, int]
    files: tuple[tuple[str, str], ...]
    options: FhirOptions
    kind: str

    def summary(self) -> str:
        skipped = sum(self.not_read.values())
        return (f"{len(self.rows)} patient(s), {len(self.events)} monitoring event(s); {len(self.unmapped)} item(s) "
                f"not mapped" + (f"; {skipped} resource(s) of other kinds not read" if skipped else ""))

    def unmapped_table(self) -> list[dict[str, str]]:
        return [{"resource": u.resource, "where": u.where, "path": u.path, "reason": u.reason} for u in self.unmapped]


@dataclass
class _Patient:
    pid: str
    birth: str | None = None
    values: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    tdm1: list[tuple[dt.date, dt.date, Located]] = field(default_factory=list)
    tdm1_orders: list[Located] = field(default_factory=list)
    prior: list[tuple[dt.date, str | None, Located]] = field(default_factory=list)
    responses: list[tuple[dt.date, str, Located]] = field(default_factory=list)
    samples: dict = field(default_factory=dict)  # sample ID → the Specimen's reference names


class _Mapper:
    def __init__(self, fhir: FhirInput, options: FhirOptions) -> None:
        self.fhir, self.options = fhir, options
        self.unmapped: list[Unmapped] = []
        self.not_read: dict[str, int] = defaultdict(int)
        self.patients: dict[str, _Patient] = {}
        self.keys: dict[str, str] = {}  # reference forms → pseudonymous ID
        self.medications: dict[str, dict] = {}
        self.reported: set[str | None] = set()  # Specimens a DiagnosticReport names (the report's own sample)

    def miss(self, x: Located, path: str, reason: str) -> None:
        self.unmapped.append(Unmapped(x.where, x.ref, path, reason))

    def miss_patient(self, p: "_Patient", path: str, reason: str) -> None:
        """Something about a patient as a whole (from several of their resources) that was not mapped."""
        self.unmapped.append(Unmapped("the patient's resources", f"Patient {p.pid}", path, reason))

    # ------------------------------------------------------------------ references
    def _names(self, x: Located) -> list[str]:
        r = x.resource
        out = [f"{r['resourceType']}/{r.get('id')}"] if r.get("id") else []
        return out + ([x.full_url] if x.full_url else [])

    def subject(self, x: Located, path: str = "subject") -> _Patient | None:
        holder = x.resource.get(path)
        ref = holder.get("reference") if isinstance(holder, dict) else None
        if not isinstance(ref, str) or not ref:
            self.miss(x, f"{path}.reference", "no patient reference")
            return None
        key = self.keys.get(ref) or self.keys.get("/".join(ref.rstrip("/").split("/")[-2:]))
        if key is None:
            self.miss(x, f"{path}.reference", f"refers to {ref!r}, which is not a Patient of this input")
            return None
        return self.patients[key]

    def medication(self, x: Located, prefix: str = "medication") -> dict | None:
        r = x.resource
        if isinstance(r.get(f"{prefix}CodeableConcept"), dict):
            return r[f"{prefix}CodeableConcept"]
        ref = (r.get(f"{prefix}Reference") or {}).get("reference") if isinstance(r.get(f"{prefix}Reference"), dict) else None
        if isinstance(ref, str):
            if ref.startswith("#"):
                for c in _items(r.get("contained")):
                    if isinstance(c, dict) and c.get("id") == ref[1:] and isinstance(c.get("code"), dict):
                        return c["code"]
            med = self.medications.get(ref) or self.medications.get("/".join(ref.split("/")[-2:]))
            if med is not None:
                return med
            self.miss(x, f"{prefix}Reference", f"refers to {ref!r}, a Medication not in this input")
            return None
        self.miss(x, prefix, "no medication code")
        return None

    # ------------------------------------------------------------------ the passes
    def run(self) -> FhirMapping:
        by_type: dict[str, list[Located]] = defaultdict(list)
        for x in self.fhir.resources:
            by_type[x.resource["resourceType"]].append(x)
        for x in by_type.pop("Patient", []):
            self.patient(x)
        for x in by_type.pop("DiagnosticReport", []):
            self.reported |= {_text(s.get("reference")) for s in _items(x.resource.get("specimen")) if isinstance(s, dict)}
            self.not_read["DiagnosticReport (its specimen is read)"] += 1
        for x in by_type.pop("Medication", []):
            if isinstance(x.resource.get("code"), dict):
                for name in self._names(x):
                    self.medications[name] = x.resource["code"]
        for kind, handler in (("Observation", self.observation), ("Condition", self.condition),
                              ("MedicationStatement", self.given), ("MedicationAdministration", self.given),
                              ("MedicationRequest", self.ordered), ("Specimen", self.specimen)):
            for x in by_type.pop(kind, []):
                handler(x)
        for kind, xs in by_type.items():
            self.not_read[kind] += len(xs)
        rows, events = [], []
        for p in self.patients.values():
            row, evs = self.finish(p)
            rows.append(row)
            events += evs
        return FhirMapping(tuple(rows), tuple(events), tuple(self.unmapped), dict(self.not_read), self.fhir.files,
                           self.options, self.fhir.kind)

    def patient(self, x: Located) -> None:
        r = x.resource
        system = self.options.patient_id_system
        if system is None:
            pid = r.get("id")
            path = "id"
        else:
            ids = [i.get("value") for i in _items(r.get("identifier")) if isinstance(i, dict) and i.get("system") == system
                   and isinstance(i.get("value"), str)]
            pid, path = (ids[0] if len(ids) == 1 else None), "identifier"
            if len(set(ids)) > 1:
                self.miss(x, "identifier", f"{len(ids)} identifiers of system {system}: which is the patient's is not told")
                return
        if not isinstance(pid, str) or not pid.strip():
            self.miss(x, path, f"no pseudonymous identifier ({'Patient.id' if system is None else 'system ' + system}); "
                               "the patient is not imported")
            return
        pid = pid.strip()
        p = self.patients.setdefault(pid, _Patient(pid))
        birth = r.get("birthDate")
        if isinstance(birth, str):
            p.birth = birth
        for name in self._names(x):
            self.keys[name] = pid

    def observation(self, x: Located) -> None:
        r = x.resource
        pairs = C.coded(r.get("code"))
        column = next((C.RECEPTOR_CODES[c] for c in pairs if c in C.RECEPTOR_CODES), None)
        response = any(c in C.RESPONSE_CODES for c in pairs)
        if column is None and not response:
            self.not_read["Observation (other codes)"] += 1
            return
        if _text(r.get("status")) not in _GOOD_OBSERVATION:
            self.miss(x, "status", f"status {r.get('status')!r}: only final, amended or corrected results are used")
            return
        p = self.subject(x)
        if p is None:
            return
        if column is not None:
            answers = {C.RECEPTOR_ANSWERS[c] for c in C.coded(r.get("valueCodeableConcept")) if c in C.RECEPTOR_ANSWERS}
            if len(answers) != 1:
                self.miss(x, "valueCodeableConcept", "no positive/negative answer code this import knows"
                          if not answers else "both positive and negative")
                return
            p.values[column].append((answers.pop(), x))
            return
        period = _dict(r.get("effectivePeriod"))
        day = _day(r.get("effectiveDateTime") or period.get("start"))
        if day is None:
            self.miss(x, "effective[x]", "no date to the day: the response cannot be placed in time")
            return
        value = _dict(r.get("valueCodeableConcept"))
        words = {str(c.get("code", "")).strip().lower() for c in _items(value.get("coding")) if isinstance(c, dict)}
        words |= {str(value.get("text", "")).strip().lower()}
        found = {C.RECIST_WORDS[w] for w in words if w in C.RECIST_WORDS}
        if len(found) != 1:
            self.miss(x, "valueCodeableConcept", "not a RECIST 1.1 category (CR, PR, SD, PD, NE)" if not found
                      else f"several RECIST categories ({', '.join(sorted(found))})")
            return
        p.responses.append((day, found.pop(), x))

    def condition(self, x: Located) -> None:
        r = x.resource
        pairs = C.coded(r.get("code"))
        if not any(c in C.BREAST_CANCER or (c[0] in (C.ICD10, C.ICD10CM) and c[1].startswith("C50")) for c in pairs):
            self.not_read["Condition (other codes)"] += 1
            return
        p = self.subject(x)
        if p is None:
            return
        status = {c for s, c in C.coded(r.get("clinicalStatus")) if s == C.CONDITION_CLINICAL}
        if "recurrence" in status or "relapse" in status:
            p.values["stage"].append(("recurrent", x))
            return
        stages = _items(r.get("stage"))
        for i, stage in enumerate(stages):
            summary = stage.get("summary") if isinstance(stage, dict) else None
            summary = summary if isinstance(summary, dict) else {}
            words = {str(summary.get("text", "")).strip().lower()} | {
                str(c.get("display", "")).strip().lower() for c in _items(summary.get("coding")) if isinstance(c, dict)}
            if words & set(C.STAGE_IV_WORDS):
                p.values["stage"].append(("de novo stage IV", x))
                return
            if summary:
                self.miss(x, f"stage[{i}].summary", "not a stage IV this import reads (text or display 'Stage IV')")
        if not stages:
            self.miss(x, "stage", "no stage and not a recurrence (clinicalStatus): the table's stage is not set")

    def _therapy(self, x: Located, statuses: "set[str]", what: str) -> "tuple[C.Therapy, _Patient] | None":
        """A medication record's recognised therapy and patient, or None (other medications are counted as not
        read; a status outside ``statuses`` or a reference to no patient is listed)."""
        r = x.resource
        therapy = C.therapy_of(self.medication(x)) if self._has_medication(x) else None
        if therapy is None:
            if self._has_medication(x):
                self.not_read[f"{r['resourceType']} (other medications)"] += 1
            return None
        if _text(r.get("status")) not in statuses:
            self.miss(x, "status", f"status {r.get('status')!r}: {what}")
            return None
        p = self.subject(x)
        return None if p is None else (therapy, p)

    def given(self, x: Located) -> None:
        r = x.resource
        found = self._therapy(x, _GIVEN[r["resourceType"]], "not a therapy given")
        if found is None:
            return
        therapy, p = found
        period = _dict(r.get("effectivePeriod"))
        start = _day(r.get("effectiveDateTime") or period.get("start"))
        if start is None:
            self.miss(x, "effective[x]", f"{therapy.name} without a start date to the day")
            return
        end = _day(period.get("end")) or start
        if therapy is C.TDM1:
            p.tdm1.append((start, max(start, end), x))
        else:
            p.prior.append((start, therapy.column, x))

    def ordered(self, x: Located) -> None:
        r = x.resource
        found = self._therapy(x, _ORDERED, "not an order that stands")
        if found is None:
            return
        therapy, p = found
        if therapy is C.TDM1:
            p.tdm1_orders.append(x)  # an order is not a dose: it dates no T-DM1 line
            return
        day = _day(r.get("authoredOn"))
        if day is None:
            self.miss(x, "authoredOn", f"{therapy.name} ordered without a date to the day")
            return
        p.prior.append((day, therapy.column, x))

    def specimen(self, x: Located) -> None:
        ids = [i.get("value") for i in _items(x.resource.get("identifier"))
               if isinstance(i, dict) and i.get("system") == self.options.sample_id_system
               and isinstance(i.get("value"), str) and i["value"].strip()]
        if not ids:
            self.not_read["Specimen (other identifiers)"] += 1
            return
        p = self.subject(x)
        if p is not None:
            p.samples[str(ids[0]).strip()] = set(self._names(x))

    def _has_medication(self, x: Located) -> bool:
        r = x.resource
        return "medicationCodeableConcept" in r or "medicationReference" in r

    # ------------------------------------------------------------------ one patient's row
    def finish(self, p: _Patient) -> tuple[dict[str, str], list[Any]]:
        from tdm1core.stats.serial_tables import EventRow

        row: dict[str, str] = {"patient_id": p.pid}
        for column, found in p.values.items():
            values = {v for v, _ in found}
            if len(values) == 1:
                row[column] = values.pop()
            else:
                x = sorted(found, key=lambda f: f[1].where)[0][1]
                self.miss(x, "value", f"the record disagrees on {column} ({', '.join(sorted(values))}): not set")
        reported = [sid for sid, names in p.samples.items() if names & self.reported]
        if len(p.samples) == 1 or len(reported) == 1:
            row["ctdna_sample_id"] = reported[0] if len(reported) == 1 else next(iter(p.samples))
        elif p.samples:
            self.miss_patient(p, "Specimen.identifier",
                              f"{len(p.samples)} ctDNA samples: which one is the pre-treatment sample is not told")
        courses = _courses(p.tdm1, self.options.course_gap_days)
        events = [EventRow(p.pid, s.isoformat(), "treatment_start", "T-DM1") for s, _ in courses]
        events += [EventRow(p.pid, e.isoformat(), "treatment_end", "T-DM1") for s, e in courses if e > s]
        events += [EventRow(p.pid, d.isoformat(), "imaging", v) for d, v, _ in sorted(p.responses) if v != "NE"]
        if p.tdm1_orders and not courses:
            self.miss(p.tdm1_orders[0], "medication[x]", "T-DM1 ordered but no dose recorded: no T-DM1 start date")
        if len(courses) > 1:
            self.miss(p.tdm1[0][2], "effective[x]", f"{len(courses)} T-DM1 courses (starting "
                      f"{', '.join(s.isoformat() for s, _ in courses)}): the table holds one T-DM1 line; give "
                      "tdm1_start_date in a patient table")
        if len(courses) == 1:
            self._course(p, row, courses[0])
        elif p.prior or p.responses:
            self.miss_patient(p, "MedicationStatement",
                              "no single T-DM1 course: earlier therapies and responses are not placed")
        return row, events

    def _course(self, p: _Patient, row: dict[str, str], course: tuple[dt.date, dt.date]) -> None:
        start, end = course
        row["tdm1_start_date"] = start.isoformat()
        if p.birth and (born := _day(p.birth)) is not None:
            row["age"] = str(start.year - born.year - ((start.month, start.day) < (born.month, born.day)))
        elif p.birth:
            self.miss_patient(p, "birthDate", "not a full date: the age is not set")
        for day, column, _ in p.prior:
            if day < start and column:
                row[column] = "yes"
        after = sorted((d, v) for d, v, _ in p.responses if d >= start)
        if not after:
            return
        row["first_response"] = after[0][1]
        row["best_response"] = min((v for _, v in after), key=_RANK.__getitem__)
        progressed = [d for d, v in after if v == "PD"]
        if progressed:
            row["progression"], row["progression_or_last_followup_date"] = "yes", progressed[0].isoformat()
        else:
            row["progression"] = "no"
            row["progression_or_last_followup_date"] = max(after[-1][0], end).isoformat()


def _items(value: Any) -> list:
    """A JSON array's items (anything else: none), so a malformed field is skipped, never iterated."""
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    """A JSON object (anything else: an empty one)."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _day(value: Any) -> dt.date | None:
    """A FHIR date or dateTime to the day (YYYY-MM-DD...), else None (a year or a month is not a day)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _courses(records: Iterable[tuple[dt.date, dt.date, Any]], gap_days: int) -> list[tuple[dt.date, dt.date]]:
    out: list[list[dt.date]] = []
    for start, end, _ in sorted(records, key=lambda r: (r[0], r[1])):
        if out and (start - out[-1][1]).days <= gap_days:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def map_fhir(fhir: FhirInput, options: FhirOptions | None = None) -> FhirMapping:
    """Map the resources of one import (see the module docstring)."""
    return _Mapper(fhir, options or FhirOptions()).run()
