"""Page tests with Streamlit's AppTest: every page runs; good input shows the core's results; bad input shows one clear error."""
import io
import math
import json
import os

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tdm1core.calling.calls import call_export
from tdm1core.reading.exports import read_export
from tdm1core.demo import DEMO_DIR, demo_export_path
from tdm1core.app.workflows import open_store
from tdm1core.settings import Settings

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
PAGES = ["pages/home.py", "pages/patient.py", "pages/droplets.py", "pages/cohort.py", "pages/survival.py", "pages/monitoring.py", "pages/audit.py", "pages/settings.py"]
DEMO_EXPORT = demo_export_path().read_bytes()
DEMO_PATIENTS = (DEMO_DIR / "demo_patients.csv").read_bytes()


@pytest.fixture(autouse=True)
def fresh_database(tmp_path, monkeypatch):
    """Each test gets its own SQLite database (seeded with the demo when the app opens it)."""
    monkeypatch.delenv("TDM1_DATABASE_URL", raising=False)
    monkeypatch.setenv("TDM1_DB_PATH", str(tmp_path / "app.sqlite"))


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page(page)
    at.run()
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption] + [e.value for e in at.error] \
        + [w.value for w in at.warning] + [i.value for i in at.info] + [t.value for t in at.title]
    return shown("\n".join(parts))


def shown(markdown: str) -> str:
    """Markdown source as a person reads it: escapes dropped (user text is escaped), zero-width spaces removed."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "").replace("  \n", "\n")


def frame(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has this column."""
    for df in [*at.dataframe, *at.table]:  # table widgets and static tables (the PIK3CA table)
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with column {column!r}")


