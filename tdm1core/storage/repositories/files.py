"""ddPCR files as received, their wells, and their calls per calls fingerprint."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Callable, Iterable

import sqlalchemy as sa

from tdm1core.jsontext import json_safe
from tdm1core.settings import Settings
from tdm1core.storage.engine import Engine, utc_now
from tdm1core.storage.records import ImportResult
from tdm1core.storage.schema import (CALL_COLUMNS, WELL_COLUMNS, call_sets, calls_t, files, hotspot_calls, patients,
                                     wells)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FilesRepository"]


class FilesRepository(Engine):
    """ddPCR files as received, their wells, and their calls per calls fingerprint."""

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
        records = [dict(zip(WELL_COLUMNS, row)) for row in zip(*(w[c].tolist() for c in WELL_COLUMNS))]
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

    def _insert_call_set(self, conn: Any, file_id: int, sample_calls: Iterable[Any], settings: Settings) -> int:
        """The calls of one file for one settings hash, and the row that says they are complete."""
        from tdm1core.calling.calls import call_row

        h = settings.calls_fingerprint()
        now = utc_now()
        sample_calls = list(sample_calls)
        rows = []
        for c in sample_calls:
            rec = call_row(c)
            row = {col: json_safe(rec.get(key)) for col, key in CALL_COLUMNS.items()}
            row.update(file_id=file_id, settings_hash=h, computed_at=now,
                       result=json.dumps(json_safe(c.to_dict()), ensure_ascii=False))
            rows.append(row)
        conn.execute(call_sets.insert().values(file_id=file_id, settings_hash=h, samples=len(rows), computed_at=now,
                                               settings=json.dumps(settings.to_dict(), sort_keys=True)))
        self._calls_changed(conn)
        if rows:
            ids = conn.execute(calls_t.insert().returning(calls_t.c.id, sort_by_parameter_order=True), rows).scalars()
            values = [{"call_id": call_id, "hotspot": hs.hotspot, "mutant_copies": json_safe(hs.mutant_copies),
                       "wildtype_copies": json_safe(hs.wildtype_copies), "call": hs.call,
                       "mutant_ci_low": json_safe(hs.mutant_ci.low) if hs.mutant_ci else None,
                       "mutant_ci_high": json_safe(hs.mutant_ci.high) if hs.mutant_ci else None,
                       "detectable_vaf_95": json_safe(hs.detectable_vaf_95),
                       "genome_equivalents": json_safe(hs.genome_equivalents)}
                      for call_id, c in zip(ids, sample_calls) for hs in c.pik3ca.hotspots]
            if values:
                conn.execute(hotspot_calls.insert(), values)
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
        h = settings.calls_fingerprint()

        def run() -> int:
            with self.engine.begin() as conn:
                done = set(conn.execute(sa.select(call_sets.c.file_id).where(
                    call_sets.c.settings_hash == h, call_sets.c.file_id.in_([f for f, _ in computed]))).scalars())
                present = set(conn.execute(sa.select(files.c.id).where(files.c.id.in_([f for f, _ in computed]))).scalars())
                return sum(self._insert_call_set(conn, fid, calls, settings) for fid, calls in computed
                           if fid not in done and fid in present)

        return self._retry(run) if computed else 0

    def calls_table(self, calls_fingerprint: str) -> pd.DataFrame:
        """The stored calls for these settings (:meth:`Settings.calls_fingerprint`), in
        :func:`tdm1core.calling.calls.calls_table`'s shape (oldest file first): one column pair per hotspot of the
        panel, from the hotspot rows."""
        import pandas as pd

        from tdm1core.calling.calls import CALL_TABLE_COLUMNS
        from tdm1core.panel import HOTSPOTS

        cols = [calls_t.c.id, *(calls_t.c[c].label(key) for c, key in CALL_COLUMNS.items())]
        mine = calls_t.c.settings_hash == calls_fingerprint
        q = sa.select(*cols).where(mine).order_by(calls_t.c.file_id, calls_t.c.id)
        hq = (sa.select(hotspot_calls.c.call_id, hotspot_calls.c.hotspot, hotspot_calls.c.mutant_copies,
                        hotspot_calls.c.wildtype_copies).join(calls_t, calls_t.c.id == hotspot_calls.c.call_id).where(mine))
        with self.engine.connect() as conn:  # plain driver rows: a registry has 100,000 calls and 300,000 hotspot rows
            df = pd.DataFrame(_driver_rows(conn, q), columns=["id", *CALL_COLUMNS.values()])
            hs = pd.DataFrame(_driver_rows(conn, hq), columns=["call_id", "hotspot", "mutant", "wildtype"])
        for c in ("her2_borderline", "pik3ca_any_mutant"):  # SQLite returns 0/1: the same True/False/None everywhere
            df[c] = pd.Series([None if v is None or v != v else bool(v) for v in df[c].tolist()], index=df.index,
                              dtype=object)
        for name in HOTSPOTS:
            one = hs[hs["hotspot"] == name].set_index("call_id")
            df[f"{name} MUT"] = df["id"].map(one["mutant"]).astype(float)
            df[f"{name} WT"] = df["id"].map(one["wildtype"]).astype(float)
        return df[list(CALL_TABLE_COLUMNS)]

    def stored_calls(self) -> pd.DataFrame:
        """Every stored call (all settings), with its file and settings hash."""
        import pandas as pd

        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(calls_t.c.file_id, calls_t.c.sample, calls_t.c.her2_ratio, calls_t.c.her2_call,
                                         calls_t.c.her2_borderline, calls_t.c.pik3ca_any_mutant, calls_t.c.settings_hash,
                                         calls_t.c.computed_at).order_by(calls_t.c.id), conn)

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

    def files_table(self) -> pd.DataFrame:
        import pandas as pd

        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(files.c.id, files.c.kind, files.c.name, files.c.sha256, files.c.size, files.c.format,
                                         files.c.uploaded_at, files.c.uploaded_by, files.c.demo).order_by(files.c.id), conn)


def _driver_rows(conn: Any, stmt: Any) -> list[tuple]:
    """The rows of a SELECT as the database driver returns them (tuples, no per-row SQLAlchemy processing): several
    times faster for the 100,000s of rows of a registry. Only for columns whose driver values need no conversion
    (text, numbers; booleans are converted by the caller)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if compiled.positiontup is not None:  # qmark / numeric paramstyles (SQLite)
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        return cursor.fetchall()
    finally:
        cursor.close()
