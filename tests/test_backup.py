"""Backups and restores (issue 28): SQLite's online backup API and pg_dump/pg_restore, refusals, and a restore that
reproduces every row of every table, the audit log and the released reports byte for byte."""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys

import pytest
import sqlalchemy as sa

from builders import qs17, sample_wells
from tdm1core.errors import InputError
from tdm1core.settings import Settings
from tdm1core.storage.access import AccessDenied, User
import tdm1core.app.workflows as wf
from tdm1core.app.admin import backup_database, restore_database
from tdm1core.app.monitoring import import_demo_series

from conftest import ROOT

REVIEWER = User(subject="rv1", email="rita@hospital.example", name="Rita Reviewer",
                roles=frozenset({"reviewer", "clinician"}), mode="signed-in", session="s-rita", roles_source="claim")
ADMIN = User(subject="ad1", email="ada@hospital.example", name="Ada Admin", roles=frozenset({"admin"}),
             mode="signed-in", session="s-ada", roles_source="claim")


def _filled(url: str):
    """A database with the demo, the demo series, a role and a released report (its PDF is bytes)."""
    store = wf.open_store(url)
    import_demo_series(store, Settings())
    store.set_roles("ada@hospital.example", ["admin"], "bootstrap")
    a = wf.assess_upload(qs17(sample_wells("S1", her2=900)), "run7.csv", Settings(), REVIEWER)
    result = wf.patient_result(a.calls[0], "positive", "negative", "PX-1", "2026-11-20", actor=REVIEWER)
    wf.release_result(store, result, a.provenance, reviewed=wf.release_digest(result, a.provenance), who=REVIEWER)
    return store


def row_hashes(url: str) -> dict[str, list[str]]:
    """Every row of every table, as the SHA-256 of its values read back by the database's own driver (bytes as
    bytes), sorted: computed here from plain SELECTs, not by the code under test."""
    engine = sa.create_engine(url)
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()
            out[table] = sorted(hashlib.sha256(repr(tuple(r)).encode()).hexdigest() for r in rows)
    engine.dispose()
    return out


