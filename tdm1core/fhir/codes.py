"""The codes the FHIR import reads and the FHIR export writes, defined once (docs/fhir.md cites each source).

A code is here only where it can be cited; a resource whose code is not here is not used (listed in the import's
preview, never guessed from its text). A new therapy is one :data:`THERAPIES` entry and its tests.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LOINC", "SNOMED", "RXNORM", "ATC", "ICD10", "ICD10CM", "CONDITION_CLINICAL", "RECEPTOR_CODES",
           "RECEPTOR_ANSWERS", "BREAST_CANCER", "Therapy", "THERAPIES", "TDM1", "RESPONSE_CODES", "RECIST_WORDS",
           "STAGE_IV_WORDS", "GR_PROFILE", "SAMPLE_SYSTEM", "PATIENT_SYSTEM", "therapy_of", "coded"]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"

# the product's own identifier systems (the export writes them; the import reads them back)
PATIENT_SYSTEM = "urn:tdm1core:pseudonymous-patient-id"
SAMPLE_SYSTEM = "urn:tdm1core:sample"

# ER and PR status by immunohistochemistry (LOINC): the table's er_status / pr_status
RECEPTOR_CODES: dict[tuple[str, str], str] = {
    (LOINC, "16112-5"): "er_status",  # Estrogen receptor [Interpretation] in Tissue
    (LOINC, "85337-4"): "er_status",  # Estrogen receptor Ag [Presence] in Breast cancer specimen by Immune stain
    (LOINC, "16113-3"): "pr_status",  # Progesterone receptor [Interpretation] in Tissue
    (LOINC, "85339-0"): "pr_status",  # Progesterone receptor Ag [Presence] in Breast cancer specimen by Immune stain
}
# their answers: LOINC answers Positive / Negative, and SNOMED CT qualifier values Positive / Negative
RECEPTOR_ANSWERS: dict[tuple[str, str], str] = {
    (LOINC, "LA6576-8"): "positive", (LOINC, "LA6577-6"): "negative",
    (SNOMED, "10828004"): "positive", (SNOMED, "260385009"): "negative",
}

# the breast cancer Condition: SNOMED CT "Malignant neoplasm of breast", ICD-10 / ICD-10-CM C50 and its sub-codes
BREAST_CANCER = ((SNOMED, "254837009"), (ICD10, "C50"), (ICD10CM, "C50"))
# a stage summary read as "de novo stage IV" (the patient table's own accepted spellings of that value)
STAGE_IV_WORDS = ("stage iv", "stage 4", "iv", "4", "ajcc stage iv")


@dataclass(frozen=True)
class Therapy:
    """A drug the import recognises: the table's column it marks ``yes`` when given before T-DM1, its codes."""

    name: str
    column: str | None  # the patient table's prior_* column; None for T-DM1 itself
    rxnorm: tuple[str, ...]
    atc: tuple[str, ...]


THERAPIES: tuple[Therapy, ...] = (
    Therapy("trastuzumab emtansine (T-DM1)", None, ("1371041",), ("L01FD03",)),
    Therapy("trastuzumab", "prior_trastuzumab", ("224905",), ("L01FD01",)),
    Therapy("pertuzumab", "prior_pertuzumab", ("1298944",), ("L01FD02",)),
    Therapy("lapatinib", "prior_lapatinib", ("480167",), ("L01EH01",)),
    Therapy("paclitaxel", "prior_taxane", ("56946",), ("L01CD01",)),
    Therapy("docetaxel", "prior_taxane", ("72962",), ("L01CD02",)),
    Therapy("capecitabine", "prior_capecitabine", ("194000",), ("L01BC06",)),
    Therapy("vinorelbine", "prior_vinorelbine", ("39541",), ("L01CA04",)),
    Therapy("eribulin", "prior_eribulin", ("1045453",), ("L01XX41",)),
    Therapy("cyclophosphamide", "prior_cyclophosphamide", ("3002",), ("L01AA01",)),
    Therapy("doxorubicin", "prior_anthracycline", ("3639",), ("L01DB01",)),
    Therapy("epirubicin", "prior_anthracycline", ("3995",), ("L01DB03",)),
)
TDM1 = THERAPIES[0]
_BY_CODE = {(RXNORM, c): t for t in THERAPIES for c in t.rxnorm} | {(ATC, c): t for t in THERAPIES for c in t.atc}

# imaging response Observations: "Response to cancer treatment" (LOINC 88040-1, mCODE STU1 CancerDiseaseStatus) and
# "Cancer outcome status" (LOINC 21976-6, used for RECIST responses); the value is a RECIST 1.1 category
RESPONSE_CODES = ((LOINC, "88040-1"), (LOINC, "21976-6"))
RECIST_WORDS = {"cr": "CR", "complete response": "CR", "pr": "PR", "partial response": "PR", "sd": "SD",
                "stable disease": "SD", "pd": "PD", "progressive disease": "PD", "ne": "NE", "not evaluable": "NE"}

# HL7 Genomics Reporting STU3 (3.0.0) profiles the released bundle declares
GR_PROFILE = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/"


def coded(concept: dict | None) -> list[tuple[str, str]]:
    """The (system, code) pairs of a CodeableConcept (JSON), those with both parts."""
    if not isinstance(concept, dict):
        return []
    coding = concept.get("coding")
    return [(str(c["system"]), str(c["code"])) for c in (coding if isinstance(coding, list) else [])
            if isinstance(c, dict) and isinstance(c.get("system"), str) and isinstance(c.get("code"), str)
            and c["system"] and c["code"]]


def therapy_of(concept: dict | None) -> Therapy | None:
    """The recognised therapy a medication CodeableConcept codes, if any (RxNorm or ATC)."""
    for pair in coded(concept):
        if pair in _BY_CODE:
            return _BY_CODE[pair]
    return None
