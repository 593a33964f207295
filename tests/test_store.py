"""Storage against SQLite and a real PostgreSQL server: nothing lost, nothing stored twice, migrations, audit."""
import json
import multiprocessing as mp
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from builders import qs17, sample_wells
from tdm1core.storage.store import HEAD_REVISION
from tdm1core.demo import DEMO_DIR, demo_export_path
from tdm1core.errors import CohortFormatError, DdpcrFormatError, TargetMapError
from tdm1core.settings import DEFAULT_SETTINGS, Settings
from tdm1core.storage.store import Store
from tdm1core.app.workflows import apply_settings, cohort_view, import_exports, import_patients, open_store, preview_patients, seed_demo

DEMO_EXPORT = demo_export_path().read_bytes()
DEMO_PATIENTS = (DEMO_DIR / "demo_patients.csv").read_bytes()


def imp(store, data, name, who=None):
    """One export through the use case, with the study's settings."""
    return import_exports(store, [(data, name)], DEFAULT_SETTINGS, who)[0]


def counts(store):
    st = store.status()
    return (st.files, st.wells, st.patients, st.calls)


def test_fresh_database_is_created_migrated_and_seeded(url):
    store = open_store(url)
    st = store.status()
    assert st.revision == HEAD_REVISION
    assert (st.files, st.wells, st.patients, st.calls) == (2, 128, 34, 16)
    view = cohort_view(store, DEFAULT_SETTINGS)
    assert view.cohort.n == 34 and view.cohort.n_ctdna == 16 and "synthetic demo" in view.cohort.source
    assert view.files_called == 0  # the seed stored the calls for these settings
    assert not seed_demo(open_store(url))  # seeded once only


@pytest.mark.parametrize("bad,error", [(b"", DdpcrFormatError), (DEMO_EXPORT[:4000], DdpcrFormatError),
                                       (DEMO_EXPORT.replace(b'"HER2"', b'"KRAS"'), TargetMapError)])
def test_a_bad_ddpcr_file_leaves_the_counts_unchanged(url, bad, error):
    store = open_store(url)
    before = counts(store), store.status().audit_entries
    with pytest.raises(error):
        imp(store, bad, "bad.csv")
    assert (counts(store), store.status().audit_entries) == before


def test_a_bad_patient_table_stores_nothing(url):
    store = open_store(url)
    before = counts(store)
    df = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    df.loc[2, "best_response"] = "great"
    with pytest.raises(CohortFormatError):
        import_patients(store, df.to_csv(index=False).encode(), "bad.csv", DEFAULT_SETTINGS)
    assert counts(store) == before


def test_a_duplicate_file_is_stored_once(url):
    store = Store(url)
    first = imp(store, DEMO_EXPORT, "a.csv")
    second = imp(store, DEMO_EXPORT, "renamed.csv")
    assert not first.duplicate and second.duplicate and "already stored" in second.message
    assert store.status().files == 1 and store.status().wells == 128


def test_patient_update_is_previewed_and_old_values_are_audited(url):
    store = Store(url)
    import_patients(store, DEMO_PATIENTS, "v1.csv", DEFAULT_SETTINGS)
    df = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    df.loc[0, "best_response"] = "SD" if df.loc[0, "best_response"] != "SD" else "PR"
    old = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False).loc[0, "best_response"]
    data = df.to_csv(index=False).encode()
    preview, _ = preview_patients(store, data, "v2.csv", DEFAULT_SETTINGS)
    assert preview.new == () and preview.unchanged == 33 and len(preview.changed) == 1
    assert preview.changed[0].changes == {"best_response": (old, df.loc[0, "best_response"])}
    assert store.status().audit_entries == 1  # the preview wrote nothing
    import_patients(store, data, "v2.csv", DEFAULT_SETTINGS)
    detail = json.loads(store.audit().iloc[0]["detail"])
    assert detail["changed"][0]["previous"] == {"best_response": old}


