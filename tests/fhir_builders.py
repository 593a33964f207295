"""Realistic FHIR R4 input built in code with fhir.resources (R4B models validate every resource as it is made):
patients with names (that must never be stored), ER/PR by immunohistochemistry, the breast cancer and its stage,
T-DM1 and earlier therapies, imaging responses, a ctDNA specimen. Codes as a hospital's record carries them (LOINC,
SNOMED CT, RxNorm, ICD-10), written out here, not taken from the code under test."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

LOINC, SNOMED, RXNORM = "http://loinc.org", "http://snomed.info/sct", "http://www.nlm.nih.gov/research/umls/rxnorm"
PSEUDONYM = "https://hospital.example/research-pseudonym"


@dataclass
class Person:
    pid: str
    family: str = "Tanaka"
    given: str = "Hanako"
    birth: str | None = "1960-05-01"
    er: str | None = "positive"
    pr: str | None = "negative"
    stage: str | None = "recurrent"  # "recurrent", "Stage IV" or None
    tdm1: list[tuple[str, str | None]] = field(default_factory=lambda: [("2016-03-01", "2016-09-01")])
    prior: list[tuple[str, str]] = field(default_factory=lambda: [("1298944", "2015-01-10")])  # pertuzumab
    responses: list[tuple[str, str]] = field(default_factory=lambda: [("2016-05-01", "PR"), ("2016-09-15", "PD")])
    sample: str | None = None


def _cc(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def resources(p: Person) -> list:
    """The person's resources as fhir.resources R4B models."""
    from fhir.resources.R4B.condition import Condition
    from fhir.resources.R4B.medicationstatement import MedicationStatement
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.patient import Patient
    from fhir.resources.R4B.specimen import Specimen

    ref = {"reference": f"Patient/{p.pid}-fhir"}
    out: list = [Patient(id=f"{p.pid}-fhir", identifier=[{"system": PSEUDONYM, "value": p.pid},
                                                        {"system": "https://hospital.example/mrn", "value": "MRN" + p.pid}],
                         name=[{"family": p.family, "given": [p.given]}], telecom=[{"system": "phone", "value": "+81 3 1234 5678"}],
                         gender="female", **({"birthDate": p.birth} if p.birth else {}))]
    answers = {"positive": ("LA6576-8", "Positive"), "negative": ("LA6577-6", "Negative")}
    for code, display, value in (("16112-5", "Estrogen receptor [Interpretation] in Tissue", p.er),
                                 ("16113-3", "Progesterone receptor [Interpretation] in Tissue", p.pr)):
        if value:
            out.append(Observation(id=f"{p.pid}-{code}", status="final", code=_cc(LOINC, code, display), subject=ref,
                                   valueCodeableConcept=_cc(LOINC, *answers[value])))
    if p.stage:
        cond = {"id": f"{p.pid}-bc", "code": _cc(SNOMED, "254837009", "Malignant neoplasm of breast"), "subject": ref}
        if p.stage == "recurrent":
            cond["clinicalStatus"] = _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "recurrence", "Recurrence")
        else:
            cond["clinicalStatus"] = _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active")
            cond["stage"] = [{"summary": {"text": p.stage}}]
        out.append(Condition(**cond))
    for i, (start, end) in enumerate(p.tdm1):
        period = {"start": start, **({"end": end} if end else {})}
        out.append(MedicationStatement(id=f"{p.pid}-tdm1-{i}", status="completed", subject=ref, effectivePeriod=period,
                                       medicationCodeableConcept=_cc(RXNORM, "1371041", "ado-trastuzumab emtansine")))
    for i, (code, start) in enumerate(p.prior):
        out.append(MedicationStatement(id=f"{p.pid}-prior-{i}", status="completed", subject=ref,
                                       effectivePeriod={"start": start},
                                       medicationCodeableConcept=_cc(RXNORM, code, "prior therapy")))
    for i, (day, value) in enumerate(p.responses):
        out.append(Observation(id=f"{p.pid}-resp-{i}", status="final", subject=ref, effectiveDateTime=day,
                               code=_cc(LOINC, "88040-1", "Response to cancer treatment"),
                               valueCodeableConcept={"text": value}))
    if p.sample:
        out.append(Specimen(id=f"{p.pid}-plasma", subject=ref, identifier=[{"system": "urn:tdm1core:sample", "value": p.sample}],
                            type={"text": "plasma"}))
    return out


def bundle(people: list[Person], kind: str = "collection", extra: list | None = None) -> bytes:
    from fhir.resources.R4B.bundle import Bundle

    entries = []
    for r in [x for p in people for x in resources(p)] + list(extra or []):
        entry = {"fullUrl": f"https://hospital.example/fhir/{r.get_resource_type()}/{r.id}", "resource": r}
        if kind == "transaction":
            entry["request"] = {"method": "PUT", "url": f"{r.get_resource_type()}/{r.id}"}
        entries.append(entry)
    return Bundle(type=kind, entry=entries).model_dump_json(exclude_none=True).encode()


def ndjson_folder(people: list[Person], extra: list | None = None) -> list[tuple[bytes, str]]:
    """A Bulk Data export: one NDJSON file per resource type."""
    by_type: dict[str, list[str]] = {}
    for r in [x for p in people for x in resources(p)] + list(extra or []):
        by_type.setdefault(r.get_resource_type(), []).append(r.model_dump_json(exclude_none=True))
    return [("\n".join(lines).encode() + b"\n", f"{kind}.ndjson") for kind, lines in sorted(by_type.items())]


def as_dict(data: bytes) -> dict:
    return json.loads(data)
