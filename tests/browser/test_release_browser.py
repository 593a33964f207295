"""Releasing a report in a real browser: a reviewer releases a patient result, then downloads the released PDF and the
FHIR bundle and reads them back (single-user local mode: the OS user is the reviewer, marked unauthenticated)."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builders import qs17, sample_wells  # noqa: E402
from test_browser import ARGS, CHROMIUM, SHOTS, _no_exception, _wait_for_text, _wait_idle, needs_browser, streamlit_server  # noqa: E402

pytestmark = pytest.mark.browser


def test_release_then_download_the_released_pdf_and_the_fhir_bundle(tmp_path):
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    needs_browser()
    fhir = pytest.importorskip("fhir.resources.R4B.bundle", reason="fhir.resources is not installed")
    with streamlit_server(tmp_path / "app.sqlite") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        pg = context.new_page()
        pg.goto(url + "/patient-result")
        _wait_idle(pg)
        pg.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(
            files=[{"name": "run42.csv", "mimeType": "text/csv", "buffer": qs17(sample_wells("S42", her2=900))}])
        _wait_for_text(pg, "Why:")
        pg.locator("[data-testid='stRadio']").filter(has_text="ER status").get_by_text("positive", exact=True).click()
        pg.get_by_label("Pseudonymous patient ID (optional; no names)").fill("PX-42")
        pg.keyboard.press("Enter")
        _wait_for_text(pg, "Patient ID: PX-42")
        _wait_idle(pg)
        pg.get_by_text("I have reviewed this result").click()  # tick, then click at once, as a person does
        pg.get_by_role("button", name="Release this report").click()
        text = _wait_for_text(pg, "Released report TDM1-")
        assert "version 1 (final)" in text
        _wait_idle(pg)
        _no_exception(pg)
        with pg.expect_download(timeout=60_000) as dl:
            pg.get_by_role("button", name="Released PDF v1").click()
        pdf = Path(dl.value.path()).read_bytes()
        pdf_text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\n", " ")
        assert "version 1 (final)" in pdf_text and "Reviewed and released by" in pdf_text and "PX-42" in pdf_text
        assert "DRAFT" not in pdf_text
        with pg.expect_download(timeout=60_000) as dl:
            pg.get_by_role("button", name="FHIR bundle v1").click()
        bundle = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
        fhir.Bundle.model_validate(bundle)
        report = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
        import base64

        assert report["status"] == "final" and base64.b64decode(report["presentedForm"][0]["data"]) == pdf
        pg.get_by_role("button", name="Released PDF v1").scroll_into_view_if_needed()
        pg.screenshot(path=str(SHOTS / "release_patient.png"), full_page=False)
        # the draft PDF of the same page says DRAFT
        with pg.expect_download(timeout=60_000) as dl:
            pg.get_by_role("button", name="PDF report").click()
        draft = " ".join(page.extract_text() for page in PdfReader(dl.value.path()).pages)
        assert "DRAFT — NOT RELEASED" in draft
        browser.close()
