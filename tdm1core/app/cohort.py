"""The research team's use cases: imports (all or nothing), stored calls for the settings in force, the cohort from the
database or from files, its statistics and its PDF.

Stored calls are keyed by the file and :meth:`Settings.calls_fingerprint` (the settings calls read, the target map):
:func:`cohort_view` reads them and calls only the files that have no calls for the settings in force, once.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tdm1core.errors import InputError
from tdm1core.storage.access import Action, User
from tdm1core.clinical.provenance import Provenance
from tdm1core.settings import Settings

if TYPE_CHECKING:  # reading and calling (numpy, pandas) are imported where used: a stored answer needs neither
    import pandas as pd

    from tdm1core.reading.exports import DdpcrExport

    from tdm1core.stats.cohort import Cohort
    from tdm1core.storage.store import ImportResult, PatientPreview, Store

from tdm1core.app.context import acting_user
from tdm1core.app.patient import _assess_upload

__all__ = ['import_exports', 'preview_patients', 'import_patients', 'ensure_calls', 'FileCohort', 'file_cohort', 'CohortView', 'stored_patients', 'cohort_view', 'cohort_report_pdf', 'cohort_statistics', 'file_provenance', 'ci_method_label', 'CohortCounts', 'cohort_counts', 'patient_changes']


def import_exports(store: "Store", files: "list[tuple[bytes, str]]", settings: Settings, who: "User | str | None" = None,
                   demo: bool = False) -> "list[ImportResult]":
    """Read and call every export, then store them all in one transaction. If any file is refused, the error lists
    every refused file (row and column) and nothing is stored."""
    who = acting_user(who, Action.IMPORT)
    from tdm1core.errors import DdpcrFormatError, Problem

    if demo or len(files) == 1:
        assessed = [_assess_upload(data, name, settings) for data, name in files]  # a single file's own error
        if demo:
            return [store.store_export(data, a.export, list(a.calls), settings, who, demo=True)
                    for (data, _), a in zip(files, assessed)]
        return store.store_exports([(files[0][0], assessed[0].export, list(assessed[0].calls))], settings, who)

    def items():
        """Each export read, called and handed to the store's one transaction in turn (then released); every refused
        file is listed at the end, and the error rolls the transaction back: all or nothing."""
        problems = []
        for data, name in files:
            try:
                a = _assess_upload(data, name, settings)
            except InputError as exc:
                problems.append(Problem(str(exc).replace("\n", " ")))
                continue
            if not problems:  # after a refusal nothing more is stored; the rest are only checked
                yield data, a.export, list(a.calls)
        if problems:
            raise DdpcrFormatError(f"{len(problems)} of {len(files)} file(s) were refused, so none of the {len(files)} "
                                   "was stored (a batch is all or nothing).", source="batch", problems=problems,
                                   hint="Correct or leave out the refused files and import the batch again.")

    return store.store_exports(items, settings, who)


def preview_patients(store: "Store", data: bytes, name: str, settings: Settings,
                     actor: "User | str | None" = None) -> "tuple[PatientPreview, list[dict]]":
    """Validate a patient table and compare it with what is stored (nothing is written).

    Returns the preview and the normalised rows that :func:`import_patients` stores: dates as ISO (YYYY-MM-DD) and
    IDs without invisible characters, whatever the table used, so a stored patient never depends on the
    ``date_order`` it was read with."""
    acting_user(actor, Action.IMPORT)
    from tdm1core.stats.cohort import normalised_table, read_patient_table, validate_patients

    raw = read_patient_table(data, name)
    cohort = validate_patients(raw, name, settings=settings)  # raises CohortFormatError: nothing stored
    records = normalised_table(raw, cohort).to_dict("records")
    return patient_changes(store.stored_patients(), records, name, hashlib.sha256(data).hexdigest()), records


def patient_changes(stored: "dict[str, dict]", records: "list[dict]", name: str, sha256: str) -> "PatientPreview":
    """New, changed (old → new, per column) and unchanged patients of ``records`` against the stored rows."""
    from tdm1core.storage.store import PatientChange, PatientPreview

    new, changed, same = [], [], 0
    for rec in records:
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
    return PatientPreview(name, sha256, tuple(new), tuple(changed), same)


def import_patients(store: "Store", data: bytes, name: str, settings: Settings, who: "User | str | None" = None,
                    demo: bool = False) -> "ImportResult":
    """Validate and store a patient table in one transaction (nothing on error)."""
    who = acting_user(who, Action.IMPORT)
    _, records = preview_patients(store, data, name, settings, who)
    result = store.store_patients(data, name, records, who, demo)
    if not result.duplicate:
        _stored_patients(store, settings)  # validated once here, so no page view has to
    return result


# ------------------------------------------------------------------ settings and stored calls

def ensure_calls(store: "Store", settings: Settings, chunk: int = 200, actor: "User | str | None" = None) -> int:
    """Call every stored file that has no calls for ``settings`` (researchers, who import; admins save the default
    settings through :func:`apply_settings`). Returns the number of files called."""
    acting_user(actor, Action.IMPORT)
    return _ensure_calls(store, settings, chunk)


def _ensure_calls(store: "Store", settings: Settings, chunk: int = 200) -> int:
    """Call, with ``settings``, every stored export that has no calls for them yet, and store those calls.

    Returns the number of files read (0 when everything was already called: nothing is parsed). A stored file
    that these settings cannot read is refused with the file named; nothing is stored for it."""
    todo = store.files_without_calls(settings.calls_fingerprint())
    if todo:
        import tdm1core.calling.calls as calling
        import tdm1core.reading.exports as ddpcr
    for start in range(0, len(todo), chunk):
        computed = []
        for file_id, name, data in store.file_contents(todo[start:start + chunk]):
            export = ddpcr.read_export(data, name, settings)
            computed.append((file_id, calling.call_export(export, settings)))
        store.store_calls(computed, settings)
    return len(todo)


@dataclass(frozen=True)
class FileCohort:
    """A cohort from files: the patient table with the calls of its exports (each export read and called once)."""

    cohort: "Cohort"
    calls: tuple
    exports: tuple


def file_cohort(patients: "tuple[bytes, str] | None", exports: "list[tuple[bytes, str]]", settings: Settings,
                demo: bool = False, actor: "User | str | None" = None) -> FileCohort:
    """The patient table (or, with ``demo``, the built-in synthetic one and its export) joined with the calls of
    ``exports`` (researchers). Each export is read and called once; the statistics use those same calls."""
    acting_user(actor, Action.COHORT)
    from tdm1core.calling.calls import call_export
    from tdm1core.stats.cohort import attach_ctdna, read_patient_table, validate_patients
    from tdm1core.reading.exports import read_export

    if demo:
        from tdm1core.demo import DEMO_DIR, demo_export_path

        if patients is not None or exports:
            raise InputError("the demo uses the built-in demo table and export; give either the demo or a patient "
                             "table with exports, not both.", column="--demo")
        patients = ((DEMO_DIR / "demo_patients.csv").read_bytes(), "demo_patients.csv (synthetic demo)")
        exports = [(demo_export_path().read_bytes(), demo_export_path().name)]
    if patients is None:
        raise InputError("give a patient table (CSV or XLSX) or the demo.", hint="See 'python -m tdm1core cohort --help'.")
    read = tuple(read_export(data, name, settings) for data, name in exports)
    calls = tuple(c for e in read for c in call_export(e, settings))
    data, name = patients
    cohort = validate_patients(read_patient_table(data, name), name, hashlib.sha256(data).hexdigest(), settings)
    return FileCohort(attach_ctdna(cohort, list(calls), settings), calls, read)


@dataclass(frozen=True)
class CohortView:
    """The stored patients with the stored calls for one settings hash joined (``cohort`` is None when no patient
    is stored yet: an empty database is a state, not an error)."""

    cohort: "Cohort | None"
    calls: "pd.DataFrame"
    settings: Settings
    files_called: int  # files read and called for this view (0 when every call was already stored)

    @property
    def settings_hash(self) -> str:
        return self.settings.fingerprint()


_SOURCES = {"demo": "database: built-in synthetic demo", "mixed": "database: your data and the synthetic demo",
            "real": "database", "empty": "database (empty)"}


def stored_patients(store: "Store", settings: Settings, actor: "User | str | None" = None) -> "Cohort | None":
    """The stored patients, validated and derived: read from the stored snapshot for the patients' current revision,
    else validated now and the snapshot stored (see :mod:`tdm1core.stats.cohort_snapshot`). None when none is stored."""
    acting_user(actor, Action.COHORT)
    return _stored_patients(store, settings)


def _stored_patients(store: "Store", settings: Settings) -> "Cohort | None":
    import zlib

    from tdm1core.stats.cohort import Cohort, validate_patients
    from tdm1core.stats.cohort_snapshot import decode_table, derivation_fingerprint, encode_table

    source = _SOURCES[store.demo_state()]
    revision = store.patients_revision()
    key = f"{revision}-{derivation_fingerprint()}"
    data = store.cohort_snapshot(key)
    if data is not None:
        try:
            return Cohort(decode_table(data), source, None, settings=settings)
        except (ValueError, KeyError, TypeError, zlib.error):
            pass  # a damaged snapshot is never used: the table is validated again and the snapshot replaced
    raw = store.patient_table()
    if not len(raw):
        return None
    cohort = validate_patients(raw, source, None, settings)
    if store.patients_revision() == revision:  # nobody wrote meanwhile: the snapshot matches its key
        store.save_cohort_snapshot(key, encode_table(cohort.patients))
    return cohort


@dataclass(frozen=True)
class CohortCounts:
    """What the home page shows of the stored cohort: counts, never patient-level data.

    ``with_ctdna`` counts the patients whose ctDNA sample has calls for ``settings`` (as :attr:`Cohort.n_ctdna` does
    once the cohort is viewed); ``pending_files`` are stored exports not yet called with these settings (the Cohort
    page calls them), so until then ``with_ctdna`` may be lower than the cohort's."""

    patients: int
    with_ctdna: int
    pending_files: int
    data: str  # 'demo', 'mixed', 'real' or 'empty' (Store.demo_state)
    settings: Settings


