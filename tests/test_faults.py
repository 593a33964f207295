"""Faults and concurrency: nothing lost, nothing leaked, nothing hangs (SQLite and a real PostgreSQL server).

Every concurrent run is bounded (a fixed number of processes, each with a timeout) and uses loopback only.
"""
import json
import os
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import sqlalchemy as sa

from builders import qs17, sample_wells
from conftest import ROOT
from tdm1core.storage.store import HEAD_REVISION
from tdm1core.demo import DEMO_DIR
from tdm1core.settings import DEFAULT_SETTINGS
from tdm1core.storage.store import Store
from tdm1core.app.workflows import import_exports, open_store

TEMPLATE = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False).iloc[0].to_dict()


OPERATOR = "tester@lab.example"


def cli(*args, timeout=180):
    """The command line as the lab's operator; on a shared database the roles table gives them their roles (as an admin
    would), since the command line acts with those roles there (tdm1core.storage.access)."""
    if "--db" in args:
        url = args[list(args).index("--db") + 1]
        if not url.startswith("sqlite"):
            try:
                Store(url).set_roles(OPERATOR, ["researcher", "admin"], "test set-up")
            except Exception:  # the tests of an unreachable or refused database: the command meets that first
                pass
    env = dict(os.environ, TDM1_USER=OPERATOR)
    if "--db" in args and not args[list(args).index("--db") + 1].startswith("sqlite"):
        env.pop("TDM1_USER")
        env.update(SIGNED_IN["env"])  # a shared database: the operator signed in (python -m tdm1core login)
    return subprocess.run([sys.executable, "-m", "tdm1core", *args], cwd=ROOT, capture_output=True, timeout=timeout,
                          env=env)


SIGNED_IN: dict = {}


@pytest.fixture(autouse=True)
def _operator_can_sign_in(request):
    """The command line on a shared database needs a signed-in operator: the session's mock identity provider."""
    if "url" in request.fixturenames and request.getfixturevalue("url").startswith("postgresql"):
        SIGNED_IN["env"] = request.getfixturevalue("signed_in_cli")(OPERATOR)  # before any thread runs a command


def patient_table(ids, age):
    rows = [dict(TEMPLATE, patient_id=i, age=str(age), ctdna_sample_id="") for i in ids]
    return pd.DataFrame(rows).to_csv(index=False).encode()


def test_sixteen_overlapping_patient_imports_all_apply_and_are_audited(url, tmp_path):
    Store(url)  # a migrated database, as a running app has
    shared = [f"SH{i:03d}" for i in range(60)]
    files = []
    for k in range(16):
        path = tmp_path / f"overlap_{k:02d}.csv"
        path.write_bytes(patient_table(shared + [f"OWN{k:02d}-{i:02d}" for i in range(20)], age=30 + k))
        files.append(path)
    with ThreadPoolExecutor(16) as pool:
        runs = list(pool.map(lambda p: cli("import", "patients", str(p), "--db", url), files))
    for r in runs:
        assert r.returncode == 0, r.stderr.decode()[-800:]
        assert b"Stored '" in r.stdout and b"another session" not in r.stdout
    store = Store(url)
    with store.engine.connect() as conn:
        stored = {pid: json.loads(d) for pid, d in conn.execute(sa.text("SELECT patient_id, data FROM patients"))}
    assert len(stored) == 60 + 16 * 20
    for k in range(16):  # every file's own patients, with that file's values
        for i in range(20):
            assert stored[f"OWN{k:02d}-{i:02d}"]["age"] == str(30 + k)
    log = store.audit()
    imports = [json.loads(d) for d in log[log["action"] == "import"]["detail"]]
    assert sorted(d["name"] for d in imports) == sorted(p.name for p in files)
    assert sum(d["new"] for d in imports) == len(stored)  # every row inserted exactly once
    # the deterministic rule: the import committed last wins, and every change is audited with its old value
    last = max((e for e in log[log["action"] == "import"].itertuples()), key=lambda e: e.id)
    winner_age = str(30 + int(json.loads(last.detail)["name"][8:10]))
    assert all(stored[pid]["age"] == winner_age for pid in shared)
    # the first import to commit inserted the shared patients; each of the 15 later ones changed all 60 (ages differ)
    assert sum(len(d["changed"]) for d in imports) == 15 * 60
    assert all(c["previous"]["age"] != c["new"]["age"] for d in imports for c in d["changed"])


def test_sixteen_first_imports_into_a_fresh_sqlite_database_all_land(tmp_path):
    db = tmp_path / "fresh" / "new.sqlite"
    url = f"sqlite:///{db}"
    paths = []
    for k in range(16):
        p = tmp_path / f"plate{k}.csv"
        p.write_bytes(qs17(sample_wells(f"F{k}", her2=1000 + k)))
        paths.append(p)
    with ThreadPoolExecutor(16) as pool:
        runs = list(pool.map(lambda p: cli("import", "ddpcr", str(p), "--db", url), paths))
    for r in runs:
        assert r.returncode == 0, r.stderr.decode()[-800:]
    st = Store(url).status()
    assert st.files == 16 and st.wells == 16 * 8 and st.revision == HEAD_REVISION