def test_changing_a_cutoff_changes_the_calls_and_is_audited(url):
    store = Store(url)
    imp(store, DEMO_EXPORT, "demo.csv")
    before = store.stored_calls().set_index("sample")
    assert before.loc["P14", "her2_call"] == "not amplified"
    assert before.loc["P14", "settings_hash"] == DEFAULT_SETTINGS.calls_fingerprint()
    new = Settings(her2_ratio_cutoff=1.2)
    n = apply_settings(store, new, who="tester")
    assert n == 1  # the one stored file, called once with the new settings
    after = store.stored_calls()
    now = after[after["settings_hash"] == new.calls_fingerprint()].set_index("sample")
    assert len(now) == 16 and now.loc["P14", "her2_call"] == "amplified"
    # the calls for the old settings are kept (switching back reads no file)
    assert (after["settings_hash"] == DEFAULT_SETTINGS.calls_fingerprint()).sum() == 16
    entry = store.audit().iloc[0]
    assert entry["action"] == "settings change" and entry["who"] == "tester"
    # the cut-off, and the profile it no longer matches (a hand-changed cut-off is stamped custom)
    assert json.loads(entry["detail"])["changed"] == {
        "her2_ratio_cutoff": [1.25, 1.2],
        "cutoff_profile": ["study (Table 3 cut-offs) v1", "custom (edited from study (Table 3 cut-offs) v1)"],
        "profile_cutoffs": [[1.25, 3.0, 100.0], None]}
    assert store.saved_settings().her2_ratio_cutoff == 1.2


def _count_reads(monkeypatch):
    """Count every export the use cases read (the only way from stored bytes to calls)."""
    import tdm1core.reading.exports as ddpcr

    reads = []
    real = ddpcr.read_export

    def counting(data, name, settings):
        reads.append(name)
        return real(data, name, settings)

    monkeypatch.setattr(ddpcr, "read_export", counting)
    return reads


def test_a_second_cohort_load_parses_no_file(url, monkeypatch):
    store = open_store(url)
    for i in range(3):
        imp(store, qs17(sample_wells(f"X{i}", her2=1000 + i, eftud2=900)), f"x{i}.csv")
    reads = _count_reads(monkeypatch)
    s = Settings(her2_ratio_cutoff=1.3)  # settings no stored call was made with
    first = cohort_view(store, s)
    assert first.files_called == 4 and len(reads) == 4  # the demo export and three others, once each
    second = cohort_view(store, s)
    assert second.files_called == 0 and len(reads) == 4  # read from the stored calls: no file parsed
    pd.testing.assert_frame_equal(first.cohort.patients, second.cohort.patients)
    # the stored calls give what calling the files again gives
    from tdm1core.calling.calls import call_export, calls_table
    from tdm1core.reading.exports import read_export

    fresh = calls_table([c for data, name in [(DEMO_EXPORT, "d.csv")] for c in call_export(read_export(data, name, s), s)])
    stored = second.calls[second.calls["sample"].isin(fresh["sample"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(stored, fresh, check_dtype=False)
    assert cohort_view(store, DEFAULT_SETTINGS).files_called == 0  # the study's settings were stored at import


def test_a_file_called_to_no_sample_is_marked_done(url):
    """A call set records that a file was called with these settings even when it gave no sample, so it is not read
    again on every view."""
    store = Store(url)
    fid = imp(store, qs17(sample_wells("Y1")), "y1.csv").file_id
    s = Settings(her2_ratio_cutoff=1.3)
    assert store.files_without_calls(s.calls_fingerprint()) == [fid]
    assert store.store_calls([(fid, [])], s) == 0
    assert store.files_without_calls(s.calls_fingerprint()) == []
    assert store.store_calls([(fid, [])], s) == 0  # a second session storing the same call set changes nothing


def test_two_sessions_calling_the_same_files_store_one_call_set(url):
    import threading

    store = open_store(url)
    s = Settings(her2_ratio_cutoff=1.4)
    errors = []

    def view():
        try:
            cohort_view(Store(url), s)
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=view) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    calls = store.stored_calls()
    assert (calls["settings_hash"] == s.calls_fingerprint()).sum() == 16


def test_calls_stored_by_an_older_version_are_kept_with_their_settings_hash(url):
    store = Store(url, migrate=False)
    store.migrate("0002")
    old = Settings(her2_ratio_cutoff=1.1)
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO files (kind, name, sha256, size, content, uploaded_at, demo) VALUES "
                             "('ddpcr', 'old.csv', :sha, 3, :content, CURRENT_TIMESTAMP, :f)"),
                     {"sha": "a" * 64, "content": b"old", "f": False})
        fid = conn.execute(sa.text("SELECT id FROM files")).scalar()
        result = {"pik3ca": {"E545K": {"mutant_copies": 7.5, "wildtype_copies": 900.0}}}
        conn.execute(sa.text("INSERT INTO calls (file_id, sample, her2_ratio, her2_call, result, settings, computed_at) "
                             "VALUES (:f, 'OLD1', 1.15, 'amplified', :r, :s, CURRENT_TIMESTAMP)"),
                     {"f": fid, "r": json.dumps(result), "s": json.dumps(old.to_dict(), sort_keys=True)})
    upgraded = Store(url)
    assert upgraded.revision() == HEAD_REVISION
    table = upgraded.calls_table(old.calls_fingerprint())
    assert table["sample"].tolist() == ["OLD1"] and table.loc[0, "E545K MUT"] == 7.5 and table.loc[0, "E545K WT"] == 900.0
    assert upgraded.files_without_calls(old.calls_fingerprint()) == []  # never read again for the settings it was called with


