"""The Patient page's limits of a result and failed plate controls; the Settings page's cut-off profiles from blank
wells: validated, saved as a version, chosen for the session and stamped."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from builders import qs17, sample_wells  # noqa: E402
from test_pages import assert_clean, open_page, shown, texts  # noqa: E402


def test_the_patient_page_shows_the_limits_and_a_failed_control():
    plate = qs17(sample_wells("P1", her2=900) + sample_wells("NTC", her2=0, eftud2=0, wt=0, e545k_mut=2, well0=20))
    at = open_page("pages/patient.py")
    at.file_uploader(key="patient_upload").set_value(("plate.csv", plate, "text/csv")).run()
    at.radio(key="patient_er").set_value("positive").run()
    assert_clean(at)
    body = texts(at)
    assert "Limits of this result" in [h.value for h in at.subheader]
    assert "Cut-off profile: study (Table 3 cut-offs) v1" in body
    assert "Plate control failed" in body and "NTC" in body
    assert "Incomplete" in body or "incomplete" in body  # no flag from a plate whose control failed


def test_the_patient_page_says_what_a_not_detected_could_have_seen():
    at = open_page("pages/patient.py")
    at.file_uploader(key="patient_upload").set_value(("s.csv", qs17(sample_wells("P1", wt=60)), "text/csv")).run()
    assert_clean(at)
    body = texts(at)
    assert "Input DNA limits sensitivity" in body and "Tumour DNA content is unknown" in body
    table = next(d.value for d in at.table if "result" in d.value.columns)  # the PIK3CA table
    assert table["result"].str.startswith("not detected (95 % detection at").all()


def _blanks(n: int = 10) -> bytes:
    wells = []
    for i in range(n):
        wells += sample_wells(f"HV{i}", her2=1000, eftud2=1000, well0=4 * i)
    return qs17(wells)


def test_the_settings_page_validates_saves_and_applies_a_profile():
    at = open_page("pages/settings.py")
    at.expander[0]  # the validation expander exists for the lab (local mode: every role)
    at.file_uploader(key="val_blanks").set_value([("blanks.csv", _blanks(), "text/csv")]).run()
    assert_clean(at)
    body = texts(at)
    assert "Proposed PIK3CA cut-off: 3 copies/20 µL" in body and "every blank was zero" in body
    import uuid

    name = f"Lab X PIK3CA {uuid.uuid4().hex[:6]}"  # the page tests share one database: a name of this test's own
    at.text_input(key="val_name").input(name).run()
    at.button(key="val_save").click().run()
    assert_clean(at)
    assert any(f"Stored cut-off profile {name} v1" in m.value.replace("\\", "") for m in at.success)
    assert f"{name} v1" in at.selectbox(key="set_profile").options
    at.selectbox(key="set_profile").set_value(f"{name} v1").run()
    at.button(key="set_use_profile").click().run()
    assert_clean(at)
    settings = at.session_state["settings"]
    assert settings.cutoff_profile == f"{name} v1" and settings.pik3ca_mutant_cutoff_copies == 3.0
    assert dict(settings.blank_limits) == {"E542K": 0.0, "E545K": 0.0, "H1047R": 0.0}
    assert f"cut-off profile {name} v1" in texts(at)  # stamped with the settings in force


def _attest(at):
    """The page's one review attestation box (keyed by the content hash it names)."""
    (box,) = [c for c in at.checkbox if str(c.key).startswith("release_confirm_")]
    return box


def test_the_patient_page_releases_and_amends_a_report():
    import uuid

    sample = f"R{uuid.uuid4().hex[:6]}"  # the page tests share one database: a sample of this test's own
    at = open_page("pages/patient.py")
    at.file_uploader(key="patient_upload").set_value(("run.csv", qs17(sample_wells(sample, her2=900)), "text/csv")).run()
    at.radio(key="patient_er").set_value("positive").run()
    at.text_input(key="patient_id").input("PX-REL").run()
    at.button(key="release").click().run()  # not confirmed: nothing released
    assert any("Tick the box" in w.value for w in at.warning) and not at.success
    _attest(at).check().run()
    at.button(key="release").click().run()
    assert_clean(at)
    assert any("version 1 (final)" in m.value for m in at.success)
    assert any("**Version 1** (final)" in m.value for m in at.markdown)
    at.button(key="release").click().run()  # the same again: refused
    assert any("already released" in e.value for e in at.error)
    ticked = _attest(at).key
    at.radio(key="patient_er").set_value("negative").run()
    assert _attest(at).key != ticked and not _attest(at).value  # the content changed: the attestation is cleared
    at.button(key="release").click().run()  # one click after the change releases nothing nobody attested
    assert any("Tick the box" in w.value for w in at.warning) and not any("version 2" in m.value for m in at.success)
    _attest(at).check().run()
    at.button(key="release").click().run()
    assert any("version 2 (amended)" in m.value and "ER status positive → negative" in m.value.replace("\\", "")
               for m in at.success)
    versions = [m.value for m in at.markdown if m.value.startswith("**Version")]
    assert versions[0].startswith("**Version 2** (amended)") and versions[1].startswith("**Version 1** (final)")


def _cards(at) -> list[str]:
    return [m.value for m in at.markdown if 'role="status"' in m.value]


def test_manual_entry_with_inputs_that_disagree_or_a_refused_value_shows_no_result():
    """Issue 23 item 5: a typed ratio, then copies that disagree; then a refused value. No card is shown as current."""
    at = open_page("pages/patient.py")
    at.radio(key="patient_mode").set_value("Enter the numbers").run()
    at.radio(key="patient_er").set_value("positive").run()
    at.number_input(key="patient_ratio").set_value(1.24).run()
    assert any("At risk of primary resistance" in c for c in _cards(at))
    at.number_input(key="patient_her2").set_value(2000.0)
    at.number_input(key="patient_eftud2").set_value(1000.0).run()
    assert not _cards(at), "a result is shown while the inputs disagree"
    assert any("1.24" in shown(e.value) and "2.00" in shown(e.value) for e in at.error)
    at.number_input(key="patient_ratio").set_value(None).run()
    assert any("Not flagged" in c for c in _cards(at)) and not at.error
    at.number_input(key="patient_her2").set_value(-5.0).run()
    assert not _cards(at), "the previous result stays on the card after a refused value"
    assert any("HER2 copies" in shown(e.value) and "-5" in shown(e.value) for e in at.error)
