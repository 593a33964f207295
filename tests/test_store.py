"""Storage against SQLite and a real PostgreSQL server: nothing lost, nothing stored twice, migrations, audit."""
import json
import multiprocessing as mp
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from builders import qs17, sample_wells
from tdm1core.demo import DEMO_DIR, demo_export_path
from tdm1core.errors import CohortFormatError, DdpcrFormatError, TargetMapError
from tdm1core.settings import Settings
from tdm1core.store import Store, open_store

DEMO_EXPORT = demo_export_path().read_bytes()
DEMO_PATIENTS = (DEMO_DIR / "demo_patients.csv").read_bytes()


def counts(store):
    st = store.status()
    return (st.files, st.wells, st.patients, st.calls)


def test_fresh_database_is_created_migrated_and_seeded(url):
    store = open_store(url)
    st = store.status()
    assert st.revision == "0002"
    assert (st.files, st.wells, st.patients, st.calls) == (2, 128, 34, 16)
    cohort, calls = store.cohort()
    assert cohort.n == 34 and cohort.n_ctdna == 16 and "synthetic demo" in cohort.source
    assert not open_store(url).seed_demo()  # seeded once only


@pytest.mark.parametrize("bad,error", [(b"", DdpcrFormatError), (DEMO_EXPORT[:4000], DdpcrFormatError),
                                       (DEMO_EXPORT.replace(b'"HER2"', b'"KRAS"'), TargetMapError)])
def test_a_bad_ddpcr_file_leaves_the_counts_unchanged(url, bad, error):
    store = open_store(url)
    before = counts(store), store.status().audit_entries
    with pytest.raises(error):
        store.import_ddpcr(bad, "bad.csv")
    assert (counts(store), store.status().audit_entries) == before


def test_a_bad_patient_table_stores_nothing(url):
    store = open_store(url)
    before = counts(store)
    df = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    df.loc[2, "best_response"] = "great"
    with pytest.raises(CohortFormatError):
        store.import_patients(df.to_csv(index=False).encode(), "bad.csv")
    assert counts(store) == before


def test_a_duplicate_file_is_stored_once(url):
    store = Store(url)
    first = store.import_ddpcr(DEMO_EXPORT, "a.csv")
    second = store.import_ddpcr(DEMO_EXPORT, "renamed.csv")
    assert not first.duplicate and second.duplicate and "already stored" in second.message
    assert store.status().files == 1 and store.status().wells == 128


def test_patient_update_is_previewed_and_old_values_are_audited(url):
    store = Store(url)
    store.import_patients(DEMO_PATIENTS, "v1.csv")
    df = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    df.loc[0, "best_response"] = "SD" if df.loc[0, "best_response"] != "SD" else "PR"
    old = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False).loc[0, "best_response"]
    data = df.to_csv(index=False).encode()
    preview, _ = store.preview_patients(data, "v2.csv")
    assert preview.new == () and preview.unchanged == 33 and len(preview.changed) == 1
    assert preview.changed[0].changes == {"best_response": (old, df.loc[0, "best_response"])}
    assert store.status().audit_entries == 1  # the preview wrote nothing
    store.import_patients(data, "v2.csv")
    detail = json.loads(store.audit().iloc[0]["detail"])
    assert detail["changed"][0]["previous"] == {"best_response": old}


def test_changing_a_cutoff_changes_the_calls_and_is_audited(url):
    store = Store(url)
    store.import_ddpcr(DEMO_EXPORT, "demo.csv")
    before = store.stored_calls().set_index("sample")
    assert before.loc["P14", "her2_call"] == "not amplified"
    assert json.loads(before.loc["P14", "settings"])["her2_ratio_cutoff"] == 1.25
    n = store.set_settings(Settings(her2_ratio_cutoff=1.2), who="tester")
    after = store.stored_calls().set_index("sample")
    assert n == 16 and after.loc["P14", "her2_call"] == "amplified"
    assert json.loads(after.loc["P14", "settings"])["her2_ratio_cutoff"] == 1.2
    entry = store.audit().iloc[0]
    assert entry["action"] == "settings change" and entry["who"] == "tester"
    assert json.loads(entry["detail"])["changed"] == {"her2_ratio_cutoff": [1.25, 1.2]}
    assert store.get_settings().her2_ratio_cutoff == 1.2


def test_demo_can_be_removed(url):
    store = open_store(url)
    store.import_ddpcr(qs17(sample_wells("MINE")), "mine.csv")
    plan = store.demo_removal_plan()
    assert (plan.files, plan.patients, plan.kept_patients) == (2, 34, 0)
    assert store.status().patients == 34  # a plan changes nothing
    done = store.remove_demo(who="tester")
    assert done == plan
    st = store.status()
    assert (st.files, st.patients) == (1, 0)
    assert not store.has_demo()


def test_demo_removal_keeps_patients_the_user_changed(url):
    from tdm1core.demo import DEMO_DIR

    store = open_store(url)
    demo = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    mine = demo.iloc[[2, 5]].copy()
    mine["age"] = [str(int(a) + 1) for a in mine["age"]]
    store.import_patients(mine.to_csv(index=False).encode(), "corrections.csv", who="me")
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
    assert upgraded.revision() == "0002"
    assert {"calls", "app_settings"} <= set(sa.inspect(upgraded.engine).get_table_names())
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
    from tdm1core.store import Store

    data = qs17(sample_wells(f"S{i}", her2=1000 + i, eftud2=900 + i))
    return Store(url).import_ddpcr(data, f"plate{i}.csv", who=f"proc{i}").duplicate


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
