"""The audit log: every change and every view of patient data, by whom."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tdm1core.storage.engine import Engine
from tdm1core.storage.schema import audit_log

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AuditRepository"]


class AuditRepository(Engine):
    """The audit log: every change and every view of patient data, by whom."""

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

    def audit(self, limit: int | None = None) -> pd.DataFrame:
        import pandas as pd

        q = sa.select(audit_log).order_by(audit_log.c.id.desc())
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return pd.read_sql(q, conn)
