"""The lab's own cut-offs in a real browser: blank wells uploaded on the Settings page, the limits shown, the profile
saved and chosen; the Patient page then shows each result's limits and stamps the profile on the JSON it downloads.
Screenshots (desktop and phone) in artifacts/screenshots/."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builders import qs17, sample_wells  # noqa: E402
from test_browser import ARGS, CHROMIUM, SHOTS, _no_exception, _text, _wait_for_text, _wait_idle, needs_browser, streamlit_server  # noqa: E402

pytestmark = pytest.mark.browser


def test_blank_wells_to_a_profile_to_a_stamped_result(tmp_path):
    from playwright.sync_api import sync_playwright

    needs_browser()
    blanks = tmp_path / "healthy_volunteers.csv"
    wells = []
    for i in range(10):
        wells += sample_wells(f"HV{i:02d}", her2=1000, eftud2=1000, well0=4 * i)
    blanks.write_bytes(qs17(wells))
    with streamlit_server(tmp_path / "app.sqlite") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        pg = context.new_page()
        pg.goto(url + "/settings-and-help")
        _wait_idle(pg)
        box = pg.locator("[data-testid='stExpander']").filter(has_text="Validation: the lab's own cut-offs")
        box.get_by_text("Validation: the lab's own cut-offs").click()
        box.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(blanks))
        text = _wait_for_text(pg, "Proposed PIK3CA cut-off")
        assert "Proposed PIK3CA cut-off: 3 copies/20 µL" in text and "every blank was zero" in text
        pg.get_by_label("Profile name (saving a name again makes its next version)").fill("Lab X PIK3CA")
        pg.get_by_role("button", name="Save as a cut-off profile").click()
        assert "Stored cut-off profile Lab X PIK3CA v1" in _wait_for_text(pg, "Stored cut-off profile Lab X PIK3CA v1")
        _wait_idle(pg)
        pg.screenshot(path=str(SHOTS / "limits_validation.png"), full_page=False)
        chooser = pg.locator("[data-testid='stSelectbox']").filter(has_text="Profile: the three cut-offs")
        chooser.scroll_into_view_if_needed()
        chooser.locator("input").click()
        pg.get_by_role("option", name="Lab X PIK3CA v1").click()
        _wait_idle(pg)
        pg.get_by_role("button", name="Use this profile for this session").click()
        text = _wait_for_text(pg, "Cut-off profile Lab X PIK3CA v1 in force")
        assert "cut-off profile Lab X PIK3CA v1" in text  # the settings in force, as stamped
        # to the Patient page by the sidebar, as a person does (the session's settings go along; a new URL load would be
        # a new session, starting from the database's saved settings)
        pg.locator(".st-key-sidebar_nav").get_by_text("Patient result").click()
        _wait_idle(pg)
        pg.get_by_text("Use the built-in demo export").click()
        text = _wait_for_text(pg, "Limits of this result")
        _wait_idle(pg)
        text = _text(pg)
        assert "Cut-off profile: Lab X PIK3CA v1" in text and "Tumour DNA" in text
        assert "Plate controls: no control wells" in text
        _no_exception(pg)
        pg.get_by_text("Limits of this result").scroll_into_view_if_needed()
        pg.screenshot(path=str(SHOTS / "limits_patient_desktop.png"), full_page=False)
        with pg.expect_download(timeout=60_000) as dl:
            pg.get_by_role("button", name="Calls (JSON)").click()
        data = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
        flat = json.dumps(data)
        assert '"limit_profile": "Lab X PIK3CA v1"' in flat and "detectable_vaf_95" in flat
        phone = context.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(url + "/patient-result")
        _wait_idle(phone)
        phone.get_by_text("Use the built-in demo export").click()
        _wait_for_text(phone, "Limits of this result")
        _wait_idle(phone)
        phone.get_by_text("Limits of this result").scroll_into_view_if_needed()
        phone.screenshot(path=str(SHOTS / "limits_patient_phone.png"), full_page=False)
        browser.close()