def test_demo_can_be_removed(url):
    store = open_store(url)
    imp(store, qs17(sample_wells("MINE")), "mine.csv")
    plan = store.demo_removal_plan()
    assert (plan.files, plan.patients, plan.kept_patients) == (2, 34, 0)
    assert store.status().patients == 34  # a plan changes nothing
    done = store.remove_demo(who="tester")
    assert done == plan
    st = store.status()
    assert (st.files, st.patients) == (1, 0)
    assert not store.has_demo()


def test_demo_state_follows_what_is_stored(url):
    """The sidebar's and the banner's one statement: empty, demo only, both, then only the user's data (after the
    demo's removal); a patient table without files counts as the user's data too."""
    from tdm1core.demo import DEMO_DIR

    empty = Store(url)
    assert empty.demo_state() == "empty" and not empty.has_demo()
    store = open_store(url)  # seeds the demo
    assert store.demo_state() == "demo" and store.has_demo()
    imp(store, qs17(sample_wells("MINE")), "mine.csv")
    assert store.demo_state() == "mixed"
    store.remove_demo(who="tester")
    assert store.demo_state() == "real" and not store.has_demo()
    store.delete_file(int(store.files_table()["id"].iloc[0]), who="tester")
    assert store.demo_state() == "empty"
    mine = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False).iloc[[0]]
    import_patients(store, mine.to_csv(index=False).encode(), "one.csv", DEFAULT_SETTINGS, who="me")
    assert store.demo_state() == "real"


def test_demo_removal_keeps_patients_the_user_changed(url):
    from tdm1core.demo import DEMO_DIR

    store = open_store(url)
    demo = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    mine = demo.iloc[[2, 5]].copy()
    mine["age"] = [str(int(a) + 1) for a in mine["age"]]
    import_patients(store, mine.to_csv(index=False).encode(), "corrections.csv", DEFAULT_SETTINGS, who="me")
    done = store.remove_demo(who="tester")
    assert (done.patients, done.kept_patients) == (32, 2)
    cohort_ids = {json.loads(r)["patient_id"] for r in pd.read_sql("select data from patients", store.engine)["data"]}
    assert cohort_ids == set(mine["patient_id"])
    entry = store.audit().iloc[0]
    assert entry["action"] == "delete" and entry["who"] == "tester"
    assert json.loads(entry["detail"])["kept_patients"] == 2


def test_first_migration_upgrades_to_the_newest(url):
    store = Store(url, migrate=False)
    store.migrate("0001")
    assert store.revision() == "0001"
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO audit_log (at, who, action, entity, detail) VALUES (CURRENT_TIMESTAMP, 'old', 'import', 'x', '{}')"))
    assert "calls" not in sa.inspect(store.engine).get_table_names()
    upgraded = Store(url)  # opening applies the migrations
    assert upgraded.revision() == HEAD_REVISION
    assert {"calls", "app_settings", "call_sets"} <= set(sa.inspect(upgraded.engine).get_table_names())
    assert upgraded.status().audit_entries == 1  # data kept


