"""Sign-in in a real browser: `streamlit run app.py` in signed-in mode against oidc-provider-mock (an OpenID Connect
provider) on 127.0.0.1, driven by Playwright with Debian's Chromium.

A clinician, a researcher (roles from the token's claim), an admin (roles from the app's roles table) and a user with
no role sign in; each sees what their role allows and cannot reach the rest by URL. A session that is not signed in
sees only "Sign in" on every URL, in the rendered page and in its source. Sign-out ends the session; an idle session
ends by itself (a short setting). The audit log records the sign-ins, views, downloads and sign-outs.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import urllib.request
from pathlib import Path

import pytest

from test_browser import (ARGS, CHROMIUM, SHOTS, _free_port, _text, _wait_for_text, _wait_idle, needs_browser,
                          streamlit_server)

pytestmark = pytest.mark.browser

USERS = {
    "cara": {"email": "cara@hospital.example", "name": "Cara Clinician", "roles": ["clinician"]},
    "rex": {"email": "rex@hospital.example", "name": "Rex Researcher", "roles": "researcher"},
    "ada": {"email": "ada@hospital.example", "name": "Ada Admin"},  # no roles claim: the roles table gives admin
    "nora": {"email": "nora@hospital.example", "name": "Nora Norole", "roles": []},
    "cleo": {"email": "cleo@hospital.example", "name": "Cleo Clinician", "roles": ["clinician"]},
    "ravi": {"email": "ravi@hospital.example", "name": "Ravi Researcher", "roles": ["researcher"]},
    "rita": {"email": "rita@hospital.example", "name": "Rita Reviewer", "roles": ["reviewer"]},
}


@contextlib.contextmanager
def identity_provider():
    """oidc-provider-mock on 127.0.0.1 (its run_server_in_thread); users and claims set by PUT /users/{sub}."""
    pytest.importorskip("oidc_provider_mock", reason="oidc-provider-mock is not installed (pip install oidc-provider-mock)")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on loopback, in the test only
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(port=_free_port()) as server:
        host, port = server.server_address[:2]
        assert host in ("127.0.0.1", "::1"), host  # loopback only
        base = f"http://127.0.0.1:{port}" if host == "127.0.0.1" else f"http://[::1]:{port}"
        for sub, claims in USERS.items():
            req = urllib.request.Request(f"{base}/users/{sub}", data=json.dumps(claims).encode(), method="PUT",
                                         headers={"Content-Type": "application/json"})
            assert urllib.request.urlopen(req, timeout=10).status == 204
        yield base


@contextlib.contextmanager
def signed_in_server(tmp: Path, idp: str, idle_minutes: float = 30, database_url: str | None = None):
    """The app in signed-in mode: its own secrets.toml with [auth] for the provider, and its own SQLite database (or
    ``database_url``, which several servers may share)."""
    port = _free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    secrets_file = tmp / "secrets.toml"
    secrets_file.write_text(f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "tdm1-dashboard"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{idp}/.well-known/openid-configuration"

[access]
idle_timeout_minutes = {idle_minutes}
""")
    db = tmp / "app.sqlite"
    from tdm1core.app.workflows import open_store, set_user_roles

    set_user_roles(open_store(database_url or f"sqlite:///{db}"), "ada@hospital.example", ["admin"], "set-up")
    env = {"AUTHLIB_INSECURE_TRANSPORT": "1", **({"TDM1_DATABASE_URL": database_url} if database_url else {})}
    with streamlit_server(db, port, ("--secrets.files", str(secrets_file)), env) as url:
        yield url, db


@pytest.fixture(scope="module")
def idp():
    needs_browser()
    with identity_provider() as base:
        yield base


@pytest.fixture(scope="module")
def app(idp, tmp_path_factory):
    with signed_in_server(tmp_path_factory.mktemp("signin"), idp) as served:
        yield served


