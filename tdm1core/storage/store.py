"""Storage: uploaded files as received, their wells, patients, stored calls, settings and an audit log.

SQLAlchemy; an embedded SQLite file by default (``TDM1_DB_PATH``, default ``data/tdm1.sqlite``, created on
first use) or PostgreSQL when ``TDM1_DATABASE_URL`` (or ``--db URL``) names one. The schema is managed by
Alembic migrations (``tdm1core/storage/migrations``), applied automatically when a store is opened.

* An import is one transaction: a file with any error stores nothing (it is parsed and validated first).
* The same file (same SHA-256) is stored once; importing it again says so.
* Patient-table imports can be previewed (new, changed with old → new values, unchanged) and keep the
  previous values in the audit log when applied.
* Storage only: nothing here reads a file or makes a call. :mod:`tdm1core.app.workflows` reads and calls, then stores.
* Stored calls are keyed by the file (its SHA-256 is unique) and the hash of the settings and target map that made
  them (``call_sets`` says which files are done for which settings), so a cohort view reads them instead of parsing.
* SQLite runs in WAL mode with a busy timeout and retries; PostgreSQL uses ordinary transactions.
"""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from tdm1core.errors import InputError
from tdm1core.jsontext import json_safe
from tdm1core.settings import DEFAULT_SETTINGS, Settings

if TYPE_CHECKING:  # pandas is imported where a table is built: a stored answer is read without it
    import pandas as pd

__all__ = ["metadata", "Store", "DemoRemovalPlan", "ImportResult", "PatientPreview", "PatientChange", "StoreStatus", "database_url"]

T = TypeVar("T")
metadata = sa.MetaData()
# The same schema as the Alembic migrations (tdm1core/storage/migrations); tests/test_schema.py checks that they never drift.
files = sa.Table(
    "files", metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("name", sa.String(500), nullable=False), sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False), sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("format", sa.String(100)), sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("uploaded_by", sa.String(200)), sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("kind", "sha256", name="uq_files_kind_sha256"),
)
wells = sa.Table(
    "wells", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("row", sa.Integer), sa.Column("well", sa.String(20), nullable=False), sa.Column("sample", sa.String(500)),
    sa.Column("target", sa.String(500)), sa.Column("target_type", sa.String(20)), sa.Column("channel", sa.String(20)),
    sa.Column("status", sa.String(50)), sa.Column("positives", sa.Integer), sa.Column("negatives", sa.Integer),
    sa.Column("accepted_droplets", sa.Integer), sa.Column("exported_concentration", sa.Float),
    sa.Column("exported_state", sa.String(20)), sa.Column("merged", sa.Boolean), sa.Column("merged_members", sa.String(500)),
    sa.Column("saturated", sa.Boolean), sa.Column("warnings", sa.Text),
)
patients = sa.Table(
    "patients", metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("patient_id", sa.String(200), nullable=False, unique=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("source_file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="SET NULL")),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
)
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("who", sa.String(200)), sa.Column("action", sa.String(50), nullable=False), sa.Column("entity", sa.String(200)),
    sa.Column("detail", sa.Text),
    # who, from the identity token (signed-in mode): subject and e-mail; the app session; "write" or "access"
    sa.Column("subject", sa.String(200)), sa.Column("email", sa.String(320)), sa.Column("session", sa.String(64)),
    sa.Column("category", sa.String(10), nullable=False, server_default="write"),
    sa.Index("ix_audit_log_category_id", "category", "id"),
)
# e-mail (lower case) -> roles, for users whose identity token has no roles claim; kept by an admin in the app
user_roles = sa.Table(
    "user_roles", metadata,
    sa.Column("email", sa.String(320), primary_key=True), sa.Column("roles", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False), sa.Column("updated_by", sa.String(320)),
)
# one row per sign-in (tdm1core.storage.access.session_key): the app's own idle and absolute limits
user_sessions = sa.Table(
    "user_sessions", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(200)), sa.Column("email", sa.String(320)),
    sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)), sa.Column("end_reason", sa.String(200)),
)
# the lab's cut-off profiles (tdm1core.calling.profiles): a name saved again is the next version; none is ever changed
cutoff_profiles = sa.Table(
    "cutoff_profiles", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False), sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False), sa.Column("created_by", sa.String(320)),
    sa.UniqueConstraint("name", "version", name="uq_cutoff_profiles_name_version"),
)
# released reports (tdm1core.reporting.release): one row per version, never changed (the database refuses UPDATE and DELETE)
released_reports = sa.Table(
    "released_reports", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("report_id", sa.String(40), nullable=False), sa.Column("version", sa.Integer, nullable=False),
    sa.Column("patient_id", sa.String(200)), sa.Column("sample", sa.String(500), nullable=False),
    sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reviewer", sa.String(320), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False), sa.Column("pdf_sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False), sa.Column("pdf", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("report_id", "version", name="uq_released_reports_id_version"),
)
calls_t = sa.Table(
    "calls", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("sample", sa.String(500), nullable=False), sa.Column("her2_ratio", sa.Float), sa.Column("her2_call", sa.String(30)),
    sa.Column("her2_borderline", sa.Boolean), sa.Column("pik3ca_any_mutant", sa.Boolean),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("settings_hash", sa.String(64), nullable=False, index=True),
    *(sa.Column(f"{h.lower()}_{kind}", sa.Float) for h in ("E542K", "E545K", "H1047R") for kind in ("mutant", "wildtype")),
    sa.UniqueConstraint("file_id", "sample", "settings_hash", name="uq_calls_file_sample_settings"),
)
# one row per (file, settings hash) called: a file is parsed and called once per settings (see workflows.cohort_view)
call_sets = sa.Table(
    "call_sets", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
    sa.Column("settings_hash", sa.String(64), nullable=False, index=True),
    sa.Column("settings", sa.Text, nullable=False), sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("file_id", "settings_hash", name="uq_call_sets_file_settings"),
)
# the validated patient table per state of the stored patients (tdm1core.stats.cohort_snapshot; workflows.cohort_view)
cohort_snapshots = sa.Table(
    "cohort_snapshots", metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("revision", sa.String(100), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False), sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("revision", name="uq_cohort_snapshots_revision"),
)
# the stored calls table's columns by the names of tdm1core.calling.calls.CALL_TABLE_COLUMNS
_CALL_COLUMNS = {"sample": "sample", "her2_ratio": "her2_ratio", "her2_call": "her2_call",
                 "her2_borderline": "her2_borderline", "pik3ca_any_mutant": "pik3ca_any_mutant",
                 **{f"{h.lower()}_{kind}": f"{h} {short}" for h in ("E542K", "E545K", "H1047R")
                    for kind, short in (("mutant", "MUT"), ("wildtype", "WT"))}}
