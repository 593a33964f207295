"""The stored snapshot of the validated patient table: exact round trip, never stale, never trusted when damaged."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hyp_settings, strategies as hs

import tdm1core.stats.cohort as cohort_module
from spies import count_calls
from tdm1core.stats.cohort import load_cohort
from tdm1core.stats.cohort_snapshot import decode_table, encode_table
from tdm1core.demo import DEMO_DIR
from tdm1core.settings import DEFAULT_SETTINGS
from tdm1core.storage.store import Store
from tdm1core.app.workflows import cohort_view, import_patients, open_store, stored_patients

DEMO_PATIENTS = (DEMO_DIR / "demo_patients.csv").read_bytes()


def test_the_demo_cohort_round_trips_exactly():
    c = load_cohort(DEMO_PATIENTS)
    pd.testing.assert_frame_equal(decode_table(encode_table(c.patients)), c.patients)


text = hs.one_of(hs.none(), hs.text(max_size=12))
whole = hs.one_of(hs.none(), hs.integers(-10**6, 10**6))
real = hs.one_of(hs.just(math.nan), hs.floats(allow_nan=False, allow_infinity=False, width=64))
day = hs.one_of(hs.none(), hs.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                                        max_value=pd.Timestamp("2030-01-01").to_pydatetime()))


@hyp_settings(max_examples=60, deadline=None)
@given(hs.lists(hs.tuples(text, whole, real, day), min_size=0, max_size=30))
def test_any_table_of_the_stored_kinds_round_trips_exactly(rows):
    df = pd.DataFrame({
        "t": np.array([r[0] for r in rows], dtype=object),
        "i": pd.array([r[1] for r in rows], dtype="Int64"),
        "f": np.array([r[2] for r in rows], dtype=float),
        "d": pd.to_datetime(pd.Series([r[3] for r in rows], dtype=object)).astype("datetime64[ns]"),
    })
    pd.testing.assert_frame_equal(decode_table(encode_table(df)), df)


few = hs.one_of(hs.none(), hs.sampled_from(["positive", "negative", "", "Stage IV", "é ünïcode", "0", "None"]))


@hyp_settings(max_examples=60, deadline=None)
@given(hs.lists(few, min_size=0, max_size=60), hs.lists(text, min_size=0, max_size=60))
def test_text_with_few_distinct_values_round_trips_exactly(repeated, mixed):
    """A receptor-status-like column (few distinct values: stored by its levels and codes) and a free-text one,
    whatever their lengths, Nones and orders."""
    n = min(len(repeated), len(mixed))
    df = pd.DataFrame({"r": np.array(repeated[:n], dtype=object), "m": np.array(mixed[:n], dtype=object),
                       "long": np.array((repeated * 3)[:n], dtype=object)})
    pd.testing.assert_frame_equal(decode_table(encode_table(df)), df)


def test_more_levels_than_a_byte_round_trip():
    values = [f"v{i % 300}" if i % 7 else None for i in range(3000)]  # 300 levels: two-byte codes
    df = pd.DataFrame({"t": np.array(values, dtype=object)})
    pd.testing.assert_frame_equal(decode_table(encode_table(df)), df)


@pytest.mark.parametrize("damage", ["code beyond the levels", "fewer codes than rows", "not base64", "bad width"])
def test_damaged_codes_are_refused(damage):
    import base64, json, zlib

    df = pd.DataFrame({"t": np.array(["a", "b", None, "a"] * 10, dtype=object)})
    body = json.loads(zlib.decompress(encode_table(df)))
    col = body["columns"][0]
    assert "levels" in col  # stored by levels
    if damage == "code beyond the levels":
        col["codes"] = base64.b64encode(np.array([5] * 40, dtype="<i1").tobytes()).decode()
    elif damage == "fewer codes than rows":
        col["codes"] = base64.b64encode(np.array([0] * 39, dtype="<i1").tobytes()).decode()
    elif damage == "not base64":
        col["codes"] = "***"
    else:
        col["width"] = 3
    with pytest.raises(ValueError):
        decode_table(zlib.compress(json.dumps(body).encode()))


def _count_validations(monkeypatch):
    return count_calls(monkeypatch, cohort_module, "validate_patients")


def test_a_view_reads_the_snapshot_and_equals_a_fresh_validation(url, monkeypatch):
    store = open_store(url)  # the demo seed validated the patients once and stored the snapshot
    validations = _count_validations(monkeypatch)
    view = cohort_view(store, DEFAULT_SETTINGS)
    assert validations == []  # no table validated: the snapshot was read
    fresh = cohort_module.attach_ctdna(cohort_module.validate_patients(store.patient_table(), "x", None, DEFAULT_SETTINGS),
                                       store.calls_table(DEFAULT_SETTINGS.calls_fingerprint()), DEFAULT_SETTINGS)
    pd.testing.assert_frame_equal(view.cohort.patients, fresh.patients)


@pytest.mark.parametrize("change", ["import", "delete", "link"])
def test_a_change_to_the_patients_is_seen_at_once(url, change):
    store = open_store(url)
    before = cohort_view(store, DEFAULT_SETTINGS).cohort
    assert before.n == 34
    if change == "import":
        df = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
        df.loc[0, "age"] = str(int(df.loc[0, "age"]) + 7)
        import_patients(store, df.to_csv(index=False).encode(), "v2.csv", DEFAULT_SETTINGS)
        after = cohort_view(store, DEFAULT_SETTINGS).cohort
        pid = df.loc[0, "patient_id"]
        assert after.patients.set_index("patient_id").loc[pid, "age"] == int(df.loc[0, "age"])
    elif change == "delete":
        store.delete_patient("D01")
        assert cohort_view(store, DEFAULT_SETTINGS).cohort.n == 33
    else:
        pid = before.patients.loc[before.patients["ctdna_sample_id"].isna(), "patient_id"].iloc[0]
        store.link_sample(pid, "P01")
        after = cohort_view(store, DEFAULT_SETTINGS).cohort.patients.set_index("patient_id")
        assert after.loc[pid, "ctdna_sample_id"] == "P01" and after.loc[pid, "ctdna_available"] == "yes"


def test_a_damaged_snapshot_is_never_used(url, monkeypatch):
    store = open_store(url)
    good = cohort_view(store, DEFAULT_SETTINGS).cohort.patients
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE cohort_snapshots SET data = %s" % ("X'00'" if store.engine.dialect.name == "sqlite"
                                                                         else "'\\x00'::bytea"))
    validations = _count_validations(monkeypatch)
    again = cohort_view(store, DEFAULT_SETTINGS).cohort.patients
    assert validations == [1]  # validated again
    pd.testing.assert_frame_equal(again, good)


def test_an_empty_database_has_no_cohort(url):
    store = Store(url)
    assert stored_patients(store, DEFAULT_SETTINGS) is None and cohort_view(store, DEFAULT_SETTINGS).cohort is None
