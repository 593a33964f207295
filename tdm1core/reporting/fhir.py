"""A released patient result as a FHIR R4 ``Bundle`` (type collection), in the shape of the HL7 Genomics Reporting
implementation guide: a ``DiagnosticReport`` (final or amended, the released PDF as ``presentedForm``) with
``Observation``s for the HER2/EFTUD2 ratio, each PIK3CA hotspot (a variant assessment: present / absent / not
evaluable, with the gene and the HGVS protein change), the ER and PR status used and the risk flag with its reasons
(as an interpretation); the ``Specimen`` (collection date), the ``Patient`` by the pseudonymous ID only, the ``Device``
(this software and version) and the reviewer as ``Practitioner``.

Codes are used only where they can be cited (docs/oncologist.md, "FHIR export"): LOINC for the report, the variant assessment,
gene studied, amino-acid change, allele frequency and the receptor interpretations; HGNC for the genes; HL7 v2 table
0074 for the genetics category. The ratio, the flag and the per-sample limits have no standard code: they carry
``urn:tdm1core`` codes with their text.
"""
from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from tdm1core._version import __version__

__all__ = ["fhir_bundle", "HGVS"]

LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org"
LOCAL = "urn:tdm1core"
from tdm1core.panel import HGVS  # noqa: E402  (the panel's one definition)
_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def _ref(resource: dict) -> dict:
    return {"reference": resource["_url"]}


def _id(report: Any, what: str) -> str:
    return str(uuid.UUID(hashlib.sha256(f"{report.stamp.report_id}|{report.stamp.version}|{what}".encode()).hexdigest()[:32]))


def _loinc(code: str, display: str) -> dict:
    return {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display}


def _local(code: str, display: str) -> dict:
    return {"coding": [{"system": LOCAL, "code": code, "display": display}], "text": display}


def _gene(hgnc: str, symbol: str) -> dict:
    return {"code": _loinc("48018-6", "Gene studied [ID]"),
            "valueCodeableConcept": {"coding": [{"system": HGNC, "code": hgnc, "display": symbol}], "text": symbol}}


def _quantity(value: float | None, unit: str, code: str) -> dict | None:
    if value is None:
        return None
    return {"value": round(float(value), 6), "unit": unit, "system": "http://unitsofmeasure.org", "code": code}


class _Entries:
    """The bundle's resources, each with its stable id and URL, in the order they were added."""

    def __init__(self, report: Any) -> None:
        self.report = report
        self.items: list[dict] = []

    def add(self, resource: dict, what: str) -> dict:
        rid = _id(self.report, what)
        resource["id"] = rid
        resource["_url"] = f"urn:uuid:{rid}"
        self.items.append(resource)
        return resource


def _subject(entries: _Entries, report: Any, result: dict) -> tuple[dict, dict, dict, dict]:
    """The patient (pseudonymous), the plasma specimen, the software as a device, and the reviewer."""
    patient = entries.add({"resourceType": "Patient", "identifier": [{"system": f"{LOCAL}:pseudonymous-patient-id",
                                                                       "value": report.patient_id or "not given"}]},
                          "patient")
    specimen: dict[str, Any] = {"resourceType": "Specimen", "subject": _ref(patient),
                                "type": {"text": "Blood plasma, cell-free DNA (pre-treatment liquid biopsy)"},
                                "identifier": [{"system": f"{LOCAL}:sample", "value": report.sample}]}
    if result.get("collection_date"):
        specimen["collection"] = {"collectedDateTime": result["collection_date"]}
    specimen = entries.add(specimen, "specimen")
    device = entries.add({"resourceType": "Device", "deviceName": [{"name": "tdm1core (T-DM1 ctDNA dashboard)",
                                                                     "type": "manufacturer-name"}],
                          "version": [{"value": __version__}],
                          "note": [{"text": "Research use only; not a diagnostic device."}]}, "device")
    reviewer: dict[str, Any] = {"resourceType": "Practitioner", "name": [{"text": report.stamp.reviewer}]}
    if report.reviewer_email:
        reviewer["telecom"] = [{"system": "email", "value": report.reviewer_email}]
    return patient, specimen, device, entries.add(reviewer, "reviewer")