app_settings = sa.Table(
    "app_settings", metadata,
    sa.Column("key", sa.String(50), primary_key=True), sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
_WELL_COLS = [c.name for c in wells.columns if c.name not in ("id", "file_id")]
MIGRATIONS = Path(__file__).with_name("migrations")
HEAD_REVISION = "0007"  # the newest migration (tests/test_schema.py checks it against Alembic's head)


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


def _who(who: Any) -> str:
    if who is not None and not isinstance(who, str):  # a tdm1core.storage.access.User
        return who.audit_name
    if who:
        return who
    try:
        return os.environ.get("TDM1_USER") or getpass.getuser()
    except (KeyError, OSError):  # no user name on some containers
        return "unknown"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class ImportResult:
    kind: str
    name: str
    sha256: str
    file_id: int | None
    duplicate: bool
    message: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientChange:
    patient_id: str
    changes: dict[str, tuple[str, str]]  # column -> (old, new)


@dataclass(frozen=True)
class PatientPreview:
    name: str
    sha256: str
    new: tuple[str, ...]
    changed: tuple[PatientChange, ...]
    unchanged: int

    def summary(self) -> str:
        return f"{len(self.new)} new, {len(self.changed)} changed, {self.unchanged} unchanged patient(s)"

    def changes_table(self) -> pd.DataFrame:
        import pandas as pd

        rows = [{"patient_id": c.patient_id, "column": col, "stored": old, "new": new}
                for c in self.changed for col, (old, new) in c.changes.items()]
        return pd.DataFrame(rows, columns=["patient_id", "column", "stored", "new"])


@dataclass(frozen=True)
class DemoRemovalPlan:
    """What removing the synthetic demo deletes, and what it keeps."""

    files: int
    wells: int
    patients: int
    kept_patients: int  # demo patients a user's own import changed: kept

    def summary(self) -> str:
        text = (f"{self.files} demo file(s) with {self.wells} well row(s) and {self.patients} demo-only patient(s)")
        if self.kept_patients:
            text += f"; {self.kept_patients} patient(s) that your own imports changed are kept"
        return text

    def to_dict(self) -> dict[str, int]:
        return {"files": self.files, "wells": self.wells, "patients": self.patients, "kept_patients": self.kept_patients}


@dataclass(frozen=True)
class StoreStatus:
    url: str
    files: int
    wells: int
    patients: int
    audit_entries: int
    calls: int
    revision: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.url, "files": self.files, "wells": self.wells, "patients": self.patients,
                "audit_entries": self.audit_entries, "calls": self.calls, "schema_revision": self.revision}


