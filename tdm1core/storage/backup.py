"""Backups of the whole database, and their restore.

* SQLite: SQLite's online backup API (a consistent copy while the app keeps running; WAL included), into a new
  SQLite file.
* PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore`` (Debian's ``postgresql-client``), with the connection's
  parameters in the environment (never a password on a command line, where ``ps`` would show it).

A backup is written to a new private file (0600) under a temporary name and renamed when complete, so a half-written
backup never has the name asked for. A restore refuses a file that is not a backup of this engine, a backup of a newer
schema than this version knows, and a target database that holds data unless forced; afterwards the schema is
migrated to this version's and the restore is audited. Both are audited (the backup's entry is inside the backup).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tdm1core.errors import InputError
from tdm1core.storage.schema import HEAD_REVISION, metadata

if TYPE_CHECKING:
    from tdm1core.storage.store import Store

__all__ = ["BackupResult", "backup", "restore", "table_rows", "is_empty"]

SQLITE_MAGIC, PG_MAGIC = b"SQLite format 3\x00", b"PGDMP"


@dataclass(frozen=True)
class BackupResult:
    """A backup written or restored: the file, its SHA-256 and size, the engine and method, the rows per table."""

    path: str
    sha256: str
    size: int
    engine: str
    method: str
    rows: dict[str, int]
    revision: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size, "engine": self.engine,
                "method": self.method, "rows": dict(self.rows), "revision": self.revision}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def table_rows(store: "Store") -> dict[str, int]:
    """Rows per table of the schema (the tables the database has)."""
    with store.engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)
                for t in metadata.sorted_tables if t.name in present}


def is_empty(store: "Store") -> bool:
    """True when no table of the schema holds a row (a new database, migrated or not)."""
    return not any(table_rows(store).values())


def _new_file(path: str) -> Path:
    target = Path(path).expanduser()
    if not target.parent.is_dir():
        raise InputError(f"the folder {str(target.parent)!r} does not exist.", source=str(target),
                         hint="Create the folder first, or give a path in an existing one.")
    if target.exists():
        raise InputError(f"{str(target)!r} exists already; a backup never overwrites a file.", source=str(target),
                         hint="Give a new file name (e.g. with the date).")
    return target


def _pg_env(store: "Store") -> dict[str, str]:
    url = store.engine.url
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for key, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                       ("PGPASSWORD", url.password), ("PGDATABASE", url.database),
                       ("PGSSLMODE", url.query.get("sslmode"))):
        if value:
            env[key] = str(value)
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise InputError(f"{name} is not installed on this machine.", source="database",
                         hint="Install PostgreSQL's client tools (Debian: apt-get install postgresql-client).")
    return found


def _run(cmd: list[str], store: "Store", what: str) -> None:
    done = subprocess.run(cmd, env=_pg_env(store), capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"{what} failed: {last}", source="database",
                         hint="Check the database URL, the user's rights and that the client's version matches the server's.")


def backup(store: "Store", path: str, who: Any = None) -> BackupResult:
    """Write a backup of the whole database to the new file ``path`` (audited first, so the backup holds its entry)."""
    target = _new_file(path)
    store.record("backup database", target.name, {"engine": store.engine.dialect.name}, who)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        method = _sqlite_backup(store, partial) if store.engine.dialect.name == "sqlite" else _pg_backup(store, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(str(target), _sha256(target), target.stat().st_size, store.engine.dialect.name, method,
                        table_rows(store), store.revision())


def _sqlite_backup(store: "Store", partial: Path) -> str:
    fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    raw = store.engine.raw_connection()
    try:
        dst = sqlite3.connect(partial)
        try:
            source = raw.driver_connection
            assert source is not None  # a live pooled connection
            source.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        raw.close()
    return "SQLite online backup API"


def _pg_backup(store: "Store", partial: Path) -> str:
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"], store, "pg_dump")
    return "pg_dump --format=custom"


def _check_file(path: str, engine: str) -> Path:
    source = Path(path).expanduser()
    if not source.is_file():
        raise InputError(f"the backup {str(source)!r} does not exist.", source=str(source), hint="Check the path.")
    with source.open("rb") as fh:
        head = fh.read(16)
    want, other = (SQLITE_MAGIC, "PostgreSQL") if engine == "sqlite" else (PG_MAGIC, "SQLite")
    if not head.startswith(want):
        kind = f"a {other} backup" if head.startswith(PG_MAGIC if engine == "sqlite" else SQLITE_MAGIC) else "not a backup"
        raise InputError(f"{source.name} is {kind}; this database is {engine}.", source=str(source),
                         hint="Restore a backup written by 'db backup' from a database of the same engine.")
    return source


def _sqlite_revision(source: Path) -> str | None:
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src:
            return (src.execute("SELECT version_num FROM alembic_version").fetchone() or [None])[0]
    except sqlite3.DatabaseError:
        raise InputError(f"{source.name} is not a readable SQLite backup of this product.", source=str(source),
                         hint="Restore a backup written by 'db backup'.") from None


def _refuse_newer(revision: str | None, source: Path) -> None:
    if revision is not None and revision > HEAD_REVISION:
        raise InputError(f"{source.name} is a backup of schema {revision}, newer than this version's {HEAD_REVISION}.",
                         source=str(source), hint="Restore it with the version of the product that wrote it, or newer.")


def restore(store: "Store", path: str, force: bool = False, who: Any = None) -> BackupResult:
    """Replace the database's content with the backup ``path`` (refused over data unless ``force``), then migrate
    it to this version's schema and audit the restore."""
    engine = store.engine.dialect.name
    source = _check_file(path, engine)
    _refuse_newer(_sqlite_revision(source) if engine == "sqlite" else _pg_revision(source), source)
    if not force and not is_empty(store):
        raise InputError("the database holds data; a restore would replace all of it.", source="database",
                         hint="Restore into a new, empty database, or add --force after taking a backup of this one.")
    digest = _sha256(source)
    method = _sqlite_restore(store, source) if engine == "sqlite" else _pg_restore(store, source)
    store.engine.dispose()
    store.migrate()
    store.record("restore database", source.name, {"sha256": digest, "forced": force, "method": method}, who)
    return BackupResult(str(source), digest, source.stat().st_size, engine, method, table_rows(store), store.revision())


def _sqlite_restore(store: "Store", source: Path) -> str:
    store.engine.dispose()
    raw = store.engine.raw_connection()
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src:
            target = raw.driver_connection
            assert target is not None  # a live pooled connection
            src.backup(target)
    finally:
        raw.close()
    return "SQLite online backup API"


def _pg_revision(source: Path) -> str | None:
    """The schema revision inside a pg_dump archive (its alembic_version rows, as pg_restore prints them)."""
    done = subprocess.run([_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(source)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"{source.name} is not a readable pg_dump archive.", source=str(source),
                         hint="Restore a backup written by 'db backup'.")
    lines = done.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("COPY ") and "alembic_version" in line), None)
    return lines[start + 1].strip() if start is not None and start + 1 < len(lines) and lines[start + 1] != "\\." else None


def _pg_restore(store: "Store", source: Path) -> str:
    store.engine.dispose()
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={store.engine.url.database}", str(source)], store, "pg_restore")
    return "pg_restore (custom format)"