def test_a_kill_during_the_first_open_never_leaves_an_unopenable_database(tmp_path):
    code = "import sys; from tdm1core.storage.store import Store; Store(sys.argv[1])"
    for k, delay in enumerate((0.05, 0.1, 0.15, 0.2, 0.3, 0.45)):
        url = f"sqlite:///{tmp_path / f'k{k}.sqlite'}"
        proc = subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        store = Store(url)  # opens, finishing or repairing the schema
        assert store.revision() == HEAD_REVISION
        assert store.status().files == 0


def test_a_half_initialised_database_from_an_older_version_is_repaired(tmp_path):
    url = f"sqlite:///{tmp_path / 'half.sqlite'}"
    eng = sa.create_engine(url)
    with eng.begin() as conn:  # what a kill in the old, non-transactional migration left behind
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(sa.text("CREATE TABLE files (id INTEGER PRIMARY KEY)"))
    eng.dispose()
    store = open_store(url)
    assert store.revision() == HEAD_REVISION and store.status().patients == 34


def test_ddl_is_transactional_on_sqlite(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ddl.sqlite'}")
    with pytest.raises(RuntimeError):
        with store.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE scratch (x INTEGER)"))
            raise RuntimeError("crash mid-migration")
    assert "scratch" not in sa.inspect(store.engine).get_table_names()


def test_a_batch_with_one_bad_file_stores_nothing_and_says_so(url, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(qs17(sample_wells("G1")))
    bad.write_bytes(b"Well,Sample\nA01,x\n")
    Store(url)
    r = cli("import", "ddpcr", str(good), str(bad), "--db", url)
    err = r.stderr.decode()
    assert r.returncode == 2 and "Traceback" not in err
    assert "1 of 2 file(s) were refused, so none of the 2 was stored" in err and "'bad.csv'" in err
    assert Store(url).status().files == 0
    folder = tmp_path / "plates"
    folder.mkdir()
    (folder / "a.csv").write_bytes(qs17(sample_wells("A1")))
    (folder / "b.csv").write_bytes(qs17(sample_wells("B1", well0=4)))
    r = cli("import", "ddpcr", str(folder), "--db", url)
    assert r.returncode == 0 and Store(url).status().files == 2


def test_sqlite_database_and_folder_are_private(tmp_path):
    db = tmp_path / "private" / "app.sqlite"
    store = open_store(f"sqlite:///{db}")
    import_exports(store, [(qs17(sample_wells("M1")), "m.csv")], DEFAULT_SETTINGS)
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    for p in (db, db.with_name("app.sqlite-wal"), db.with_name("app.sqlite-shm")):
        if p.exists():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_database_errors_never_carry_patient_data(url):
    store = Store(url)
    with pytest.raises(sa.exc.DBAPIError) as info:
        with store.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO wells (file_id, well, sample) VALUES (:f, :w, :s)"),
                         {"f": 999999, "w": "A01", "s": "SECRET-SAMPLE-NAME"})
    assert "SECRET-SAMPLE-NAME" not in str(info.value)


@pytest.mark.parametrize("args,words", [
    (["db", "status", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"], "cannot use the database"),
    (["db", "status", "--db", "not a url"], "not a valid URL"),
    (["db", "status", "--db", "nosuchdriver://x/y"], "database URL"),
])
def test_cli_database_faults_are_one_line_and_exit_2(args, words):
    r = cli(*args, timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 2 and "Traceback" not in err and words in err, err


def test_db_export_into_a_file_is_a_clear_error(tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    r = cli("db", "export", str(target), "--db", f"sqlite:///{tmp_path / 'e.sqlite'}")
    assert r.returncode == 2 and "is a file, not a folder" in r.stderr.decode() and "Traceback" not in r.stderr.decode()


def test_both_databases_refuse_what_one_of_them_could_not_store(url):
    store = Store(url)
    long_name = "S" * 600
    with pytest.raises(Exception) as info:
        import_exports(store, [(qs17(sample_wells(long_name)), "long.csv")], DEFAULT_SETTINGS)
    assert "characters long" in str(info.value)
    nul = qs17(sample_wells("N1")) + b"\n" + b"A" * 70000 + b"\x00"
    with pytest.raises(Exception) as info:
        import_exports(store, [(nul, "nul.csv")], DEFAULT_SETTINGS)
    assert "NUL" in str(info.value)
    assert store.status().files == 0


def test_a_patient_workbook_bomb_is_refused_in_under_a_second(tmp_path):
    import io
    import zipfile

    from tdm1core.stats.cohort import read_patient_table
    from tdm1core.errors import CohortFormatError

    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
        f.writestr("[Content_Types].xml", "<Types/>")
        f.writestr("xl/worksheets/sheet1.xml", b"<" + b"0" * (300 * 1024 * 1024))
    data = z.getvalue()
    assert len(data) < 2_000_000
    t0 = time.perf_counter()
    with pytest.raises(CohortFormatError) as info:
        read_patient_table(data, "bomb.xlsx")
    assert time.perf_counter() - t0 < 5  # refused from the zip directory, not by parsing
    assert "expands" in str(info.value)


def test_absurd_table_shapes_are_refused_fast():
    from tdm1core.stats.cohort import read_patient_table
    from tdm1core.errors import CohortFormatError

    wide = (",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("1" for _ in range(10_000)) + "\n").encode()
    with pytest.raises(CohortFormatError) as info:
        read_patient_table(wide, "wide.csv")
    assert "10,000 columns" in str(info.value)
