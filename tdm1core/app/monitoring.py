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

__all__ = ["monitor_files", "timeline_pdf", "monitoring_summary", "MonitoringInputs"]


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