def _audit_actions(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        actions = list(conn.execute(sa.text("SELECT action FROM audit_log ORDER BY id")).scalars())
    engine.dispose()
    return actions


def _other_url(url: str, tmp_path, postgres_server=None) -> str:
    if url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored.sqlite'}"
    import uuid

    name = "r_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return postgres_server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def pg_server(url, request):
    return None if url.startswith("sqlite") else request.getfixturevalue("postgres_server")


def test_a_restore_reproduces_every_row_the_audit_log_and_the_released_reports(url, tmp_path, pg_server):
    store = _filled(url)
    path = tmp_path / "backup.dump"
    done = backup_database(store, str(path), ADMIN)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert done.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and done.size == path.stat().st_size
    at_backup = row_hashes(url)
    assert at_backup["released_reports"] and at_backup["serial_samples"]
    store.record("after the backup", "test", {}, "someone")  # not in the backup

    target_url = _other_url(url, tmp_path, pg_server)
    target = wf.open_store(target_url, seed=False)
    restored = restore_database(target, str(path), who=ADMIN)
    assert restored.sha256 == done.sha256 and restored.revision == done.revision
    after = row_hashes(target_url)
    assert _audit_actions(target_url)[-1] == "restore database"
    assert _audit_actions(target_url)[:-1] == _audit_actions(url)[:-1]  # the source's, up to its backup entry
    added = set(after["audit_log"]) - set(at_backup["audit_log"])
    assert len(added) == 1 and set(at_backup["audit_log"]) <= set(after["audit_log"])
    assert {t: h for t, h in after.items() if t != "audit_log"} == {t: h for t, h in at_backup.items() if t != "audit_log"}
    # the restored database works: its released report's PDF, byte for byte
    (release,) = target.releases()
    (orig,) = store.releases()
    assert release.stamp.report_id == orig.stamp.report_id
    assert target.released_pdf(release.stamp.report_id, 1) == store.released_pdf(orig.stamp.report_id, 1)


def test_a_restore_over_data_needs_force_and_then_replaces_it(url, tmp_path, pg_server):
    store = _filled(url)
    path = tmp_path / "b.dump"
    backup_database(store, str(path), ADMIN)
    at_backup = row_hashes(url)
    other_url = _other_url(url, tmp_path, pg_server)
    other = wf.open_store(other_url)  # seeded with the demo: it holds data
    before = row_hashes(other_url)
    with pytest.raises(InputError, match="holds data.*--force"):
        restore_database(other, str(path), who=ADMIN)
    assert row_hashes(other_url) == before  # refused: nothing changed
    restore_database(other, str(path), force=True, who=ADMIN)
    after = row_hashes(other_url)
    assert {t: h for t, h in after.items() if t != "audit_log"} == {t: h for t, h in at_backup.items() if t != "audit_log"}


def test_backups_and_restores_are_refused_with_a_reason(url, tmp_path):
    store = wf.open_store(url)
    with pytest.raises(InputError, match="does not exist"):
        backup_database(store, str(tmp_path / "no" / "such" / "folder" / "b.dump"), ADMIN)
    (tmp_path / "there.dump").write_bytes(b"x")
    with pytest.raises(InputError, match="never overwrites"):
        backup_database(store, str(tmp_path / "there.dump"), ADMIN)
    assert (tmp_path / "there.dump").read_bytes() == b"x"
    with pytest.raises(InputError, match="does not exist"):
        restore_database(store, str(tmp_path / "missing.dump"), who=ADMIN)
    (tmp_path / "notes.txt").write_text("not a backup")
    with pytest.raises(InputError, match="not a backup"):
        restore_database(store, str(tmp_path / "notes.txt"), who=ADMIN)
    wrong = b"PGDMP" + b"\0" * 20 if url.startswith("sqlite") else b"SQLite format 3\x00" + b"\0" * 100
    (tmp_path / "wrong.dump").write_bytes(wrong)
    with pytest.raises(InputError, match="backup; this database is"):
        restore_database(store, str(tmp_path / "wrong.dump"), who=ADMIN)
    with pytest.raises(AccessDenied):
        backup_database(store, str(tmp_path / "b.dump"), REVIEWER)
    assert not (tmp_path / "b.dump").exists()


def test_a_backup_of_a_newer_schema_is_refused(tmp_path):
    store = wf.open_store(f"sqlite:///{tmp_path / 'a.sqlite'}")
    path = tmp_path / "b.sqlite"
    backup_database(store, str(path), ADMIN)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    target = wf.open_store(f"sqlite:///{tmp_path / 'c.sqlite'}", seed=False)
    with pytest.raises(InputError, match="newer than this version"):
        restore_database(target, str(path), who=ADMIN)


def test_the_command_line_backs_up_and_restores(tmp_path):
    src, dst = f"sqlite:///{tmp_path / 'src.sqlite'}", f"sqlite:///{tmp_path / 'dst.sqlite'}"
    wf.open_store(src)
    run = lambda *a: subprocess.run([sys.executable, "-m", "tdm1core", "db", *a], cwd=ROOT, capture_output=True,  # noqa: E731
                                    text=True)
    out = run("backup", str(tmp_path / "b.sqlite"), "--db", src)
    assert out.returncode == 0 and "SHA-256" in out.stdout, out.stderr
    again = run("backup", str(tmp_path / "b.sqlite"), "--db", src)
    assert again.returncode != 0 and "never overwrites" in again.stderr and "Traceback" not in again.stderr
    out = run("restore", str(tmp_path / "b.sqlite"), "--db", dst)
    assert out.returncode == 0 and "restored" in out.stdout, out.stderr
    refused = run("restore", str(tmp_path / "b.sqlite"), "--db", dst)
    assert refused.returncode != 0 and "--force" in refused.stderr
    assert run("restore", str(tmp_path / "b.sqlite"), "--db", dst, "--force").returncode == 0
