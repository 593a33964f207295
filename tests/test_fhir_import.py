"""Issue 29: patient data in from FHIR (a Bundle or a Bulk Data export), previewed, mapped without guessing, stored
all or nothing, never a name."""
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

pytest.importorskip("fhir.resources", reason="fhir.resources is not installed (pip install fhir.resources)")

import tdm1core.app.workflows as wf  # noqa: E402
from fhir_builders import PSEUDONYM, Person, bundle, ndjson_folder  # noqa: E402
from tdm1core.app.fhir import FhirOptions, import_fhir, preview_fhir  # noqa: E402
from tdm1core.errors import CohortFormatError, FhirFormatError, SettingsError  # noqa: E402

OPTIONS = FhirOptions(patient_id_system=PSEUDONYM)
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture
def store(url):
    return wf.open_store(url)


def _people():
    return [Person("F01", sample="F01-plasma"),
            Person("F02", family="Suzuki", given="Ichiro", er="negative", pr="positive", stage="Stage IV",
                   tdm1=[("2017-02-01", "2017-10-01")], prior=[("224905", "2016-01-01"), ("56946", "2016-01-01")],
                   responses=[("2017-04-01", "SD"), ("2017-07-01", "PR")]),
            Person("F03", family="Sato", er=None, pr=None, responses=[])]  # missing receptors, no response yet


def _row(preview, pid):
    return next(r for r in preview.records if r["patient_id"] == pid)


def test_a_bundle_maps_each_column_as_the_record_says(store):
    p = preview_fhir(store, [(bundle(_people()), "record.json")], store.saved_settings(), OPTIONS)
    assert p.patients.new == ("F01", "F02", "F03") and not p.patients.changed
    f1, f2, f3 = (_row(p, x) for x in ("F01", "F02", "F03"))
    # F01: born 1960-05-01, T-DM1 from 2016-03-01: 55 years; pertuzumab before; PR then PD on 2016-09-15
    assert {k: f1[k] for k in ("age", "stage", "er_status", "pr_status", "prior_pertuzumab", "tdm1_start_date",
                               "first_response", "best_response", "progression", "progression_or_last_followup_date",
                               "ctdna_sample_id")} == {
        "age": "55", "stage": "recurrent", "er_status": "positive", "pr_status": "negative", "prior_pertuzumab": "yes",
        "tdm1_start_date": "2016-03-01", "first_response": "PR", "best_response": "PR", "progression": "yes",
        "progression_or_last_followup_date": "2016-09-15", "ctdna_sample_id": "F01-plasma"}
    # F02: de novo stage IV, trastuzumab and paclitaxel before, SD then PR, no progression: censored at the later of
    # the last imaging (2017-07-01) and the course's end (2017-10-01)
    assert (f2["stage"], f2["prior_trastuzumab"], f2["prior_taxane"], f2["prior_pertuzumab"]) == \
        ("de novo stage IV", "yes", "yes", "")
    assert (f2["first_response"], f2["best_response"], f2["progression"], f2["progression_or_last_followup_date"]) == \
        ("SD", "PR", "no", "2017-10-01")
    assert (f3["er_status"], f3["pr_status"], f3["first_response"], f3["progression"]) == ("", "", "", "")


def test_a_bulk_data_export_and_a_searchset_or_transaction_bundle_map_alike(store):
    s = store.saved_settings()
    rows = preview_fhir(store, [(bundle(_people()), "b.json")], s, OPTIONS).records
    assert preview_fhir(store, ndjson_folder(_people()), s, OPTIONS).records == rows
    for kind in ("searchset", "transaction"):
        assert preview_fhir(store, [(bundle(_people(), kind), "b.json")], s, OPTIONS).records == rows


def test_names_contacts_and_hospital_numbers_are_never_stored(store):
    people = [Person("F01", family="Yamamoto-Unique", given="Kazuko-Unique")]
    import_fhir(store, [(bundle(people), "record.json")], store.saved_settings(), OPTIONS, "me")
    with store.engine.connect() as conn:
        text = []
        meta = sa.MetaData()
        meta.reflect(conn)
        for t in meta.sorted_tables:
            for row in conn.execute(sa.select(t)):
                text += [bytes(v).decode("utf-8", "replace") if isinstance(v, (bytes, memoryview)) else str(v) for v in row]
    everything = "\n".join(text)
    assert "F01" in everything  # the import is there …
    for secret in ("Yamamoto-Unique", "Kazuko-Unique", "MRNF01", "1234 5678"):  # … and no name, number or phone
        assert secret not in everything


