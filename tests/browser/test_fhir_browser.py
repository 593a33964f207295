"""Issue 29 in a real browser: a FHIR Bundle imported on the Cohort page as a person does it: the pseudonym system
typed, the bundle uploaded, the preview read (what is new, what was not mapped), then applied; desktop and phone."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_browser import ARGS, CHROMIUM, SHOTS, _no_exception, _wait_for_text, _wait_idle, needs_browser, streamlit_server  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    needs_browser()
    pytest.importorskip("fhir.resources")
    with streamlit_server(tmp_path_factory.mktemp("fhirdb") / "app.sqlite") as url:
        yield url


def test_a_fhir_bundle_is_previewed_then_imported_on_the_cohort_page(server, tmp_path):
    from playwright.sync_api import sync_playwright

    from fhir_builders import PSEUDONYM, Person, bundle

    record = tmp_path / "hospital-record.json"
    record.write_bytes(bundle([Person("FB1", family="Browserfamily"),
                               Person("FB2", tdm1=[("2016-01-01", "2016-03-01"), ("2018-01-01", None)])]))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, viewport in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})):
            pg = b.new_context(viewport=viewport).new_page()
            pg.goto(f"{server}/cohort-statistics")
            _wait_idle(pg)
            pg.get_by_text("Data: import into the database").click()
            _wait_idle(pg)
            box = pg.get_by_label("FHIR: the identifier system of the pseudonymous patient ID (blank: Patient.id)",
                                  exact=True).and_(pg.get_by_test_id("stTextInputField"))
            box.fill(PSEUDONYM)
            pg.keyboard.press("Tab")
            _wait_idle(pg)
            pg.locator(".st-key-cohort_fhir [data-testid='stFileUploaderDropzoneInput']").set_input_files(str(record))
            expected = "2 new, 0 changed, 0 unchanged" if name == "desktop" else "0 new, 0 changed, 2 unchanged"
            text = _wait_for_text(pg, expected)  # on the phone, after the desktop's import: the same record, unchanged
            assert expected in text, text[-1500:]
            assert "Not mapped (by resource and path; nothing is guessed)" in _wait_for_text(pg, "Not mapped")
            _wait_idle(pg)
            pg.get_by_text("Not mapped (by resource and path").scroll_into_view_if_needed()
            pg.screenshot(path=str(SHOTS / f"{name}_cohort_fhir_preview.png"), full_page=False)
            _no_exception(pg)
            if name == "desktop":
                assert "34 of 34 patients shown" in pg.inner_text("body")  # the preview stored nothing
                pg.get_by_role("button", name="Apply the FHIR import to the database").click()
                done = _wait_for_text(pg, "36 of 36 patients shown")
                assert "36 of 36 patients shown" in done and "Stored" in done
                assert "Browserfamily" not in done
            pg.context.close()
        b.close()
