"""Released reports: one row per version, never changed."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

import sqlalchemy as sa

from tdm1core.storage.engine import Engine, utc_now
from tdm1core.storage.schema import released_reports

if TYPE_CHECKING:
    pass

__all__ = ["ReleasesRepository"]


class ReleasesRepository(Engine):
    """Released reports: one row per version, never changed."""

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
                    released_at=utc_now(), reviewer=s.reviewer, content_sha256=report.content_sha256,
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