class Store:
    """The database (see the module docstring)."""

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
            at=_now(), who=_who(who), action=action, entity=entity,
            detail=json.dumps(detail, default=str, ensure_ascii=False), category=category,
            subject=getattr(user, "subject", None), email=getattr(user, "email", None),
            session=getattr(user, "session", None)))

    # ------------------------------------------------------------------ settings
    def saved_settings(self) -> Settings:
        """The settings saved for everyone (a new session starts from them); the defaults until any are saved."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "current")).scalar()
        return Settings.from_dict(json.loads(value)) if value else DEFAULT_SETTINGS

    def save_settings(self, settings: Settings, who: Any = None) -> dict[str, tuple[Any, Any]]:
        """Save the settings and record what changed (old → new) in the audit log. Returns the changes."""
        def run() -> dict[str, tuple[Any, Any]]:
            with self.engine.begin() as conn:
                value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "current")).scalar()
                old = (Settings.from_dict(json.loads(value)) if value else DEFAULT_SETTINGS).to_dict()
                new = settings.to_dict()
                text = json.dumps(new, sort_keys=True)
                if value is None:
                    conn.execute(app_settings.insert().values(key="current", value=text, updated_at=_now()))
                else:
                    conn.execute(app_settings.update().where(app_settings.c.key == "current").values(value=text, updated_at=_now()))
                changed = {k: (v, new[k]) for k, v in old.items() if new[k] != v}
                self._audit(conn, who, "settings change", "settings",
                            {"changed": changed, "settings_hash": settings.fingerprint()})
                return changed

        return self._retry(run)

    def saved_droplet_thresholds(self) -> Any:
        """The lab's saved droplet classification (the instrument's classes until one is saved)."""
        from tdm1core.reading.thresholds import INSTRUMENT_THRESHOLDS, DropletThresholds

        with self.engine.connect() as conn:
            value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "droplet_thresholds")).scalar()
        return DropletThresholds.from_dict(json.loads(value)) if value else INSTRUMENT_THRESHOLDS

    def save_droplet_thresholds(self, thresholds: Any, who: Any = None) -> dict[str, Any]:
        """Save the droplet classification as the lab's default, audited with the previous and the new values."""
        from tdm1core.reading.thresholds import INSTRUMENT_THRESHOLDS

        def run() -> dict[str, Any]:
            with self.engine.begin() as conn:
                value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "droplet_thresholds")).scalar()
                old = json.loads(value) if value else INSTRUMENT_THRESHOLDS.to_dict()
                new = thresholds.to_dict()
                text = json.dumps(new, sort_keys=True)
                if value is None:
                    conn.execute(app_settings.insert().values(key="droplet_thresholds", value=text, updated_at=_now()))
                else:
                    conn.execute(app_settings.update().where(app_settings.c.key == "droplet_thresholds")
                                 .values(value=text, updated_at=_now()))
                detail = {"previous": old, "new": new, "description": thresholds.describe()}
                self._audit(conn, who, "settings change", "droplet thresholds", detail)
                return detail

        return self._retry(run)

    # ------------------------------------------------------------------ ddPCR files and their calls
    def store_export(self, data: bytes, export: Any, sample_calls: list, settings: Settings, who: Any = None,
                     demo: bool = False, shown: dict[str, Any] | None = None) -> ImportResult:
        """Store a read export as received, its wells and its calls (made with ``settings``) in one transaction.

        The export must have been read from ``data`` (same SHA-256). ``shown`` describes the result a page displayed,
        for the audit log, when a person saves what is on screen."""
        if export.sha256 != hashlib.sha256(data).hexdigest():
            raise ValueError("the export was not read from these bytes")  # a programming error, never user input

        def run() -> ImportResult:
            with self.engine.begin() as conn:
                return self._store_export(conn, data, export, sample_calls, settings, who, demo, shown)

        return self._retry(run)

    def store_exports(self, items: "list[tuple[bytes, Any, list]] | Callable[[], Iterable[tuple[bytes, Any, list]]]",
                      settings: Settings, who: Any = None) -> list[ImportResult]:
        """Store several read exports (bytes, export, calls) as one transaction: all of them or none.

        ``items`` may be a function that returns a fresh iterator: each export is then stored as it is produced and
        released (a registry's 4,000 plates are never all in memory); an exception the iterator raises (a refused
        file) rolls the whole transaction back."""
        def produce() -> Iterable[tuple[bytes, Any, list]]:
            return items() if callable(items) else items

        def run() -> list[ImportResult]:
            with self.engine.begin() as conn:
                out = []
                for data, export, calls in produce():
                    if export.sha256 != hashlib.sha256(data).hexdigest():
                        raise ValueError("an export was not read from its bytes")  # a programming error
                    out.append(self._store_export(conn, data, export, calls, settings, who, False, None))
                return out

        return self._retry(run)

    def _store_export(self, conn: Any, data: bytes, export: Any, sample_calls: list, settings: Settings,
                      who: str | None, demo: bool, shown: dict[str, Any] | None) -> ImportResult:
        sha, name = export.sha256, export.name
        file_id, duplicate = self._store_file(conn, "ddpcr", name, sha, data, export.format, who, demo)
        if duplicate is not None and shown is not None:
            self._audit(conn, who, "save result", f"ddpcr file {duplicate.file_id}",
                        {"name": name, "sha256": sha, "settings": settings.to_dict(), "shown_result": shown,
                         "note": "the file was already stored; the result shown on screen is recorded here"})
            return ImportResult("ddpcr", name, sha, duplicate.file_id, True,
                                duplicate.message + " The result shown on screen, with its settings, was recorded "
                                "in the audit log.")
        if duplicate is not None or file_id is None:
            return duplicate or ImportResult("ddpcr", name, sha, None, True, "not stored")
        w = export.wells
        records = [dict(zip(_WELL_COLS, row)) for row in zip(*(w[c].tolist() for c in _WELL_COLS))]
        for r in records:
            r["file_id"] = file_id
            if isinstance(r["exported_concentration"], float) and r["exported_concentration"] != r["exported_concentration"]:
                r["exported_concentration"] = None
            for k in ("merged", "saturated"):
                r[k] = bool(r[k])
            for k in ("row", "positives", "negatives", "accepted_droplets"):
                r[k] = int(r[k])
        conn.execute(wells.insert(), records)
        self._insert_call_set(conn, file_id, sample_calls, settings)
        detail: dict[str, Any] = {"name": name, "sha256": sha, "format": export.format, "wells": len(records),
                                  "samples": [c.sample for c in sample_calls],
                                  "settings": settings.to_dict(), "settings_hash": settings.fingerprint()}
        if shown is not None:
            detail["stored_as_shown"] = ("the calls were stored exactly as shown on screen, with the session's "
                                         "settings and target map")
            detail["shown_result"] = shown
        self._audit(conn, who, "import", f"ddpcr file {file_id}", detail)
        return ImportResult("ddpcr", name, sha, file_id, False,
                            f"Stored '{name}': {len(records)} well rows, {len(sample_calls)} sample(s).",
                            {"wells": len(records), "samples": len(sample_calls)})

    def _store_file(self, conn: Any, kind: str, name: str, sha: str, data: bytes, fmt: str, who: str | None,
                    demo: bool) -> tuple[int | None, ImportResult | None]:
        """Insert the file as received, or return the duplicate notice when the same SHA-256 is stored."""
        existing = conn.execute(sa.select(files.c.id, files.c.name).where(files.c.kind == kind, files.c.sha256 == sha)).first()
        if existing:
            return None, ImportResult(kind, name, sha, existing.id, True,
                                      f"'{name}' is already stored (as '{existing.name}', same SHA-256); nothing was changed.")
        file_id = conn.execute(files.insert().values(
            kind=kind, name=name, sha256=sha, size=len(data), content=data, format=fmt,
            uploaded_at=_now(), uploaded_by=_who(who), demo=demo)).inserted_primary_key[0]
        return file_id, None

    def _insert_call_set(self, conn: Any, file_id: int, sample_calls: Iterable[Any], settings: Settings) -> int:
        """The calls of one file for one settings hash, and the row that says they are complete."""
        from tdm1core.calling.calls import call_row

        h = settings.fingerprint()
        now = _now()
        rows = []
        for c in sample_calls:
            rec = call_row(c)
            row = {col: json_safe(rec.get(key)) for col, key in _CALL_COLUMNS.items()}
            row.update(file_id=file_id, settings_hash=h, computed_at=now,
                       result=json.dumps(json_safe(c.to_dict()), ensure_ascii=False))
            rows.append(row)
        conn.execute(call_sets.insert().values(file_id=file_id, settings_hash=h, samples=len(rows), computed_at=now,
                                               settings=json.dumps(settings.to_dict(), sort_keys=True)))
        self._calls_changed(conn)
        if rows:
            conn.execute(calls_t.insert(), rows)
        return len(rows)

    def files_without_calls(self, settings_hash: str) -> list[int]:
        """The stored ddPCR files that have no calls for these settings yet (their ids, oldest first)."""
        done = sa.select(call_sets.c.file_id).where(call_sets.c.settings_hash == settings_hash)
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(files.c.id).where(files.c.kind == "ddpcr", files.c.id.not_in(done))
                                     .order_by(files.c.id)).scalars())

    def file_contents(self, file_ids: list[int]) -> list[tuple[int, str, bytes]]:
        """(id, name, bytes as received) of the given stored files."""
        if not file_ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(files.c.id, files.c.name, files.c.content).where(files.c.id.in_(file_ids))
                                .order_by(files.c.id)).all()
        return [(r.id, r.name, bytes(r.content)) for r in rows]

    def store_calls(self, computed: list[tuple[int, list]], settings: Settings) -> int:
        """Store calls computed for stored files with ``settings`` ((file id, calls) pairs), in one transaction.

        A file another session has just called with the same settings is left as it is (the calls are the same
        computation). Returns the number of calls stored."""
        h = settings.fingerprint()

        def run() -> int:
            with self.engine.begin() as conn:
                done = set(conn.execute(sa.select(call_sets.c.file_id).where(
                    call_sets.c.settings_hash == h, call_sets.c.file_id.in_([f for f, _ in computed]))).scalars())
                present = set(conn.execute(sa.select(files.c.id).where(files.c.id.in_([f for f, _ in computed]))).scalars())
                return sum(self._insert_call_set(conn, fid, calls, settings) for fid, calls in computed
                           if fid not in done and fid in present)

        return self._retry(run) if computed else 0

    def calls_table(self, settings_hash: str) -> pd.DataFrame:
        """The stored calls for these settings, in :func:`tdm1core.calling.calls.calls_table`'s shape (oldest file first)."""
        import pandas as pd

        from tdm1core.calling.calls import CALL_TABLE_COLUMNS

        cols = [calls_t.c[c].label(key) for c, key in _CALL_COLUMNS.items()]
        q = sa.select(*cols).where(calls_t.c.settings_hash == settings_hash).order_by(calls_t.c.file_id, calls_t.c.id)
        with self.engine.connect() as conn:
            df = pd.DataFrame(conn.execute(q).all(), columns=list(_CALL_COLUMNS.values()))
        for c in ("her2_borderline", "pik3ca_any_mutant"):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
        return df[list(CALL_TABLE_COLUMNS)]

    def stored_calls(self) -> pd.DataFrame:
        """Every stored call (all settings), with its file and settings hash."""
        import pandas as pd

        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(calls_t.c.file_id, calls_t.c.sample, calls_t.c.her2_ratio, calls_t.c.her2_call,
                                         calls_t.c.her2_borderline, calls_t.c.pik3ca_any_mutant, calls_t.c.settings_hash,
                                         calls_t.c.computed_at).order_by(calls_t.c.id), conn)

    # ------------------------------------------------------------------ patients
    def stored_patients(self) -> dict[str, dict[str, str]]:
        """Patient ID → the stored row (as imported, normalised)."""
        with self.engine.connect() as conn:
            return self._stored_patients(conn)

    def _stored_patients(self, conn: Any) -> dict[str, dict[str, str]]:
        return {r.patient_id: json.loads(r.data) for r in conn.execute(sa.select(patients.c.patient_id, patients.c.data))}

    def patient_rows(self) -> list[dict[str, str]]:
        """The stored patients' rows, in the order they were first stored."""
        with self.engine.connect() as conn:
            data = list(conn.execute(sa.select(patients.c.data).order_by(patients.c.id)).scalars())
        return json.loads("[" + ",".join(data) + "]") if data else []  # one parse, not one per patient

    def patients_revision(self) -> str:
        """Changes with every write to the stored patients: a counter kept in the same transaction as each write,
        with the table's count, largest id and latest update (so a change made outside this class shows too)."""
        with self.engine.connect() as conn:
            counter = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "patients_revision")).scalar()
            count, top, latest = conn.execute(sa.select(sa.func.count(), sa.func.max(patients.c.id),
                                                        sa.func.max(patients.c.updated_at))).one()
        return hashlib.sha256(f"{counter}|{count}|{top}|{latest}".encode()).hexdigest()[:32]

    def calls_revision(self) -> str:
        """Changes with every write to the stored files and calls (the same scheme as :meth:`patients_revision`)."""
        with self.engine.connect() as conn:
            counter = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "calls_revision")).scalar()
            n_files, top_file = conn.execute(sa.select(sa.func.count(), sa.func.max(files.c.id))).one()
            n_sets, top_set = conn.execute(sa.select(sa.func.count(), sa.func.max(call_sets.c.id))).one()
        return hashlib.sha256(f"{counter}|{n_files}|{top_file}|{n_sets}|{top_set}".encode()).hexdigest()[:32]

    def _patients_changed(self, conn: Any) -> None:
        self._count_up(conn, "patients_revision")

    def _calls_changed(self, conn: Any) -> None:
        self._count_up(conn, "calls_revision")

    def _count_up(self, conn: Any, key: str) -> None:
        """Move a revision counter on, inside the caller's transaction."""
        value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == key)).scalar()
        if value is None:
            conn.execute(app_settings.insert().values(key=key, value="1", updated_at=_now()))
        else:
            conn.execute(app_settings.update().where(app_settings.c.key == key)
                         .values(value=str(int(value) + 1), updated_at=_now()))

    def cohort_snapshot(self, revision: str) -> bytes | None:
        """The stored snapshot for this key, if any: the validated patient table (keyed by the patients' revision)
        or, under a key starting ``statistics:``, the cohort's statistics (see :mod:`tdm1core.stored_statistics`)."""
        with self.engine.connect() as conn:
            data = conn.execute(sa.select(cohort_snapshots.c.data).where(cohort_snapshots.c.revision == revision)).scalar()
        return bytes(data) if data is not None else None

    def save_cohort_snapshot(self, revision: str, data: bytes, keep: int = 1) -> None:
        """Keep this snapshot and the newest ``keep - 1`` others of its kind (patient table or statistics); another
        session saving the same one first is fine."""
        statistics = cohort_snapshots.c.revision.like("statistics:%")
        same_kind = statistics if revision.startswith("statistics:") else sa.not_(statistics)

        def run() -> None:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(cohort_snapshots.c.id).where(cohort_snapshots.c.revision == revision)).first():
                    return
                kept = list(conn.execute(sa.select(cohort_snapshots.c.id).where(same_kind)
                                         .order_by(cohort_snapshots.c.id.desc()).limit(max(0, keep - 1))).scalars())
                conn.execute(cohort_snapshots.delete().where(same_kind, cohort_snapshots.c.id.not_in(kept)))
                conn.execute(cohort_snapshots.insert().values(revision=revision, data=data, created_at=_now()))

        self._retry(run)

    def patient_table(self) -> pd.DataFrame:
        """The stored patients as a table of text (blank where a row lacks a column), in the order first stored."""
        import pandas as pd

        table = pd.DataFrame.from_records(self.patient_rows())
        if table.isna().to_numpy().any():  # a column some rows lack (an older import)
            table = table.fillna("")
        for c in table.columns:
            if table[c].dtype != object:
                table[c] = table[c].astype(str)
        return table

    def store_patients(self, data: bytes, name: str, records: list[dict[str, str]], who: Any = None,
                       demo: bool = False) -> ImportResult:
        """Store a validated, normalised patient table (``records``) and the file it came from in one transaction;
        changed patients keep their old values in the audit log."""
        sha = hashlib.sha256(data).hexdigest()

        def run() -> ImportResult:
            with self.engine.begin() as conn:
                file_id, duplicate = self._store_file(conn, "patients", name, sha, data, "patient table", who, demo)
                if duplicate is not None or file_id is None:
                    return duplicate or ImportResult("patients", name, sha, None, True, "not stored")
                stored = self._stored_patients(conn)
                now = _now()
                inserts, changes, unchanged = [], [], 0
                for rec in records:
                    pid = rec["patient_id"]
                    if pid not in stored:
                        inserts.append({"patient_id": pid, "data": json.dumps(rec, ensure_ascii=False), "source_file_id": file_id,
                                        "updated_at": now, "demo": demo})
                    elif stored[pid] != rec:
                        # a demo patient changed by the user's own import now points at that import: demo removal keeps it
                        conn.execute(patients.update().where(patients.c.patient_id == pid).values(
                            data=json.dumps(rec, ensure_ascii=False), source_file_id=file_id, updated_at=now))
                        changes.append({"patient_id": pid, "previous": {k: stored[pid].get(k) for k in rec if stored[pid].get(k) != rec[k]},
                                        "new": {k: rec[k] for k in rec if stored[pid].get(k) != rec[k]}})
                    else:
                        unchanged += 1
                if inserts:
                    conn.execute(patients.insert(), inserts)
                self._patients_changed(conn)
                self._audit(conn, who, "import", f"patient file {file_id}",
                            {"name": name, "sha256": sha, "new": len(inserts), "changed": changes, "unchanged": unchanged})
                return ImportResult("patients", name, sha, file_id, False,
                                    f"Stored '{name}': {len(inserts)} new, {len(changes)} changed, {unchanged} unchanged patient(s).",
                                    {"new": len(inserts), "changed": len(changes), "unchanged": unchanged})

        return self._retry(run)

    def link_sample(self, patient_id: str, sample: str, who: Any = None) -> bool:
        """Set a stored patient's ctDNA sample ID (False when the patient is not stored)."""
        def run() -> bool:
            with self.engine.begin() as conn:
                old = conn.execute(sa.select(patients.c.data).where(patients.c.patient_id == patient_id)).scalar()
                if old is None:
                    return False
                rec = json.loads(old)
                previous = rec.get("ctdna_sample_id", "")
                rec["ctdna_sample_id"] = sample
                conn.execute(patients.update().where(patients.c.patient_id == patient_id)
                             .values(data=json.dumps(rec, ensure_ascii=False), updated_at=_now()))
                self._patients_changed(conn)
                self._audit(conn, who, "link sample", f"patient {patient_id}", {"previous": previous, "new": sample})
                return True

        return self._retry(run)

    def delete_patient(self, patient_id: str, who: Any = None) -> bool:
        def run() -> bool:
            with self.engine.begin() as conn:
                old = conn.execute(sa.select(patients.c.data).where(patients.c.patient_id == patient_id)).scalar()
                if old is None:
                    return False
                conn.execute(patients.delete().where(patients.c.patient_id == patient_id))
                self._patients_changed(conn)
                self._audit(conn, who, "delete", f"patient {patient_id}", {"previous": json.loads(old)})
                return True

        return self._retry(run)

    def delete_file(self, file_id: int, who: Any = None) -> bool:
        def run() -> bool:
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(files.c.name, files.c.kind, files.c.sha256).where(files.c.id == file_id)).first()
                if row is None:
                    return False
                conn.execute(calls_t.delete().where(calls_t.c.file_id == file_id))
                conn.execute(call_sets.delete().where(call_sets.c.file_id == file_id))
                conn.execute(wells.delete().where(wells.c.file_id == file_id))
                conn.execute(patients.update().where(patients.c.source_file_id == file_id).values(source_file_id=None))
                conn.execute(files.delete().where(files.c.id == file_id))
                self._calls_changed(conn)
                self._audit(conn, who, "delete", f"{row.kind} file {file_id}", {"name": row.name, "sha256": row.sha256})
                return True

        return self._retry(run)

    # ------------------------------------------------------------------ demo
    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return not conn.execute(sa.select(sa.func.count()).select_from(files)).scalar() and \
                not conn.execute(sa.select(sa.func.count()).select_from(patients)).scalar()

    def demo_seeded(self) -> bool:
        """True once the synthetic demo was seeded (it is then never seeded again, even after its removal)."""
        with self.engine.connect() as conn:
            return bool(conn.execute(sa.select(sa.func.count()).select_from(audit_log)
                                     .where(audit_log.c.action == "demo seeded")).scalar())

    def record(self, action: str, entity: str, detail: Any, who: Any = None) -> None:
        """Add an entry to the audit log."""
        with self.engine.begin() as conn:
            self._audit(conn, who, action, entity, detail)

    def record_access(self, who: Any, action: str, entity: str, detail: Any = None) -> None:
        """Add an access entry (a sign-in, a sign-out, a view of patient-level data, a download, a report); access
        entries do not change :meth:`version`, so a view never makes a cached cohort stale."""
        def run() -> None:
            with self.engine.begin() as conn:
                self._audit(conn, who, action, entity, detail or {}, category="access")

        self._retry(run)

    # ------------------------------------------------------------------ released reports
    def latest_release(self, report_id: str) -> Any:
        """The newest released version of a report (a tdm1core.reporting.release.ReleasedReport), or None."""
        from tdm1core.reporting.release import ReleasedReport

        with self.engine.connect() as conn:
            data = conn.execute(sa.select(released_reports.c.data).where(released_reports.c.report_id == report_id)
                                .order_by(released_reports.c.version.desc()).limit(1)).scalar()
        return None if data is None else ReleasedReport.from_dict(json.loads(data))

    def store_release(self, build: Callable[[Any], tuple[Any, bytes]], report_id: str, who: Any = None) -> Any:
        """Store the next version of a report. ``build(previous)`` makes the (ReleasedReport, PDF bytes) for the
        version after ``previous`` (None for the first); it runs inside the transaction, after a lock on the report
        (PostgreSQL) or the database (SQLite), so two reviewers releasing at once make versions N+1 and N+2, never two
        N+1. Audited. Returns the stored ReleasedReport."""
        from tdm1core.reporting.release import ReleasedReport

        def run() -> Any:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(451979, hashtext(:r))"), {"r": report_id})
                data = conn.execute(sa.select(released_reports.c.data).where(released_reports.c.report_id == report_id)
                                    .order_by(released_reports.c.version.desc()).limit(1)).scalar()
                previous = None if data is None else ReleasedReport.from_dict(json.loads(data))
                report, pdf = build(previous)
                s = report.stamp
                conn.execute(released_reports.insert().values(
                    report_id=s.report_id, version=s.version, patient_id=report.patient_id, sample=report.sample,
                    released_at=_now(), reviewer=s.reviewer, content_sha256=report.content_sha256,
                    pdf_sha256=report.pdf_sha256, data=json.dumps(report.to_dict(), default=str), pdf=pdf))
                self._audit(conn, who, "release" if s.version == 1 else "amend", f"report {s.report_id} v{s.version}",
                            {"patient": report.patient_id or "not given", "sample": report.sample,
                             "content sha256": report.content_sha256, "pdf sha256": report.pdf_sha256,
                             "replaces": s.replaces, "changes": list(s.changes)})
                return report

        return self._retry(run)

    def releases(self, report_id: str | None = None, patient_id: str | None = None) -> list[Any]:
        """Released versions (newest first), of one report or one patient, or all."""
        from tdm1core.reporting.release import ReleasedReport

        q = sa.select(released_reports.c.data).order_by(released_reports.c.report_id, released_reports.c.version.desc())
        if report_id is not None:
            q = q.where(released_reports.c.report_id == report_id)
        if patient_id is not None:
            q = q.where(released_reports.c.patient_id == patient_id)
        with self.engine.connect() as conn:
            return [ReleasedReport.from_dict(json.loads(d)) for d in conn.execute(q).scalars()]

    def released_pdf(self, report_id: str, version: int) -> bytes | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(released_reports.c.pdf).where(released_reports.c.report_id == report_id)
                                .where(released_reports.c.version == version)).scalar()

    # ------------------------------------------------------------------ cut-off profiles
    def save_profile(self, profile: Any, who: Any = None) -> Any:
        """Store ``profile`` as the next version of its name (1 for a new name; earlier versions stay as they are),
        audited. Returns the profile as stored (with its version, time and author)."""
        from dataclasses import replace as _replace

        from tdm1core.calling.profiles import STUDY, CutoffProfile

        name = profile.name.strip()
        if not name or len(name) > 150:
            raise InputError("a profile needs a name of 1-150 characters.", source="cut-off profile", column="name")
        if name == STUDY.name:
            raise InputError(f"'{name}' is the built-in profile's name.", source="cut-off profile", column="name",
                             hint="Give the lab's profile its own name, e.g. 'Lab X PIK3CA'.")

        def run() -> Any:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(451978)"))
                last = conn.execute(sa.select(sa.func.max(cutoff_profiles.c.version))
                                    .where(cutoff_profiles.c.name == name)).scalar() or 0
                stored: CutoffProfile = _replace(profile, name=name, version=int(last) + 1, created_by=_who(who),
                                                 created_at=profile.created_at or _now().isoformat(timespec="seconds"))
                conn.execute(cutoff_profiles.insert().values(name=name, version=stored.version, created_at=_now(),
                                                             created_by=_who(who),
                                                             data=json.dumps(stored.to_dict(), default=str)))
                self._audit(conn, who, "cut-off profile", f"profile {stored.label}",
                            {"her2_ratio_cutoff": stored.her2_ratio_cutoff,
                             "pik3ca_mutant_cutoff_copies": stored.pik3ca_mutant_cutoff_copies,
                             "reference_min_copies": stored.reference_min_copies,
                             "evidence": [f"{n} (SHA-256 {h})" for n, h in stored.evidence]})
                return stored

        return self._retry(run)

    def profiles(self) -> list[Any]:
        """Every stored profile, newest version of each name first within the name; the built-in one first."""
        from tdm1core.calling.profiles import STUDY, CutoffProfile

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(cutoff_profiles.c.data).order_by(cutoff_profiles.c.name,
                                                                           cutoff_profiles.c.version.desc())).scalars().all()
        return [STUDY] + [CutoffProfile.from_dict(json.loads(r)) for r in rows]

    # ------------------------------------------------------------------ roles table and app sessions
    def roles_for(self, email: str) -> frozenset[str] | None:
        """The roles the table gives ``email`` (None when it is not in the table)."""
        from tdm1core.storage.access import parse_roles

        with self.engine.connect() as conn:
            value = conn.execute(sa.select(user_roles.c.roles).where(user_roles.c.email == email.strip().lower())).scalar()
        return None if value is None else parse_roles(value)

    def roles_table(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(user_roles).order_by(user_roles.c.email)).mappings().all()
        return [dict(r) for r in rows]

    def set_roles(self, email: str, roles: Iterable[str], who: Any = None) -> tuple[str, str]:
        """Give ``email`` exactly ``roles`` (none removes the row); audited with the previous and the new roles.
        Returns (previous, new) as space-separated text."""
        from tdm1core.storage.access import ROLES, parse_roles

        address = email.strip().lower()
        if "@" not in address or len(address) > 320 or any(ch.isspace() for ch in address):
            raise InputError(f"{email!r} is not an e-mail address.", source="roles table", column="email",
                             hint="Give the address the identity provider puts in the token's email claim.")
        wanted = [r.strip().lower() for r in roles if str(r).strip()]
        unknown = [r for r in wanted if r not in ROLES]
        if unknown:
            raise InputError(f"unknown role(s) {', '.join(unknown)}.", source="roles table", column="roles",
                             hint=f"Roles are {', '.join(ROLES)}.")
        new = " ".join(r for r in ROLES if r in parse_roles(wanted))

        def run() -> tuple[str, str]:
            with self.engine.begin() as conn:
                previous = conn.execute(sa.select(user_roles.c.roles).where(user_roles.c.email == address)).scalar() or ""
                conn.execute(user_roles.delete().where(user_roles.c.email == address))
                if new:
                    conn.execute(user_roles.insert().values(email=address, roles=new, updated_at=_now(),
                                                            updated_by=_who(who)))
                if previous != new:
                    self._audit(conn, who, "roles change", f"user {address}", {"previous": previous, "new": new})
                return previous, new

        return self._retry(run)

    def touch_session(self, user: Any, now: dt.datetime, signed_in_at: dt.datetime, limits: Any,
                      every_seconds: float = 30.0, active: bool = True) -> str | None:
        """Record activity in the signed-in ``user``'s app session and return why it has ended (None while it goes
        on). A new session is recorded (and its sign-in audited); an ended one stays ended; a session past its idle or
        absolute limit is ended now (audited). ``last_seen`` is written at most every ``every_seconds``, and not at all
        when ``active`` is False (a timer checking the limits is not the user's activity)."""
        from tdm1core.storage.access import session_end_reason

        def run() -> str | None:
            with self.engine.begin() as conn:
                found = conn.execute(sa.select(user_sessions).where(user_sessions.c.key == user.session)).mappings().first()
                row: dict[str, Any] = dict(found) if found is not None else {}
                if found is None:
                    conn.execute(user_sessions.insert().values(key=user.session, subject=user.subject, email=user.email,
                                                               signed_in_at=signed_in_at, last_seen_at=now))
                    self._audit(conn, user, "sign in", f"user {user.audit_name}",
                                {"roles": " ".join(sorted(user.roles)) or "none", "roles from": user.roles_source},
                                category="access")
                    row = {"signed_in_at": signed_in_at, "last_seen_at": now, "ended_at": None, "end_reason": None}
                if row["ended_at"] is not None:
                    return str(row["end_reason"] or "the session has ended")

                def epoch(v: dt.datetime) -> float:
                    return (v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)).timestamp()

                reason = session_end_reason(epoch(row["signed_in_at"]), epoch(row["last_seen_at"]), epoch(now), limits)
                if reason:
                    conn.execute(user_sessions.update().where(user_sessions.c.key == user.session)
                                 .values(ended_at=now, end_reason=reason))
                    self._audit(conn, user, "session ended", f"user {user.audit_name}", {"reason": reason},
                                category="access")
                    return reason
                if active and epoch(now) - epoch(row["last_seen_at"]) >= min(every_seconds, limits.idle_seconds / 4):
                    conn.execute(user_sessions.update().where(user_sessions.c.key == user.session)
                                 .values(last_seen_at=now))
                return None

        return self._retry(run)

    def end_session(self, user: Any, reason: str = "signed out") -> None:
        """End the user's app session (sign-out), audited; a later request with the same identity cookie is refused."""
        def run() -> None:
            with self.engine.begin() as conn:
                done = conn.execute(user_sessions.update().where(user_sessions.c.key == user.session)
                                    .where(user_sessions.c.ended_at.is_(None)).values(ended_at=_now(), end_reason=reason))
                if done.rowcount:
                    self._audit(conn, user, "sign out", f"user {user.audit_name}", {"reason": reason}, category="access")

        self._retry(run)

    def has_demo(self) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(sa.select(sa.func.count()).select_from(files).where(files.c.demo == sa.true())).scalar())

    def demo_state(self) -> str:
        """'demo' (only the synthetic demo), 'mixed', 'real' or 'empty'."""
        with self.engine.connect() as conn:
            demo = conn.execute(sa.select(sa.func.count()).select_from(files).where(files.c.demo == sa.true())).scalar() or 0
            real = conn.execute(sa.select(sa.func.count()).select_from(files).where(files.c.demo == sa.false())).scalar() or 0
            real += conn.execute(sa.select(sa.func.count()).select_from(patients).where(patients.c.demo == sa.false())).scalar() or 0
        if demo and real:
            return "mixed"
        return "demo" if demo else ("real" if real else "empty")

    def _demo_rows(self, conn: Any) -> tuple[list[int], list[int], int, int]:
        """(demo file ids, demo-only patient row ids, their well rows, patients kept because the user changed them)."""
        demo_files = [r.id for r in conn.execute(sa.select(files.c.id).where(files.c.demo == sa.true()))]
        real_files = sa.select(files.c.id).where(files.c.demo == sa.false())
        demo_only = [r.id for r in conn.execute(sa.select(patients.c.id).where(
            patients.c.demo == sa.true(), sa.or_(patients.c.source_file_id.is_(None), patients.c.source_file_id.not_in(real_files))))]
        kept = int(conn.execute(sa.select(sa.func.count()).select_from(patients).where(
            patients.c.demo == sa.true(), patients.c.source_file_id.in_(real_files))).scalar() or 0)
        n_wells = int(conn.execute(sa.select(sa.func.count()).select_from(wells).where(wells.c.file_id.in_(demo_files))).scalar()
                      or 0) if demo_files else 0
        return demo_files, demo_only, n_wells, kept

    def demo_removal_plan(self) -> DemoRemovalPlan:
        """What :meth:`remove_demo` would delete now (nothing is changed), for the confirmation."""
        with self.engine.connect() as conn:
            demo_files, demo_only, n_wells, kept = self._demo_rows(conn)
        return DemoRemovalPlan(len(demo_files), n_wells, len(demo_only), kept)

    def remove_demo(self, who: Any = None) -> DemoRemovalPlan:
        """Remove the synthetic demo files and the patients that are still demo-only; keep patients the user changed.

        Returns what was removed (files, well rows, patients) and how many user-changed patients were kept.
        """
        def run() -> DemoRemovalPlan:
            with self.engine.begin() as conn:
                demo_files, demo_only, n_wells, kept = self._demo_rows(conn)
                # patients a user's import changed are theirs now
                conn.execute(patients.update().where(patients.c.demo == sa.true(), patients.c.id.not_in(demo_only))
                             .values(demo=False))
                kept_total = kept
                if demo_only:
                    conn.execute(patients.delete().where(patients.c.id.in_(demo_only)))
                for fid in demo_files:
                    conn.execute(calls_t.delete().where(calls_t.c.file_id == fid))
                    conn.execute(call_sets.delete().where(call_sets.c.file_id == fid))
                    conn.execute(wells.delete().where(wells.c.file_id == fid))
                    conn.execute(patients.update().where(patients.c.source_file_id == fid).values(source_file_id=None))
                    conn.execute(files.delete().where(files.c.id == fid))
                self._patients_changed(conn)
                self._calls_changed(conn)
                plan = DemoRemovalPlan(len(demo_files), n_wells, len(demo_only), kept_total)
                self._audit(conn, who, "delete", "demo", {"file_ids": demo_files, **plan.to_dict(),
                                                          "note": "synthetic demo removed after confirmation"})
                return plan

        return self._retry(run)

    # ------------------------------------------------------------------ reading
    def version(self) -> int:
        """Changes whenever anything is written (for cache keys); access entries (views, sign-ins) do not move it."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(audit_log.c.id), 0))
                                    .where(audit_log.c.category == "write")).scalar() or 0)

    def state_key(self) -> str:
        """The state of everything a cohort view is derived from, for caches shared across sessions: the write
        counter (:meth:`version`) with the patients' and the files' and calls' revisions. A database replaced by
        another at the same URL does not reuse an old key: the revisions hold the latest update time and ids."""
        return f"{self.version()}:{self.patients_revision()}:{self.calls_revision()}"

    def status(self) -> StoreStatus:
        with self.engine.connect() as conn:
            def count(t: sa.Table) -> int:
                return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)

            counts = (count(files), count(wells), count(patients), count(audit_log), count(calls_t))
        safe_url = self.engine.url.render_as_string(hide_password=True)
        return StoreStatus(safe_url, *counts, revision=self.revision())

    def audit(self, limit: int | None = None) -> pd.DataFrame:
        import pandas as pd

        q = sa.select(audit_log).order_by(audit_log.c.id.desc())
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return pd.read_sql(q, conn)

    def files_table(self) -> pd.DataFrame:
        import pandas as pd

        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(files.c.id, files.c.kind, files.c.name, files.c.sha256, files.c.size, files.c.format,
                                         files.c.uploaded_at, files.c.uploaded_by, files.c.demo).order_by(files.c.id), conn)

    def export_all(self, directory: str | Path) -> list[Path]:
        """Every table as a formula-safe CSV in ``directory`` (file contents as SHA-256 only)."""
        import pandas as pd

        from tdm1core.reporting.export import to_csv_bytes

        out = Path(directory)
        try:
            if not out.exists():  # patient-level data: a new folder is the owner's alone (an existing one is left as is)
                out.mkdir(parents=True, mode=0o700)
                os.chmod(out, 0o700)
            elif not out.is_dir():
                raise NotADirectoryError(str(out))
        except (FileExistsError, NotADirectoryError):
            raise InputError(f"'{out}' is a file, not a folder; nothing was exported.", source="db export",
                             hint="Give a new or existing folder.") from None
        except OSError as exc:
            raise InputError(f"cannot create the folder '{out}': {exc.strerror}.", source="db export") from None
        written = []
        with self.engine.connect() as conn:
            tables = {
                "files": self.files_table(),
                "wells": pd.read_sql(sa.select(wells).order_by(wells.c.id), conn),
                "patients": pd.read_sql(sa.select(patients).order_by(patients.c.id), conn),
                "calls": pd.read_sql(sa.select(calls_t).order_by(calls_t.c.id), conn),
                "audit_log": pd.read_sql(sa.select(audit_log).order_by(audit_log.c.id), conn),
            }
        for name, df in tables.items():
            path = out / f"{name}.csv"
            write_private(path, to_csv_bytes(df))
            written.append(path)
        return written
