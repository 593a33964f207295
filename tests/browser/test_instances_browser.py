"""Several app instances behind one PostgreSQL database: two `streamlit run` processes on two loopback ports, two
signed-in users on each (clinicians saving results, researchers importing exports), all clicking at the same moment.
Nothing is lost, nothing is stored twice, and the audit names every user, each in their own session."""
from __future__ import annotations

import time

import pytest

from builders import qs17, sample_wells
from test_browser import _wait_for_text, _wait_idle
from test_signin_browser import identity_provider, needs_browser, sign_in, signed_in_server

pytestmark = pytest.mark.browser


def _upload(pg, index: "int | str", name: str, data: bytes) -> None:
    """Into the page's index-th uploader, or the uploader of this widget key (the Cohort page has several)."""
    found = (pg.locator(f".st-key-{index} input[type='file']") if isinstance(index, str)
             else pg.locator("[data-testid='stFileUploader'] input[type='file']").nth(index))
    found.set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}])


def test_two_instances_one_database_concurrent_saves_and_imports(postgres_url, tmp_path):
    from playwright.sync_api import sync_playwright

    from test_browser import ARGS, CHROMIUM
    from tdm1core.storage.store import Store

    needs_browser()
    exports = {who: (f"{who}_run.csv", qs17(sample_wells(f"S-{who}", her2=1000 + 97 * i, eftud2=1000)))
               for i, who in enumerate(("cara", "cleo", "rex", "ravi"))}
    shared = ("shared_run.csv", qs17(sample_wells("S-shared", her2=2500, eftud2=1000)))
    with identity_provider() as idp, \
            signed_in_server(tmp_path / "a", idp, database_url=postgres_url) as (url_a, _), \
            signed_in_server(tmp_path / "b", idp, database_url=postgres_url) as (url_b, _), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        users = {"cara": url_a, "rex": url_a, "cleo": url_b, "ravi": url_b}
        pages = {}
        for who, url in users.items():
            _, pg = sign_in(browser, url, who)
            pages[who] = pg
        for who in ("cara", "cleo"):  # clinicians: their own export on the Patient page, ready to save
            pg = pages[who]
            pg.goto(users[who] + "/patient-result")
            _wait_idle(pg)
            _upload(pg, 0, *exports[who])
            _wait_for_text(pg, "Why:")
            _wait_idle(pg)
        for who in ("rex", "ravi"):  # researchers: their export in the Cohort page's import, ready to import
            pg = pages[who]
            pg.goto(users[who] + "/cohort-statistics")
            _wait_idle(pg)
            pg.get_by_text("Data: import into the database").click()
            _upload(pg, "cohort_exports", *exports[who])
            pg.get_by_role("button", name="Import the exports").wait_for(timeout=30_000)
        # everyone clicks at once (each click is sent at once; no one waits for the others' pages)
        pages["cara"].get_by_role("button", name="Save", exact=True).click(no_wait_after=True)
        pages["cleo"].get_by_role("button", name="Save", exact=True).click(no_wait_after=True)
        pages["rex"].get_by_role("button", name="Import the exports").click(no_wait_after=True)
        pages["ravi"].get_by_role("button", name="Import the exports").click(no_wait_after=True)
        for who in ("cara", "cleo", "rex", "ravi"):
            text = _wait_for_text(pages[who], "Stored", timeout=60)
            assert "Stored" in text, (who, text[-1500:])
        # the same export saved by both clinicians at once, on the two instances: stored once, the other is told so
        for who in ("cara", "cleo"):
            _upload(pages[who], 0, *shared)
            _wait_for_text(pages[who], "S-shared")
            _wait_idle(pages[who])
        pages["cara"].get_by_role("button", name="Save", exact=True).click(no_wait_after=True)
        pages["cleo"].get_by_role("button", name="Save", exact=True).click(no_wait_after=True)
        said = []
        for who in ("cara", "cleo"):
            deadline = time.time() + 60
            while time.time() < deadline:
                text = _wait_for_text(pages[who], "shared_run.csv", timeout=5)
                if "Stored 'shared_run.csv'" in text or "'shared_run.csv' is already stored" in text:
                    break
                time.sleep(0.5)
            said.append("stored" if "Stored 'shared_run.csv'" in text else
                        "already" if "'shared_run.csv' is already stored" in text else text[-800:])
        assert sorted(said) == ["already", "stored"], said
        browser.close()

    store = Store(postgres_url)
    files = store.files_table()
    names = list(files["name"])
    for name, _ in [*exports.values(), shared]:
        assert names.count(name) == 1, (name, names)  # nothing lost, nothing twice
    assert files["sha256"].is_unique
    calls = store.stored_calls()
    assert {f"S-{w}" for w in exports} | {"S-shared"} <= set(calls["sample"])
    log = store.audit()
    writes = log[log["category"] == "write"]
    for who in exports:
        email = f"{who}@hospital.example"
        mine = writes[(writes["email"] == email) & (writes["action"].isin(["import", "save result"]))]
        assert len(mine) >= 1, (who, writes[["who", "action", "entity"]].to_string())
        sessions = set(log[log["email"] == email]["session"])
        assert len(sessions) == 1 and None not in sessions  # one session, named in every entry
    shared_entries = writes[writes["detail"].str.contains("shared_run.csv", regex=False)]
    assert set(shared_entries["email"]) == {"cara@hospital.example", "cleo@hospital.example"}  # both audited
    assert sorted(shared_entries["action"]) == ["import", "save result"]  # one stored it, the other found it stored
    signed = log[log["action"] == "sign in"]
    assert set(signed["email"]) >= {f"{w}@hospital.example" for w in exports}
