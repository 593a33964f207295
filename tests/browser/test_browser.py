"""Real-browser tests: `streamlit run app.py` on 127.0.0.1 driven by Playwright with Debian's Chromium.

Screenshots of every page are saved to artifacts/screenshots/. Skips with the reason where Chromium or
Playwright is absent (`.ci/run` installs Chromium; never `playwright install`).
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--no-first-run"]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's Chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install playwright)")
    port = _free_port()
    env = dict(os.environ, TDM1_DB_PATH=str(tmp_path_factory.mktemp("browserdb") / "app.sqlite"))
    env.pop("TDM1_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
                             "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser):
    return browser.new_page(viewport={"width": 1280, "height": 900})


def _wait_idle(pg, timeout=30_000):
    pg.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    deadline = time.time() + timeout / 1000
    while time.time() < deadline:
        if pg.locator("[data-testid='stStatusWidget']").count() == 0:
            time.sleep(0.8)
            if pg.locator("[data-testid='stStatusWidget']").count() == 0:
                return
        time.sleep(0.3)


def _no_exception(pg):
    assert pg.locator("[data-testid='stException']").count() == 0
    body = pg.inner_text("body")
    assert "Traceback" not in body


PAGES = [("", "home", "T-DM1 primary-resistance flag"), ("patient-result", "patient", "Patient result"),
         ("cohort-statistics", "cohort", "Cohort"), ("survival-analysis", "survival", "Survival"), ("database-audit", "audit", "Database & audit"),
         ("settings-and-help", "settings", "Settings & help")]


@pytest.mark.parametrize("path,name,title", PAGES)
def test_every_page_renders_without_exception(server, page, path, name, title):
    page.goto(f"{server}/{path}")
    _wait_idle(page)
    page.get_by_text(title).first.wait_for(timeout=30_000)
    _no_exception(page)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_patient_upload_p06_er_positive_is_at_risk(server, page, tmp_path):
    from tdm1core.demo import demo_export_path

    export = tmp_path / "demo_ddpcr_quantasoft.csv"
    shutil.copyfile(demo_export_path(), export)
    page.goto(f"{server}/patient-result")
    _wait_idle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(export))
    page.get_by_text("Sample", exact=True).first.wait_for(timeout=30_000)
    _wait_idle(page)
    page.locator("[data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name="P06", exact=True).click()
    _wait_idle(page)
    page.locator("[data-testid='stRadio']").filter(has_text="ER status").get_by_text("positive", exact=True).click()
    _wait_idle(page)
    page.get_by_text("At risk of primary resistance to T-DM1").first.wait_for(timeout=30_000)
    _no_exception(page)
    page.screenshot(path=str(SHOTS / "patient_p06_at_risk.png"), full_page=True)


def test_a_stale_url_named_after_a_page_file_lands_on_the_real_navigation(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.goto(f"{server}/cohort")
    _wait_idle(pg)
    nav = pg.inner_text("[data-testid='stSidebarNav']")
    context.close()
    assert "Patient result" in nav and "common" not in nav