def test_two_t_dm1_courses_are_listed_not_chosen(store):
    p = preview_fhir(store, [(bundle([Person("F09", tdm1=[("2016-01-01", "2016-04-01"), ("2018-01-01", None)])]),
                              "b.json")], store.saved_settings(), OPTIONS)
    row = _row(p, "F09")
    assert row["tdm1_start_date"] == "" and row["first_response"] == "" and row["prior_pertuzumab"] == ""
    reasons = " ".join(u.reason for u in p.mapping.unmapped)
    assert "2 T-DM1 courses (starting 2016-01-01, 2018-01-01)" in reasons
    # records within the course gap are one course: no listing
    one = preview_fhir(store, [(bundle([Person("F09", tdm1=[("2016-01-01", "2016-04-01"), ("2016-05-01", None)])]),
                                "b.json")], store.saved_settings(), OPTIONS)
    assert _row(one, "F09")["tdm1_start_date"] == "2016-01-01" and not one.mapping.unmapped


def test_unknown_codes_are_listed_or_not_read_never_guessed(store):
    from fhir.resources.R4B.medicationstatement import MedicationStatement
    from fhir.resources.R4B.observation import Observation

    ref = {"reference": "Patient/F01-fhir"}
    odd_er = Observation(id="odd-er", status="final", subject=ref,
                         code={"coding": [{"system": "http://loinc.org", "code": "16112-5"}]},
                         valueCodeableConcept={"coding": [{"system": "urn:local", "code": "weakly+"}], "text": "weakly +"})
    heart = Observation(id="hr", status="final", subject=ref, code={"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                        valueQuantity={"value": 70})
    aspirin = MedicationStatement(id="asa", status="active", subject=ref,
                                  medicationCodeableConcept={"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1191"}]})
    odd_response = Observation(id="resp-x", status="final", subject=ref, effectiveDateTime="2016-06-01",
                               code={"coding": [{"system": "http://loinc.org", "code": "88040-1"}]},
                               valueCodeableConcept={"text": "improving"})
    p = preview_fhir(store, [(bundle([Person("F01", er=None)], extra=[odd_er, heart, aspirin, odd_response]), "b.json")],
                     store.saved_settings(), OPTIONS)
    where = {(u.resource, u.path): u.reason for u in p.mapping.unmapped}
    assert "no positive/negative answer code" in where[("Observation/odd-er", "valueCodeableConcept")]
    assert "not a RECIST 1.1 category" in where[("Observation/resp-x", "valueCodeableConcept")]
    assert _row(p, "F01")["er_status"] == ""  # not guessed from "weakly +"
    assert p.mapping.not_read["Observation (other codes)"] == 1
    assert p.mapping.not_read["MedicationStatement (other medications)"] == 1


def test_a_reference_to_no_patient_and_a_patient_without_the_pseudonym_are_listed(store):
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.patient import Patient

    stray = Observation(id="stray", status="final", subject={"reference": "Patient/nobody"},
                        code={"coding": [{"system": "http://loinc.org", "code": "16113-3"}]},
                        valueCodeableConcept={"coding": [{"system": "http://loinc.org", "code": "LA6576-8"}]})
    anonymous = Patient(id="anon", name=[{"family": "Nobody"}])
    p = preview_fhir(store, [(bundle([Person("F01")], extra=[stray, anonymous]), "b.json")], store.saved_settings(), OPTIONS)
    where = {(u.resource, u.path): u.reason for u in p.mapping.unmapped}
    assert "not a Patient of this input" in where[("Observation/stray", "subject.reference")]
    assert "no pseudonymous identifier" in where[("Patient/anon", "identifier")]
    assert p.patients.new == ("F01",)


def test_the_preview_shows_changed_patients_old_to_new_and_keeps_what_the_record_does_not_give(store):
    s = store.saved_settings()
    import_fhir(store, [(bundle([Person("F01")]), "v1.json")], s, OPTIONS, "me")
    wf.link_sample(store, "F01", "F01-late-plasma", "me")  # given in the app; the record has no specimen
    again = preview_fhir(store, [(bundle([Person("F01", pr="positive")]), "v2.json")], s, OPTIONS)
    assert again.patients.new == () and [c.patient_id for c in again.patients.changed] == ["F01"]
    assert again.patients.changed[0].changes == {"pr_status": ("negative", "positive")}
    assert _row(again, "F01")["ctdna_sample_id"] == "F01-late-plasma"  # kept: the record gives no sample
    same = preview_fhir(store, [(bundle([Person("F01")]), "v3.json")], s, OPTIONS)
    assert same.patients.unchanged == 1 and not same.patients.changed


