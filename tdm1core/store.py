"""Storage: uploaded files as received, their wells, patients, stored calls, settings and an audit log.

SQLAlchemy; an embedded SQLite file by default (``TDM1_DB_PATH``, default ``data/tdm1.sqlite``, created on
first use) or PostgreSQL when ``TDM1_DATABASE_URL`` (or ``--db URL``) names one. The schema is managed by
Alembic migrations (``tdm1core/migrations``), applied automatically when a store is opened.

* An import is one transaction: a file with any error stores nothing (it is parsed and validated first).
* The same file (same SHA-256) is stored once; importing it again says so.
* Patient-table imports can be previewed (new, changed with old → new values, unchanged) and keep the
  previous values in the audit log when applied.
* Calls are recomputed from the stored files whenever the settings change; each stored call records the
  settings it was made with, and the audit log records the change.
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
from typing import Any, Callable, Iterable, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from .errors import InputError
from .settings import DEFAULT_SETTINGS, Settings

__all__ = ["metadata", "Store", "DemoRemovalPlan", "ImportResult", "PatientPreview", "PatientChange", "StoreStatus", "database_url", "open_store"]

T = TypeVar("T")
metadata = sa.MetaData()
# The same schema as the Alembic migrations (tdm1core/migrations); tests/test_schema.py checks that they never drift.
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
)
calls_t = sa.Table(
    "calls", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("sample", sa.String(500), nullable=False), sa.Column("her2_ratio", sa.Float), sa.Column("her2_call", sa.String(30)),
    sa.Column("her2_borderline", sa.Boolean), sa.Column("pik3ca_any_mutant", sa.Boolean),
    sa.Column("result", sa.Text, nullable=False), sa.Column("settings", sa.Text, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)
app_settings = sa.Table(
    "app_settings", metadata,
    sa.Column("key", sa.String(50), primary_key=True), sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
_WELL_COLS = [c.name for c in wells.columns if c.name not in ("id", "file_id")]
MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(url: str | None = None) -> str:
    """``url``, else ``TDM1_DATABASE_URL``, else SQLite at ``TDM1_DB_PATH`` (default ``data/tdm1.sqlite``)."""
    if url:
        return url
    if os.environ.get("TDM1_DATABASE_URL"):
        return os.environ["TDM1_DATABASE_URL"]
    path = Path(os.environ.get("TDM1_DB_PATH", "data/tdm1.sqlite"))
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


def _who(who: str | None) -> str:
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
        from alembic import command

        def run() -> None:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(451977)"))
                self._repair_half_initialised(conn)
                command.upgrade(self._alembic(conn), revision)

        with _file_lock(self.sqlite_path):
            self._retry(run)

    def _repair_half_initialised(self, conn: Any) -> None:
        insp = sa.inspect(conn)
        tables = set(insp.get_table_names())
        if "alembic_version" not in tables:
            return
        if conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar():
            return
        ours = [t for t in ("calls", "app_settings", "audit_log", "patients", "wells", "files") if t in tables]
        rows = sum(int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() or 0) for t in ours)
        if rows == 0:
            for t in ours + ["alembic_version"]:
                conn.execute(sa.text(f"DROP TABLE {t}"))
            return
        stamp = "0002" if {"calls", "app_settings"} <= tables else "0001"
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

    def _audit(self, conn: Any, who: str | None, action: str, entity: str, detail: Any) -> None:
        conn.execute(audit_log.insert().values(at=_now(), who=_who(who), action=action, entity=entity,
                                               detail=json.dumps(detail, default=str, ensure_ascii=False)))

    # ------------------------------------------------------------------ settings
    def get_settings(self) -> Settings:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == "current")).scalar()
        return Settings.from_dict(json.loads(value)) if value else DEFAULT_SETTINGS

    def set_settings(self, settings: Settings, who: str | None = None) -> int:
        """Store new settings, recompute every stored call with them, and record the change. Returns the calls recomputed."""
        old = self.get_settings()

        def run() -> int:
            with self.engine.begin() as conn:
                value = json.dumps(settings.to_dict(), sort_keys=True)
                updated = conn.execute(app_settings.update().where(app_settings.c.key == "current")
                                       .values(value=value, updated_at=_now())).rowcount
                if not updated:
                    conn.execute(app_settings.insert().values(key="current", value=value, updated_at=_now()))
                n = self._recompute_calls(conn, settings)
                changed = {k: (v, settings.to_dict()[k]) for k, v in old.to_dict().items() if settings.to_dict()[k] != v}
                self._audit(conn, who, "settings change", "settings", {"changed": changed, "calls_recomputed": n})
                return n

        return self._retry(run)

    # ------------------------------------------------------------------ ddPCR files
    def import_ddpcr(self, data: bytes, name: str, who: str | None = None, demo: bool = False, *,
                     settings: Settings | None = None, export: Any = None, sample_calls: list | None = None,
                     shown: dict[str, Any] | None = None) -> ImportResult:
        """Parse, then store the file, its wells and its calls in one transaction (nothing on error).

        ``settings`` defaults to the database's; a page saving what it shows passes the session's settings
        with the export and calls it displayed (``shown`` describes the displayed result for the audit log),
        so the stored calls are exactly the ones on screen.
        """
        from .calls import call_export
        from .ddpcr import read_export

        if settings is None:
            settings = self.get_settings()
        if export is None or export.sha256 != hashlib.sha256(data).hexdigest():
            export = read_export(data, name, settings)  # raises DdpcrFormatError: nothing stored
            sample_calls = None
        if sample_calls is None:
            sample_calls = call_export(export, settings)  # raises TargetMapError: nothing stored

        def run() -> ImportResult:
            with self.engine.begin() as conn:
                return self._store_export(conn, data, name, export, sample_calls, settings, who, demo, shown)

        return self._retry(run)

    def _store_export(self, conn: Any, data: bytes, name: str, export: Any, sample_calls: list, settings: Settings,
                      who: str | None, demo: bool, shown: dict[str, Any] | None) -> ImportResult:
        sha = export.sha256
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
        records = export.wells[_WELL_COLS].to_dict("records")
        for r in records:
            r["file_id"] = file_id
            if isinstance(r["exported_concentration"], float) and r["exported_concentration"] != r["exported_concentration"]:
                r["exported_concentration"] = None
            for k in ("merged", "saturated"):
                r[k] = bool(r[k])
            for k in ("row", "positives", "negatives", "accepted_droplets"):
                r[k] = int(r[k])
        conn.execute(wells.insert(), records)
        self._insert_calls(conn, file_id, sample_calls, settings)
        detail: dict[str, Any] = {"name": name, "sha256": sha, "format": export.format, "wells": len(records),
                                  "samples": [c.sample for c in sample_calls],
                                  "settings": settings.to_dict()}
        if shown is not None:
            detail["stored_as_shown"] = ("the calls were stored exactly as shown on screen, with the session's "
                                         "settings and target map")
            detail["shown_result"] = shown
        self._audit(conn, who, "import", f"ddpcr file {file_id}", detail)
        return ImportResult("ddpcr", name, sha, file_id, False,
                            f"Stored '{name}': {len(records)} well rows, {len(sample_calls)} sample(s).",
                            {"wells": len(records), "samples": len(sample_calls)})

    def import_ddpcr_batch(self, files: list[tuple[bytes, str]], who: str | None = None,
                           settings: Settings | None = None) -> list[ImportResult]:
        """Import several exports as one transaction: every file is read and called first; if any is refused, the
        error lists every refused file and nothing is stored."""
        from .calls import call_export
        from .ddpcr import read_export
        from .errors import DdpcrFormatError, Problem

        settings = settings or self.get_settings()
        parsed, problems = [], []
        for data, name in files:
            try:
                export = read_export(data, name, settings)
                parsed.append((data, name, export, call_export(export, settings)))
            except InputError as exc:
                problems.append(Problem(str(exc).replace("\n", " ")))
        if problems:
            raise DdpcrFormatError(f"{len(problems)} of {len(files)} file(s) were refused, so none of the {len(files)} "
                                   "was stored (a batch is all or nothing).", source="batch", problems=problems,
                                   hint="Correct or leave out the refused files and import the batch again.")

        def run() -> list[ImportResult]:
            with self.engine.begin() as conn:
                return [self._store_export(conn, data, name, export, calls, settings, who, False, None)
                        for data, name, export, calls in parsed]

        return self._retry(run)

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

    def _insert_calls(self, conn: Any, file_id: int, sample_calls: Iterable[Any], settings: Settings) -> int:
        settings_json = json.dumps(settings.to_dict(), sort_keys=True)
        rows = [{"file_id": file_id, "sample": c.sample, "her2_ratio": c.her2.ratio, "her2_call": c.her2.call,
                 "her2_borderline": c.her2.borderline, "pik3ca_any_mutant": c.pik3ca.any_mutant,
                 "result": json.dumps(_clean(c.to_dict()), ensure_ascii=False), "settings": settings_json,
                 "computed_at": _now()} for c in sample_calls]
        if rows:
            conn.execute(calls_t.insert(), rows)
        return len(rows)

    def _recompute_calls(self, conn: Any, settings: Settings) -> int:
        from .calls import call_export
        from .ddpcr import read_export

        conn.execute(calls_t.delete())
        n = 0
        for row in conn.execute(sa.select(files.c.id, files.c.name, files.c.content).where(files.c.kind == "ddpcr")):
            export = read_export(bytes(row.content), row.name, settings)
            n += self._insert_calls(conn, row.id, call_export(export, settings), settings)
        return n

    def exports(self, settings: Settings | None = None) -> list[Any]:
        """The stored ddPCR files, parsed again (from the bytes as received) with the given settings."""
        from .ddpcr import read_export

        settings = settings or self.get_settings()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(files.c.name, files.c.content).where(files.c.kind == "ddpcr").order_by(files.c.id)).all()
        return [read_export(bytes(r.content), r.name, settings) for r in rows]

    def stored_calls(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(calls_t.c.file_id, calls_t.c.sample, calls_t.c.her2_ratio, calls_t.c.her2_call,
                                         calls_t.c.her2_borderline, calls_t.c.pik3ca_any_mutant, calls_t.c.settings,
                                         calls_t.c.computed_at).order_by(calls_t.c.id), conn)

    # ------------------------------------------------------------------ patients
    def _stored_patients(self, conn: Any) -> dict[str, dict[str, str]]:
        return {r.patient_id: json.loads(r.data) for r in conn.execute(sa.select(patients.c.patient_id, patients.c.data))}

    def preview_patients(self, data: bytes, name: str, settings: Settings | None = None) -> tuple[PatientPreview, pd.DataFrame]:
        """Validate a patient table and compare it with what is stored (nothing is written).

        Dates are stored as ISO (YYYY-MM-DD) and IDs without invisible characters, whatever the table used, so a
        stored patient never depends on the ``date_order`` setting it was read with."""
        from .cohort import normalised_table, read_patient_table, validate_patients

        raw = read_patient_table(data, name)
        cohort = validate_patients(raw, name, settings=settings or DEFAULT_SETTINGS)  # raises CohortFormatError
        raw = normalised_table(raw, cohort)
        sha = hashlib.sha256(data).hexdigest()
        with self.engine.connect() as conn:
            stored = self._stored_patients(conn)
        new, changed, same = [], [], 0
        for rec in raw.to_dict("records"):
            pid = rec["patient_id"]
            old = stored.get(pid)
            if old is None:
                new.append(pid)
                continue
            diff = {k: (old.get(k, ""), v) for k, v in rec.items() if str(old.get(k, "")) != str(v)}
            if diff:
                changed.append(PatientChange(pid, diff))
            else:
                same += 1
        return PatientPreview(name, sha, tuple(new), tuple(changed), same), raw

    def import_patients(self, data: bytes, name: str, who: str | None = None, demo: bool = False,
                        settings: Settings | None = None) -> ImportResult:
        """Validate and store a patient table in one transaction; changed patients keep their old values in the audit log."""
        preview, raw = self.preview_patients(data, name, settings)
        sha = preview.sha256

        def run() -> ImportResult:
            with self.engine.begin() as conn:
                file_id, duplicate = self._store_file(conn, "patients", name, sha, data, "patient table", who, demo)
                if duplicate is not None or file_id is None:
                    return duplicate or ImportResult("patients", name, sha, None, True, "not stored")
                stored = self._stored_patients(conn)
                now = _now()
                inserts, changes = [], []
                for rec in raw.to_dict("records"):
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
                if inserts:
                    conn.execute(patients.insert(), inserts)
                self._audit(conn, who, "import", f"patient file {file_id}",
                            {"name": name, "sha256": sha, "new": len(inserts), "changed": changes, "unchanged": preview.unchanged})
                return ImportResult("patients", name, sha, file_id, False,
                                    f"Stored '{name}': {preview.summary()}.",
                                    {"new": len(inserts), "changed": len(changes), "unchanged": preview.unchanged})

        return self._retry(run)

    def link_sample(self, patient_id: str, sample: str, who: str | None = None) -> bool:
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
                self._audit(conn, who, "link sample", f"patient {patient_id}", {"previous": previous, "new": sample})
                return True

        return self._retry(run)

    def delete_patient(self, patient_id: str, who: str | None = None) -> bool:
        def run() -> bool:
            with self.engine.begin() as conn:
                old = conn.execute(sa.select(patients.c.data).where(patients.c.patient_id == patient_id)).scalar()
                if old is None:
                    return False
                conn.execute(patients.delete().where(patients.c.patient_id == patient_id))
                self._audit(conn, who, "delete", f"patient {patient_id}", {"previous": json.loads(old)})
                return True

        return self._retry(run)

    def delete_file(self, file_id: int, who: str | None = None) -> bool:
        def run() -> bool:
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(files.c.name, files.c.kind, files.c.sha256).where(files.c.id == file_id)).first()
                if row is None:
                    return False
                conn.execute(calls_t.delete().where(calls_t.c.file_id == file_id))
                conn.execute(wells.delete().where(wells.c.file_id == file_id))
                conn.execute(patients.update().where(patients.c.source_file_id == file_id).values(source_file_id=None))
                conn.execute(files.delete().where(files.c.id == file_id))
                self._audit(conn, who, "delete", f"{row.kind} file {file_id}", {"name": row.name, "sha256": row.sha256})
                return True

        return self._retry(run)

    # ------------------------------------------------------------------ demo
    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return not conn.execute(sa.select(sa.func.count()).select_from(files)).scalar() and \
                not conn.execute(sa.select(sa.func.count()).select_from(patients)).scalar()

    def seed_demo(self, who: str = "demo seed") -> bool:
        """Seed the synthetic demo into an empty database (once). True when it seeded."""
        from .demo import DEMO_DIR, demo_export_path

        with self.engine.connect() as conn:
            seeded = conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(audit_log.c.action == "demo seeded")).scalar()
        if seeded or not self.is_empty():
            return False
        self.import_ddpcr(demo_export_path().read_bytes(), demo_export_path().name, who, demo=True)
        self.import_patients((DEMO_DIR / "demo_patients.csv").read_bytes(), "demo_patients.csv", who, demo=True)
        with self.engine.begin() as conn:
            self._audit(conn, who, "demo seeded", "demo", {"note": "synthetic demo data, not patient data"})
        return True

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

    def remove_demo(self, who: str | None = None) -> DemoRemovalPlan:
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
                    conn.execute(wells.delete().where(wells.c.file_id == fid))
                    conn.execute(patients.update().where(patients.c.source_file_id == fid).values(source_file_id=None))
                    conn.execute(files.delete().where(files.c.id == fid))
                plan = DemoRemovalPlan(len(demo_files), n_wells, len(demo_only), kept_total)
                self._audit(conn, who, "delete", "demo", {"file_ids": demo_files, **plan.to_dict(),
                                                          "note": "synthetic demo removed after confirmation"})
                return plan

        return self._retry(run)

    # ------------------------------------------------------------------ reading
    def cohort(self, settings: Settings | None = None) -> tuple[Any, list]:
        """The stored patients as a validated Cohort with the stored ddPCR files' calls joined.

        ``(None, calls)`` when no patient is stored yet (an empty database is a value, not an error).
        """
        from .calls import call_export
        from .cohort import attach_ctdna, validate_patients

        settings = settings or self.get_settings()
        with self.engine.connect() as conn:
            rows = [json.loads(d) for d in conn.execute(sa.select(patients.c.data).order_by(patients.c.id)).scalars()]
        source = {"demo": "database: built-in synthetic demo", "mixed": "database: your data and the synthetic demo",
                  "real": "database", "empty": "database (empty)"}[self.demo_state()]
        all_calls = [c for e in self.exports(settings) for c in call_export(e, settings)]
        if not rows:
            return None, all_calls  # an empty database is a normal state, not an error
        raw = pd.DataFrame(rows).fillna("").astype(str)
        cohort = validate_patients(raw, source, None, settings)
        cohort = attach_ctdna(cohort, all_calls, settings)
        return cohort, all_calls

    def version(self) -> int:
        """Changes whenever anything is written (for cache keys)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(audit_log.c.id), 0))).scalar() or 0)

    def status(self) -> StoreStatus:
        with self.engine.connect() as conn:
            def count(t: sa.Table) -> int:
                return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)

            counts = (count(files), count(wells), count(patients), count(audit_log), count(calls_t))
        safe_url = self.engine.url.render_as_string(hide_password=True)
        return StoreStatus(safe_url, *counts, revision=self.revision())

    def audit(self, limit: int | None = None) -> pd.DataFrame:
        q = sa.select(audit_log).order_by(audit_log.c.id.desc())
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return pd.read_sql(q, conn)

    def files_table(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(files.c.id, files.c.kind, files.c.name, files.c.sha256, files.c.size, files.c.format,
                                         files.c.uploaded_at, files.c.uploaded_by, files.c.demo).order_by(files.c.id), conn)

    def export_all(self, directory: str | Path) -> list[Path]:
        """Every table as a formula-safe CSV in ``directory`` (file contents as SHA-256 only)."""
        from .export import to_csv_bytes

        out = Path(directory)
        try:
            out.mkdir(parents=True, exist_ok=True)
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
            path.write_bytes(to_csv_bytes(df))
            written.append(path)
        return written


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if obj != obj or obj in (float("inf"), float("-inf")) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def open_store(url: str | None = None, seed_demo: bool = True) -> Store:
    """Open (create and migrate) the store; seed the synthetic demo into a fresh database."""
    store = Store(url)
    if seed_demo:
        store.seed_demo()
    return store
