"""The patient table: imports with preview, links to samples, deletions, snapshots."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tdm1core.storage.engine import Engine, utc_now
from tdm1core.storage.records import ImportResult
from tdm1core.storage.schema import call_sets, calls_t, cohort_snapshots, files, patients

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PatientsRepository"]


class PatientsRepository(Engine):
    """The patient table: imports with preview, links to samples, deletions, snapshots."""

    # ------------------------------------------------------------------ patients
    def stored_patients(self) -> dict[str, dict[str, str]]:
        """Patient ID → the stored row (as imported, normalised)."""
        with self.engine.connect() as conn:
            return self._stored_patients(conn)

    def _stored_patients(self, conn: Any) -> dict[str, dict[str, str]]:
        return {r.patient_id: json.loads(r.data) for r in conn.execute(sa.select(patients.c.patient_id, patients.c.data))}

    def patient_counts(self, calls_fingerprint: str) -> tuple[int, int, int]:
        """(patients stored, those whose ctDNA sample has calls for these settings, ddPCR files without such calls):
        three count queries, so a page that shows only these numbers does not load the cohort."""
        as_json = sa.type_coerce if self.engine.dialect.name == "sqlite" else sa.cast  # SQLite's JSON is text already
        sample = sa.func.trim(as_json(patients.c.data, sa.JSON)["ctdna_sample_id"].as_string())
        called = sa.select(sa.func.trim(calls_t.c.sample)).where(calls_t.c.settings_hash == calls_fingerprint)
        done = sa.select(call_sets.c.file_id).where(call_sets.c.settings_hash == calls_fingerprint)
        with self.engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(patients)).scalar() or 0
            with_ctdna = conn.execute(sa.select(sa.func.count()).select_from(patients).where(sample.in_(called))).scalar() or 0
            pending = conn.execute(sa.select(sa.func.count()).select_from(files).where(
                files.c.kind == "ddpcr", files.c.id.not_in(done))).scalar() or 0
        return int(n), int(with_ctdna), int(pending)

    def patient_rows(self) -> list[dict[str, str]]:
        """The stored patients' rows, in the order they were first stored."""
        with self.engine.connect() as conn:
            data = list(conn.execute(sa.select(patients.c.data).order_by(patients.c.id)).scalars())
        return json.loads("[" + ",".join(data) + "]") if data else []  # one parse, not one per patient

    def cohort_snapshot(self, revision: str) -> bytes | None:
        """The stored snapshot for this key, if any: the validated patient table (keyed by the patients' revision)
        or, under a key starting ``statistics:``, the cohort's statistics (see :mod:`tdm1core.stored_statistics`)."""
        with self.engine.connect() as conn:
            data = conn.execute(sa.select(cohort_snapshots.c.data).where(cohort_snapshots.c.revision == revision)).scalar()
        return bytes(data) if data is not None else None

    def cohort_snapshots(self, keys: "list[str]") -> dict[str, bytes]:
        """The stored snapshots of these keys that exist (one query)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(cohort_snapshots.c.revision, cohort_snapshots.c.data)
                                .where(cohort_snapshots.c.revision.in_(list(keys)))).all()
        return {r.revision: bytes(r.data) for r in rows}

    def save_statistics_sections(self, sections: dict[str, bytes], keep: int) -> None:
        """Store the sections of one answer (keys ``statistics:…``) in one transaction, so a reader sees all of them
        or none, and keep the newest ``keep`` answers' rows (a row set split by a concurrent writer reads as missing
        and is computed again, never mixed)."""
        statistics = cohort_snapshots.c.revision.like("statistics:%")

        def run() -> None:
            with self.engine.begin() as conn:
                there = set(conn.execute(sa.select(cohort_snapshots.c.revision).where(
                    cohort_snapshots.c.revision.in_(list(sections)))).scalars())
                if there == set(sections):
                    return
                conn.execute(cohort_snapshots.delete().where(cohort_snapshots.c.revision.in_(list(there))))
                kept = list(conn.execute(sa.select(cohort_snapshots.c.id).where(statistics).order_by(
                    cohort_snapshots.c.id.desc()).limit(max(0, (keep - 1) * len(sections)))).scalars())
                conn.execute(cohort_snapshots.delete().where(statistics, cohort_snapshots.c.id.not_in(kept)))
                now = utc_now()
                conn.execute(cohort_snapshots.insert(), [{"revision": k, "data": v, "created_at": now}
                                                         for k, v in sections.items()])

        self._retry(run)

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
                conn.execute(cohort_snapshots.insert().values(revision=revision, data=data, created_at=utc_now()))

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
                       demo: bool = False, file_format: str = "patient table", provenance: dict | None = None,
                       events: Any = ()) -> ImportResult:
        """Store a validated, normalised patient table (``records``) and the file it came from in one transaction;
        changed patients keep their old values in the audit log. ``events`` (serial-monitoring event rows) replace
        the stored events of the patients they name, in the same transaction; ``provenance`` joins the audit entry."""
        sha = hashlib.sha256(data).hexdigest()

        def run() -> ImportResult:
            with self.engine.begin() as conn:
                file_id, duplicate = self._store_file(conn, "patients", name, sha, data, file_format, who, demo)
                if duplicate is not None or file_id is None:
                    return duplicate or ImportResult("patients", name, sha, None, True, "not stored")
                stored = self._stored_patients(conn)
                now = utc_now()
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
                if events:
                    self._replace_events(conn, events, name, now, demo)
                self._audit(conn, who, "import", f"patient file {file_id}",
                            {"name": name, "sha256": sha, "new": len(inserts), "changed": changes, "unchanged": unchanged,
                             **({"events": len(events)} if events else {}), **(provenance or {})})
                return ImportResult("patients", name, sha, file_id, False,
                                    f"Stored '{name}': {len(inserts)} new, {len(changes)} changed, {unchanged} unchanged patient(s).",
                                    {"new": len(inserts), "changed": len(changes), "unchanged": unchanged})

        return self._retry(run)

    def _replace_events(self, conn: Any, events: Any, source: str, now: Any, demo: bool) -> None:
        from tdm1core.storage.schema import serial_events

        named = sorted({e.patient_id for e in events})
        for start in range(0, len(named), 500):
            conn.execute(serial_events.delete().where(serial_events.c.patient_id.in_(named[start:start + 500])))
        conn.execute(serial_events.insert(), [
            {"patient_id": e.patient_id, "event_date": e.event_date, "event_type": e.event_type, "detail": e.detail,
             "source": source, "updated_at": now, "demo": demo} for e in events])

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
                             .values(data=json.dumps(rec, ensure_ascii=False), updated_at=utc_now()))
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
