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

import os
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tdm1core.errors import InputError
from tdm1core.storage.engine import write_private
from tdm1core.storage.records import DemoRemovalPlan, ImportResult, PatientChange, PatientPreview, StoreStatus
from tdm1core.storage.schema import audit_log, calls_t, files, patients, wells

if TYPE_CHECKING:
    pass
from tdm1core.storage.engine import database_url, default_sqlite_path
from tdm1core.storage.repositories.access import AccessRepository
from tdm1core.storage.repositories.audit import AuditRepository
from tdm1core.storage.repositories.demo import DemoRepository
from tdm1core.storage.repositories.files import FilesRepository
from tdm1core.storage.repositories.patients import PatientsRepository
from tdm1core.storage.repositories.profiles import ProfilesRepository
from tdm1core.storage.repositories.releases import ReleasesRepository
from tdm1core.storage.repositories.serial import SerialRepository
from tdm1core.storage.repositories.settings import SettingsRepository
from tdm1core.storage.schema import HEAD_REVISION, metadata

__all__ = ["metadata", "Store", "DemoRemovalPlan", "ImportResult", "PatientPreview", "PatientChange", "StoreStatus",
           "database_url", "default_sqlite_path", "write_private", "HEAD_REVISION"]


class Store(SettingsRepository, FilesRepository, PatientsRepository, AuditRepository, ReleasesRepository, ProfilesRepository,
            AccessRepository, DemoRepository, SerialRepository):
    """The database: the repositories of every stored concept over one engine (see the module docstring)."""

    def status(self) -> StoreStatus:
        with self.engine.connect() as conn:
            def count(t: sa.Table) -> int:
                return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)

            counts = (count(files), count(wells), count(patients), count(audit_log), count(calls_t))
        safe_url = self.engine.url.render_as_string(hide_password=True)
        return StoreStatus(safe_url, *counts, revision=self.revision())

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
