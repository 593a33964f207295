"""Released reports: a reviewer's release, immutable versions, amendments that say what changed, the FHIR R4 Bundle
(validated with fhir.resources) and the released JSON (validated against its JSON Schema)."""
from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from builders import qs17, sample_wells
import tdm1core.storage.access as access
from tdm1core.storage.access import AccessDenied, User
from tdm1core.reporting.release import released_json, report_id
from tdm1core.settings import Settings
import tdm1core.app.workflows as wf
ROOT = Path(__file__).resolve().parents[1]
REVIEWER = User(subject="rv1", email="rita@hospital.example", name="Rita Reviewer", roles=frozenset({"reviewer", "clinician"}),
                mode="signed-in", session="s-rita", roles_source="claim")


def _result(er="positive", settings=Settings(), patient="PX-1"):
    a = wf.assess_upload(qs17(sample_wells("S1", her2=900)), "run7.csv", settings, REVIEWER)
    return wf.patient_result(a.calls[0], er, "negative", patient, "2026-11-20", actor=REVIEWER), a.provenance


def _text(pdf: bytes) -> str:
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace("\n", " ")


def test_release_then_amend(url):
    store = wf.open_store(url)
    result, prov = _result()
    first = wf.release_result(store, result, prov, reviewed=wf.release_digest(result, prov), who=REVIEWER)
    assert (first.stamp.version, first.stamp.status, first.stamp.replaces) == (1, "final", None)
    assert first.stamp.report_id == report_id("PX-1", "S1") and first.stamp.reviewer == "Rita Reviewer (rita@hospital.example)"
    pdf1 = store.released_pdf(first.stamp.report_id, 1)
    assert hashlib.sha256(pdf1).hexdigest() == first.pdf_sha256
    text = _text(pdf1)
    assert "Reviewed and released by Rita Reviewer" in text and f"Report {first.stamp.report_id}, version 1 (final)" in text
    assert "DRAFT" not in text
    # the same content again: refused, nothing stored
    with pytest.raises(Exception, match="already released"):
        wf.release_result(store, result, prov, reviewed=wf.release_digest(result, prov), who=REVIEWER)
    # ER corrected and a threshold changed: an amended version 2 that says so
    corrected, prov2 = _result(er="negative", settings=Settings(her2_ratio_cutoff=1.3))
    second = wf.release_result(store, corrected, prov2, reviewed=wf.release_digest(corrected, prov2), who=REVIEWER)
    assert (second.stamp.version, second.stamp.status, second.stamp.replaces) == (2, "amended", 1)
    changes = " | ".join(second.stamp.changes)
    assert "ER status positive → negative" in changes and "setting her2_ratio_cutoff 1.25 → 1.3" in changes
    assert "flag at risk → not flagged" in changes
    text2 = _text(store.released_pdf(first.stamp.report_id, 2))
    assert "Amended report: replaces version 1" in text2 and "ER status positive → negative" in text2
    # version 1 is exactly as it was released
    assert store.released_pdf(first.stamp.report_id, 1) == pdf1
    history = wf.released_reports(store, patient_id="PX-1", who=REVIEWER)
    assert [r.stamp.version for r in history] == [2, 1]
    log = store.audit()
    assert list(log[log["action"].isin(["release", "amend"])]["action"]) == ["amend", "release"]
    assert set(log[log["action"].isin(["release", "amend"])]["email"]) == {"rita@hospital.example"}


def test_a_released_report_cannot_be_altered_through_any_path(url):
    store = wf.open_store(url)
    result, prov = _result()
    wf.release_result(store, result, prov, reviewed=wf.release_digest(result, prov), who=REVIEWER)
    # no store method changes or deletes one; the database refuses it too
    assert not [m for m in dir(store) if "release" in m and any(w in m for w in ("update", "delete", "remove", "edit"))]
    with store.engine.connect() as conn:
        for statement in ("UPDATE released_reports SET reviewer = 'someone else'", "DELETE FROM released_reports",
                          "UPDATE released_reports SET content_sha256 = 'x'"):
            with pytest.raises(sa.exc.DBAPIError, match="immutable"):
                with conn.begin():
                    conn.execute(sa.text(statement))
    assert store.releases()[0].stamp.reviewer.startswith("Rita Reviewer")
    # deleting the stored file or removing the demo does not touch released reports
    wf.remove_demo(store, access.local_user())
    assert len(store.releases()) == 1


