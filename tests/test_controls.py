"""Plate controls: NTC, negative and positive controls recognised by the export's sample type or the lab's naming
rule, checked against the profile's limits of blank and the cut-off; a failed control makes every result of the plate
not evaluable, on screen, in the JSON and in the PDF."""
from __future__ import annotations

import io
from dataclasses import replace

import pytest
from pypdf import PdfReader

from builders import QXM_HEADER_A, conc, qs17, qxm, qxm_row, sample_wells
from tdm1core.calling.calls import call_export
from tdm1core.reading.exports import read_export
from tdm1core.clinical.risk import PatientResult
from tdm1core.settings import Settings


def _calls(data: bytes, settings=Settings()):
    return call_export(read_export(data, "plate.csv", settings), settings)


def _ntc(mutant_positives: int = 0, eftud2: int = 0, name: str = "NTC"):
    wells = sample_wells(name, her2=0, eftud2=eftud2, wt=0, e545k_mut=mutant_positives, well0=20)
    return wells


def test_a_clean_ntc_passes_and_is_not_a_patient_sample():
    calls = _calls(qs17(sample_wells("P1", her2=900) + _ntc()))
    assert [c.sample for c in calls] == ["P1"]  # the control is never called as a patient sample
    c = calls[0]
    assert c.controls.status == "passed" and c.her2.call == "not amplified"
    d = c.to_dict()["controls"]
    assert d["status"] == "passed" and {w["kind"] for w in d["wells"]} == {"NTC"}


def test_an_ntc_with_mutant_copies_above_the_limit_of_blank_fails_the_plate():
    calls = _calls(qs17(sample_wells("P1", her2=900) + sample_wells("P2", her2=2600, well0=4) + _ntc(mutant_positives=2)))
    copies = 20 * conc(2, 15000)
    for c in calls:
        assert c.controls.failed
        assert c.her2.call == "not evaluable" and all(h.call == "not evaluable" for h in c.pik3ca.hotspots)
        assert c.pik3ca.any_mutant is None and "plate control failed" in c.her2.reason
        assert f"{copies:.2f} copies/20 µL" in c.controls.reasons[0] and "above the limit of blank 0" in c.controls.reasons[0]
        assert PatientResult.from_calls(c, "positive", "negative").flag.status == "incomplete"
    # the lab's profile has a limit of blank of 3.5 copies on E545K (2 droplets are 3.14 copies): the same NTC passes
    assert copies == pytest.approx(3.14, abs=0.01)
    lab = Settings(blank_limits=(("E545K", 3.5),))
    assert all(c.controls.status == "passed" for c in _calls(qs17(sample_wells("P1") + _ntc(mutant_positives=2)), lab))


def test_an_ntc_with_reference_dna_fails():
    calls = _calls(qs17(sample_wells("P1") + _ntc(eftud2=5)))
    assert calls[0].controls.failed and "EFTUD2" in calls[0].controls.reasons[0]


def test_positive_and_negative_controls_by_the_naming_rule():
    good = sample_wells("Pos ctrl E545K", e545k_mut=60, well0=24)  # named: only E545K must be positive
    weak = [replace(w, ch1_positives=1) if "E545K" in w.ch1_target else w for w in good]
    assert _calls(qs17(sample_wells("P1") + good))[0].controls.status == "passed"
    failed = _calls(qs17(sample_wells("P1") + weak))[0].controls
    assert failed.failed and "positive control" in failed.reasons[0] and "below the cut-off 3" in failed.reasons[0]
    neg = sample_wells("Neg control", e545k_mut=3, well0=28)  # wild-type DNA with mutant droplets
    assert _calls(qs17(sample_wells("P1") + neg))[0].controls.failed
    # the rule is a setting: without it, "Neg control" is called as a sample
    plain = Settings(negative_control_pattern="")
    assert "Neg control" in [c.sample for c in _calls(qs17(sample_wells("P1") + neg), plain)]


def test_qx_manager_sample_types():
    rows = []
    for sample, stype, mut in (("P1", "Unknown", 0), ("SMN2 Control", "PosCtrl", 0), ("Water", "NTC", 0)):
        base = {"P1": "A", "SMN2 Control": "B", "Water": "C"}[sample]
        rows += [qxm_row(QXM_HEADER_A, f"{base}01", sample, "HER2", "FAM", "Unknown", 900 if sample == "P1" else 0, 15000, stype),
                 qxm_row(QXM_HEADER_A, f"{base}01", sample, "EFTUD2", "HEX", "Reference", 1000 if sample == "P1" else 0, 15000, stype),
                 qxm_row(QXM_HEADER_A, f"{base}02", sample, "PIK3CA E545K MUT", "FAM", "Unknown", mut, 15000, stype),
                 qxm_row(QXM_HEADER_A, f"{base}02", sample, "PIK3CA E545K WT", "HEX", "Unknown", 600 if sample == "P1" else 0, 15000, stype)]
    calls = _calls(qxm(rows))
    assert [c.sample for c in calls] == ["P1"]
    controls = calls[0].controls
    assert controls.failed and any("positive control B02" in r for r in controls.reasons)  # PosCtrl without mutant
    assert {w.kind for w in controls.wells} == {"positive control", "NTC"}


def test_a_failed_control_is_on_the_pdf():
    from tdm1core.reporting.report import Provenance, patient_report

    c = _calls(qs17(sample_wells("P1") + _ntc(mutant_positives=2)))[0]
    pdf = patient_report(PatientResult.from_calls(c, "positive", "negative", "PX"), Provenance("plate.csv", "0" * 64, "t"))
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace("\n", " ")
    assert "Plate controls: failed" in text and "NTC" in text and "not evaluable" in text


def test_a_bad_naming_rule_is_refused():
    with pytest.raises(Exception, match="regular expression"):
        Settings(ntc_pattern="(unclosed")
