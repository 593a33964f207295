"""Serial monitoring's tables: a patient's samples (by sample ID, linked to the stored exports) and events."""
from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa

from tdm1core.storage.engine import Engine, utc_now
from tdm1core.storage.schema import calls_t, files, hotspot_calls, serial_events, serial_samples, wells

__all__ = ["SerialRepository"]


class SerialRepository(Engine):
    """Samples are kept by sample ID (a sample imported again is updated); an events table replaces the events of the
    patients it lists (the file is the record of those patients' treatments and imaging). Each import is one
    transaction, audited."""

    def import_serial(self, samples: Sequence[Any], events: Sequence[Any], source: str, who: Any = None,
                      demo: bool = False) -> tuple[int, int]:
        """Store validated sample and event rows (tdm1core.stats.serial_tables); (samples, events) stored."""
        now = utc_now()

        def run() -> tuple[int, int]:
            with self.engine.begin() as conn:
                ids = [s.sample_id for s in samples]
                if ids:
                    conn.execute(serial_samples.delete().where(serial_samples.c.sample_id.in_(ids)))
                    conn.execute(serial_samples.insert(), [
                        {"patient_id": s.patient_id, "sample_id": s.sample_id, "collection_date": s.collection_date,
                         "plasma_ml": s.plasma_ml, "eluate_ul": s.eluate_ul, "template_ul": s.template_ul,
                         "source": source, "updated_at": now, "demo": demo} for s in samples])
                patients = sorted({e.patient_id for e in events})
                if patients:
                    conn.execute(serial_events.delete().where(serial_events.c.patient_id.in_(patients)))
                    conn.execute(serial_events.insert(), [
                        {"patient_id": e.patient_id, "event_date": e.event_date, "event_type": e.event_type,
                         "detail": e.detail, "source": source, "updated_at": now, "demo": demo} for e in events])
                self._audit(conn, who, "import serial monitoring", source,
                            {"samples": len(samples), "events": len(events), "patients with events": len(patients)})
                return len(samples), len(events)

        return self._retry(run)

    def serial_rows(self, patient: str | None = None) -> tuple[list[Any], list[Any]]:
        """The stored sample and event rows (one patient's, or every patient's)."""
        from tdm1core.stats.serial_tables import EventRow, SampleRow

        qs, qe = sa.select(serial_samples), sa.select(serial_events)
        if patient is not None:
            qs, qe = qs.where(serial_samples.c.patient_id == patient), qe.where(serial_events.c.patient_id == patient)
        s, e = serial_samples.c, serial_events.c
        qs = qs.with_only_columns(s.patient_id, s.sample_id, s.collection_date, s.plasma_ml, s.eluate_ul, s.template_ul)
        qe = qe.with_only_columns(e.patient_id, e.event_date, e.event_type, e.detail)
        with self.engine.connect() as conn:  # plain tuples: a registry has 60,000 samples
            samples = [SampleRow(*row) for row in conn.execute(qs.order_by(s.id)).tuples()]
            events = [EventRow(*row) for row in conn.execute(qe.order_by(e.id)).tuples()]
        return samples, events

    def plates_of_samples(self, sample_ids: Sequence[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Every stored export that measured one of these samples: (its file record, all its wells, controls too)."""
        ids = list(sample_ids)
        file_ids: set[int] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                chunk = ids[start:start + 900]
                file_ids |= set(conn.execute(sa.select(wells.c.file_id).where(wells.c.sample.in_(chunk)).distinct()).scalars())
            out: dict[int, list[dict[str, Any]]] = {}
            fids = sorted(file_ids)
            heads: dict[int, dict[str, Any]] = {}
            for start in range(0, len(fids), 900):
                block = fids[start:start + 900]
                for r in conn.execute(sa.select(files.c.id, files.c.name, files.c.sha256, files.c.format)
                                      .where(files.c.id.in_(block))):
                    heads[r.id] = dict(r._mapping)
                for r in conn.execute(sa.select(wells).where(wells.c.file_id.in_(block)).order_by(wells.c.id)):
                    out.setdefault(r.file_id, []).append(dict(r._mapping))
        return [(heads[f], out.get(f, [])) for f in fids]

    def stored_levels(self, sample_ids: Sequence[str], calls_fingerprint: str) -> dict[str, list[tuple]]:
        """Per sample, one entry per stored file that called it (under the settings calls read), in the order stored:
        (call id, HER2 ratio, {hotspot: (mutant, ci low, ci high, call, detectable VAF, genome equivalents)}), from the
        columns, not the JSON. A few samples (one patient's) are read by sample (index ix_calls_sample_settings); a
        registry's are read in one pass over the calls of the fingerprint."""
        wanted = set(sample_ids)
        h, c = hotspot_calls.c, calls_t.c
        query = (sa.select(c.id, c.sample, c.her2_ratio, h.hotspot, h.mutant_copies, h.mutant_ci_low, h.mutant_ci_high,
                           h.call, h.detectable_vaf_95, h.genome_equivalents)
                 .join(hotspot_calls, h.call_id == c.id).where(c.settings_hash == calls_fingerprint).order_by(c.id))
        if len(wanted) <= 900:  # SQLite's bound-parameter limit
            query = query.where(c.sample.in_(sorted(wanted)))
        by_call: dict[int, tuple[str, Any, dict]] = {}
        with self.engine.connect() as conn:
            for cid, sample, ratio, hotspot, *values in conn.execute(query):
                if sample in wanted:
                    by_call.setdefault(cid, (sample, ratio, {}))[2][hotspot] = tuple(values)
        out: dict[str, list[tuple]] = {}
        for cid, (sample, ratio, spots) in by_call.items():  # dicts keep the order of the query
            out.setdefault(sample, []).append((cid, ratio, spots))
        return out
