"""Use cases of serial ctDNA monitoring: each patient's samples over time on T-DM1, classed by a named rule set
(:mod:`tdm1core.stats.monitoring`), from a sample table, the ddPCR exports and an optional events table; the
timeline's PDF. Clinicians, reviewers and research teams."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tdm1core.app.context import acting_user
from tdm1core.errors import InputError
from tdm1core.settings import Settings
from tdm1core.storage.access import Action

if TYPE_CHECKING:
    from tdm1core.stats.monitoring import Timeline
    from tdm1core.storage.access import User
    from tdm1core.storage.store import Store

__all__ = ["import_demo_series", "patient_timeline", "monitor_files", "monitor_stored", "import_serial_tables", "timeline_pdf", "monitoring_summary", "timeline_dicts",
           "MonitoringInputs"]


class MonitoringInputs:
    """The files a timeline is made from, with their SHA-256 (stamped on every output)."""

    def __init__(self, files: "list[tuple[bytes, str]]") -> None:
        import hashlib

        self.files = tuple((name, hashlib.sha256(data).hexdigest()) for data, name in files)

    def lines(self) -> list[str]:
        return [f"Input: {name} (SHA-256 {digest})" for name, digest in self.files]


def monitor_files(samples: "tuple[bytes, str]", exports: "list[tuple[bytes, str]]",
                  events: "tuple[bytes, str] | None", settings: Settings, patient: str | None = None,
                  actor: "User | str | None" = None) -> "list[Timeline]":
    """Every patient's (or one patient's) timeline from the files (clinicians, reviewers, research teams); any file
    with a problem is refused whole, with its rows and columns."""
    acting_user(actor, Action.MONITORING)
    from tdm1core.reading.exports import read_export
    from tdm1core.stats.monitoring import calls_by_sample, timelines
    from tdm1core.stats.serial_tables import read_events, read_samples

    if not exports:
        raise InputError("give the ddPCR exports that measured the samples.", column="--ddpcr",
                         hint="One or more results exports (CSV, TXT or XLSX).")
    rows = read_samples(samples[0], samples[1], settings)
    evs = read_events(events[0], events[1], settings) if events is not None else ()
    calls = calls_by_sample([read_export(data, name, settings) for data, name in exports], settings)
    return timelines(rows, evs, calls, settings, patient)


def timeline_pdf(timeline: "Timeline", inputs: Any, actor: "User | str | None" = None) -> bytes:
    """The timeline as a PDF page (the figure, the table of timepoints, the rule set, the inputs' SHA-256)."""
    acting_user(actor, Action.MONITORING)
    from tdm1core.reporting.report import monitoring_report

    return monitoring_report(timeline, inputs.lines() if inputs is not None else [])


def monitoring_summary(found: "list[Timeline]", landmark_days: int, settings: Settings,
                       actor: "User | str | None" = None) -> Any:
    """Across the patients: lead times, and Kaplan-Meier TTP by molecular response at a landmark (research teams,
    clinicians, reviewers; :func:`tdm1core.stats.monitoring.monitoring_cohort`)."""
    acting_user(actor, Action.MONITORING)
    from tdm1core.stats.monitoring import monitoring_cohort

    if landmark_days < 1:
        raise InputError("the landmark must be a day after baseline (1 or more).", column="landmark")
    return monitoring_cohort(found, landmark_days, settings)


def import_serial_tables(store: "Store", samples: "tuple[bytes, str] | None", events: "tuple[bytes, str] | None",
                         settings: Settings, who: "User | str | None" = None) -> tuple[int, int]:
    """Validate and store a sample table and/or an events table (research teams; all or nothing, audited): samples
    by sample ID, and the events of each patient the events table lists."""
    user = acting_user(who, Action.IMPORT)
    from tdm1core.stats.serial_tables import read_events, read_samples

    if samples is None and events is None:
        raise InputError("give a sample table, an events table or both.", column="--samples")
    rows = read_samples(samples[0], samples[1], settings) if samples is not None else ()
    evs = read_events(events[0], events[1], settings) if events is not None else ()
    source = ", ".join(x[1] for x in (samples, events) if x is not None)
    return store.import_serial(rows, evs, source, user)


def import_demo_series(store: "Store", settings: Settings, who: "User | str | None" = None) -> tuple[int, int]:
    """Store the SYNTHETIC demo series (its export, sample table and events table), marked as demo data so that
    removing the demo removes it (research teams; audited; both tables validated before anything is stored)."""
    user = acting_user(who, Action.IMPORT)
    from tdm1core.app.cohort import import_exports
    from tdm1core.demo import demo_series_paths
    from tdm1core.stats.serial_tables import read_events, read_samples

    samples, export, events = demo_series_paths()
    rows, evs = read_samples(samples.read_bytes(), samples.name, settings), read_events(events.read_bytes(), events.name, settings)
    import_exports(store, [(export.read_bytes(), export.name)], settings, user, demo=True)
    return store.import_serial(rows, evs, f"{samples.name}, {events.name} (SYNTHETIC demo series)", user, demo=True)


def _stored_export(head: dict, rows: list[dict], settings: Settings) -> Any:
    import pandas as pd

    from tdm1core.reading.exports import WELL_COLUMNS, DdpcrExport
    from tdm1core.reading.layouts import FORMAT_QS_OLD

    volume = settings.legacy_droplet_volume_nl if head.get("format") == FORMAT_QS_OLD else settings.droplet_volume_nl
    frame = pd.DataFrame([{c: r.get(c) for c in WELL_COLUMNS} for r in rows], columns=WELL_COLUMNS)
    frame["volume_nl"] = volume
    frame["warnings"] = frame["warnings"].fillna("")
    frame["merged_members"] = frame["merged_members"].fillna("")
    return DdpcrExport(head["name"], head["sha256"], head.get("format") or "stored", "n/a", "n/a", ",", volume, None, frame)


def monitor_stored(store: "Store", settings: Settings, patient: str | None = None,
                   actor: "User | str | None" = None) -> "list[Timeline]":
    """The timelines of the stored samples (clinicians, reviewers, research teams). A sample on one stored export
    reads that export's stored calls for the settings in force (made at import, or now); a sample on several is
    pooled from the wells of every export that measured it and called, as for files."""
    acting_user(actor, Action.MONITORING)
    from tdm1core._bulk import no_cycle_collection
    from tdm1core.app.cohort import _ensure_calls
    from tdm1core.stats.monitoring import StoredLevels, calls_by_sample, timelines

    samples, events = store.serial_rows(patient)
    if not samples:
        raise InputError("the database holds no serial-monitoring samples" + (f" for patient {patient!r}" if patient else "")
                         + ".", source="database", hint="Import a sample table (Monitoring page, or import monitoring).")
    _ensure_calls(store, settings)  # every stored export called with the settings calls read
    with no_cycle_collection():  # a registry's 180,000 stored hotspot rows become as many levels
        ids = [s.sample_id for s in samples]
        stored = store.stored_levels(ids, settings.calls_fingerprint())
        calls: dict[str, Any] = {sid: StoredLevels(rs[0][1], rs[0][2]) for sid, rs in stored.items() if len(rs) == 1}
        several = [sid for sid, rs in stored.items() if len(rs) > 1]
        if several:
            plates = store.plates_of_samples(several)
            pooled = calls_by_sample([_stored_export(h, rows, settings) for h, rows in plates], settings)
            calls.update({sid: pooled[sid] for sid in several if sid in pooled})
        return timelines(samples, events, calls, settings, patient)


def timeline_dicts(found: "list[Timeline]") -> list[dict[str, Any]]:
    """The timelines as the command line's JSON contract has them (10,000 at once: no cycle-collector passes)."""
    from tdm1core._bulk import no_cycle_collection

    with no_cycle_collection():
        return [t.to_dict() for t in found]


def patient_timeline(store: "Store", settings: Settings, patient_id: str | None,
                     actor: "User | str | None" = None) -> "Timeline | None":
    """The stored serial-monitoring timeline of one patient, for the patient's result page, PDF and release; None
    when the database holds no serial sample of the patient (clinicians, reviewers, research teams)."""
    acting_user(actor, Action.MONITORING)
    if not patient_id or not store.serial_rows(patient_id)[0]:
        return None
    found = monitor_stored(store, settings, patient_id, actor)
    return found[0] if found and found[0].timepoints else None