@pytest.fixture(scope="module")
def browser(app):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def sign_in(browser, url: str, sub: str, width: int = 1280, cookies: list | None = None, **options):
    """A person opens the app, clicks Sign in, and at the provider types their user and clicks Authorize
    (``cookies`` the browser already holds, ``options`` for its context, e.g. ignore_https_errors)."""
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True, **options)
    if cookies:
        context.add_cookies(cookies)
    pg = context.new_page()
    pg.goto(url)
    _wait_for_text(pg, "Sign in with your hospital account")
    pg.get_by_role("button", name="Sign in").click()
    pg.wait_for_selector("input[name='sub']", timeout=30_000)
    pg.fill("input[name='sub']", sub)
    pg.get_by_role("button", name="Authorize").click()
    pg.wait_for_url(url + "/**", timeout=30_000)
    _wait_idle(pg)
    return context, pg


def nav_links(pg) -> set[str]:
    """The page names in the sidebar's navigation, as a person reads them."""
    nav = pg.locator(".st-key-sidebar_nav")
    if nav.count() == 0:
        return set()
    names = {"Home", "Patient result", "Droplets", "Cohort", "Survival", "Database & audit", "Settings & help"}
    return {line.strip() for line in nav.first.inner_text().splitlines()} & names


def audit_rows(db: Path) -> list[dict]:
    from tdm1core.storage.store import Store

    return Store(f"sqlite:///{db}").audit().to_dict("records")


SECRET_WORDS = ("P06", "P01", "demo_export", "Patients", "With ctDNA", "synthetic", "HER2/EFTUD2")


def test_a_session_that_is_not_signed_in_sees_only_sign_in_on_every_url(app, browser):
    url, _ = app
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    for path in ("", "/patient-result", "/cohort-statistics", "/survival-analysis", "/database-audit",
                 "/droplet-review", "/settings-and-help", "/cohort"):
        pg.goto(url + path)
        text = _wait_for_text(pg, "Sign in with your hospital account")
        _wait_idle(pg)
        text = _text(pg)
        assert pg.get_by_role("button", name="Sign in").count() == 1, path
        assert not [w for w in SECRET_WORDS if w in text], (path, text)
        source = pg.content()
        assert not [w for w in SECRET_WORDS if w in source], path
        assert pg.locator(".st-key-sidebar_nav").count() == 0
    raw = urllib.request.urlopen(url + "/cohort-statistics", timeout=10).read().decode()
    assert not [w for w in SECRET_WORDS if w in raw]
    pg.screenshot(path=str(SHOTS / "signin_desktop.png"), full_page=True)
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(url)
    _wait_for_text(phone, "Sign in with your hospital account")
    _wait_idle(phone)
    phone.screenshot(path=str(SHOTS / "signin_phone.png"), full_page=True)
    context.close()


def test_a_clinician_sees_patient_results_and_cannot_reach_the_cohort(app, browser):
    url, db = app
    context, pg = sign_in(browser, url, "cara")
    text = _wait_for_text(pg, "Cara Clinician")
    assert "Role: clinician" in text and "signed-in mode" in text
    links = nav_links(pg)
    assert {"Home", "Patient result", "Droplets", "Settings & help"} <= links
    assert not links & {"Cohort", "Survival", "Database & audit"}
    pg.goto(url + "/patient-result")
    _wait_idle(pg)
    pg.get_by_text("Use the built-in demo export").click()
    _wait_idle(pg)
    pg.get_by_label("Pseudonymous patient ID (optional; no names)").fill("PX-7")
    pg.keyboard.press("Enter")
    _wait_for_text(pg, "Patient ID: PX-7")
    _wait_idle(pg)
    with pg.expect_download(timeout=60_000) as dl:
        pg.get_by_role("button", name="PDF report").click()
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    pg.screenshot(path=str(SHOTS / "signin_clinician_patient.png"), full_page=False)
    for path in ("/cohort-statistics", "/database-audit", "/survival-analysis"):
        pg.goto(url + path)
        _wait_idle(pg)
        text = _text(pg)
        assert "Table 1" not in text and "Audit log" not in text and "Kaplan-Meier" not in text.split("Where to go")[0]
        assert "Not available for your role" in text and "your roles: clinician" in text, path  # told, not sent home
        assert "Page not found" not in text
    rows = audit_rows(db)
    mine = [r for r in rows if r["email"] == "cara@hospital.example"]
    assert {"sign in", "view", "report"} <= {r["action"] for r in mine}
    assert any(r["action"] == "report" and r["entity"] == "patient PX-7" for r in mine)
    assert all(r["session"] for r in mine) and len({r["session"] for r in mine}) == 1
    context.close()


