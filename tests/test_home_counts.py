"""The home page's numbers (issue 28): count queries, equal to the cohort's own counts, never a cohort load."""
import dataclasses
import io

import pandas as pd
import pytest

import tdm1core.app.cohort as cohort_cases
import tdm1core.app.workflows as wf
from builders import qs17, sample_wells
from tdm1core.app.cohort import cohort_counts
from tdm1core.demo import DEMO_DIR
from tdm1core.settings import DEFAULT_SETTINGS
from tdm1core.storage import access
from tdm1core.storage.access import AccessDenied, User


def _table(rows: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    rows.to_csv(buf, index=False)
    return buf.getvalue().encode()


def _full_view(store, settings):
    view = wf.cohort_view(store, settings, actor="me")
    return (0, 0) if view.cohort is None else (view.cohort.n, view.cohort.n_ctdna)


def test_the_counts_equal_the_cohorts_own_on_both_databases(url):
    store = wf.open_store(url)
    counts = cohort_counts(store, DEFAULT_SETTINGS, "me")
    assert (counts.patients, counts.with_ctdna) == _full_view(store, DEFAULT_SETTINGS)
    assert counts.patients == 34 and counts.pending_files == 0 and counts.data == "demo"


def test_a_sample_id_with_spaces_and_a_patient_without_calls_count_as_the_cohort_does(url):
    store = wf.open_store(url)
    demo = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    rows = demo.head(2).copy()
    rows["patient_id"] = ["H1", "H2"]
    rows["ctdna_sample_id"] = ["  H1-plasma ", "H2-plasma"]  # H2's sample is in no export
    rows = rows.drop(columns=["demo_note"])
    wf.import_patients(store, _table(rows), "mine.csv", DEFAULT_SETTINGS, "me")
    wf.import_exports(store, [(qs17(sample_wells("H1-plasma")), "h1.csv")], DEFAULT_SETTINGS, "me")
    counts = cohort_counts(store, DEFAULT_SETTINGS, "me")
    n, n_ctdna = _full_view(store, DEFAULT_SETTINGS)
    assert (counts.patients, counts.with_ctdna) == (n, n_ctdna) == (36, 17)  # the demo: 16 of 34 with ctDNA
    assert counts.data == "mixed"


def test_other_settings_count_what_is_called_and_say_what_is_not(url):
    store = wf.open_store(url)
    other = dataclasses.replace(DEFAULT_SETTINGS, reference_min_copies=150)
    assert other.calls_fingerprint() != DEFAULT_SETTINGS.calls_fingerprint()
    before = cohort_counts(store, other, "me")
    n_files = store.status().files - 1  # the demo's patient table is a stored file, not an export
    assert before.pending_files == n_files > 0 and before.with_ctdna == 0 and before.patients == 34
    n, n_ctdna = _full_view(store, other)  # the Cohort page calls the stored exports with these settings
    after = cohort_counts(store, other, "me")
    assert after.pending_files == 0 and (after.patients, after.with_ctdna) == (n, n_ctdna)


def test_the_counts_read_no_patient_row(url, monkeypatch):
    store = wf.open_store(url)
    for name in ("patient_table", "stored_patients", "calls_table", "cohort_snapshot"):
        monkeypatch.setattr(type(store), name, lambda *a, **k: pytest.fail("the home page's counts loaded the cohort"))
    monkeypatch.setattr(cohort_cases, "_cohort_view", lambda *a, **k: pytest.fail("a cohort view"))
    assert cohort_counts(store, DEFAULT_SETTINGS, "me").patients == 34


def test_the_counts_need_a_role_that_sees_the_cohort(tmp_path):
    store = wf.open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    admin = User(subject="a", email="a@x.example", name="a", roles=frozenset({"admin"}), mode="signed-in", session="s",
                 roles_source="claim")
    access.require_signed_in(True)
    try:
        with pytest.raises(AccessDenied):
            cohort_counts(store, DEFAULT_SETTINGS, admin)
        clinician = User(**{**admin.__dict__, "roles": frozenset({"clinician"})})
        assert cohort_counts(store, DEFAULT_SETTINGS, clinician).patients == 34
    finally:
        access.require_signed_in(False)
