"""Property tests of the FHIR reader and mapper (issue 29): any bytes, any truncation of a real export, any order
of the resources: refused with a FhirFormatError naming the file, or read; never another exception, never a
resource invented or a value guessed."""
import json

import pytest
from hypothesis import given, settings as hsettings, strategies as st

pytest.importorskip("fhir.resources", reason="fhir.resources is not installed (pip install fhir.resources)")

from fhir_builders import PSEUDONYM, Person, bundle, ndjson_folder  # noqa: E402
from tdm1core.errors import FhirFormatError  # noqa: E402
from tdm1core.fhir.mapping import FhirOptions, map_fhir  # noqa: E402
from tdm1core.fhir.reading import read_fhir  # noqa: E402

PEOPLE = [Person("P1", sample="P1-plasma"), Person("P2", er="negative", stage="Stage IV"), Person("P3", er=None)]
BUNDLE = bundle(PEOPLE)
NDJSON = b"".join(d for d, _ in ndjson_folder(PEOPLE))
OPTIONS = FhirOptions(patient_id_system=PSEUDONYM)


@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_read_or_refused_with_the_files_name(data):
    try:
        read_fhir([(data, "x.json")])
    except FhirFormatError as exc:
        assert "x.json" in str(exc)


@hsettings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(BUNDLE) - 1))
def test_a_truncated_bundle_is_refused(cut):
    part = BUNDLE[:cut]
    with pytest.raises(FhirFormatError):
        read_fhir([(part, "b.json")])


@hsettings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=len(NDJSON) - 1))
def test_a_truncated_ndjson_file_is_refused_unless_cut_at_a_line_end(cut):
    part = NDJSON[:cut]
    whole_lines = part.endswith(b"\n") or NDJSON[cut:cut + 1] == b"\n"
    try:
        read = read_fhir([(part, "all.ndjson")])
    except FhirFormatError as exc:
        assert not whole_lines or "line" in str(exc)
        return
    assert whole_lines or part.count(b"\n") == 0  # one complete line parses as one resource
    lines = [json.loads(x) for x in part.splitlines() if x.strip()]
    assert [x.resource for x in read.resources] == lines  # nothing invented


@hsettings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_order_of_the_resources_does_not_change_the_rows(rnd):
    lines = NDJSON.splitlines()
    rnd.shuffle(lines)
    shuffled = map_fhir(read_fhir([(b"\n".join(lines) + b"\n", "all.ndjson")]), OPTIONS)
    reference = map_fhir(read_fhir([(NDJSON, "all.ndjson")]), OPTIONS)
    assert sorted(shuffled.rows, key=lambda r: r["patient_id"]) == sorted(reference.rows, key=lambda r: r["patient_id"])


@hsettings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["status", "subject", "code", "valueCodeableConcept", "effectiveDateTime",
                                        "effectivePeriod", "medicationCodeableConcept", "stage", "clinicalStatus"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=12), st.lists(st.integers(), max_size=2),
                                 st.dictionaries(st.sampled_from(["reference", "coding", "text", "start"]),
                                                 st.one_of(st.text(max_size=12), st.lists(st.dictionaries(
                                                     st.sampled_from(["system", "code"]), st.text(max_size=10)),
                                                     max_size=2))))),
       st.sampled_from(["Observation", "Condition", "MedicationStatement", "MedicationRequest", "Specimen"]))
def test_a_malformed_resource_is_listed_or_not_read_never_an_exception(fields, kind):
    """Whatever shape a resource's fields have (wrong types included), the mapper lists or skips it: the resource
    is given a code the import reads and a real patient, so the malformed fields are reached."""
    known = {"Observation": {"code": {"coding": [{"system": "http://loinc.org", "code": "88040-1"}]}},
             "Condition": {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "254837009"}]}},
             "MedicationStatement": {"medicationCodeableConcept": {"coding": [
                 {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1371041"}]}, "status": "completed"},
             "MedicationRequest": {"medicationCodeableConcept": {"coding": [
                 {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1298944"}]}, "status": "active"},
             "Specimen": {"identifier": [{"system": "urn:tdm1core:sample", "value": "odd"}]}}[kind]
    base = {"resourceType": kind, "id": "odd", "subject": {"reference": "Patient/P1-fhir"}, "status": "final", **known}
    odd = json.dumps({**base, **{k: v for k, v in fields.items() if k not in known}}).encode()
    mapped = map_fhir(read_fhir([(NDJSON + odd + b"\n", "all.ndjson")]), OPTIONS)
    reference = map_fhir(read_fhir([(NDJSON, "all.ndjson")]), OPTIONS)
    assert {r["patient_id"] for r in mapped.rows} == {r["patient_id"] for r in reference.rows}