def _her2_observation(her2: dict, common: dict) -> dict:
    obs: dict[str, Any] = {"resourceType": "Observation", **common,
                           "code": _local("her2-eftud2-ratio", "HER2 (ERBB2)/EFTUD2 copy ratio in plasma cell-free DNA "
                                                               "by droplet digital PCR"),
                           "method": {"text": "ddPCR (Bio-Rad); ratio of HER2 to EFTUD2 concentrations; "
                                              f"amplified when ≥ {her2['cutoff']:g}"},
                           "interpretation": [{"text": her2["call"]}],
                           "component": [_gene("HGNC:3430", "ERBB2")], "note": [{"text": her2["reason"]}]}
    q = _quantity(her2.get("ratio"), "ratio", "1")
    if q:
        obs["valueQuantity"] = q
    else:
        obs["dataAbsentReason"] = {"coding": [{"system": _ABSENT_REASON, "code": "unknown"}], "text": her2["call"]}
    for bound, key in (("lower", "ci_low"), ("upper", "ci_high")):
        cq = _quantity(her2.get(key), "ratio", "1")
        if cq:
            obs["component"].append({"code": _local(f"her2-ratio-ci-{bound}", f"95 % confidence interval, {bound} limit"),
                                     "valueQuantity": cq})
    return obs


_HOTSPOT_NUMBERS = (("mutant-copies", "mutant copies per 20 µL well", "mutant_copies", "copies"),
                    ("genome-equivalents", "genome equivalents analysed", "genome_equivalents", "copies"),
                    ("detectable-vaf-95", "smallest allele fraction detected with 95 % probability",
                     "detectable_vaf_95", "relative frequency"))


def _hotspot_value(h: dict) -> dict:
    if h["call"] == "positive":
        return {"valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9633-4", "display": "Present"}],
                                         "text": "detected"}}
    if h["call"] == "negative":
        return {"valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9634-2", "display": "Absent"}],
                                         "text": h.get("result") or "not detected"}}
    return {"dataAbsentReason": {"coding": [{"system": _ABSENT_REASON, "code": "error"}],
                                 "text": "not evaluable: " + h["reason"]}}


def _hotspot_observation(h: dict, change: str, cutoff: float, common: dict) -> dict:
    o: dict[str, Any] = {"resourceType": "Observation", **common,
                         "code": _loinc("69548-6", "Genetic variant assessment"),
                         "method": {"text": f"ddPCR; detected when ≥ {cutoff:g} mutant copies per 20 µL well"},
                         "component": [_gene("HGNC:8975", "PIK3CA"),
                                       {"code": _loinc("48005-3", "Amino acid change (pHGVS)"),
                                        "valueCodeableConcept": {"coding": [{"system": "http://varnomen.hgvs.org",
                                                                              "code": change}], "text": change}}],
                         "note": [{"text": h.get("result") or h["call"]}], **_hotspot_value(h)}
    af = _quantity(h.get("allele_fraction"), "relative frequency", "1")
    if af:
        o["component"].append({"code": _loinc("81258-6", "Sample variant allelic frequency [NFr]"), "valueQuantity": af})
    for code, text, key, unit in _HOTSPOT_NUMBERS:
        cq = _quantity(h.get(key), unit, "1")
        if cq:
            o["component"].append({"code": _local(code, text), "valueQuantity": cq})
    return o


def _receptor_observation(value: str, code: str, display: str, common: dict) -> dict:
    r: dict[str, Any] = {"resourceType": "Observation", **{k: v for k, v in common.items() if k != "device"},
                         "code": _loinc(code, display), "note": [{"text": "as entered for this report"}]}
    if value in ("positive", "negative"):
        r["valueCodeableConcept"] = {"text": value}
    else:
        r["dataAbsentReason"] = {"coding": [{"system": _ABSENT_REASON, "code": "unknown"}], "text": value}
    return r


def _flag_observation(flag: dict, common: dict, derived_from: list[dict]) -> dict:
    return {"resourceType": "Observation", **common,
            "code": _local("tdm1-primary-resistance-flag", "Risk of primary resistance to trastuzumab emtansine "
                                                           "(T-DM1), from ctDNA and hormone-receptor status"),
            "valueCodeableConcept": {"text": flag["headline"]},
            "interpretation": [{"coding": [{"system": LOCAL, "code": flag["status"]}], "text": flag["status"]}],
            "note": [{"text": r} for r in flag["reasons"]] + [{"text": flag["evidence"]}],
            "derivedFrom": [_ref(r) for r in derived_from]}


