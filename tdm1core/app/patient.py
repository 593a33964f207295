"""The oncologist's and the reviewer's use cases: an upload (or typed numbers) assessed, the patient's result, its
draft PDF, saving it, and the reviewed release of exactly the content shown (never of other content)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tdm1core.errors import InputError
from tdm1core.storage.access import Action, User
from tdm1core.clinical.provenance import Provenance, mapped_targets
from tdm1core.settings import Settings

if TYPE_CHECKING:  # reading and calling (numpy, pandas) are imported where used: a stored answer needs neither

    from tdm1core.calling.calls import ManualEntry, SampleCalls
    from tdm1core.reading.exports import DdpcrExport
    from tdm1core.reading.plate import PlateClassification
    from tdm1core.clinical.risk import PatientResult
    from tdm1core.reading.thresholds import DropletThresholds

    from tdm1core.storage.store import ImportResult, Store

from tdm1core.app.context import acting_user, is_demo_export

__all__ = ['UploadAssessment', 'assess_upload', 'assess_droplets', 'assess_manual', 'patient_result', 'save_result', 'link_sample', 'patient_report_pdf', 'release_digest', 'release_result', 'released_reports', 'released_pdf', 'released_download', 'released_files']


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
    its droplets with ``thresholds``, and call every sample of the panel through the unchanged pipeline (the
    others are named in the export's warnings as not part of the panel; none at all is an InputError)."""
    acting_user(actor, Action.REVIEW_DROPLETS)
    from tdm1core.reading.plate import classify_plate, read_plate

    classified = classify_plate(read_plate(files, settings), thresholds)
    return call_droplets(classified, settings), classified


def call_droplets(classified: "PlateClassification", settings: Settings) -> UploadAssessment:
    """The calls of a classified plate's panel samples (not a use case: the callers check the user)."""
    import tdm1core.calling.calls as calling
    from tdm1core.reading.plate import panel_subset, plate_export

    plate = classified.plate
    panel, notes = panel_subset(classified, settings)
    if plate.names and not panel.plate.names:
        raise InputError(f"no sample of this plate is part of the panel ({len(notes)} sample(s): {notes[0]}"
                         + (f"; and {len(notes) - 1} more" if len(notes) > 1 else "") + "), so no call is made.",
                         source=plate.name, column="Target",
                         hint="The droplets are shown on the Droplets page; map the targets on the Settings page if they are the panel's.")
    from dataclasses import replace

    from tdm1core.calling.well_qc import plate_qc

    export = plate_export(panel, settings)
    kept = {n.well for n in panel.plate.names}
    findings = [f"Well {well} [{f.code}]: {f.message}" for well, flags in plate_qc(classified, settings).items()
                if well in kept for f in flags]
    export = replace(export, warnings=tuple(export.warnings) + tuple(findings))  # QC on every output of the calls
    calls = tuple(calling.call_export(export, settings))
    prov = Provenance(export.name, export.sha256, export.format, droplet_volume_nl=export.volume_nl,
                      target_map=tuple(str(m) for m in mapped_targets(export, settings)),
                      droplets=classified.thresholds.describe(), files=plate.files)
    return UploadAssessment(export, calls, prov, settings, b"")


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
        "settings_hash": assessment.settings.fingerprint(), "target_map": list(assessment.provenance.target_map),
    }
    return store.store_export(assessment.data, assessment.export, list(assessment.calls), assessment.settings, who,
                              shown=shown)


def link_sample(store: "Store", patient_id: str, sample: str, who: "User | str | None" = None) -> bool:
    """Link a stored sample to a stored patient (clinicians, with a saved result; audited). False when the patient
    is not stored."""
    return store.link_sample(patient_id, sample, acting_user(who, Action.SAVE_RESULT))


# ------------------------------------------------------------------ imports

def patient_report_pdf(store: "Store | None", result: PatientResult, provenance: Provenance, cohort_points: Any = None,
                       droplets: Any = None, actor: "User | str | None" = None, pagesize: str = "A4",
                       monitoring: Any = None) -> bytes:
    """The patient PDF (:func:`tdm1core.reporting.report.patient_report`), with the patient's serial-monitoring page
    when ``monitoring`` is given, audited as a report made (clinicians)."""
    user = acting_user(actor, Action.PATIENT_REPORT)
    from tdm1core.reporting.report import patient_report

    pdf = patient_report(result, provenance, cohort_points, droplets=droplets, pagesize=pagesize, monitoring=monitoring)
    if store is not None:
        store.record_access(user, "report", f"patient {result.patient_id or 'not given'}",
                            {"sample": result.calls.sample, "input sha256": provenance.sha256,
                             "report sha256": hashlib.sha256(pdf).hexdigest()})
    return pdf


def release_digest(result: PatientResult, provenance: Provenance, monitoring: Any = None) -> str:
    """The SHA-256 of the content a release would cover (with the serial-monitoring timeline when the report carries
    it): what the reviewer attests having reviewed."""
    from tdm1core.reporting.release import content_hash, result_content

    return content_hash(result_content(result, provenance, monitoring))


def release_result(store: "Store", result: PatientResult, provenance: Provenance, cohort_points: Any = None,
                   droplets: Any = None, who: "User | str | None" = None, *, reviewed: str | None,
                   monitoring: Any = None) -> Any:
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
    content = result_content(result, provenance, monitoring)
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
        pdf = patient_report(result, provenance, cohort_points, droplets=droplets, release=stamp, monitoring=monitoring)
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


def released_download(store: "Store", released: Any, kind: str, who: "User | str | None" = None) -> bytes:
    """One released version as the hospital record takes it: ``pdf`` (the stored bytes), ``fhir`` (the R4 Bundle
    carrying that PDF) or ``json`` (the released result); clinicians, reviewers, admins."""
    import json

    user = acting_user(who, Action.RELEASED)
    rid, version = released.stamp.report_id, released.stamp.version
    if kind == "json":
        from tdm1core.reporting.release import released_json

        return json.dumps(released_json(released), indent=1, default=str).encode()
    pdf = released_pdf(store, rid, version, user)
    if kind == "pdf":
        return pdf
    if kind != "fhir":
        raise InputError(f"unknown download {kind!r} of a released report.", source="release", hint="pdf, fhir or json.")
    from tdm1core.reporting.fhir import fhir_bundle

    return json.dumps(fhir_bundle(released, pdf), indent=1).encode()


# ------------------------------------------------------------------ what the command line needs beyond the page's use cases

def released_files(released: Any, pdf: bytes) -> tuple[dict, dict]:
    """The FHIR R4 Bundle and the released-result JSON of a released report (what --fhir and --released-json write)."""
    from tdm1core.reporting.fhir import fhir_bundle
    from tdm1core.reporting.release import released_json

    return fhir_bundle(released, pdf), released_json(released)


