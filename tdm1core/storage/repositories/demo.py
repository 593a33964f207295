"""The built-in synthetic demo: whether it is there, and removing it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tdm1core.storage.engine import Engine
from tdm1core.storage.records import DemoRemovalPlan
from tdm1core.storage.schema import audit_log, call_sets, calls_t, files, patients, serial_events, serial_samples, wells

if TYPE_CHECKING:
    pass

__all__ = ["DemoRepository"]

_DEMO_FILES = sa.exists().where(files.c.demo == sa.true())  # a synthetic demo file is stored


class DemoRepository(Engine):
    """The built-in synthetic demo: whether it is there, and removing it."""

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

    def has_demo(self) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(sa.select(_DEMO_FILES)).scalar())

    def demo_state(self) -> str:
        """'demo' (only the synthetic demo), 'mixed', 'real' or 'empty'.

        One statement of three EXISTS tests (every page run asks, for the sidebar and the banner): it stops at the
        first row of each kind, so it does not grow with the registry as counting its rows did."""
        real = sa.or_(sa.exists().where(files.c.demo == sa.false()), sa.exists().where(patients.c.demo == sa.false()))
        with self.engine.connect() as conn:
            has_demo, has_real = conn.execute(sa.select(_DEMO_FILES.label("demo"), real.label("real"))).one()
        if has_demo and has_real:
            return "mixed"
        return "demo" if has_demo else ("real" if has_real else "empty")

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

    @staticmethod
    def _demo_serial(conn: Any) -> int:
        return int(conn.execute(sa.select(sa.func.count()).select_from(serial_samples)
                                .where(serial_samples.c.demo == sa.true())).scalar() or 0)

    def demo_removal_plan(self) -> DemoRemovalPlan:
        """What :meth:`remove_demo` would delete now (nothing is changed), for the confirmation."""
        with self.engine.connect() as conn:
            demo_files, demo_only, n_wells, kept = self._demo_rows(conn)
            series = self._demo_serial(conn)
        return DemoRemovalPlan(len(demo_files), n_wells, len(demo_only), kept, series)

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
                series = self._demo_serial(conn)
                conn.execute(serial_samples.delete().where(serial_samples.c.demo == sa.true()))
                conn.execute(serial_events.delete().where(serial_events.c.demo == sa.true()))
                self._patients_changed(conn)
                self._calls_changed(conn)
                plan = DemoRemovalPlan(len(demo_files), n_wells, len(demo_only), kept_total, series)
                self._audit(conn, who, "delete", "demo", {"file_ids": demo_files, **plan.to_dict(),
                                                          "note": "synthetic demo removed after confirmation"})
                return plan

        return self._retry(run)