def test_a_researcher_sees_the_cohort_and_cannot_reach_patient_results(app, browser):
    url, db = app
    context, pg = sign_in(browser, url, "rex")
    text = _wait_for_text(pg, "Rex Researcher")
    assert "Role: researcher" in text
    links = nav_links(pg)
    assert {"Cohort", "Survival"} <= links and not links & {"Patient result", "Droplets", "Database & audit"}
    pg.goto(url + "/cohort-statistics")
    _wait_for_text(pg, "Table 1")
    assert pg.get_by_role("button", name="Remove the synthetic demo data…").count() == 0  # admins only
    pg.goto(url + "/patient-result")
    _wait_idle(pg)
    assert "Upload a ddPCR export" not in _text(pg)
    assert "Not available for your role: Patient result needs the role clinician or reviewer" in _text(pg)
    pg.screenshot(path=str(SHOTS / "signin_not_for_role.png"), full_page=False)
    rows = [r for r in audit_rows(db) if r["email"] == "rex@hospital.example"]
    assert any(r["action"] == "view" and r["entity"] == "cohort statistics" for r in rows)
    context.close()


def test_an_admin_from_the_roles_table_reads_the_audit_log_and_keeps_the_roles(app, browser):
    url, db = app
    context, pg = sign_in(browser, url, "ada")
    text = _wait_for_text(pg, "Ada Admin")
    assert "Role: admin" in text
    links = nav_links(pg)
    assert "Database & audit" in links and not links & {"Patient result", "Cohort", "Survival"}
    pg.goto(url + "/database-audit")
    _wait_for_text(pg, "Audit log")
    pg.get_by_label("E-mail address").fill("nora@hospital.example")
    pg.get_by_role("button", name="Set roles").click()  # no role chosen: nothing to remove, nothing changes
    _wait_idle(pg)
    pg.screenshot(path=str(SHOTS / "signin_admin_audit.png"), full_page=False)
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(url + "/database-audit")
    _wait_for_text(phone, "Audit log")
    _wait_idle(phone)
    phone.screenshot(path=str(SHOTS / "signin_admin_phone.png"), full_page=False)
    with pg.expect_download() as dl:
        pg.get_by_role("button", name="CSV").last.click()  # the audit log's CSV (the last table on the page)
    exported = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    # the audit log as exported: who signed in, with the token's e-mail and subject, and what they saw
    import csv
    import io

    rows = [r for r in csv.DictReader(io.StringIO(exported)) if r.get("action")]
    signed = {(r["email"], r["subject"]) for r in rows if r["action"] == "sign in"}
    assert {("cara@hospital.example", "cara"), ("rex@hospital.example", "rex"), ("ada@hospital.example", "ada")} <= signed
    assert any(r["action"] == "view" and r["email"] == "rex@hospital.example" and r["entity"] == "cohort statistics"
               for r in rows)
    assert any(r["action"] == "roles change" and r["entity"] == "user ada@hospital.example" for r in rows)
    context.close()


def test_a_user_with_no_role_is_told_to_ask_their_administrator(app, browser):
    url, _ = app
    context, pg = sign_in(browser, url, "nora")
    text = _wait_for_text(pg, "ask your")
    assert "no role in this app" in text.replace("\n", " ")
    for path in ("/patient-result", "/cohort-statistics", "/database-audit"):
        pg.goto(url + path)
        text = _wait_for_text(pg, "no role in this app")
        assert not [w for w in SECRET_WORDS if w in text]
    context.close()