def test_who_may_release(tmp_path):
    store = wf.open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    result, prov = _result()
    access.require_signed_in(True)
    try:
        for roles, allowed in ((("clinician",), False), (("researcher",), False), (("admin",), False), (("reviewer",), True)):
            user = User(subject=roles[0], email=f"{roles[0]}@h.example", roles=frozenset(roles), mode="signed-in", session=roles[0])
            if allowed:
                patient = f"P-{roles[0]}"
                r, p = _result(patient=patient)
                assert wf.release_result(store, r, p, reviewed=wf.release_digest(r, p), who=user).stamp.version == 1
            else:
                with pytest.raises(AccessDenied, match="needs the role reviewer"):
                    wf.release_result(store, result, prov, reviewed=wf.release_digest(result, prov), who=user)
        with pytest.raises(AccessDenied):
            wf.release_result(store, result, prov, reviewed=wf.release_digest(result, prov))  # the local user, in signed-in mode
    finally:
        access.require_signed_in(False)
    local = wf.release_result(store, result, prov, reviewed=wf.release_digest(result, prov))  # single-user local mode: the OS user, marked unauthenticated
    assert local.stamp.reviewer_authenticated is False
    assert "not authenticated" in _text(store.released_pdf(local.stamp.report_id, 1))


def test_demo_results_are_not_released(tmp_path):
    from tdm1core.demo import demo_export_path

    store = wf.open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    a = wf.assess_upload(demo_export_path().read_bytes(), demo_export_path().name, Settings())
    r = wf.patient_result(a.calls[0], "positive", "negative", "D1")
    with pytest.raises(Exception, match="synthetic demo"):
        wf.release_result(store, r, a.provenance, reviewed=wf.release_digest(r, a.provenance))


