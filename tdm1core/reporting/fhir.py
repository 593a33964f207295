"""A released patient result as a FHIR R4 ``Bundle`` (type collection) that declares and follows the profiles of HL7
Genomics Reporting STU3 (3.0.0, on FHIR 4.0.1); docs/fhir.md shows an example and says which profile each resource
follows and why.

- ``DiagnosticReport`` — genomic-report (final or amended; the released PDF as ``presentedForm``);
- each PIK3CA hotspot — variant: gene studied (HGNC), amino-acid change (HGVS), genomic source class somatic, the
  sample allele frequency (UCUM ``1``), and Present / Absent / No call (LOINC answer list LL1971-2);
- the HER2/EFTUD2 ratio — molecular-biomarker, the closest the guide offers (the guide's copy-number component is a
  copy number, not a ratio to a reference gene): genes studied ERBB2 and EFTUD2, the ratio as a quantity;
- the flag — therapeutic-implication: derived from the ratio and the receptor status, the medication assessed
  (T-DM1, RxNorm), "presumed resistant" (LOINC LA9660-7) when flagged, and the evidence level stated as exploratory;
- ER and PR status used (plain Observations: LOINC codes, LOINC answers), the ``Specimen`` (plasma, HL7 v2 table
  0487), the ``Patient`` by the pseudonymous ID only, the ``Device`` (this software) and the reviewer;
- with serial monitoring, one variant per hotspot and timepoint at the sample's collection date.

Codes are used only where they can be cited (docs/fhir.md); the ratio's code and the per-sample limits carry
``urn:tdm1core`` codes with their text.
"""
from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from tdm1core._version import __version__
from tdm1core.fhir import codes as C
from tdm1core.clinical.risk import AT_RISK
from tdm1core.panel import HGVS

__all__ = ["fhir_bundle", "HGVS", "PROFILES", "PROTEIN_REFSEQ"]

LOINC = C.LOINC
HGNC = "http://www.genenames.org"
LOCAL = "urn:tdm1core"
_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
TBD = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
PROFILES = {name: C.GR_PROFILE + name for name in
            ("genomic-report", "variant", "molecular-biomarker", "therapeutic-implication")}
PROTEIN_REFSEQ = "NP_006209.2"  # PIK3CA's protein reference sequence (NCBI RefSeq), prefix of each HGVS p. change
_GE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE", "display": "Genetics"}]}
_LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
_BIOMARKER = {"coding": [{"system": TBD, "code": "biomarker-category"}]}
_VARIANT_VALUE = {"positive": ("LA9633-4", "Present"), "negative": ("LA9634-2", "Absent")}
_NO_CALL = ("LA18198-4", "No call")


def _ref(resource: dict) -> dict:
    return {"reference": resource["_url"]}


def _profiled(name: str, resource: dict) -> dict:
    return {"resourceType": resource.pop("resourceType"), "meta": {"profile": [PROFILES[name]]}, **resource}


def _protein_change(change: str) -> dict:
    """The HGVS protein change on PIK3CA's reference sequence, as observed (no parentheses: measured, not predicted)."""
    full = f"{PROTEIN_REFSEQ}:{change}"
    return {"code": _loinc("48005-3", "Amino acid change (pHGVS)"),
            "valueCodeableConcept": {"coding": [{"system": "http://varnomen.hgvs.org", "code": full}], "text": full}}




def _id(report: Any, what: str) -> str:
    return str(uuid.UUID(hashlib.sha256(f"{report.stamp.report_id}|{report.stamp.version}|{what}".encode()).hexdigest()[:32]))


def _loinc(code: str, display: str) -> dict:
    return {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display}


def _local(code: str, display: str) -> dict:
    return {"coding": [{"system": LOCAL, "code": code, "display": display}], "text": display}