def cohort_counts(store: "Store", settings: Settings, actor: "User | str | None" = None) -> CohortCounts:
    """Counts of the stored cohort by count queries (no patient row read, nothing decoded): the home page's numbers,
    whose cost does not grow with what it does not show (clinicians, researchers, reviewers)."""
    acting_user(actor, Action.REFERENCE_COHORT)
    n, with_ctdna, pending = store.patient_counts(settings.calls_fingerprint())
    return CohortCounts(n, with_ctdna, pending, store.demo_state(), settings)


def cohort_view(store: "Store", settings: Settings, filters: "dict[str, list] | None" = None,
                actor: "User | str | None" = None, purpose: Action = Action.COHORT) -> CohortView:
    """The stored cohort with the stored calls for ``settings``; calls only the files not yet called with them.

    ``purpose`` is what the view is for: cohort statistics (researchers) or the study cohort shown beside a patient's
    result (clinicians and researchers)."""
    if purpose not in (Action.COHORT, Action.REFERENCE_COHORT):
        raise ValueError(f"a cohort view is not for {purpose.value}")
    acting_user(actor, purpose)
    return _cohort_view(store, settings, filters)


def _cohort_view(store: "Store", settings: Settings, filters: "dict[str, list] | None" = None) -> CohortView:
    from tdm1core.stats.cohort import attach_ctdna

    called = _ensure_calls(store, settings)
    calls = store.calls_table(settings.calls_fingerprint())
    patients = _stored_patients(store, settings)
    if patients is None:
        return CohortView(None, calls, settings, called)
    cohort = attach_ctdna(patients, calls, settings)
    if filters:
        cohort = cohort.filter(**filters)
    return CohortView(cohort, calls, settings, called)