def _counts(store):
    st = store.status()
    with store.engine.connect() as conn:
        events = conn.execute(sa.text("SELECT count(*) FROM serial_events")).scalar()
    return st.patients, st.files, st.audit_entries, events


@pytest.mark.parametrize("bad", ["truncated ndjson", "not json", "document bundle", "future date", "empty"])
def test_a_refused_import_stores_nothing(store, bad):
    s = store.saved_settings()
    before = _counts(store)
    if bad == "truncated ndjson":
        files = ndjson_folder(_people())
        files[-1] = (files[-1][0][: len(files[-1][0]) // 2], files[-1][1])
        error, text = FhirFormatError, "line"
    elif bad == "not json":
        files, error, text = [(b"<Bundle xmlns='http://hl7.org/fhir'/>", "b.xml")], FhirFormatError, "not complete JSON"
    elif bad == "document bundle":
        files, error, text = [(bundle(_people(), "document"), "doc.json")], FhirFormatError, "document"
    elif bad == "future date":
        files = [(bundle([Person("F01", tdm1=[("2099-01-01", None)], responses=[])]), "b.json")]
        error, text = CohortFormatError, "patient F01"
    else:
        files, error, text = [(b"  \n", "b.json")], FhirFormatError, "empty"
    with pytest.raises(error, match=text):
        import_fhir(store, files, s, OPTIONS, "me")
    assert _counts(store) == before


def test_the_import_stores_the_patients_and_the_monitoring_events_in_one_go(store):
    s = store.saved_settings()
    result = import_fhir(store, [(bundle(_people()), "record.json")], s, OPTIONS, "me")
    assert not result.duplicate and result.counts["new"] == 3
    cohort = wf.stored_patients(store, s, "me")
    f1 = cohort.patients.set_index("patient_id").loc["F01"]
    assert f1["er_status"] == "positive" and str(f1["tdm1_start_date"].date()) == "2016-03-01"
    _, events = store.serial_rows("F01")
    assert [(e.event_date, e.event_type, e.detail) for e in events] == [
        ("2016-03-01", "treatment_start", "T-DM1"), ("2016-09-01", "treatment_end", "T-DM1"),
        ("2016-05-01", "imaging", "PR"), ("2016-09-15", "imaging", "PD")]
    with store.engine.connect() as conn:
        detail = json.loads(conn.execute(sa.text("SELECT detail FROM audit_log WHERE action = 'import' "
                                                 "ORDER BY id DESC")).scalars().first())
    assert detail["fhir_inputs"][0]["name"] == "record.json" and len(detail["fhir_inputs"][0]["sha256"]) == 64
    assert import_fhir(store, [(bundle(_people()), "again.json")], s, OPTIONS, "me").duplicate


def test_the_options_are_checked():
    with pytest.raises(SettingsError):
        FhirOptions(course_gap_days=-1)
    with pytest.raises(SettingsError):
        FhirOptions(patient_id_system="  ")


def test_the_command_line_previews_then_imports_a_bulk_export_folder(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    for data, name in ndjson_folder(_people()):
        (folder / name).write_bytes(data)
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    env = {**__import__("os").environ, "TDM1_USER": "me"}
    cmd = [sys.executable, "-m", "tdm1core", "import", "fhir", str(folder), "--db", db, "--patient-id-system", PSEUDONYM]
    preview = subprocess.run(cmd + ["--preview"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert preview.returncode == 0, preview.stderr
    assert "3 new, 0 changed, 0 unchanged" in preview.stdout and "nothing stored" in preview.stdout
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    assert "3 new" in done.stdout
    assert wf.open_store(db, seed=False).status().patients == 3
    missing = subprocess.run([*cmd[:5], str(tmp_path / "nowhere.json"), "--db", db], capture_output=True, text=True,
                             cwd=ROOT, env=env)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and "nowhere.json" in missing.stderr


def test_a_released_bundle_imported_again_reproduces_the_patients_row(tmp_path):
    """The round trip: the FHIR bundle released for a stored patient, imported back, leaves that patient unchanged;
    into an empty database it gives the columns a released report carries (the ID, ER, PR, the ctDNA sample)."""
    from tdm1core.demo import demo_export_path
    from tdm1core.fhir.codes import PATIENT_SYSTEM
    from tdm1core.reporting.fhir import fhir_bundle
    from tdm1core.storage.access import User

    reviewer = User(subject="rv", email="rv@h.example", name="Rv", roles=frozenset({"reviewer", "clinician"}),
                    mode="local", session="s")
    store = wf.open_store(f"sqlite:///{tmp_path / 'a.sqlite'}")  # the demo cohort
    row = store.stored_patients()["D05"]
    export = demo_export_path()
    a = wf.assess_upload(export.read_bytes() + b"\n", "mine.csv", store.saved_settings(), reviewer)
    result = wf.patient_result(a.sample(row["ctdna_sample_id"]), row["er_status"], row["pr_status"], "D05",
                               actor=reviewer)
    rel = wf.release_result(store, result, a.provenance, reviewed=wf.release_digest(result, a.provenance), who=reviewer)
    data = json.dumps(fhir_bundle(rel, store.released_pdf(rel.stamp.report_id, 1))).encode()
    options = FhirOptions(patient_id_system=PATIENT_SYSTEM)
    back = preview_fhir(store, [(data, "released.json")], store.saved_settings(), options)
    assert back.patients.unchanged == 1 and not back.patients.new and not back.patients.changed
    assert _row(back, "D05") == {k: str(v) for k, v in row.items()}
    fresh = wf.open_store(f"sqlite:///{tmp_path / 'b.sqlite'}", seed=False)
    new = _row(preview_fhir(fresh, [(data, "released.json")], fresh.saved_settings(), options), "D05")
    carried = ("patient_id", "er_status", "pr_status", "ctdna_sample_id")
    assert {k: new[k] for k in carried} == {k: row[k] for k in carried}


def test_administrations_requests_and_referenced_medications_are_read_as_documented(store):
    """T-DM1 doses as MedicationAdministrations make one course; an earlier therapy ordered (MedicationRequest) counts
    by its order date; a Medication referenced by the statement is resolved; a T-DM1 that is only ordered dates no
    line (listed)."""
    from fhir.resources.R4B.medication import Medication
    from fhir.resources.R4B.medicationadministration import MedicationAdministration
    from fhir.resources.R4B.medicationrequest import MedicationRequest
    from fhir.resources.R4B.medicationstatement import MedicationStatement

    rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
    ref = {"reference": "Patient/F05-fhir"}
    doses = [MedicationAdministration(id=f"dose{i}", status="completed", subject=ref, effectiveDateTime=day,
                                      medicationCodeableConcept={"coding": [{"system": rx, "code": "1371041"}]})
             for i, day in enumerate(("2016-03-01", "2016-03-22", "2016-04-12"))]
    ordered = MedicationRequest(id="perj", status="completed", intent="order", subject=ref, authoredOn="2015-06-01",
                                medicationCodeableConcept={"coding": [{"system": "http://www.whocc.no/atc", "code": "L01FD02"}]})
    lapatinib = Medication(id="lap", code={"coding": [{"system": rx, "code": "480167"}]})
    by_ref = MedicationStatement(id="lapst", status="completed", subject=ref, effectivePeriod={"start": "2015-09-01"},
                                 medicationReference={"reference": "Medication/lap"})
    p = preview_fhir(store, [(bundle([Person("F05", tdm1=[], prior=[])], extra=[*doses, ordered, lapatinib, by_ref]),
                              "b.json")], store.saved_settings(), OPTIONS)
    row = _row(p, "F05")
    assert (row["tdm1_start_date"], row["prior_pertuzumab"], row["prior_lapatinib"]) == ("2016-03-01", "yes", "yes")
    assert row["first_response"] == "PR" and not p.mapping.unmapped
    only_ordered = MedicationRequest(id="tdm1-order", status="active", intent="order", subject={"reference": "Patient/F06-fhir"},
                                     authoredOn="2016-02-01",
                                     medicationCodeableConcept={"coding": [{"system": rx, "code": "1371041"}]})
    q = preview_fhir(store, [(bundle([Person("F06", tdm1=[], prior=[], responses=[])], extra=[only_ordered]), "b.json")],
                     store.saved_settings(), OPTIONS)
    assert _row(q, "F06")["tdm1_start_date"] == ""
    assert any("ordered but no dose" in u.reason for u in q.mapping.unmapped)


def test_a_patient_whose_record_disagrees_is_listed_and_keeps_the_stored_value(store):
    from fhir.resources.R4B.observation import Observation

    s = store.saved_settings()
    import_fhir(store, [(bundle([Person("F07")]), "v1.json")], s, OPTIONS, "me")
    other = Observation(id="er-again", status="final", subject={"reference": "Patient/F07-fhir"},
                        code={"coding": [{"system": "http://loinc.org", "code": "85337-4"}]},
                        valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "code": "260385009"}]})
    p = preview_fhir(store, [(bundle([Person("F07")], extra=[other]), "v2.json")], s, OPTIONS)
    assert _row(p, "F07")["er_status"] == "positive" and p.patients.unchanged == 1  # the stored value stands
    assert any("disagrees on er_status (negative, positive)" in u.reason for u in p.mapping.unmapped)