_SOMATIC = {"code": {"coding": [{"system": LOINC, "code": "48002-0", "display": "Genomic source class [Type]"}]},
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA6684-0", "display": "Somatic"}],
                                     "text": "Somatic"}}


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
    patient = entries.add({"resourceType": "Patient", "identifier": [{"system": C.PATIENT_SYSTEM,
                                                                       "value": report.patient_id or "not given"}]},
                          "patient")
    specimen: dict[str, Any] = {"resourceType": "Specimen", "subject": _ref(patient),
                                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487",
                                                     "code": "PLAS", "display": "Plasma"}],
                                         "text": "Blood plasma, cell-free DNA (pre-treatment liquid biopsy)"},
                                "identifier": [{"system": C.SAMPLE_SYSTEM, "value": report.sample}]}
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
    obs: dict[str, Any] = {"resourceType": "Observation", **common, "category": [_LAB, _BIOMARKER, _GE],
                           "code": _local("her2-eftud2-ratio", "HER2 (ERBB2)/EFTUD2 copy ratio in plasma cell-free DNA "
                                                               "by droplet digital PCR"),
                           "method": {"text": "ddPCR (Bio-Rad); ratio of HER2 to EFTUD2 concentrations; "
                                              f"amplified when ≥ {her2['cutoff']:g}"},
                           "interpretation": [{"text": her2["call"]}],
                           "component": [_gene("HGNC:3430", "ERBB2"), _gene("HGNC:30858", "EFTUD2")],
                           "note": [{"text": her2["reason"]}]}
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
    return _profiled("molecular-biomarker", obs)


_HOTSPOT_NUMBERS = (("mutant-copies", "mutant copies per 20 µL well", "mutant_copies", "copies"),
                    ("genome-equivalents", "genome equivalents analysed", "genome_equivalents", "copies"),
                    ("detectable-vaf-95", "smallest allele fraction detected with 95 % probability",
                     "detectable_vaf_95", "relative frequency"))


def _hotspot_value(h: dict) -> dict:
    """Present / Absent / No call (LOINC LL1971-2, the Variant profile's required binding)."""
    code, display = _VARIANT_VALUE.get(h["call"], _NO_CALL)
    text = {"positive": "detected", "negative": h.get("result") or "not detected"}.get(h["call"])
    return {"valueCodeableConcept": {"coding": [{"system": LOINC, "code": code, "display": display}],
                                     "text": text or "not evaluable: " + h["reason"]}}


def _hotspot_observation(h: dict, change: str, cutoff: float, common: dict) -> dict:
    o: dict[str, Any] = {"resourceType": "Observation", **common,
                         "code": _loinc("69548-6", "Genetic variant assessment"),
                         "method": {"text": f"ddPCR; detected when ≥ {cutoff:g} mutant copies per 20 µL well"},
                         "component": [_gene("HGNC:8975", "PIK3CA"), _protein_change(change), _SOMATIC],
                         "note": [{"text": h.get("result") or h["call"]}], **_hotspot_value(h)}
    af = _quantity(h.get("allele_fraction"), "relative frequency", "1")
    if af:
        o["component"].append({"code": _loinc("81258-6", "Sample variant allelic frequency [NFr]"), "valueQuantity": af})
    for code, text, key, unit in _HOTSPOT_NUMBERS:
        cq = _quantity(h.get(key), unit, "1")
        if cq:
            o["component"].append({"code": _local(code, text), "valueQuantity": cq})
    return _profiled("variant", o)


def _receptor_observation(value: str, code: str, display: str, common: dict) -> dict:
    r: dict[str, Any] = {"resourceType": "Observation", **{k: v for k, v in common.items() if k != "device"},
                         "category": [_LAB], "code": _loinc(code, display), "note": [{"text": "as entered for this report"}]}
    answer = {v: c for c, v in C.RECEPTOR_ANSWERS.items() if c[0] == LOINC}
    if value in ("positive", "negative"):
        r["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": answer[value][1], "display": value.title()}],
                                     "text": value}
    else:
        r["dataAbsentReason"] = {"coding": [{"system": _ABSENT_REASON, "code": "unknown"}], "text": value}
    return r


def _flag_observation(flag: dict, common: dict, derived_from: list[dict]) -> dict:
    """The flag as a therapeutic implication of the HER2 result and the receptor status for T-DM1 (no value: the
    profile forbids one); "presumed resistant" when flagged, the evidence level stated as exploratory."""
    implication: dict[str, Any] = {"text": flag["headline"]}
    if flag["status"] == AT_RISK:
        implication["coding"] = [{"system": LOINC, "code": "LA9660-7", "display": "Presumed resistant"}]
    tdm1 = {"coding": [{"system": C.RXNORM, "code": C.TDM1.rxnorm[0], "display": "ado-trastuzumab emtansine"}],
            "text": "trastuzumab emtansine (T-DM1)"}
    o = {"resourceType": "Observation", **common,
         "code": {"coding": [{"system": TBD, "code": "therapeutic-implication", "display": "Therapeutic Implication"}],
                  "text": "Risk of primary resistance to trastuzumab emtansine (T-DM1), from ctDNA and hormone-receptor "
                          "status"},
         "interpretation": [{"coding": [{"system": LOCAL, "code": flag["status"]}], "text": flag["status"]}],
         "component": [
             {"code": {"coding": [{"system": TBD, "code": "therapeutic-implication"}], "text": "Therapeutic implication"},
              "valueCodeableConcept": implication},
             {"code": _loinc("51963-7", "Medication assessed [ID]"), "valueCodeableConcept": tdm1},
             {"code": _loinc("93044-6", "Level of evidence"),
              "valueCodeableConcept": {"text": "Exploratory: one retrospective single-centre study, 16 patients with "
                                               "ctDNA (4 primary-resistant); not validated"}}],
         "note": [{"text": r} for r in flag["reasons"]] + [{"text": flag["evidence"]}],
         "derivedFrom": [_ref(r) for r in derived_from]}
    return _profiled("therapeutic-implication", o)