def _diagnostic_report(stamp: Any, status: str, subject: tuple[dict, dict, dict], results: list[dict],
                       headline: str, pdf: bytes) -> dict:
    patient, specimen, practitioner = subject
    return {
        "resourceType": "DiagnosticReport", "status": status,
        "identifier": [{"system": f"{LOCAL}:report-id", "value": stamp.report_id},
                       {"system": f"{LOCAL}:report-version", "value": f"{stamp.report_id}/v{stamp.version}"}],
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE",
                                  "display": "Genetics"}]}],
        "code": _loinc("51969-4", "Genetic analysis report"),
        "subject": _ref(patient), "specimen": [_ref(specimen)], "issued": stamp.released_at,
        "resultsInterpreter": [_ref(practitioner)], "result": [_ref(r) for r in results],
        "conclusion": f"{headline}. Exploratory evidence (n = 16); research use only, not a diagnostic device. "
                      + " ".join(stamp.lines()),
        "presentedForm": [{"contentType": "application/pdf", "language": "en",
                           "data": base64.b64encode(pdf).decode("ascii"),
                           "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),  # FHIR: SHA-1
                           "title": f"T-DM1 ctDNA report {stamp.report_id} version {stamp.version}",
                           "creation": stamp.released_at}],
    }


_RECEPTORS = (("er", "16112-5", "Estrogen receptor [Interpretation] in Tissue"),
              ("pr", "16113-3", "Progesterone receptor [Interpretation] in Tissue"))


def _monitoring_observations(entries: Any, monitoring: dict | None, common: dict) -> list[dict]:
    """Serial monitoring: one set of Observations per timepoint (each hotspot's mutant level, with the sample's
    category in a note), at the sample's collection date (``effectiveDateTime``)."""
    if not monitoring:
        return []
    unit = "copies/mL" if monitoring["unit"] == "copies_per_ml" else "copies/20 uL well"
    out = []
    for t in monitoring["timepoints"]:
        for hotspot, level in t["hotspots"].items():
            if level.get("mutant") is None or hotspot not in HGVS:
                continue
            o = {"resourceType": "Observation", **common, "effectiveDateTime": t["collection_date"],
                 "code": _loinc("69548-6", "Genetic variant assessment"),
                 "component": [_gene("HGNC:8975", "PIK3CA"),
                               {"code": _loinc("48005-3", "Amino acid change (pHGVS)"),
                                "valueCodeableConcept": {"coding": [{"system": "http://varnomen.hgvs.org",
                                                                      "code": HGVS[hotspot]}], "text": HGVS[hotspot]}},
                               {"code": _local("mutant-level", f"Mutant level ({unit})"),
                                "valueQuantity": {"value": round(float(level["mutant"]), 6), "unit": unit}}],
                 "note": [{"text": f"sample {t['sample_id']}, day {t['days_from_baseline']}: {t['category']} "
                                   f"({monitoring['rules']}; {t['rule']})"}]}
            out.append(entries.add(o, f"monitoring-{t['sample_id']}-{hotspot}"))
    return out


def fhir_bundle(report: Any, pdf: bytes) -> dict[str, Any]:
    """The FHIR R4 Bundle (a dict, JSON-ready) of a released report (:class:`tdm1core.reporting.release.ReleasedReport`)
    and its released PDF bytes."""
    stamp, result = report.stamp, report.content["result"]
    status = "amended" if stamp.version > 1 else "final"
    entries = _Entries(report)
    patient, specimen, device, practitioner = _subject(entries, report, result)
    common = {"status": status, "subject": _ref(patient), "specimen": _ref(specimen), "device": _ref(device),
              "issued": stamp.released_at,
              "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                        "code": "laboratory"}]}]}
    her2_obs = entries.add(_her2_observation(result["her2"], common), "her2")
    results = [her2_obs]
    for hotspot, change in HGVS.items():
        if (h := result["pik3ca"].get(hotspot)) is not None:
            results.append(entries.add(_hotspot_observation(h, change, result["pik3ca"]["cutoff"], common), hotspot))
    receptors = [entries.add(_receptor_observation(result.get(key) or "unknown", code, display, common), key)
                 for key, code, display in _RECEPTORS]
    results += receptors
    results.append(entries.add(_flag_observation(result["flag"], common, [her2_obs, *receptors]), "flag"))
    results += _monitoring_observations(entries, report.content.get("monitoring"), common)
    report_res = entries.add(_diagnostic_report(stamp, status, (patient, specimen, practitioner), results,
                                                result["flag"]["headline"], pdf), "report")
    ordered = [report_res] + [e for e in entries.items if e is not report_res]
    return {"resourceType": "Bundle", "id": _id(report, "bundle"), "type": "collection", "timestamp": stamp.released_at,
            "identifier": {"system": f"{LOCAL}:report-version", "value": f"{stamp.report_id}/v{stamp.version}"},
            "entry": [{"fullUrl": e.pop("_url"), "resource": e} for e in ordered]}
