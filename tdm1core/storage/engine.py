"""The engine under every repository: the connection (SQLite file 0600 or PostgreSQL), the migrations, the
retries and transactions, the audit row every change writes, and the counters that say when the data changed."""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import random
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from tdm1core.errors import InputError
from tdm1core.storage.records import ImportResult
from tdm1core.storage.schema import HEAD_REVISION, app_settings, audit_log, call_sets, files, patients

__all__ = ["Engine", "database_url", "default_sqlite_path", "write_private"]

T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")


def default_sqlite_path() -> Path:
    """The embedded database's file: ``TDM1_DB_PATH``, else ``data/tdm1.sqlite`` (nothing is created here)."""
    return Path(os.environ.get("TDM1_DB_PATH", "data/tdm1.sqlite"))


def database_url(url: str | None = None) -> str:
    """``url``, else ``TDM1_DATABASE_URL``, else SQLite at ``TDM1_DB_PATH`` (default ``data/tdm1.sqlite``)."""
    if url:
        return url
    if os.environ.get("TDM1_DATABASE_URL"):
        return os.environ["TDM1_DATABASE_URL"]
    path = default_sqlite_path()
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(path.parent, 0o700)
    return f"sqlite:///{path}"


def _private_sqlite_file(path: Path) -> None:
    """Create the database's folder 0700 and the file 0600 (SQLite gives its -wal/-shm files the file's mode)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if p.exists() and p.stat().st_mode & 0o077 and p.stat().st_uid == os.geteuid():
                os.chmod(p, 0o600)
        except OSError:
            pass


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600), also when it existed with a wider mode."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(data)
    finally:
        os.close(fd)


class _file_lock:
    """An exclusive lock on ``<database>.lock`` (no-op without a SQLite file): migrations run one at a time."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(f"{path}.lock") if path is not None else None
        self.fd: int | None = None

    def __enter__(self) -> "_file_lock":
        if self.path is not None:
            import fcntl

            self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def who_name(who: Any) -> str:
    if who is not None and not isinstance(who, str):  # a tdm1core.storage.access.User
        return who.audit_name
    if who:
        return who
    try:
        return os.environ.get("TDM1_USER") or getpass.getuser()
    except (KeyError, OSError):  # no user name on some containers
        return "unknown"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)



def _counter(key: str) -> Any:
    return sa.select(app_settings.c.value).where(app_settings.c.key == key).scalar_subquery()


def _scalar(column: Any) -> Any:
    return sa.select(column).scalar_subquery()


# What the cache keys are made of, as scalar subqueries so that one statement reads them all (Engine.state_key).
_VERSION = sa.select(sa.func.coalesce(sa.func.max(audit_log.c.id), 0)).where(audit_log.c.category == "write").scalar_subquery()
_PATIENTS_REVISION = (_counter("patients_revision"), _scalar(sa.func.count(patients.c.id)), _scalar(sa.func.max(patients.c.id)),
                      _scalar(sa.func.max(patients.c.updated_at)))
_CALLS_REVISION = (_counter("calls_revision"), _scalar(sa.func.count(files.c.id)), _scalar(sa.func.max(files.c.id)),
                   _scalar(sa.func.count(call_sets.c.id)), _scalar(sa.func.max(call_sets.c.id)))


def _revision(values: Any) -> str:
    """A revision from a counter and its table's count, largest id (and latest update): a short hash."""
    return hashlib.sha256("|".join(str(v) for v in values).encode()).hexdigest()[:32]