def test_export_writes_every_table(url, tmp_path):
    store = open_store(url)
    paths = store.export_all(tmp_path / "out")
    assert {p.name for p in paths} == {"files.csv", "wells.csv", "patients.csv", "calls.csv", "audit_log.csv"}
    wells = pd.read_csv(tmp_path / "out" / "wells.csv", comment="#")
    assert len(wells) == 128


def _worker(args):
    url, i = args
    from builders import qs17, sample_wells
    from tdm1core.settings import DEFAULT_SETTINGS
    from tdm1core.storage.store import Store
    from tdm1core.app.workflows import import_exports

    data = qs17(sample_wells(f"S{i}", her2=1000 + i, eftud2=900 + i))
    return import_exports(Store(url), [(data, f"plate{i}.csv")], DEFAULT_SETTINGS, who=f"proc{i}")[0].duplicate


def test_eight_processes_importing_eight_files_all_land(url):
    Store(url)  # create and migrate first
    ctx = mp.get_context("spawn")
    with ctx.Pool(8, initializer=_add_test_path, initargs=(sys.path,)) as pool:
        duplicates = pool.map(_worker, [(url, i) for i in range(8)])
    assert duplicates == [False] * 8
    st = Store(url).status()
    assert st.files == 8 and st.wells == 64 and st.audit_entries == 8


def _add_test_path(paths):
    for p in paths:
        if p not in sys.path:
            sys.path.append(p)


def test_db_command_line(tmp_path):
    import subprocess

    from conftest import ROOT

    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    run = lambda *a: subprocess.run([sys.executable, "-m", "tdm1core", *a, "--db", db], cwd=ROOT, capture_output=True)  # noqa: E731
    assert run("import", "ddpcr", str(demo_export_path())).returncode == 0
    assert run("import", "patients", str(DEMO_DIR / "demo_patients.csv")).returncode == 0
    p = run("db", "status", "--json")
    obj = json.loads(p.stdout)
    assert {"files": 2, "wells": 128, "patients": 34} .items() <= obj.items()
    assert obj["audit_entries"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"junk")
    p = run("import", "ddpcr", str(bad))
    assert p.returncode == 2 and b"Traceback" not in p.stderr
    assert json.loads(run("db", "status", "--json").stdout)["files"] == 2
    assert run("db", "export", str(tmp_path / "exp")).returncode == 0
    assert (tmp_path / "exp" / "audit_log.csv").exists()


def test_deleting_a_patient_is_audited_with_the_old_values(url):
    store = open_store(url)
    assert store.delete_patient("D01", who="tester")
    assert not store.delete_patient("D01")
    entry = store.audit().iloc[0]
    assert entry["action"] == "delete" and json.loads(entry["detail"])["previous"]["patient_id"] == "D01"
    assert store.status().patients == 33


@pytest.mark.parametrize("order", ["bad last", "bad first and in the middle"])
def test_a_streamed_batch_lists_every_refused_file_and_stores_none(url, order):
    """A batch is stored as it is read, in one transaction: a refusal anywhere rolls back what was already written."""
    store = open_store(url)
    before = counts(store), store.status().audit_entries
    good = [(qs17(sample_wells(f"G{i}", well0=4 * i)), f"g{i}.csv") for i in range(3)]
    bad = [(b"Well,Sample\nA01,x\n", "bad1.csv"), (DEMO_EXPORT[:3000], "bad2.csv")]
    files = good + bad if order == "bad last" else [bad[0]] + good[:2] + [bad[1]] + good[2:]
    with pytest.raises(DdpcrFormatError) as e:
        import_exports(store, files, DEFAULT_SETTINGS, "tester")
    assert "2 of 5 file(s) were refused" in str(e.value) and "bad1.csv" in str(e.value) and "bad2.csv" in str(e.value)
    assert (counts(store), store.status().audit_entries) == before
    assert len(import_exports(store, good, DEFAULT_SETTINGS, "tester")) == 3 and counts(store)[0] == before[0][0] + 3