def _diagnostic_report(stamp: Any, status: str, subject: tuple[dict, dict, dict], results: list[dict],
                       headline: str, pdf: bytes) -> dict:
    patient, specimen, practitioner = subject
    return {
        "resourceType": "DiagnosticReport", "meta": {"profile": [PROFILES["genomic-report"]]}, "status": status,
        "identifier": [{"system": f"{LOCAL}:report-id", "value": stamp.report_id},
                       {"system": f"{LOCAL}:report-version", "value": f"{stamp.report_id}/v{stamp.version}"}],
        "category": [_GE], "code": _loinc("51969-4", "Genetic analysis report"),
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


def _serial_specimen(entries: Any, t: dict, patient_ref: dict) -> dict:
    return entries.add({"resourceType": "Specimen", "subject": patient_ref,
                        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "PLAS",
                                             "display": "Plasma"}], "text": "Blood plasma, cell-free DNA (serial sample)"},
                        "identifier": [{"system": C.SAMPLE_SYSTEM, "value": t["sample_id"]}],
                        "collection": {"collectedDateTime": t["collection_date"]}}, f"specimen-{t['sample_id']}")


def _monitoring_observations(entries: Any, monitoring: dict | None, common: dict) -> list[dict]:
    """Serial monitoring: per timepoint, its plasma Specimen and one Variant per hotspot (Present / Absent / No
    call, the mutant level, the sample's category in a note), at the sample's collection date."""
    if not monitoring:
        return []
    unit = "copies/mL" if monitoring["unit"] == "copies_per_ml" else "copies/20 uL well"
    out = []
    for t in monitoring["timepoints"]:
        levels = {h: v for h, v in t["hotspots"].items() if v.get("mutant") is not None and h in HGVS}
        if not levels:
            continue
        specimen = _serial_specimen(entries, t, common["subject"])
        for hotspot, level in levels.items():
            call = {True: "positive", False: "negative"}.get(level.get("detected"), "not evaluable")
            o = {"resourceType": "Observation", **common, "specimen": _ref(specimen),
                 "effectiveDateTime": t["collection_date"], "code": _loinc("69548-6", "Genetic variant assessment"),
                 **_hotspot_value({"call": call, "reason": "see the timeline", "result": None}),
                 "component": [_gene("HGNC:8975", "PIK3CA"), _protein_change(HGVS[hotspot]), _SOMATIC,
                               {"code": _local("mutant-level", f"Mutant level ({unit})"),
                                "valueQuantity": {"value": round(float(level["mutant"]), 6), "unit": unit}}],
                 "note": [{"text": f"sample {t['sample_id']}, day {t['days_from_baseline']}: {t['category']} "
                                   f"({monitoring['rules']}; {t['rule']})"}]}
            out.append(entries.add(_profiled("variant", o), f"monitoring-{t['sample_id']}-{hotspot}"))
    return out


def fhir_bundle(report: Any, pdf: bytes) -> dict[str, Any]:
    """The FHIR R4 Bundle (a dict, JSON-ready) of a released report (:class:`tdm1core.reporting.release.ReleasedReport`)
    and its released PDF bytes."""
    stamp, result = report.stamp, report.content["result"]
    status = "amended" if stamp.version > 1 else "final"
    entries = _Entries(report)
    patient, specimen, device, practitioner = _subject(entries, report, result)
    common = {"status": status, "subject": _ref(patient), "specimen": _ref(specimen), "device": _ref(device),
              "issued": stamp.released_at, "category": [_LAB, _GE]}
    if result.get("collection_date"):
        common["effectiveDateTime"] = result["collection_date"]
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