def reading(at: AppTest, first_column: str) -> pd.DataFrame:
    """The page's reading table (a Markdown table: Table 1, Table 4) whose first column is ``first_column``, as
    the cells read: Markdown escapes, bold and indent entities dropped, no-break spaces and word joiners as spaces."""
    import re

    for m in at.markdown:
        lines = m.value.split("\n")
        if not lines[0].startswith("| "):
            continue
        cells = [[shown(c).strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
        if cells[0][0] != first_column:
            continue
        rows = [[c.replace("&emsp;", "").strip("*").replace("\u00a0", " ").replace("\u2060", "") for c in r]
                for r in cells[2:]]
        return pd.DataFrame(rows, columns=cells[0])
    raise AssertionError(f"no reading table starting with {first_column!r}")


def assert_clean(at: AppTest):
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_demo_and_says_it_is_synthetic(page):
    at = open_page(page)
    assert_clean(at)
    assert "Synthetic demo data" in texts(at)
    assert "Research use only" in texts(at) or "research use only" in texts(at)


def test_patient_upload_p06_er_positive_is_at_risk():
    at = open_page("pages/patient.py")
    at.file_uploader(key="patient_upload").set_value(("demo.csv", DEMO_EXPORT, "text/csv")).run()
    at.selectbox(key="patient_sample").set_value("P06").run()
    at.radio(key="patient_er").set_value("positive").run()
    assert_clean(at)
    body = texts(at)
    assert "At risk of primary resistance to T-DM1" in body
    expected = next(c for c in call_export(read_export(DEMO_EXPORT, "demo.csv")) if c.sample == "P06")
    assert f"HER2/EFTUD2 ratio {expected.her2.ratio:.2f} < cut-off 1.25" in body
    pik = frame(at, "hotspot")
    assert pik.loc[pik.hotspot == "E545K", "call"].iloc[0] == "positive"
    labels = {b.label for b in at.get("download_button")}
    assert {"Calls (CSV)", "Calls (JSON)", "PDF report"} <= labels


def test_patient_p09_is_not_flagged_and_unknown_receptors_are_incomplete():
    at = open_page("pages/patient.py")
    at.radio(key="patient_mode").set_value("Use the built-in demo export").run()
    at.selectbox(key="patient_sample").set_value("P09").run()
    assert "Incomplete" in texts(at)
    at.radio(key="patient_er").set_value("positive").run()
    assert "Not flagged" in texts(at) and "HER2 is amplified" in texts(at)


def test_manual_entry_gives_a_flag():
    at = open_page("pages/patient.py")
    at.radio(key="patient_mode").set_value("Enter the numbers").run()
    at.number_input(key="patient_ratio").set_value(1.1).run()
    at.radio(key="patient_pr").set_value("positive").run()
    assert_clean(at)
    assert "At risk of primary resistance to T-DM1" in texts(at)


def _xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    pd.DataFrame({"a": [1]}).to_excel(buf, index=False)
    return buf.getvalue()


BAD_EXPORTS = {
    "empty": (b"", "empty"),
    "not ddpcr": (b"name,age\nann,3\n", "does not look like a ddPCR export"),
    "truncated": (DEMO_EXPORT[:5000], "truncated"),
    "binary": (bytes(range(256)) * 10, "binary"),
    "excel renamed": (_xlsx_bytes(), "Excel workbook"),
    "unknown targets": (DEMO_EXPORT.replace(b'"HER2"', b'"KRAS"').replace(b'"EFTUD2"', b'"RPP30"'), "cannot be mapped"),
}


@pytest.mark.parametrize("case", list(BAD_EXPORTS))
def test_bad_exports_show_one_clear_error_and_no_exception(case):
    data, words = BAD_EXPORTS[case]
    at = open_page("pages/patient.py")
    at.file_uploader(key="patient_upload").set_value(("bad.csv", data, "text/csv")).run()
    assert_clean(at)
    assert len(at.error) == 1
    assert words in shown(at.error[0].value) and "'bad.csv'" in shown(at.error[0].value)


def test_cohort_shows_table4_from_the_core():
    at = open_page("pages/cohort.py")
    assert_clean(at)
    at.radio(key="cohort_section").set_value("Primary resistance (Fisher)").run()
    t4 = reading(at, "Characteristic").set_index("Characteristic")
    assert list(t4.columns) == ["Primary resistance, n/N (%)", "p (Fisher)"]
    assert t4.loc["Hormone receptor status", "p (Fisher)"] == "0.438"  # shown to 3 decimals
    assert t4.loc["ER and/or PR positive", "Primary resistance, n/N (%)"] == "6/17 (35.3)"
    assert t4.loc["ER and PR negative", "Primary resistance, n/N (%)"] == "3/17 (17.6)"


def test_cohort_table1_is_a_two_column_static_table():
    """Issue 11 (phone): Table 1 is a static table of two columns that wraps (no sideways scrolling), levels under
    their characteristic; the published values."""
    at = open_page("pages/cohort.py")
    assert_clean(at)
    t = reading(at, "Characteristic")
    assert list(t.columns) == ["Characteristic", "Value"]
    rows = dict(zip(t["Characteristic"], t["Value"]))
    assert rows["Age, years, median (range)"] == "62 (38–84)" and rows["Pathology"] == ""
    assert rows["invasive ductal carcinoma"] == "32 (94.1)" and rows["Patients, n"] == "34"


def test_cohort_table4_extra_characteristics_are_chosen_in_its_section_and_kept():
    """The extra characteristics for Table 4 are chosen in the Table 4 section (the multiselect is not drawn with
    Table 1, so a first view does not wait for it) and stay chosen while another section is shown."""
    at = open_page("pages/cohort.py")
    assert not [m for m in at.multiselect if m.key == "cohort_table4_extra"]
    at.radio(key="cohort_section").set_value("Primary resistance (Fisher)").run()
    assert "pathology" not in set(reading(at, "Characteristic")["Characteristic"].str.lower())
    at.multiselect(key="cohort_table4_extra").set_value(["pathology"]).run()
    assert_clean(at)
    assert "Pathology" in set(reading(at, "Characteristic")["Characteristic"])
    at.radio(key="cohort_section").set_value("Best response").run()
    at.radio(key="cohort_section").set_value("Primary resistance (Fisher)").run()
    assert_clean(at)
    assert at.multiselect(key="cohort_table4_extra").value == ["pathology"]
    assert "Pathology" in set(reading(at, "Characteristic")["Characteristic"])
    at.multiselect(key="cohort_table4_extra").set_value([]).run()
    assert "Pathology" not in set(reading(at, "Characteristic")["Characteristic"])


def test_cohort_offers_every_table_and_the_pdf_summary():
    at = open_page("pages/cohort.py")
    sections = at.radio(key="cohort_section").options
    assert len(sections) == 5 and "PDF summary of this cohort" in [b.label for b in at.get("download_button")]
    for name in sections:  # one section at a time; each has its table's CSV and XLSX
        at.radio(key="cohort_section").set_value(name).run()
        assert_clean(at)
        labels = [b.label for b in at.get("download_button")]
        assert labels.count("CSV") == 1 and labels.count("XLSX") == 1, name


def test_a_new_session_draws_the_cohort_from_shared_results_until_the_database_changes(monkeypatch):
    """Issue 11 item 16: a new session's Cohort and Survival pages use the statistics another session computed for the
    same database state and settings (not recomputed per session); any write makes every session compute afresh, so
    no session is shown a stale table."""
    import tdm1core.stats as stats

    analyses, fits = [], []
    real_analyse, real_km = stats.analyse_cohort, stats.km_by
    monkeypatch.setattr(stats, "analyse_cohort", lambda *a, **k: analyses.append(1) or real_analyse(*a, **k))
    monkeypatch.setattr(stats, "km_by", lambda *a, **k: fits.append(1) or real_km(*a, **k))
    first = open_page("pages/cohort.py")
    assert_clean(first) and "34 of 34 patients shown" in texts(first)
    assert len(analyses) == 1
    second = open_page("pages/cohort.py")  # another session
    assert_clean(second)
    assert "34 of 34 patients shown" in texts(second) and len(analyses) == 1
    assert reading(second, "Characteristic").equals(reading(first, "Characteristic"))
    km_a = open_page("pages/survival.py")
    km_b = open_page("pages/survival.py")
    assert_clean(km_b) and len(fits) == 1
    assert reading(km_b, "Group").equals(reading(km_a, "Group"))
    # a write by the second session: both sessions see the new cohort at their next run
    df = pd.read_csv(io.BytesIO(DEMO_PATIENTS), dtype=str, keep_default_na=False).iloc[:20]
    df["patient_id"] = [f"N{i:02d}" for i in range(20)]
    second.file_uploader(key="cohort_table").set_value(("new.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    second.button(key="cohort_apply").click().run()
    assert_clean(second)
    assert "54 of 54 patients shown" in texts(second) and len(analyses) == 2
    first.run()
    assert "54 of 54 patients shown" in texts(first) and len(analyses) == 2
    km_a.run()
    assert_clean(km_a) and len(fits) == 2
    # grouped by the flag: the new patients linked to a ctDNA sample and with a time to progression join the curves
    joined = int(((df["ctdna_sample_id"] != "") & (df["ttp_days"] != "")).sum())
    assert joined > 0
    n_shown = reading(km_a, "Group")["n"].astype(int).sum()
    assert n_shown == reading(km_b, "Group")["n"].astype(int).sum() + joined


def test_cohort_filter_changes_the_tables():
    at = open_page("pages/cohort.py")
    at.multiselect(key="cohort_filter_hr_group").set_value(["ER and/or PR positive"]).run()
    assert_clean(at)
    assert "17 of 34 patients shown" in texts(at)


def test_cohort_import_previews_then_applies_and_the_demo_can_be_removed():
    at = open_page("pages/cohort.py")
    df = pd.read_csv(io.BytesIO(DEMO_PATIENTS), dtype=str, keep_default_na=False).iloc[:20]
    df["patient_id"] = [f"M{i:02d}" for i in range(20)]
    at.file_uploader(key="cohort_table").set_value(("mine.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    assert_clean(at)
    assert "20 new, 0 changed, 0 unchanged" in texts(at)
    assert "34 of 34 patients shown" in texts(at)  # the preview stored nothing
    at.button(key="cohort_apply").click().run()
    assert_clean(at)
    assert "54 of 54 patients shown" in texts(at) and "Stored 'mine.csv'" in shown("\n".join(x.value for x in at.success))
    # a demo patient that the user's own import changed is theirs now: removing the demo keeps it
    changed = pd.read_csv(io.BytesIO(DEMO_PATIENTS), dtype=str, keep_default_na=False).iloc[[0]]
    changed["age"] = str(int(changed["age"].iloc[0]) + 1)
    at.file_uploader(key="cohort_table").set_value(("fix.csv", changed.to_csv(index=False).encode(), "text/csv")).run()
    at.button(key="cohort_apply").click().run()
    assert_clean(at)
    at.button(key="cohort_remove_demo").click().run()
    assert_clean(at)
    # one click only asks: nothing is deleted yet, and the question names what would go
    assert "55 of 55 patients shown" not in texts(at) and "54 of 54 patients shown" in texts(at)
    question = shown("\n".join(w.value for w in at.warning))
    assert "2 demo file(s) with 128 well row(s) and 33 demo-only patient(s)" in question, question
    assert "1 patient(s) that your own imports changed are kept" in question
    at.button(key="cohort_remove_demo_yes").click().run()
    assert_clean(at)
    assert "21 of 21 patients shown" in texts(at)
    assert "Synthetic demo data" not in texts(at)
    log = open_store(f"sqlite:///{os.environ['TDM1_DB_PATH']}").audit()
    entry = json.loads(log[log["action"] == "delete"].iloc[0]["detail"])
    assert (len(entry["file_ids"]), entry["patients"], entry["kept_patients"]) == (2, 33, 1)


def test_cohort_bad_upload_lists_every_error_and_stores_nothing():
    at = open_page("pages/cohort.py")
    df = pd.read_csv(io.BytesIO(DEMO_PATIENTS), dtype=str, keep_default_na=False)
    df.loc[0, "stage"] = "stage 9"
    df.loc[3, "tdm1_start_date"] = "2016-02-30"
    at.file_uploader(key="cohort_table").set_value(("bad.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    assert_clean(at)
    err = shown("\n".join(e.value for e in at.error))
    assert "nothing was stored" in err and "2 problem(s)" in err
    assert "row 2, column 'stage'" in err and "row 5, column 'tdm1_start_date'" in err
    assert "34 of 34 patients shown" in texts(at)
    assert not [b for b in at.button if b.key == "cohort_apply"]


def test_importing_exports_reports_duplicates_and_rejects_bad_files():
    at = open_page("pages/cohort.py")
    at.file_uploader(key="cohort_exports").set_value([("demo.csv", DEMO_EXPORT, "text/csv"), ("bad.csv", b"nonsense", "text/csv")]).run()
    at.button(key="cohort_import").click().run()
    assert_clean(at)
    assert "already stored" in "\n".join(i.value for i in at.info)
    assert "Rejected; nothing was stored" in shown(at.error[0].value) and "'bad.csv'" in shown(at.error[0].value)


def test_patient_result_can_be_saved_and_linked():
    from builders import qs17, sample_wells

    at = open_page("pages/patient.py")
    data = qs17(sample_wells("NEW1"))
    at.file_uploader(key="patient_upload").set_value(("new.csv", data, "text/csv")).run()
    at.text_input(key="patient_id").set_value("D01").run()
    at.button(key="patient_save").click().run()
    assert_clean(at)
    ok = shown("\n".join(x.value for x in at.success))
    assert "Stored 'new.csv'" in ok and "linked to patient D01" in ok
    at.switch_page("pages/audit.py").run()
    assert_clean(at)
    log = frame(at, "action")
    assert "link sample" in set(log["action"])


def test_survival_medians_and_method():
    at = open_page("pages/survival.py")
    assert_clean(at)
    med = reading(at, "Group").set_index("Group")
    assert list(med.columns) == ["n", "Events", "Median, days (95% CI)"]  # fits a phone (issue 11)
    # the study: 56.6 days (95% CI 36-NA) flagged, 318 (187-NA) not flagged; an upper limit not reached is NA
    assert med.loc["at risk", "Median, days (95% CI)"] == "56.6 (36.0–NA)"
    assert med.loc["not flagged", "Median, days (95% CI)"] == "318.0 (187.0–NA)"
    assert "log-log" in texts(at)
    at.selectbox(key="survival_group").set_value("hr_group").run()
    assert_clean(at)
    assert set(reading(at, "Group")["Group"]) == {"ER and/or PR positive", "ER and PR negative"}


def test_bad_risk_times_show_an_error():
    at = open_page("pages/survival.py")
    at.text_input(key="survival_times").set_value("0, ninety").run()
    assert_clean(at)
    assert "'ninety' is not a number of days" in shown(at.error[0].value)


def test_every_setting_changes_what_pages_show():
    at = open_page("pages/settings.py")
    at.number_input(key="set_her2").set_value(1.2)
    at.number_input(key="set_pik").set_value(1.5)
    at.number_input(key="set_ref").set_value(150.0)
    at.number_input(key="set_drops").set_value(12000)
    at.number_input(key="set_vol").set_value(0.86)
    at.selectbox(key="set_ci").set_value("log")
    at.button[0].click().run()  # the form's Apply button
    assert_clean(at)
    assert "Settings applied" in "\n".join(s.value for s in at.success)
    at.switch_page("pages/patient.py").run()
    at.radio(key="patient_mode").set_value("Use the built-in demo export").run()
    at.selectbox(key="patient_sample").set_value("P14").run()
    body = texts(at)
    assert "ratio cut-off 1.2 " in body and "KM CI method log" in body and "droplet volume 0.86 nL" in body
    assert "HER2/EFTUD2 ratio 1.2" in body and ">= cut-off 1.2" in body  # patient 14 (1.23) now amplified


def test_ci_method_setting_reaches_the_survival_page():
    at = open_page("pages/settings.py")
    at.selectbox(key="set_ci").set_value("log")
    at.button[0].click().run()
    at.switch_page("pages/survival.py").run()
    assert_clean(at)
    # R survfit(conf.type="log"): lower limit 52
    assert reading(at, "Group").set_index("Group").loc["at risk", "Median, days (95% CI)"].startswith("56.6 (52.0–")
    assert "as R survfit(conf.type='log')" in texts(at)


def test_confidence_level_setting_reaches_the_patient_result():
    at = open_page("pages/settings.py")
    at.selectbox(key="set_level").set_value(0.9)
    at.button[0].click().run()
    at.switch_page("pages/patient.py").run()
    at.radio(key="patient_mode").set_value("Use the built-in demo export").run()
    assert_clean(at)
    assert "(90% CI" in texts(at) and "90% CIs" in texts(at)


def test_target_alias_editor_maps_numeric_qx_manager_targets():
    from builders import QXM_HEADER_A, qxm, qxm_row

    rows = [qxm_row(QXM_HEADER_A, "A01", "S1", "1", "FAM", "Unknown", 1300, 18000),
            qxm_row(QXM_HEADER_A, "A01", "S1", "2", "HEX", "Reference", 900, 18000)]
    data = qxm(rows)
    at = open_page("pages/patient.py")
    at.file_uploader(key="patient_upload").set_value(("qx.csv", data, "text/csv")).run()
    assert "cannot be mapped" in shown(at.error[0].value) and "'1'" in shown(at.error[0].value)
    at.switch_page("pages/settings.py").run()
    # a half-filled row is not silently dropped: Apply says which row and applies nothing
    at.text_input(key="set_alias_name_0").input("1")
    at.selectbox(key="set_alias_assay_0").set_value("HER2")
    at.text_input(key="set_alias_name_1").input("2")
    at.button[0].click().run()
    assert "Row 2: the target name '2' has no assay" in texts(at)
    assert at.session_state["settings"].target_aliases == ()
    at.selectbox(key="set_alias_assay_1").set_value("EFTUD2")
    at.button[0].click().run()
    assert_clean(at)
    assert at.session_state["settings"].target_aliases == (("1", "HER2"), ("2", "EFTUD2"))
    # the preview shows what an export's targets map to, before any upload on the patient page
    at.file_uploader(key="set_map_preview").set_value(("qx.csv", data, "text/csv")).run()
    mapped = frame(at, "assay")
    assert list(mapped["assay"]) == ["HER2", "EFTUD2"] and list(mapped["how"]) == ["lab alias", "lab alias"]
    at.switch_page("pages/patient.py").run()
    at.file_uploader(key="patient_upload").set_value(("qx.csv", data, "text/csv")).run()
    assert_clean(at)
    assert not at.error
    assert "HER2/EFTUD2 ratio" in texts(at)


def test_saving_settings_to_the_database_recomputes_calls_and_is_audited():
    at = open_page("pages/settings.py")
    at.number_input(key="set_her2").set_value(1.2)
    at.button[0].click().run()
    at.button(key="set_save_db").click().run()  # not confirmed: nothing saved for every user
    assert any("Tick the box" in w.value for w in at.warning) and not at.success
    assert any("her2_ratio_cutoff: 1.25 → 1.2" in shown(m.value) for m in at.markdown)  # each change named
    at.checkbox(key="set_save_db_confirm").check().run()
    at.button(key="set_save_db").click().run()
    assert_clean(at)
    assert "1 stored file(s) called with these settings" in shown("\n".join(x.value for x in at.success))
    import os

    from tdm1core.settings import Settings
    from tdm1core.storage.store import Store

    stored = Store(f"sqlite:///{os.environ['TDM1_DB_PATH']}").calls_table(Settings(her2_ratio_cutoff=1.2).calls_fingerprint())
    assert len(stored) == 16 and stored.set_index("sample").loc["P14", "her2_call"] == "amplified"  # 1.23 >= 1.2
    at.switch_page("pages/audit.py").run()
    assert "settings change" in set(frame(at, "action")["action"])


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_on_an_empty_database(page, tmp_path):
    import os

    from tdm1core.app.workflows import open_store

    open_store(f"sqlite:///{os.environ['TDM1_DB_PATH']}").remove_demo()  # seeded once, emptied: not seeded again
    at = open_page(page)
    assert_clean(at)
    if page == "pages/patient.py":
        at.radio(key="patient_mode").set_value("Use the built-in demo export").run()
        at.radio(key="patient_er").set_value("positive").run()
        assert_clean(at)
        assert "No cohort in the database yet" in texts(at)


def test_html_in_a_sample_name_is_shown_as_text_not_markup():
    evil = DEMO_EXPORT.replace(b'"P06"', b'"<img src=x onerror=alert(1)>"')
    at = open_page("pages/patient.py")
    at.file_uploader(key="patient_upload").set_value(("evil.csv", evil, "text/csv")).run()
    at.selectbox(key="patient_sample").set_value("<img src=x onerror=alert(1)>").run()
    at.radio(key="patient_er").set_value("positive").run()
    assert_clean(at)
    card = next(m.value for m in at.markdown if 'role="status"' in m.value)
    assert "<img" not in card and "&lt;img src=x onerror=alert(1)&gt;" in card


@pytest.mark.parametrize("address", ["0.0.0.0", "", "192.0.2.7"])
def test_the_app_serves_no_patient_data_beyond_loopback(address):
    from streamlit import config

    old = config.get_option("server.address")
    config.set_option("server.address", address)
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    finally:
        config.set_option("server.address", old)
    body = texts(at)
    assert "Signed-in mode is required because the server listens on" in body and "Configure sign-in" in body
    assert "Patients" not in body and not at.dataframe and "P06" not in body


def test_loopback_addresses_are_recognised():
    from tdm1core.storage.access import is_loopback

    assert all(is_loopback(a) for a in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(a) for a in ("", "0.0.0.0", "::", "10.0.0.5", "example.org"))


def test_save_stores_the_result_shown_with_the_sessions_settings():
    import sqlalchemy as sa

    from builders import qs17, sample_wells
    from tdm1core.settings import Settings

    at = open_page("pages/patient.py")
    at.session_state["settings"] = Settings(her2_ratio_cutoff=1.1, target_aliases=(("HbS", "HER2"),))
    wells = sample_wells("NEW2", her2=1300, eftud2=1000)
    wells[0] = wells[0].__class__(**{**wells[0].__dict__, "ch1_target": "HbS"})
    at.file_uploader(key="patient_upload").set_value(("shown.csv", qs17(wells), "text/csv")).run()
    assert_clean(at)
    assert "amplified" in texts(at) and "not amplified" not in texts(at).split("Why:")[0]  # shown: amplified at 1.1
    at.button(key="patient_save").click().run()
    assert_clean(at)
    store = open_store(f"sqlite:///{os.environ['TDM1_DB_PATH']}")
    assert store.saved_settings().her2_ratio_cutoff == 1.25  # the database default differs from the screen
    with store.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT c.her2_call, s.settings FROM calls c JOIN files f ON f.id = c.file_id "
                                   "JOIN call_sets s ON s.file_id = c.file_id AND s.settings_hash = c.settings_hash "
                                   "WHERE f.name = 'shown.csv'")).one()
    assert row.her2_call == "amplified"  # what the user saw, not a re-call at 1.25 (which would be 'not amplified')
    assert json.loads(row.settings)["her2_ratio_cutoff"] == 1.1
    entry = json.loads(store.audit().iloc[0]["detail"])
    assert "stored exactly as shown" in entry["stored_as_shown"]
    assert entry["shown_result"]["her2_call"] == "amplified" and "HbS (Ch1) → HER2 [lab alias]" in entry["shown_result"]["target_map"]


def test_audit_page_shows_readable_details_and_utc_iso_times():
    at = open_page("pages/audit.py")
    assert_clean(at)
    log = frame(at, "when (UTC)")
    assert log["when (UTC)"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z").all()
    assert not log["details"].str.startswith("{").any()
    assert any("name: demo_patients.csv" in d for d in log["details"])


def test_a_stale_stored_notice_does_not_stand_under_a_rejection():
    at = open_page("pages/cohort.py")
    df = pd.read_csv(io.BytesIO(DEMO_PATIENTS), dtype=str, keep_default_na=False).iloc[:3].copy()
    df["patient_id"] = ["Z1", "Z2", "Z3"]
    at.file_uploader(key="cohort_table").set_value(("ok.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    at.button(key="cohort_apply").click().run()
    assert "Stored 'ok.csv'" in shown("\n".join(x.value for x in at.success))
    df.loc[0, "stage"] = "stage 9"
    at.file_uploader(key="cohort_table").set_value(("bad2.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    assert "The patient table was rejected" in texts(at)
    assert not at.success  # the earlier green notice is gone


def test_figures_label_ratio_ticks_as_numbers_and_name_the_at_risk_row():
    from tdm1core.plotting.figures import km_figure, ratio_figure
    from tdm1core.stats import km_by

    fig = ratio_figure(1.11, 1.01, 1.21, 1.25)
    assert list(fig.layout.xaxis.ticktext)[:6] == ["0.1", "0.2", "0.5", "0.7", "1", "1.25"]
    from tdm1core.app.cli import _demo_cohort
    from tdm1core.settings import Settings

    cohort, _ = _demo_cohort(Settings())
    km = km_figure(km_by(cohort, "hr_group", Settings()))
    assert km.layout.yaxis2.title.text == "Number at risk"
    assert km.layout.legend.y < 0  # below the plot, never over the title


def test_group_by_choices_show_labels_not_column_names():
    at = open_page("pages/survival.py")
    options = at.selectbox(key="survival_group").options
    assert "Prior s-1" in options and "prior_s1" not in options and "Risk flag" in options


# ------------------------------------------------------------------ droplets

def _zipped_plate(wells, layout="qs") -> bytes:
    import zipfile

    from builders import plate_droplet_files, qs17

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for data, name in plate_droplet_files(wells, "Run1", seed=4, layout=layout) + [(qs17(wells), "Run1_results.csv")]:
            z.writestr(name, data)
    return buf.getvalue()


def _well_box(at: AppTest):
    return next(b for b in at.selectbox if b.label == "Well")


def test_droplets_page_shows_the_plate_a_well_and_the_calls_of_a_zipped_plate():
    from builders import sample_wells

    wells = sample_wells("P1", her2=2600, eftud2=1000, e545k_mut=5) + sample_wells("P2", her2=800, eftud2=1000, well0=4)
    at = open_page("pages/droplets.py")
    at.file_uploader(key="droplet_upload").set_value([("Run1.zip", _zipped_plate(wells), "application/zip")]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    body = texts(at)
    assert "8 well(s)" in body and "Run1_results.csv" in body and "droplets classified by the instrument" in body
    assert _well_box(at).value == "A01"
    frames = [d.value for d in at.dataframe]
    calls = next(f for f in frames if "HER2/EFTUD2 ratio" in f.columns)
    truth = {c.sample: c for c in call_export(read_export(__import__("builders").qs17(wells), "r.csv"))}
    assert list(calls["sample"]) == ["P1", "P2"]
    for _, row in calls.iterrows():
        assert row["HER2"] == truth[row["sample"]].her2.call
        assert row["HER2/EFTUD2 ratio"] == round(truth[row["sample"]].her2.ratio, 2)
    assert calls.set_index("sample").loc["P1", "PIK3CA mutant"] == "detected"
    # the well of the E545K duplex of P1, automatic thresholds: the same five mutant droplets
    at.radio(key="droplet_method").set_value("Automatic thresholds").run()
    _well_box(at).set_value("C01").run()
    well_table = next(d.value for d in at.dataframe if "unclassified" in d.value.columns)
    assert well_table.set_index("channel").loc["Ch1", "positive"] == 5
    assert "automatic thresholds" in texts(at)


def test_droplets_page_manual_thresholds_and_a_bad_zip():
    from builders import sample_wells

    at = open_page("pages/droplets.py")
    at.file_uploader(key="droplet_upload").set_value([("Run1.zip", _zipped_plate(sample_wells("P1")), "application/zip")]).run()
    at.radio(key="droplet_method").set_value("Manual thresholds").run()
    assert "Type a threshold" in texts(at)
    at.number_input(key="droplet_thr_ch1").set_value(4000.0).run()
    at.number_input(key="droplet_thr_ch2").set_value(4000.0).run()
    assert not at.exception and "manual thresholds (positive at or above): Ch1 4000, Ch2 4000" in texts(at)
    at.file_uploader(key="droplet_upload").set_value([("bad.zip", b"PK\x03\x04broken", "application/zip")]).run()
    assert not at.exception and "damaged" in " ".join(e.value for e in at.error)


def test_patient_page_from_droplet_files_shows_the_droplets_and_refuses_no_save():
    from builders import sample_wells

    wells = sample_wells("P1", her2=900, eftud2=1000, e545k_mut=5) + sample_wells("P2", her2=2600, eftud2=1000, well0=4)
    at = open_page("pages/patient.py")
    at.radio(key="patient_mode").set_value("Upload droplet files (a plate)").run()
    at.file_uploader(key="patient_droplets").set_value([("Run1.zip", _zipped_plate(wells), "application/zip")]).run()
    at.radio(key="patient_er").set_value("positive").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    body = texts(at)
    assert at.selectbox(key="patient_droplet_sample").value == "P1"
    assert "The droplets behind these calls" in [h.value for h in at.subheader]
    assert "droplets classified by the instrument" in body and "not saved to the database" in body
    truth = {c.sample: c for c in call_export(read_export(__import__("builders").qs17(wells), "r.csv"))}["P1"]
    assert truth.her2.call == "not amplified"
    assert "At risk of primary resistance" in body  # HER2 not amplified and ER positive
    assert not [b for b in at.button if b.key == "patient_save"]


def test_saving_the_droplet_classification_is_audited_and_new_sessions_start_from_it():
    from builders import sample_wells

    at = open_page("pages/droplets.py")
    at.file_uploader(key="droplet_upload").set_value([("Run1.zip", _zipped_plate(sample_wells("P1")), "application/zip")]).run()
    at.radio(key="droplet_method").set_value("Manual thresholds").run()
    at.number_input(key="droplet_thr_ch1").set_value(4100.0).run()
    at.number_input(key="droplet_thr_ch2").set_value(3900.0).run()
    at.button(key="droplet_save_default").click().run()
    assert not at.exception and any("Saved as the lab's default" in s.value for s in at.success)
    audit = open_store(None).audit()
    row = audit[audit["entity"] == "droplet thresholds"].iloc[0]
    detail = json.loads(row["detail"])
    assert detail["previous"]["method"] == "instrument" and detail["new"]["channels"] == {"Ch1": 4100.0, "Ch2": 3900.0}
    fresh = open_page("pages/droplets.py")  # a new session
    assert fresh.radio(key="droplet_method").value == "Manual thresholds"
    fresh.file_uploader(key="droplet_upload").set_value([("Run1.zip", _zipped_plate(sample_wells("P1")), "application/zip")]).run()
    assert not fresh.exception and fresh.number_input(key="droplet_thr_ch1").value == 4100.0
    assert "manual thresholds (positive at or above): Ch1 4100, Ch2 3900" in texts(fresh)


def _demo_model_data():
    """The demo cohort's time, event, flag and age, for lifelines (an independent Cox implementation)."""
    from tdm1core.app.cli import _demo_cohort

    cohort, _ = _demo_cohort(Settings())
    df = cohort.patients
    df = df[df["flag"].notna() & df["ttp_days"].notna()]
    return pd.DataFrame({"t": df["ttp_days"].astype(float), "e": df["progression_event"].astype(int),
                         "at_risk": (df["flag"] == "at risk").astype(int), "age": df["age"].astype(float)})


def _demo_hr():
    from tdm1core.app.cli import _demo_cohort

    df, _ = _demo_cohort(Settings())
    df = df.patients
    return df.loc[df["flag"].notna() & df["ttp_days"].notna(), "stage"].to_numpy()


def test_survival_hazard_ratio_adjusted_model_landmark_and_rmst():
    lifelines = pytest.importorskip("lifelines")
    data = _demo_model_data()
    alone = lifelines.CoxPHFitter().fit(data[["t", "e", "at_risk"]], "t", "e")
    at = open_page("pages/survival.py")
    assert_clean(at)
    line = next(m.value for m in at.markdown if m.value.startswith("**Hazard ratio**"))
    assert f"HR **{math.exp(alone.params_['at_risk']):.2f}**" in shown(line) and "not flagged" in shown(line)
    at.multiselect(key="survival_covariates").set_value(["age"]).run()
    assert_clean(at)
    table = frame(at, "hazard ratio").set_index("term")
    both = lifelines.CoxPHFitter().fit(data[["t", "e", "at_risk", "age"]], "t", "e")
    assert table.loc["flag=at risk", "coef"] == pytest.approx(both.params_["at_risk"], rel=1e-4)
    assert table.loc["age", "se"] == pytest.approx(both.standard_errors_["age"], rel=1e-4)
    assert any("events per variable" in w.value for w in at.warning)  # 11 events, 2 coefficients
    assert set(frame(at, "chisq")["term"]) == {"flag", "age", "GLOBAL"}
    at.selectbox(key="survival_strata").set_value("stage").run()  # de novo and recurrent each their own baseline
    assert_clean(at)
    strat = lifelines.CoxPHFitter(strata=["hr"]).fit(data.assign(hr=_demo_hr())[["t", "e", "at_risk", "age", "hr"]], "t", "e")
    assert frame(at, "hazard ratio").set_index("term").loc["age", "coef"] == pytest.approx(strat.params_["age"], rel=1e-4)
    at.selectbox(key="survival_strata").set_value(None).run()
    at.number_input(key="survival_landmark").set_value(60.0).run()
    assert_clean(at)
    left_out = int((data["t"] <= 60).sum())
    assert f"{left_out} patient(s) with progression or censored by day 60 left out" in texts(at)
    at.number_input(key="survival_tau").set_value(180.0).run()
    assert_clean(at)
    rm = frame(at, "rmst").set_index("group")
    kmf = lifelines.KaplanMeierFitter().fit(data.loc[data["at_risk"] == 1, "t"], data.loc[data["at_risk"] == 1, "e"])
    from lifelines.utils import restricted_mean_survival_time

    assert rm.loc["at risk", "rmst"] == pytest.approx(restricted_mean_survival_time(kmf, t=180), rel=1e-9)
    at.number_input(key="survival_tau").set_value(5000.0).run()
    assert "beyond the follow-up" in texts(at)


def test_droplets_page_shows_a_plate_of_another_assay_and_names_what_is_not_called():
    """Issue 25: a plate with the panel's sample and a methylation assay: the grid and the summary show every well,
    the calls only the panel's sample, the other listed as not part of the panel; QC codes in the summary."""
    from builders import sample_wells
    from tdm1core.demo.writer import DuplexWell

    wells = sample_wells("P1", her2=2600, eftud2=1000)
    wells.append(DuplexWell("F01", "SW480", "VIM", "new4Plex", 60, 800, 1185))  # 1,185 droplets: LOW_DROPLETS
    at = open_page("pages/droplets.py")
    at.file_uploader(key="droplet_upload").set_value([("Run1.zip", _zipped_plate(wells), "application/zip")]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    summary = frame(at, "QC").set_index("well")
    assert summary.loc["F01", "Ch1 target"] == "VIM" and summary.loc["F01", "QC"] == "LOW_DROPLETS"
    assert summary.loc["A01", "QC"] == "ok"
    calls = frame(at, "HER2/EFTUD2 ratio")
    assert list(calls["sample"]) == ["P1"]
    assert "Not part of the panel" in texts(at) and "SW480" in texts(at)
    at.radio(key="droplet_method").set_value("Extreme-value thresholds").run()
    assert not at.exception and "ddpcRquant" in texts(at)


def test_monitoring_page_shows_a_patients_timeline_from_the_demo_series():
    """Issue 26: the SYNTHETIC demo series, a patient chosen, the timeline with each sample's category."""
    at = open_page("pages/monitoring.py")
    at.radio(key="monitor_source").set_value("Use the SYNTHETIC demo series").run()
    assert_clean(at)
    assert "SYNTHETIC demo series" in texts(at)
    assert at.selectbox(key="monitor_patient").options == ["M01", "M02", "M03", "M04"]
    table = frame(at, "category")
    assert list(table["category"]) == ["baseline", "response", "response", "progression", "progression"]
    assert "**lead time** **66 days**" in "\n".join(m.value for m in at.markdown)
    at.selectbox(key="monitor_patient").set_value("M04").run()
    assert set(frame(at, "category")["category"][1:]) == {"not trackable"}


def test_monitoring_page_reads_the_database_and_imports_a_table():
    from tdm1core.app.workflows import import_exports
    from tdm1core.demo import demo_series_paths

    samples, export, events = demo_series_paths()
    at = open_page("pages/monitoring.py")
    at.radio(key="monitor_source").set_value("The database").run()
    assert "no serial-monitoring samples" in texts(at)
    db = open_store(None)
    import_exports(db, [(export.read_bytes(), export.name)], db.saved_settings())
    at.file_uploader(key="monitor_import").set_value([(samples.name, samples.read_bytes(), "text/csv")]).run()
    at.button(key="monitor_import_go").click().run()
    assert_clean(at)
    assert "Stored 16 sample(s) and 0 event(s)" in "\n".join(x.value for x in at.success)
    at.run()
    assert at.selectbox(key="monitor_patient").options == ["M01", "M02", "M03", "M04"]
    assert frame(at, "category")["category"].iloc[0] == "baseline"
    import sqlalchemy as sa

    with open_store(None).engine.connect() as conn:
        actions = set(conn.execute(sa.text("SELECT action FROM audit_log")).scalars())
    assert "import serial monitoring" in actions


def test_monitoring_page_imports_the_demo_series_into_the_database_after_a_confirmation():
    at = open_page("pages/monitoring.py")
    at.radio(key="monitor_source").set_value("The database").run()
    assert "no serial-monitoring samples" in texts(at)
    assert at.button(key="monitor_demo_go").disabled  # not before the box is ticked
    at.checkbox(key="monitor_demo_sure").check().run()
    at.button(key="monitor_demo_go").click().run()
    assert_clean(at)
    assert "Stored the SYNTHETIC demo series: 16 sample(s) and 12 event(s)." in "\n".join(x.value for x in at.success)
    at.run()
    assert at.selectbox(key="monitor_patient").options == ["M01", "M02", "M03", "M04"]
    assert list(frame(at, "category")["category"]) == ["baseline", "response", "response", "progression", "progression"]
    plan = open_store(None).demo_removal_plan()
    assert plan.serial_samples == 16


def test_patient_page_shows_the_patients_stored_timeline_for_the_pdf_and_the_release():
    from tdm1core.app.monitoring import import_serial_tables
    from tdm1core.app.workflows import import_exports
    from tdm1core.demo import demo_series_paths

    samples, export, events = demo_series_paths()
    db = open_store(None)
    import_exports(db, [(export.read_bytes(), export.name)], db.saved_settings())
    import_serial_tables(db, (samples.read_bytes(), samples.name), (events.read_bytes(), events.name), db.saved_settings())
    at = open_page("pages/patient.py")
    at.file_uploader(key="patient_upload").set_value([(export.name, export.read_bytes(), "text/csv")]).run()
    at.selectbox(key="patient_sample").set_value("M01-T5").run()
    at.text_input(key="patient_id").set_value("M01").run()
    assert_clean(at)
    assert "Serial monitoring on T-DM1" in [h.value for h in at.subheader]
    at.text_input(key="patient_id").set_value("P99").run()
    assert "Serial monitoring on T-DM1" not in [h.value for h in at.subheader]


def test_home_shows_the_cohorts_counts_without_loading_the_cohort(monkeypatch):
    """Issue 28: the home page's numbers come from count queries (equal to the Cohort page's own), not a cohort load."""
    import tdm1core.app.cohort as cohort_cases

    viewed = []
    real = cohort_cases._cohort_view
    monkeypatch.setattr(cohort_cases, "_cohort_view", lambda *a, **k: viewed.append(1) or real(*a, **k))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert not viewed, "the home page loaded the cohort"
    view = cohort_cases.cohort_view(open_store(), Settings(), actor="me")
    assert metrics["Patients"] == str(view.cohort.n) and metrics["With ctDNA"] == str(view.cohort.n_ctdna)
    assert metrics["Data"] == "synthetic demo"


def test_cohort_fhir_import_previews_lists_what_is_not_mapped_then_applies():
    """Issue 29: a FHIR Bundle on the Cohort page: the preview (new patients, what was not mapped), nothing stored
    until applied; the pseudonym system typed in; a refused file says so and stores nothing."""
    pytest.importorskip("fhir.resources")
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from fhir_builders import PSEUDONYM, Person, bundle

    at = open_page("pages/cohort.py")
    at.text_input(key="cohort_fhir_system").input(PSEUDONYM).run()
    data = bundle([Person("FH1"), Person("FH2", tdm1=[("2016-01-01", "2016-03-01"), ("2018-01-01", None)])])
    at.file_uploader(key="cohort_fhir").set_value([("record.json", data, "application/json")]).run()
    assert_clean(at)
    assert "2 new, 0 changed, 0 unchanged" in texts(at)
    unmapped = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert unmapped["reason"].str.contains("2 T-DM1 courses").any()
    assert "34 of 34 patients shown" in texts(at)  # the preview stored nothing
    at.button(key="cohort_fhir_apply").click().run()
    assert_clean(at)
    assert "36 of 36 patients shown" in texts(at)
    at.file_uploader(key="cohort_fhir").set_value([("cut.json", data[: len(data) // 2], "application/json")]).run()
    assert "The FHIR import was rejected; nothing was stored." in "\n".join(e.value for e in at.error)
    assert "36 of 36 patients shown" in texts(at)