def test_state_key_moves_with_every_write_and_a_replaced_database_does_not_reuse_one(tmp_path):
    """The key of the cohort results that the server's sessions share (tdm1core.app.cohort_service): reading leaves it,
    any write to the patients or the files moves it, and a new database at the same URL (the old one deleted) gets
    another key although its write counter is back where the old one's was."""
    path = tmp_path / "state.sqlite"
    url = f"sqlite:///{path}"
    store = open_store(url)
    k0, v0 = store.state_key(), store.version()
    cohort_view(store, DEFAULT_SETTINGS)
    assert store.state_key() == k0
    df = pd.read_csv(__import__("io").BytesIO(DEMO_PATIENTS), dtype=str, keep_default_na=False).iloc[:2]
    df["patient_id"] = ["K1", "K2"]
    import_patients(store, df.to_csv(index=False).encode(), "k.csv", DEFAULT_SETTINGS)
    k1 = store.state_key()
    assert k1 != k0
    imp(store, qs17(sample_wells("K1", her2=2000, eftud2=1000)), "k1.csv")
    k2 = store.state_key()
    assert k2 not in (k0, k1)
    store.engine.dispose()
    path.unlink()
    again = open_store(url)
    assert again.version() == v0 and again.state_key() != k0


# ---------------------------------------------------------------- one home for derived results: the calls' key

def test_the_calls_fingerprint_is_every_setting_the_calls_read_and_no_other():
    """Changing any setting changes the calls' key, except the ones only statistics and the patient table read."""
    from dataclasses import fields

    from tdm1core.settings import NOT_READ_BY_CALLS

    other = {"km_ci_method": "plain", "date_order": "DMY", "her2_ratio_cutoff": 1.3, "pik3ca_mutant_cutoff_copies": 4.0,
             "reference_min_copies": 90.0, "min_accepted_droplets": 9000, "droplet_volume_nl": 0.8,
             "legacy_droplet_volume_nl": 0.9, "confidence_level": 0.9, "concentration_source": "exported",
             "target_aliases": (("HER-2", "HER2"),), "max_detectable_vaf": 0.02, "cutoff_profile": "Lab v1",
             "profile_cutoffs": (1.3, 4.0, 90.0), "blank_limits": (("E545K", 0.5),), "ntc_pattern": "^NTC",
             "negative_control_pattern": "^neg", "positive_control_pattern": "^pos"}
    assert set(other) == {f.name for f in fields(Settings)}  # a new setting must be listed here
    for name, value in other.items():
        changed = Settings(**{name: value})
        assert changed.fingerprint() != DEFAULT_SETTINGS.fingerprint(), name
        same_calls = changed.calls_fingerprint() == DEFAULT_SETTINGS.calls_fingerprint()
        assert same_calls == (name in NOT_READ_BY_CALLS), name


@pytest.mark.parametrize("change", [{"km_ci_method": "plain"}, {"km_ci_method": "log"}, {"date_order": "DMY"},
                                    {"date_order": "MDY"}])
def test_no_call_reads_the_settings_left_out_of_the_calls_key(change):
    """The calls of every demo sample are the same under any value of a setting the key leaves out."""
    from tdm1core.calling.calls import call_export
    from tdm1core.reading.exports import read_export

    changed = Settings(**change)
    base = [c.to_dict() for c in call_export(read_export(DEMO_EXPORT, "d.csv", DEFAULT_SETTINGS), DEFAULT_SETTINGS)]
    other = [c.to_dict() for c in call_export(read_export(DEMO_EXPORT, "d.csv", changed), changed)]
    for a, b in zip(base, other):  # the calls echo their settings: all but the changed one are the same
        assert {k: v for k, v in a.pop("settings").items() if k not in change} == \
            {k: v for k, v in b.pop("settings").items() if k not in change}
    assert base == other and len(base) == 16


def test_changing_the_km_method_reads_no_stored_file(url, monkeypatch):
    import tdm1core.reading.exports as exports

    store = open_store(url)
    reads = []
    real = exports.read_export
    monkeypatch.setattr(exports, "read_export", lambda *a, **k: reads.append(a[1]) or real(*a, **k))
    view = cohort_view(store, Settings(km_ci_method="plain", date_order="DMY"))
    assert view.files_called == 0 and reads == []
    assert cohort_view(store, Settings(her2_ratio_cutoff=1.2)).files_called == 1  # a cut-off does re-call