def test_sign_out_ends_the_session(app, browser):
    url, db = app
    context, pg = sign_in(browser, url, "cara")
    _wait_for_text(pg, "Cara Clinician")
    pg.get_by_role("button", name="Sign out").click()
    # the provider's own sign-out page: reached only if the app's logout redirect got to the browser (a rerun
    # started after st.logout() used to drop it under load, leaving the sign-in page and the identity cookie)
    pg.get_by_role("button", name="End session").click(timeout=30_000)
    pg.wait_for_url(url + "/**", timeout=30_000)
    _wait_for_text(pg, "Sign in with your hospital account")
    assert not [c["name"] for c in context.cookies() if c["name"].startswith("_streamlit_user")]
    pg.goto(url + "/patient-result")
    text = _wait_for_text(pg, "Sign in with your hospital account")
    assert "Cara" not in text
    assert "Patient result" not in nav_links(pg)
    pg.go_back()  # Back, then a reload, after signing out: the sign-in screen, never "Page not found"
    text = _wait_for_text(pg, "Sign in with your hospital account")
    pg.reload()
    text = _wait_for_text(pg, "Sign in with your hospital account")
    _wait_idle(pg)
    assert "Page not found" not in _text(pg) and "Cara" not in _text(pg)
    assert any(r["action"] == "sign out" and r["email"] == "cara@hospital.example" for r in audit_rows(db))
    context.close()


def test_an_idle_session_ends_by_itself(idp, browser, tmp_path):
    with signed_in_server(tmp_path, idp, idle_minutes=0.1) as (url, db):  # 6 s without activity
        context, pg = sign_in(browser, url, "cara")
        _wait_for_text(pg, "Cara Clinician")
        text = _wait_for_text(pg, "Your session has ended", timeout=40)
        assert "no activity for more than" in text and "Cara Clinician" not in text
        pg.screenshot(path=str(SHOTS / "signin_idle_ended.png"), full_page=False)
        pg.goto(url + "/patient-result")
        _wait_for_text(pg, "Your session has ended")  # the same cookie does not open a new session
        assert any(r["action"] == "session ended" for r in audit_rows(db))
        context.close()


def test_a_reviewer_releases_only_what_they_attested(app, browser, tmp_path):
    """Issue 23 item 7, as a person does it: tick the review box, change ER, click Release at once (nothing is
    released: the tick named other content); tick again and release."""
    from builders import qs17, sample_wells

    url, db = app
    context, pg = sign_in(browser, url, "rita")
    assert "Rita Reviewer" in _wait_for_text(pg, "Rita Reviewer")
    assert "Patient result" in nav_links(pg)
    pg.goto(url + "/patient-result")
    _wait_for_text(pg, "Upload a ddPCR export")
    export = tmp_path / "run12.csv"
    export.write_bytes(qs17(sample_wells("RV1", her2=900)))
    pg.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(export))
    _wait_for_text(pg, "Release for the hospital record")
    pg.get_by_label("Pseudonymous patient ID (optional; no names)").fill("PX-RV")
    pg.keyboard.press("Enter")
    _wait_for_text(pg, "Patient ID: PX-RV")
    _wait_idle(pg)
    pg.get_by_text("I have reviewed this result").click()
    _wait_idle(pg)
    pg.locator(".st-key-patient_er").get_by_text("positive", exact=True).click()  # the content changes after the tick
    pg.get_by_role("button", name="Release this report").click()  # at once
    text = _wait_for_text(pg, "Tick the box to confirm that you reviewed this result as it is now")
    assert "Tick the box to confirm that you reviewed this result as it is now" in text
    assert "Released report" not in _text(pg)
    assert not [r for r in audit_rows(db) if r["action"] == "release"]
    pg.get_by_text("I have reviewed this result").click()
    _wait_idle(pg)
    pg.get_by_role("button", name="Release this report").click()
    text = _wait_for_text(pg, "Released report")
    assert "Released report" in text and "version 1 (final)" in text
    pg.screenshot(path=str(SHOTS / "signin_reviewer_released.png"), full_page=False)
    context.close()
