"""Hostile names in a real browser: every user-derived string is shown as text, and no request leaves 127.0.0.1.

The database is seeded before the server starts with a patient table and an export whose IDs, categories and
sample names are Markdown images, links and HTML pointing at an outside host; the test records every request the
browser makes on every page (including the page icon and fonts) and every link and image in the page.
"""
import sys
from urllib.parse import urlparse

import pandas as pd
import pytest

from test_browser import (ARGS, CHROMIUM, ROOT, SHOTS, _no_exception, _text, _wait_for_text, _wait_idle, needs_browser,
                          streamlit_server)

pytestmark = pytest.mark.browser
EVIL = "evil.example"
HOSTILE_SAMPLES = [f"![](http://{EVIL}/s.png)", f"<a href=http://{EVIL}/a>A</a>"]


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    needs_browser()
    sys.path.insert(0, str(ROOT / "tests"))
    from builders import qs17, sample_wells
    from tdm1core.demo import DEMO_DIR
    from tdm1core.settings import DEFAULT_SETTINGS
    from tdm1core.storage.store import Store
    from tdm1core.app.workflows import import_exports, import_patients

    folder = tmp_path_factory.mktemp("hostile")
    db = folder / "app.sqlite"
    store = Store(f"sqlite:///{db}")
    export = qs17(sample_wells(HOSTILE_SAMPLES[0], her2=800, eftud2=1000) + sample_wells(HOSTILE_SAMPLES[1], well0=4))
    (folder / "hostile.csv").write_bytes(export)
    import_exports(store, [(export, f"[x](http://{EVIL}/f).csv")], DEFAULT_SETTINGS, who="tester")
    t = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False).iloc[:6].copy()
    t["patient_id"] = [f"![](http://{EVIL}/id{i}.png)" for i in range(6)]
    t["ctdna_sample_id"] = [HOSTILE_SAMPLES[0], HOSTILE_SAMPLES[1], "", "", "", ""]
    t["site"] = [f"<img src=http://{EVIL}/i.png>", f"[link](http://{EVIL}/l)"] * 3
    import_patients(store, t.to_csv(index=False).encode(), "hostile_patients.csv", DEFAULT_SETTINGS, who="tester")
    bad = t.copy()
    bad.loc[0, "stage"] = f"![](http://{EVIL}/err.png)"
    (folder / "bad.csv").write_bytes(bad.to_csv(index=False).encode())
    store.engine.dispose()
    with streamlit_server(db) as url:
        yield url, folder


def test_hostile_names_render_as_text_and_nothing_leaves_loopback(hostile_server):
    from playwright.sync_api import sync_playwright

    url, folder = hostile_server
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.on("request", lambda r: requests.append(r.url))
        pg = context.new_page()

        def check(name):
            _no_exception(pg)
            live = pg.eval_on_selector_all(
                "a[href], img[src], iframe[src], link[href], script[src]",
                "els => els.map(e => e.href || e.src).filter(u => u && u.includes('evil.example'))")
            assert live == [], (name, live)
            pg.screenshot(path=str(SHOTS / f"hostile_{name}.png"), full_page=True)

        for path in ("", "patient-result", "cohort-statistics", "survival-analysis", "database-audit", "settings-and-help"):
            pg.goto(f"{url}/{path}")
            _wait_idle(pg)
            check(path or "home")
        # the patient page with the hostile export, each hostile sample chosen
        pg.goto(f"{url}/patient-result")
        _wait_idle(pg)
        pg.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(folder / "hostile.csv"))
        _wait_idle(pg)
        assert HOSTILE_SAMPLES[0] in _wait_for_text(pg, HOSTILE_SAMPLES[0])  # shown, as text
        check("patient_upload")
        # survival grouped by the hostile category column
        pg.goto(f"{url}/survival-analysis")
        _wait_idle(pg)
        pg.locator("[data-testid='stSelectbox']").first.click()
        pg.keyboard.type("site")
        pg.get_by_role("option", name="site", exact=True).click()
        _wait_idle(pg)
        check("survival_site")
        # a rejected table quotes the hostile cell value in its error
        pg.goto(f"{url}/cohort-statistics")
        _wait_idle(pg)
        pg.get_by_text("Data: import into the database").click()
        pg.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(folder / "bad.csv"))
        _wait_idle(pg)
        pg.get_by_text("The patient table was rejected").first.wait_for(timeout=30_000)
        assert f"http://{EVIL}/err.png" in _text(pg)
        check("cohort_rejected")
        browser.close()
    outside = sorted({u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
                      and urlparse(u).hostname not in ("127.0.0.1", "localhost")})
    assert outside == [], outside
    assert requests  # the log did record the pages' own requests
