"""Use cases: from an upload (or typed numbers) to a result, a report and a stored row; from the store to a cohort.

Pages and the command line call these, always passing the settings explicitly, so that what is shown,
downloaded and stored is one computation. The flow goes one way: read (:mod:`ddpcr`, :mod:`cohort`) → call
(:mod:`calls`) → assess (:mod:`risk`) → store (:mod:`store`, which never reads a file or makes a call).

Stored calls are keyed by the file and :meth:`Settings.calls_fingerprint` (the settings calls read, the target map):
:func:`cohort_view` reads them and calls only the files that have no calls for the settings in force, once.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tdm1core._version import __version__
from tdm1core.errors import InputError
from tdm1core.storage.access import SYSTEM, Action, User, authorize, local_user
from tdm1core.clinical.provenance import Provenance, mapped_targets
from tdm1core.settings import Settings

if TYPE_CHECKING:  # reading and calling (numpy, pandas) are imported where used: a stored answer needs neither
    import pandas as pd

    from tdm1core.calling.calls import ManualEntry, SampleCalls
    from tdm1core.reading.exports import DdpcrExport
    from tdm1core.reading.plate import PlateClassification
    from tdm1core.clinical.risk import PatientResult
    from tdm1core.reading.thresholds import DropletThresholds

    from tdm1core.stats.cohort import Cohort
    from tdm1core.storage.store import ImportResult, PatientPreview, Store

__all__ = ["FileCohort", "file_cohort", "SettingsInForce", "settings_in_force", "acting_user", "link_sample", "release_result", "release_digest", "released_reports", "released_pdf", "validate_limits", "save_profile", "cutoff_profiles", "delete_patient", "delete_file", "remove_demo", "save_default_thresholds", "set_user_roles",
           "read_audit_log", "stored_files", "patient_report_pdf", "cohort_report_pdf", "record_view", "UploadAssessment", "assess_upload", "assess_droplets", "assess_manual", "patient_result", "save_result", "is_demo_export",
           "settings_hash", "import_exports", "preview_patients", "import_patients", "apply_settings", "ensure_calls",
           "CohortView", "cohort_view", "stored_patients", "cohort_statistics_json", "code_fingerprint", "seed_demo", "open_store",
           "command_line_user", "settings_with_profile", "cohort_statistics", "file_provenance", "released_files", "database_status",
           "export_database", "roles_table", "set_roles_from_command_line", "demo_removal_plan", "refresh_statistics",
           "write_demo_files", "limits_text", "ci_method_label", "__version__"]


def acting_user(who: "User | str | None", action: Action) -> User:
    """The user acting, checked for ``action`` (:func:`tdm1core.storage.access.authorize`): a signed-in or local
    :class:`User`, or a name (the local user in single-user mode). Every use case below starts here."""
    user = who if isinstance(who, User) else local_user(who)
    return authorize(user, action)


@dataclass(frozen=True)
class SettingsInForce:
    """The settings a result is made with, and where they came from (printed with every result)."""

    settings: Settings
    origin: str


def settings_in_force(db: str | None = None, changes: "dict[str, Any] | None" = None,
                      base: Settings | None = None, base_origin: str = "") -> SettingsInForce:
    """The one rule, for the page and the command line alike: the database's saved settings where there is a
    database (``db``, TDM1_DATABASE_URL, or the embedded SQLite file when it exists), else the study's defaults;
    then ``changes`` (options, or a profile given as ``base``) override. A missing database is never created here."""
    import os
    from dataclasses import replace

    from tdm1core.settings import DEFAULT_SETTINGS
    from tdm1core.storage.store import default_sqlite_path

    if base is not None:
        settings, origin = base, base_origin or "given"
    elif db or os.environ.get("TDM1_DATABASE_URL") or default_sqlite_path().is_file():
        from tdm1core.storage.store import Store

        settings = Store(db).saved_settings()
        origin = ("the database's saved settings" if settings != DEFAULT_SETTINGS
                  else "the study's defaults (the database has no saved settings)")
    else:
        settings, origin = DEFAULT_SETTINGS, "the study's defaults (no database)"
    if changes:
        settings = replace(settings, **changes)
        origin += "; changed here: " + ", ".join(f"{k}={v!r}" if not isinstance(v, tuple) else f"{k}" for k, v in changes.items())
    return SettingsInForce(settings, origin)


def settings_hash(settings: Settings) -> str:
    """A short hash of the settings and target map (stamped on stored results and audit entries)."""
    return settings.fingerprint()


def is_demo_export(sha256: str) -> bool:
    """True when the bytes are the built-in synthetic demo export."""
    return sha256 == _demo_sha256()


@functools.lru_cache(maxsize=1)
def _demo_sha256() -> str:
    from tdm1core.demo import demo_export_path

    return hashlib.sha256(demo_export_path().read_bytes()).hexdigest()


@dataclass(frozen=True)
class UploadAssessment:
    """A read export with the calls of every sample, and the provenance every output carries."""

    export: DdpcrExport
    calls: tuple[SampleCalls, ...]
    provenance: Provenance
    settings: Settings
    data: bytes = b""

    @property
    def samples(self) -> list[str]:
        return [c.sample for c in self.calls]

    def sample(self, name: str) -> SampleCalls:
        for c in self.calls:
            if c.sample == name:
                return c
        raise InputError(f"sample {name!r} is not in the export; its samples are {', '.join(self.samples)}.",
                         source=self.export.name, column="Sample", hint="Pick one of the samples listed.")


def assess_upload(data: bytes, name: str, settings: Settings, actor: "User | str | None" = None) -> UploadAssessment:
    """Read an export and call every sample with ``settings`` (clinicians and reviewers; raises :class:`InputError`)."""
    acting_user(actor, Action.PATIENT_RESULT)
    return _assess_upload(data, name, settings)


def _assess_upload(data: bytes, name: str, settings: Settings) -> UploadAssessment:
    """The reading and calling behind :func:`assess_upload` and the imports (which check their own role)."""
    import tdm1core.calling.calls as calling
    import tdm1core.reading.exports as ddpcr

    export = ddpcr.read_export(data, name, settings)
    calls = tuple(calling.call_export(export, settings))
    tmap = tuple(str(m) for m in mapped_targets(export, settings))
    prov = Provenance(export.name, export.sha256, export.format, demo=is_demo_export(export.sha256),
                      droplet_volume_nl=export.volume_nl, target_map=tmap)
    return UploadAssessment(export, calls, prov, settings, data)


def assess_droplets(files: "list[tuple[bytes, str]]", settings: Settings,
                    thresholds: "DropletThresholds", actor: "User | str | None" = None) -> "tuple[UploadAssessment, PlateClassification]":
    """Read a plate of droplet files (a zip, a folder's files, with the results export or sample sheet), classify
    its droplets with ``thresholds``, and call every sample through the unchanged pipeline."""
    acting_user(actor, Action.REVIEW_DROPLETS)
    import tdm1core.calling.calls as calling
    from tdm1core.reading.plate import classify_plate, plate_export, read_plate

    plate = read_plate(files, settings)
    classified = classify_plate(plate, thresholds)
    export = plate_export(classified, settings)
    calls = tuple(calling.call_export(export, settings))
    prov = Provenance(export.name, export.sha256, export.format, droplet_volume_nl=export.volume_nl,
                      target_map=tuple(str(m) for m in mapped_targets(export, settings)),
                      droplets=thresholds.describe(), files=plate.files)
    return UploadAssessment(export, calls, prov, settings, b""), classified


def assess_manual(entry: ManualEntry, settings: Settings, actor: "User | str | None" = None) -> tuple[SampleCalls, Provenance]:
    """Calls from numbers typed in (clinicians and reviewers)."""
    acting_user(actor, Action.PATIENT_RESULT)
    from tdm1core.calling.calls import call_manual

    return call_manual(entry, settings), Provenance.manual_entry()


def patient_result(calls: SampleCalls, er: object, pr: object, patient_id: str | None = None,
                   collection_date: str | None = None, actor: "User | str | None" = None) -> PatientResult:
    """The flag for one sample's calls and the hormone-receptor status (clinicians)."""
    acting_user(actor, Action.PATIENT_RESULT)
    from tdm1core.clinical.risk import PatientResult

    return PatientResult.from_calls(calls, er, pr, (patient_id or "").strip() or None, collection_date or None)


def save_result(store: "Store", assessment: UploadAssessment, result: PatientResult,
                who: "User | str | None" = None) -> "ImportResult":
    """Store the export with exactly the calls shown (the session's settings and target map), and audit it."""
    who = acting_user(who, Action.SAVE_RESULT)
    if assessment.provenance.droplets:
        raise InputError("results made from droplet files cannot be saved to the database yet; save the PDF or the "
                         "JSON, or save the result of the plate's results export.", source=assessment.export.name,
                         hint="Storing droplet plates is listed in docs/limitations.md.")
    shown: dict[str, Any] = {
        "sample": result.calls.sample, "flag": result.flag.status, "her2_call": result.calls.her2.call,
        "her2_ratio": result.calls.her2.ratio, "er": result.er, "pr": result.pr,
        "settings_hash": settings_hash(assessment.settings), "target_map": list(assessment.provenance.target_map),
    }
    return store.store_export(assessment.data, assessment.export, list(assessment.calls), assessment.settings, who,
                              shown=shown)


def link_sample(store: "Store", patient_id: str, sample: str, who: "User | str | None" = None) -> bool:
    """Link a stored sample to a stored patient (clinicians, with a saved result; audited). False when the patient
    is not stored."""
    return store.link_sample(patient_id, sample, acting_user(who, Action.SAVE_RESULT))


# ------------------------------------------------------------------ imports

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
    from tdm1core.storage.store import PatientChange, PatientPreview

    raw = read_patient_table(data, name)
    cohort = validate_patients(raw, name, settings=settings)  # raises CohortFormatError: nothing stored
    records = normalised_table(raw, cohort).to_dict("records")
    stored = store.stored_patients()
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
    return PatientPreview(name, hashlib.sha256(data).hexdigest(), tuple(new), tuple(changed), same), records


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


def apply_settings(store: "Store", settings: Settings, who: "User | str | None" = None) -> int:
    """Save the settings for everyone (audited) and call every stored file with them now, once, so no page view
    has to. Returns the number of files called."""
    who = acting_user(who, Action.DEFAULT_SETTINGS)
    store.save_settings(settings, who)
    return _ensure_calls(store, settings)


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


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of this package's source (a new version of any of it never reads statistics an old one stored)."""
    from pathlib import Path

    h = hashlib.sha256()
    for path in sorted(Path(__file__).parents[1].rglob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _statistics_key(store: "Store", settings: Settings, group: str, table4_columns: "tuple[str, ...]") -> str:
    parts = [store.patients_revision(), store.calls_revision(), settings.fingerprint(), code_fingerprint(),
             json.dumps([group, list(table4_columns)])]
    return "statistics:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def cohort_statistics_json(store: "Store", settings: Settings, group: str = "flag",
                           table4_columns: "tuple[str, ...]" = (), actor: "User | str | None" = None) -> str | None:
    """The stored cohort's statistics with ``settings`` as compact JSON (what ``cohort --db URL --json`` prints):
    :meth:`CohortStatistics.to_json` with the cohort's source, size and notes. None when no patient is stored.

    Derived data with one home: the text is stored under a key made of the patients' and the calls' revisions,
    the settings hash, the grouping and a hash of this package's code, so it is computed once per state of the
    data and read back afterwards (no pandas import, no file parsed); any write, setting or code change makes a
    new key, so a stale answer is never read. A damaged stored text (zlib's checksum) is computed again."""
    import zlib

    acting_user(actor, Action.COHORT)
    table4_columns = tuple(table4_columns)
    _ensure_calls(store, settings)  # the calls for these settings exist before the key is taken
    key = _statistics_key(store, settings, group, table4_columns)
    data = store.cohort_snapshot(key)
    if data is not None:
        try:
            return zlib.decompress(data).decode("utf-8")
        except (zlib.error, UnicodeDecodeError):
            pass
    view = _cohort_view(store, settings)
    if view.cohort is None:
        return None
    from tdm1core.stats import analyse_cohort

    cohort = view.cohort
    st = analyse_cohort(cohort, settings, group, table4_columns, calls=view.calls)
    text = st.to_json(source=cohort.source, n=cohort.n, notes=list(cohort.notes))
    if _statistics_key(store, settings, group, table4_columns) == key:  # nobody wrote meanwhile
        store.save_cohort_snapshot(key, zlib.compress(text.encode("utf-8"), 6), keep=4)
    return text


# ------------------------------------------------------------------ the demo and opening a store

def seed_demo(store: "Store", who: "User | str" = "demo seed") -> bool:
    """Seed the synthetic demo into an empty database (once: never again after it was removed). True when it seeded.
    The core's own write (the system user), whoever opened the database first."""
    from dataclasses import replace

    who = who if isinstance(who, User) else replace(SYSTEM, subject=who, name=who)
    from tdm1core.demo import DEMO_DIR, demo_export_path

    if store.demo_seeded() or not store.is_empty():
        return False
    settings = store.saved_settings()
    import_exports(store, [(demo_export_path().read_bytes(), demo_export_path().name)], settings, who, demo=True)
    import_patients(store, (DEMO_DIR / "demo_patients.csv").read_bytes(), "demo_patients.csv", settings, who, demo=True)
    store.record("demo seeded", "demo", {"note": "synthetic demo data, not patient data"}, who)
    return True


def open_store(url: str | None = None, seed: bool = True) -> "Store":
    """Open (create and migrate) the store; seed the synthetic demo into a fresh database."""
    from tdm1core.storage.store import Store

    store = Store(url)
    if seed:
        seed_demo(store)
    return store



# ------------------------------------------------------------------ reports, deletions, defaults, roles, the audit log

def patient_report_pdf(store: "Store | None", result: PatientResult, provenance: Provenance, cohort_points: Any = None,
                       droplets: Any = None, actor: "User | str | None" = None, pagesize: str = "A4") -> bytes:
    """The patient PDF (:func:`tdm1core.reporting.report.patient_report`), audited as a report made (clinicians)."""
    user = acting_user(actor, Action.PATIENT_REPORT)
    from tdm1core.reporting.report import patient_report

    pdf = patient_report(result, provenance, cohort_points, droplets=droplets, pagesize=pagesize)
    if store is not None:
        store.record_access(user, "report", f"patient {result.patient_id or 'not given'}",
                            {"sample": result.calls.sample, "input sha256": provenance.sha256,
                             "report sha256": hashlib.sha256(pdf).hexdigest()})
    return pdf


def cohort_report_pdf(store: "Store | None", cohort: "Cohort", stats: Any, provenance: Provenance,
                      filters: "dict | None" = None, actor: "User | str | None" = None, pagesize: str = "A4") -> bytes:
    """The cohort PDF (:func:`tdm1core.reporting.report.cohort_report`), audited with the filter (researchers)."""
    user = acting_user(actor, Action.COHORT_REPORT)
    from tdm1core.reporting.report import cohort_report

    pdf = cohort_report(cohort, stats, provenance, filters, pagesize=pagesize)
    if store is not None:
        store.record_access(user, "report", "cohort", {"filters": filters or "none", "patients": cohort.n,
                                                        "report sha256": hashlib.sha256(pdf).hexdigest()})
    return pdf


def record_view(store: "Store", user: "User | str | None", what: str, detail: "dict | None" = None,
                action: str = "view") -> None:
    """Audit a view of patient-level data (``what``: which patient or which cohort filter) or a download."""
    store.record_access(user if isinstance(user, User) else local_user(user), action, what, detail)


def delete_patient(store: "Store", patient_id: str, who: "User | str | None" = None) -> bool:
    """Delete a stored patient (admins; audited with the deleted values)."""
    return store.delete_patient(patient_id, acting_user(who, Action.DELETE))


def delete_file(store: "Store", file_id: int, who: "User | str | None" = None) -> bool:
    """Delete a stored file with its wells and calls (admins; audited)."""
    return store.delete_file(file_id, acting_user(who, Action.DELETE))


def remove_demo(store: "Store", who: "User | str | None" = None) -> Any:
    """Remove the synthetic demo data that is still demo-only (admins; audited with the counts)."""
    return store.remove_demo(acting_user(who, Action.REMOVE_DEMO))


def save_default_thresholds(store: "Store", thresholds: "DropletThresholds", who: "User | str | None" = None) -> dict:
    """Save the droplet classification as the lab's default (admins; audited with the previous value)."""
    return store.save_droplet_thresholds(thresholds, acting_user(who, Action.DEFAULT_SETTINGS))


def set_user_roles(store: "Store", email: str, roles: "list[str]", who: "User | str | None" = None) -> tuple[str, str]:
    """Give a user (by e-mail) exactly these roles in the roles table (admins; audited)."""
    return store.set_roles(email, roles, acting_user(who, Action.ROLES))


def read_audit_log(store: "Store", who: "User | str | None" = None, limit: int | None = None) -> "pd.DataFrame":
    """The audit log, newest first (admins)."""
    acting_user(who, Action.AUDIT)
    return store.audit(limit)


def stored_files(store: "Store", who: "User | str | None" = None) -> "pd.DataFrame":
    """The stored files (names, SHA-256, who uploaded them; admins)."""
    acting_user(who, Action.AUDIT)
    return store.files_table()


# ------------------------------------------------------------------ the lab's own cut-offs (tdm1core.calling.profiles)

def validate_limits(blanks: "list[tuple[bytes, str]]", settings: Settings,
                    low_positives: "list[tuple[bytes, str]] | None" = None, actor: "User | str | None" = None) -> Any:
    """LoB/LoD per PIK3CA hotspot and the HER2 ratio's spread from the lab's blank (and low-positive) exports, with
    the cut-off profile they propose (:func:`tdm1core.calling.profiles.validate`; the lab: clinicians and admins)."""
    acting_user(actor, Action.REVIEW_DROPLETS)
    from tdm1core.calling.profiles import validate

    return validate(blanks, settings, low_positives)


def save_profile(store: "Store", validation: Any, name: str, who: "User | str | None" = None) -> Any:
    """Store the validation's profile under ``name`` as its next version (admins; audited, never overwritten)."""
    user = acting_user(who, Action.DEFAULT_SETTINGS)
    return store.save_profile(validation.profile(name, created_by=user.audit_name), user)


def cutoff_profiles(store: "Store", actor: "User | str | None" = None) -> list:
    """The built-in study profile and every stored one (each name's newest version first; any role)."""
    acting_user(actor, Action.SETTINGS)
    return store.profiles()


# ------------------------------------------------------------------ released reports (tdm1core.reporting.release)

def release_digest(result: PatientResult, provenance: Provenance) -> str:
    """The SHA-256 of the content a release would cover: what the reviewer attests having reviewed."""
    from tdm1core.reporting.release import content_hash, result_content

    return content_hash(result_content(result, provenance))


def release_result(store: "Store", result: PatientResult, provenance: Provenance, cohort_points: Any = None,
                   droplets: Any = None, who: "User | str | None" = None, *, reviewed: str | None) -> Any:
    """Release a patient result (reviewers): the next version of its report, stored with the released
    PDF, immutable, audited. ``reviewed`` is the content hash (:func:`release_digest`) the reviewer attested having
    reviewed; a release of any other content is refused, so a signature never covers content nobody looked at. A
    release whose content equals the latest version's is refused (nothing changed); a later one is an amendment that
    names the version it replaces and lists what changed."""
    from tdm1core.reporting.release import (ReleasedReport, ReleaseStamp, changes_between, content_hash, now_utc, report_id,
                          result_content)
    from tdm1core.reporting.report import patient_report

    user = acting_user(who, Action.RELEASE)
    if provenance.demo:
        raise InputError("a result made from the synthetic demo data cannot be released to a hospital record.",
                         source=provenance.file_name, hint="Release results of your own exports.")
    rid = report_id(result.patient_id, result.calls.sample)
    content = result_content(result, provenance)
    digest = content_hash(content)
    if reviewed != digest:
        raise InputError(
            ("no review was attested for this content" if not reviewed else
             f"the review attested covers content {reviewed[:16]}…, but the result to release is {digest[:16]}…: it "
             "changed after the review") + "; nothing was released.", source="release",
            hint="Review the result as it is now and confirm the review again (command line: --reviewed with the "
                 "content SHA-256 that 'report patient' prints).")

    def build(previous: Any) -> tuple[Any, bytes]:
        if previous is not None and previous.content_sha256 == digest:
            raise InputError(f"this result is already released as report {rid} version {previous.stamp.version}; "
                             "nothing changed, so no new version was made.", source="release",
                             hint="Change what needs correcting (for example the ER/PR status) and release again.")
        version = 1 if previous is None else previous.stamp.version + 1
        stamp = ReleaseStamp(rid, version, user.label, user.mode == "signed-in", now_utc(),
                             replaces=None if previous is None else previous.stamp.version,
                             changes=() if previous is None else changes_between(previous.content, content))
        pdf = patient_report(result, provenance, cohort_points, droplets=droplets, release=stamp)
        return ReleasedReport(stamp, result.patient_id, result.calls.sample, content, digest,
                              hashlib.sha256(pdf).hexdigest(), user.subject, user.email), pdf

    return store.store_release(build, rid, user)


def released_reports(store: "Store", patient_id: str | None = None, report: str | None = None,
                     who: "User | str | None" = None) -> list:
    """The released versions, newest first (clinicians, reviewers, admins)."""
    acting_user(who, Action.RELEASED)
    return store.releases(report, patient_id)


def released_pdf(store: "Store", report: str, version: int, who: "User | str | None" = None) -> bytes:
    """The stored bytes of a released PDF, exactly as released (audited as a download in signed-in mode)."""
    user = acting_user(who, Action.RELEASED)
    pdf = store.released_pdf(report, version)
    if pdf is None:
        raise InputError(f"there is no released report {report} version {version}.", source="release")
    if user.mode == "signed-in":
        store.record_access(user, "download", f"released report {report} v{version}", {"bytes": len(pdf)})
    return pdf


# ------------------------------------------------------------------ what the command line needs beyond the page's use cases

def command_line_user(store: "Store | None", who: str | None = None) -> User:
    """Who runs a command, for the same role checks as the app.

    On the embedded SQLite database (this machine's, single-user local mode) or with no database, the operator is the
    local user with every role. On a shared database the operator is ``--who`` or TDM1_USER, an e-mail address, with
    the roles the database's roles table gives it (none when it is not there: each command that needs a role is then
    refused)."""
    import os

    from tdm1core.storage.access import is_shared_database

    if store is None or not is_shared_database(store.url):
        return local_user(who)
    email = (who or os.environ.get("TDM1_USER") or "").strip().lower()
    roles = store.roles_for(email) if email else None
    return User(subject=email or "unknown", email=email or None, name=email or None, roles=roles or frozenset(),
                mode="local", roles_source="table")


def settings_with_profile(db: str | None, label: str, profile_db: str | None = None,
                          changes: "dict[str, Any] | None" = None) -> SettingsInForce:
    """The settings in force with a stored cut-off profile's cut-offs and limits of blank, then ``changes`` (a cut-off
    changed here makes the profile ``custom (edited from ...)``)."""
    from tdm1core.calling.profiles import apply_profile
    from tdm1core.storage.store import Store

    found = {p.label: p for p in Store(profile_db or db).profiles()}
    if label not in found:
        raise InputError(f"no cut-off profile {label!r} in the database; it holds {', '.join(found)}.",
                         column="--profile", hint="Give a profile's name and version as listed, e.g. 'Lab X PIK3CA v2'.")
    start = settings_in_force(db).settings
    return settings_in_force(db, changes, base=apply_profile(start, found[label]),
                             base_origin=f"cut-off profile {label!r}")


def cohort_statistics(cohort: "Cohort", settings: Settings, group: str = "flag",
                      table4_columns: "tuple[str, ...]" = (), calls: Any = None, actor: "User | str | None" = None) -> Any:
    """Tables 1-4, the flag's performance, the cut-off table and Kaplan-Meier of a cohort (researchers)."""
    acting_user(actor, Action.COHORT)
    from tdm1core.stats import analyse_cohort

    return analyse_cohort(cohort, settings, group, table4_columns, calls=calls)


def file_provenance(cohort: "Cohort", exports: "list[DdpcrExport]") -> Provenance:
    """The provenance of a cohort made from files: the patient table and every export, each with its SHA-256."""
    return Provenance(cohort.source, cohort.sha256, ", ".join(f"{e.name} (SHA-256 {e.sha256})" for e in exports))


def released_files(released: Any, pdf: bytes) -> tuple[dict, dict]:
    """The FHIR R4 Bundle and the released-result JSON of a released report (what --fhir and --released-json write)."""
    from tdm1core.reporting.fhir import fhir_bundle
    from tdm1core.reporting.release import released_json

    return fhir_bundle(released, pdf), released_json(released)


def database_status(store: "Store", who: "User | str | None" = None) -> Any:
    """Counts of what the database holds and its schema revision (admins)."""
    acting_user(who, Action.AUDIT)
    return store.status()


def export_database(store: "Store", directory: str, who: "User | str | None" = None) -> list:
    """Every stored file as received and every table as CSV, into a new private folder (admins; audited)."""
    acting_user(who, Action.AUDIT)
    return store.export_all(directory)


def roles_table(store: "Store", who: "User | str | None" = None) -> list[dict]:
    """The roles table (admins)."""
    acting_user(who, Action.ROLES)
    return store.roles_table()


def set_roles_from_command_line(store: "Store", email: str, roles: "list[str]", who: User) -> tuple[str, str]:
    """:func:`set_user_roles`, except that the first admin of a new shared database (while none exists) is set by
    its operator, audited as that bootstrap."""
    from dataclasses import replace

    bootstrap = not any("admin" in str(r["roles"]).split() for r in store.roles_table())
    if bootstrap and "admin" not in who.roles:
        who = replace(SYSTEM, subject=who.audit_name, name=f"{who.audit_name} (first admin, command line)")
    return set_user_roles(store, email, roles, who)


def demo_removal_plan(store: "Store", who: "User | str | None" = None) -> Any:
    """What removing the synthetic demo would delete and keep (admins; nothing is changed)."""
    acting_user(who, Action.REMOVE_DEMO)
    return store.demo_removal_plan()


def refresh_statistics(store: "Store") -> None:
    """Compute and store the cohort statistics for the saved settings (derived data, by the system, not a view)."""
    cohort_statistics_json(store, store.saved_settings(), actor=SYSTEM)


def write_demo_files(directory: str) -> list:
    """Write the built-in synthetic demo files (an export and a patient table) into ``directory``."""
    from tdm1core.demo import write_demo

    return write_demo(directory)


def limits_text() -> str:
    """The sentence every result carries: research use only, exploratory evidence (n=16)."""
    from tdm1core.clinical.risk import LIMITS

    return LIMITS


def ci_method_label(method: str) -> str:
    """How a Kaplan-Meier median's confidence interval is computed, in words (as R's survfit conf.type)."""
    from tdm1core.stats.survival import CI_METHOD_LABELS

    return CI_METHOD_LABELS[method]