def cohort_report_pdf(store: "Store | None", cohort: "Cohort", stats: Any, provenance: Provenance,
                      filters: "dict | None" = None, actor: "User | str | None" = None, pagesize: str = "A4",
                      models: Any = None) -> bytes:
    """The cohort PDF (:func:`tdm1core.reporting.report.cohort_report`), audited with the filter (researchers). It
    carries ``models`` (the Survival page's), else the hazard ratio of the Kaplan-Meier grouping with its PH check."""
    user = acting_user(actor, Action.COHORT_REPORT)
    from tdm1core.reporting.report import cohort_report

    if models is None:
        from tdm1core.stats.models import SurvivalModels, cox_by

        try:
            models = SurvivalModels(stats.km_group, cox_by(cohort, stats.km_group, (), stats.settings), None, None)
        except InputError as exc:
            models = SurvivalModels(stats.km_group, None, None, None, (f"hazard ratio: {exc}",))
    pdf = cohort_report(cohort, stats, provenance, filters, pagesize=pagesize, models=models)
    if store is not None:
        store.record_access(user, "report", "cohort", {"filters": filters or "none", "patients": cohort.n,
                                                        "report sha256": hashlib.sha256(pdf).hexdigest()})
    return pdf


def cohort_statistics(cohort: "Cohort", settings: Settings, group: str = "flag",
                      table4_columns: "tuple[str, ...]" = (), calls: Any = None, actor: "User | str | None" = None) -> Any:
    """Tables 1-4, the flag's performance, the cut-off table and Kaplan-Meier of a cohort (researchers)."""
    acting_user(actor, Action.COHORT)
    from tdm1core.stats import analyse_cohort

    return analyse_cohort(cohort, settings, group, table4_columns, calls=calls)


def file_provenance(cohort: "Cohort", exports: "list[DdpcrExport]") -> Provenance:
    """The provenance of a cohort made from files: the patient table and every export, each with its SHA-256."""
    return Provenance(cohort.source, cohort.sha256, ", ".join(f"{e.name} (SHA-256 {e.sha256})" for e in exports))


def ci_method_label(method: str) -> str:
    """How a Kaplan-Meier median's confidence interval is computed, in words (as R's survfit conf.type)."""
    from tdm1core.stats.survival import CI_METHOD_LABELS

    return CI_METHOD_LABELS[method]