def test_the_fhir_bundle_validates_and_carries_the_result(tmp_path):
    pytest.importorskip("fhir.resources", reason="fhir.resources is not installed (pip install fhir.resources)")
    from fhir.resources.R4B.bundle import Bundle

    from tdm1core.reporting.fhir import fhir_bundle

    store = wf.open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    result, prov = _result()
    rel = wf.release_result(store, result, prov, reviewed=wf.release_digest(result, prov), who=REVIEWER)
    pdf = store.released_pdf(rel.stamp.report_id, 1)
    data = fhir_bundle(rel, pdf)
    Bundle.model_validate(data)  # raises on any structural error
    by_type: dict[str, list] = {}
    for e in data["entry"]:
        by_type.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    report = by_type["DiagnosticReport"][0]
    assert report["status"] == "final" and report["code"]["coding"][0]["code"] == "51969-4"
    form = report["presentedForm"][0]
    assert base64.b64decode(form["data"]) == pdf
    assert form["hash"] == base64.b64encode(hashlib.sha1(pdf).digest()).decode()
    assert by_type["Patient"][0]["identifier"][0]["value"] == "PX-1" and "name" not in by_type["Patient"][0]
    assert by_type["Specimen"][0]["collection"]["collectedDateTime"] == "2026-11-20"
    assert by_type["Device"][0]["version"][0]["value"]
    variants = [o for o in by_type["Observation"] if o["code"]["coding"][0]["code"] == "69548-6"]
    changes = {c["valueCodeableConcept"]["text"] for o in variants for c in o["component"]
               if c["code"]["coding"][0]["code"] == "48005-3"}
    assert changes == {"NP_006209.2:p.Glu542Lys", "NP_006209.2:p.Glu545Lys", "NP_006209.2:p.His1047Arg"}
    genes = {c["valueCodeableConcept"]["coding"][0]["code"] for o in variants for c in o["component"]
             if c["code"]["coding"][0]["code"] == "48018-6"}
    assert genes == {"HGNC:8975"}
    assert all(o["valueCodeableConcept"]["coding"][0]["code"] == "LA9634-2" for o in variants)  # all absent here
    receptor = {o["code"]["coding"][0]["code"]: o for o in by_type["Observation"]}
    assert receptor["16112-5"]["valueCodeableConcept"]["text"] == "positive"
    assert receptor["16113-3"]["valueCodeableConcept"]["text"] == "negative"
    flag = next(o for o in by_type["Observation"] if o["code"]["coding"][0]["code"] == "therapeutic-implication")
    assert flag["interpretation"][0]["text"] == "at risk" and any("HER2 is not amplified" in n["text"] for n in flag["note"])
    assert "value" not in "".join(flag) and flag["component"][0]["valueCodeableConcept"]["coding"][0]["code"] == "LA9660-7"
    her2 = next(o for o in by_type["Observation"] if o["code"]["coding"][0]["code"] == "her2-eftud2-ratio")
    assert her2["valueQuantity"]["value"] == pytest.approx(result.calls.her2.ratio, rel=1e-6)
    # an amendment is "amended"
    amended, prov2 = _result(er="negative")
    rel2 = wf.release_result(store, amended, prov2, reviewed=wf.release_digest(amended, prov2), who=REVIEWER)
    data2 = fhir_bundle(rel2, store.released_pdf(rel2.stamp.report_id, 2))
    Bundle.model_validate(data2)
    assert next(e["resource"] for e in data2["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")["status"] == "amended"


def test_the_released_json_follows_its_schema(tmp_path):
    import jsonschema

    store = wf.open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    result, prov = _result()
    rel = wf.release_result(store, result, prov, reviewed=wf.release_digest(result, prov), who=REVIEWER)
    schema = json.loads((ROOT / "tdm1core" / "schemas" / "released_result.schema.json").read_text())
    doc = json.loads(json.dumps(released_json(rel), default=str))
    jsonschema.validate(doc, schema)
    assert doc["result"] == json.loads(json.dumps(rel.content["result"]))
    broken = dict(doc, release=dict(doc["release"], version=0))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_the_command_line_releases_and_writes_the_fhir_bundle(tmp_path, capsys):
    pytest.importorskip("fhir.resources")
    from fhir.resources.R4B.bundle import Bundle

    from tdm1core.app.cli import main

    export = tmp_path / "run7.csv"
    export.write_bytes(qs17(sample_wells("S1", her2=900)))
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    draft = ["report", "patient", str(export), "--sample", "S1", "--er", "positive", "--pr", "negative",
             "--patient-id", "PX-2", "-o", str(tmp_path / "draft.pdf")]
    assert main(draft) == 0
    digest = capsys.readouterr().out.split("content SHA-256 ", 1)[1].split()[0]
    args = ["report", "patient", str(export), "--sample", "S1", "--er", "positive", "--pr", "negative",
            "--patient-id", "PX-2", "--release", "--db", db, "-o", str(tmp_path / "r.pdf"),
            "--fhir", str(tmp_path / "r.fhir.json"), "--released-json", str(tmp_path / "r.json"), "--reviewed", digest]
    # the attestation covers what was reviewed: without it, or for other content (PR changed), nothing is released
    assert main(args[:-2]) == 2 and "no review was attested" in capsys.readouterr().err
    other = [a if a != "negative" else "positive" for a in args]
    assert main(other) == 2 and "changed after the review" in capsys.readouterr().err
    assert main(args) == 0
    assert "released report TDM1-" in capsys.readouterr().out
    bundle = json.loads((tmp_path / "r.fhir.json").read_text())
    Bundle.model_validate(bundle)
    pdf = (tmp_path / "r.pdf").read_bytes()
    assert "version 1 (final)" in _text(pdf)
    assert json.loads((tmp_path / "r.json").read_text())["release"]["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert main(args) == 2 and "already released" in capsys.readouterr().err
    assert main(draft[:-2] + ["-o", str(tmp_path / "x.pdf"), "--fhir", str(tmp_path / "x.json")]) == 2  # --fhir needs --release