class Engine:
    """The connection, the schema's migrations, retries and the audit (see the module docstring)."""

    def __init__(self, url: str | None = None, migrate: bool = True) -> None:
        self.url = database_url(url)
        # hide_parameters: a database error never carries sample names or counts into a log or a message
        kwargs: dict[str, Any] = {"future": True, "hide_parameters": True}
        try:
            parsed = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError:
            raise InputError(f"the database URL {self.url.split('://')[0]}://… is not a valid URL.", source="database",
                             hint="Use sqlite:///path/to/file.sqlite or postgresql+psycopg://user@host/dbname.") from None
        self.sqlite_path: Path | None = None
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"timeout": 30}
            if parsed.database and parsed.database != ":memory:":
                self.sqlite_path = Path(parsed.database)
                _private_sqlite_file(self.sqlite_path)
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine = sa.create_engine(self.url, **kwargs)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise InputError(f"the database URL cannot be used ({type(exc).__name__}).", source="database",
                             hint="Use sqlite:///path/to/file.sqlite or postgresql+psycopg://user@host/dbname.") from None
        if self.engine.dialect.name == "sqlite":
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # SQLAlchemy's recipe: we emit BEGIN, so DDL is transactional too
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            @sa.event.listens_for(self.engine, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN")
        if migrate:
            self.migrate()

    # ------------------------------------------------------------------ schema
    def _alembic(self, connection: Any) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        return cfg

    def migrate(self, revision: str = "head") -> None:
        """Apply the Alembic migrations up to ``revision`` (an older database upgrades in place).

        Serialised: a file lock beside a SQLite database, an advisory lock on PostgreSQL; all in one transaction
        (DDL included), so a crash leaves the schema as it was. A half-initialised database left by an older version
        (an empty ``alembic_version``) is recognised and repaired first."""
        if revision == "head" and self._at_head():
            return  # nothing to do: Alembic is not even imported (it costs every command and server start ~0.5 s)
        from alembic import command

        def run() -> None:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(451977)"))
                self._repair_half_initialised(conn)
                command.upgrade(self._alembic(conn), revision)

        with _file_lock(self.sqlite_path):
            self._retry(run)

    def _at_head(self) -> bool:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        except sa.exc.DBAPIError:  # no such table yet: a new database
            return False
        return rows == [HEAD_REVISION]

    def _repair_half_initialised(self, conn: Any) -> None:
        insp = sa.inspect(conn)
        tables = set(insp.get_table_names())
        if "alembic_version" not in tables:
            return
        if conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar():
            return
        ours = [t for t in ("released_reports", "cutoff_profiles", "user_sessions", "user_roles", "cohort_snapshots", "call_sets", "calls", "app_settings", "audit_log", "patients", "wells", "files") if t in tables]
        rows = sum(int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() or 0) for t in ours)
        if rows == 0:
            for t in ours + ["alembic_version"]:
                conn.execute(sa.text(f"DROP TABLE {t}"))
            return
        stamp = "0007" if "released_reports" in tables else "0006" if "cutoff_profiles" in tables else "0005" if "user_roles" in tables else "0004" if "cohort_snapshots" in tables else "0003" if "call_sets" in tables else ("0002" if {"calls", "app_settings"} <= tables else "0001")
        conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": stamp})

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # ------------------------------------------------------------------ helpers
    def _retry(self, fn: Callable[[], T], attempts: int = 60) -> T:
        """Run a transaction again when a concurrent writer got in the way: a locked SQLite database, a PostgreSQL
        deadlock or serialization failure, or a unique key that another session inserted first (the retry then sees
        that row and updates it, or reports the duplicate truthfully)."""
        for i in range(attempts):
            try:
                return fn()
            except IntegrityError:
                if i >= 20:
                    raise
            except OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text and "deadlock" not in text and "serializ" not in text) \
                        or i == attempts - 1:
                    raise
            time.sleep(min(0.05 * (1.5 ** i), 1.0) * (0.5 + random.random()))
        raise RuntimeError("unreachable")  # pragma: no cover

    def _audit(self, conn: Any, who: Any, action: str, entity: str, detail: Any, category: str = "write") -> None:
        """Append one audit entry (the log is append-only: the database refuses UPDATE and DELETE on it).

        ``who`` is a :class:`tdm1core.storage.access.User` (its subject, e-mail and session are recorded) or a name."""
        user = who if who is not None and not isinstance(who, str) else None
        conn.execute(audit_log.insert().values(
            at=utc_now(), who=who_name(who), action=action, entity=entity,
            detail=json.dumps(detail, default=str, ensure_ascii=False), category=category,
            subject=getattr(user, "subject", None), email=getattr(user, "email", None),
            session=getattr(user, "session", None)))

    def _count_up(self, conn: Any, key: str) -> None:
        """Move a revision counter on, inside the caller's transaction."""
        value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == key)).scalar()
        if value is None:
            conn.execute(app_settings.insert().values(key=key, value="1", updated_at=utc_now()))
        else:
            conn.execute(app_settings.update().where(app_settings.c.key == key)
                         .values(value=str(int(value) + 1), updated_at=utc_now()))

    # ------------------------------------------------------------------ reading
    def version(self) -> int:
        """Changes whenever anything is written (for cache keys); access entries (views, sign-ins) do not move it."""
        with self.engine.connect() as conn:
            return self._version(conn)

    @staticmethod
    def _version(conn: Any) -> int:
        return int(conn.execute(sa.select(_VERSION)).scalar() or 0)

    def state_key(self) -> str:
        """The state of everything a cohort view is derived from, for caches shared across sessions: the write
        counter (:meth:`version`) with the patients' and the files' and calls' revisions. A database replaced by
        another at the same URL does not reuse an old key: the revisions hold the latest update time and ids.
        One statement for all of it (every cached read of every page run asks; under load each round trip waits for
        the interpreter lock again, and the load test found the separate queries to be an eighth of an instance's
        time)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_VERSION, *_PATIENTS_REVISION, *_CALLS_REVISION)).one()
        n = len(_PATIENTS_REVISION)
        return f"{int(row[0] or 0)}:{_revision(row[1:1 + n])}:{_revision(row[1 + n:])}"

    def calls_revision(self) -> str:
        """Changes with every write to the stored files and calls (the same scheme as :meth:`patients_revision`)."""
        with self.engine.connect() as conn:
            return self._calls_revision(conn)

    @staticmethod
    def _calls_revision(conn: Any) -> str:
        return _revision(conn.execute(sa.select(*_CALLS_REVISION)).one())

    def _calls_changed(self, conn: Any) -> None:
        self._count_up(conn, "calls_revision")

    def patients_revision(self) -> str:
        """Changes with every write to the stored patients: a counter kept in the same transaction as each write,
        with the table's count, largest id and latest update (so a change made outside this class shows too)."""
        with self.engine.connect() as conn:
            return self._patients_revision(conn)

    @staticmethod
    def _patients_revision(conn: Any) -> str:
        return _revision(conn.execute(sa.select(*_PATIENTS_REVISION)).one())

    def _patients_changed(self, conn: Any) -> None:
        self._count_up(conn, "patients_revision")

    def _store_file(self, conn: Any, kind: str, name: str, sha: str, data: bytes, fmt: str, who: str | None,
                    demo: bool) -> tuple[int | None, ImportResult | None]:
        """Insert the file as received, or return the duplicate notice when the same SHA-256 is stored."""
        existing = conn.execute(sa.select(files.c.id, files.c.name).where(files.c.kind == kind, files.c.sha256 == sha)).first()
        if existing:
            return None, ImportResult(kind, name, sha, existing.id, True,
                                      f"'{name}' is already stored (as '{existing.name}', same SHA-256); nothing was changed.")
        file_id = conn.execute(files.insert().values(
            kind=kind, name=name, sha256=sha, size=len(data), content=data, format=fmt,
            uploaded_at=utc_now(), uploaded_by=who_name(who), demo=demo)).inserted_primary_key[0]
        return file_id, None