def test_migration_0008_moves_hotspots_to_rows_and_merges_call_sets_that_differ_only_in_the_km_method(url):
    store = Store(url, migrate=False)
    store.migrate("0007")
    a, b = Settings(km_ci_method="log-log"), Settings(km_ci_method="plain")
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO files (kind, name, sha256, size, content, uploaded_at, demo) VALUES "
                             "('ddpcr', 'old.csv', :sha, 3, :content, CURRENT_TIMESTAMP, :f)"),
                     {"sha": "b" * 64, "content": b"old", "f": False})
        fid = conn.execute(sa.text("SELECT id FROM files")).scalar()
        for s, mut in ((a, 7.5), (b, 7.5)):
            conn.execute(sa.text("INSERT INTO call_sets (file_id, settings_hash, settings, samples, computed_at) VALUES "
                                 "(:f, :h, :s, 1, CURRENT_TIMESTAMP)"),
                         {"f": fid, "h": s.fingerprint(), "s": json.dumps(s.to_dict(), sort_keys=True)})
            conn.execute(sa.text("INSERT INTO calls (file_id, sample, her2_ratio, her2_call, result, computed_at, "
                                 "settings_hash, e545k_mutant, e545k_wildtype) VALUES (:f, 'S9', 1.1, 'not amplified', "
                                 "'{}', CURRENT_TIMESTAMP, :h, :m, 880.0)"), {"f": fid, "h": s.fingerprint(), "m": mut})
    upgraded = Store(url)
    assert upgraded.revision() == HEAD_REVISION
    assert a.calls_fingerprint() == b.calls_fingerprint()
    table = upgraded.calls_table(a.calls_fingerprint())
    assert table["sample"].tolist() == ["S9"]
    assert table.loc[0, "E545K MUT"] == 7.5 and table.loc[0, "E545K WT"] == 880.0 and pd.isna(table.loc[0, "H1047R MUT"])
    with upgraded.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM call_sets")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM hotspot_calls")).scalar() == 1
        cols = {c["name"] for c in sa.inspect(conn).get_columns("calls")}
    assert not any(c.startswith("e545k") for c in cols)
    assert upgraded.files_without_calls(b.calls_fingerprint()) == []


def test_migration_0009_fills_the_hotspot_call_columns_from_the_stored_results(url):
    """The monitoring timeline reads the stored calls' CIs from columns: a database of 0008 gets them from each
    call's result JSON (computed here from the JSON written, independently of the code that writes columns)."""
    store = Store(url, migrate=False)
    store.migrate("0008")
    result = {"pik3ca": {"E545K": {"mutant_copies": 12.5, "mutant_ci_low": 7.1, "mutant_ci_high": 20.2,
                                   "call": "positive", "detectable_vaf_95": 0.004, "genome_equivalents": 900.0}}}
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO files (kind, name, sha256, size, content, uploaded_at, demo) VALUES "
                             "('ddpcr', 'old.csv', :sha, 3, :content, CURRENT_TIMESTAMP, :f)"),
                     {"sha": "c" * 64, "content": b"old", "f": False})
        fid = conn.execute(sa.text("SELECT id FROM files")).scalar()
        conn.execute(sa.text("INSERT INTO calls (file_id, sample, her2_ratio, her2_call, result, computed_at, settings_hash) "
                             "VALUES (:f, 'S9', 1.1, 'not amplified', :r, CURRENT_TIMESTAMP, 'h')"),
                     {"f": fid, "r": json.dumps(result)})
        cid = conn.execute(sa.text("SELECT id FROM calls")).scalar()
        conn.execute(sa.text("INSERT INTO hotspot_calls (call_id, hotspot, mutant_copies, wildtype_copies) "
                             "VALUES (:c, 'E545K', 12.5, 880.0)"), {"c": cid})
    upgraded = Store(url)
    assert upgraded.revision() == HEAD_REVISION
    levels = upgraded.stored_levels(["S9"], "h")
    assert levels["S9"][0][1] == 1.1 and levels["S9"][0][2]["E545K"] == (12.5, 7.1, 20.2, "positive", 0.004, 900.0)
