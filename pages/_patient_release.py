"""The Patient page's last sections: the reviewed release for the hospital record, and saving to the cohort database."""
from __future__ import annotations

from typing import Any

import streamlit as st

from pages._common import audited, live_download, may, md, show_error, store, who
from tdm1core import InputError
from tdm1core.app.monitoring import patient_timeline
from tdm1core.plotting.figures import timeline_figure
from tdm1core.app.patient import link_sample, release_digest, release_result, released_download, released_reports, save_result
from tdm1core.reporting.release import report_id
from tdm1core.storage.access import Action

REVIEWED_KEY = "release_reviewed_sha256"


def _attest(digest: str) -> None:
    st.session_state[REVIEWED_KEY] = digest if st.session_state.get(f"release_confirm_{digest}") else None


def _release_button(result: Any, provenance: Any, context: Any, panels: Any, timeline: Any = None) -> None:
    digest = release_digest(result, provenance, timeline)
    # the attestation names the content seen when ticked (the callback's argument is this run's digest), and the box
    # is keyed by it, so any change of the content clears the tick; the core refuses any other content
    confirm = st.checkbox(f"I have reviewed this result (content SHA-256 {digest[:12]}…); release it",
                          key=f"release_confirm_{digest}", on_change=_attest, args=(digest,))
    if not st.button("Release this report", key="release", type="primary"):
        return
    if not confirm:
        st.warning("Tick the box to confirm that you reviewed this result as it is now.", icon=":material/check_box:")
        return
    try:
        done = release_result(store(), result, provenance, context, panels, who(), reviewed=st.session_state.get(REVIEWED_KEY),
                              monitoring=timeline)
        st.success(f"Released report {done.stamp.report_id} version {done.stamp.version} ({done.stamp.status})"
                   + (": " + md("; ".join(done.stamp.changes)) if done.stamp.replaces else "") + ".", icon=":material/verified:")
    except InputError as exc:
        show_error(exc)


def _released_versions(rid: str) -> None:
    for rel in released_reports(store(), report=rid, who=who()):
        v = rel.stamp.version
        st.markdown(f"**Version {v}** ({rel.stamp.status}) · " + md(" ".join(rel.stamp.lines())))
        # built when clicked, in another thread (the database and the user are taken now); one holder per button and
        # session, as for the draft PDF, so a click that lands while the page re-runs still downloads
        db, user = store(), who()
        holders = {kind: live_download(f"released_{kind}_{rid}_{v}") for kind in ("pdf", "fhir", "json")}
        holders["pdf"].update(lambda rel=rel, db=db, user=user: released_download(db, rel, "pdf", user))
        for kind in ("fhir", "json"):
            holders[kind].update(audited(lambda rel=rel, kind=kind, db=db, user=user: released_download(db, rel, kind, user),
                                         f"{rid}_v{v}.{'fhir.json' if kind == 'fhir' else 'json'}"))
        r1, r2, r3, _ = st.columns([1, 1, 1, 3])
        r1.download_button(f"Released PDF v{v}", holders["pdf"], f"{rid}_v{v}.pdf", "application/pdf", key=f"released_pdf_{v}")
        r2.download_button(f"FHIR bundle v{v}", holders["fhir"], f"{rid}_v{v}.fhir.json", "application/fhir+json",
                           key=f"released_fhir_{v}")
        r3.download_button(f"JSON v{v}", holders["json"], f"{rid}_v{v}.json", "application/json", key=f"released_json_{v}")


def timeline_section(result: Any, s: Any) -> Any:
    """The patient's stored serial-monitoring timeline (None when there is none or the role may not see it): shown
    here, a page of the PDF, and part of what a release covers."""
    timeline = patient_timeline(store(), s, result.patient_id, who()) if may(Action.MONITORING) else None
    if timeline is not None:
        st.subheader("Serial monitoring on T-DM1")
        st.caption(f"{md(timeline.rules)}, exploratory; {len(timeline.timepoints)} stored sample(s). The PDF and a "
                   "release carry this timeline (details on the Monitoring page).")
        st.plotly_chart(timeline_figure(timeline, s.pik3ca_mutant_cutoff_copies, s.her2_ratio_cutoff),
                        key="patient_timeline", width="stretch")
    return timeline


def release_section(result: Any, provenance: Any, context: Any, panels: Any, timeline: Any = None) -> None:
    """Release (reviewers) and the released versions (clinicians, reviewers, admins); nothing for other roles."""
    if not (may(Action.RELEASE) or may(Action.RELEASED)):
        return
    st.subheader("Release for the hospital record")
    rid = report_id(result.patient_id, result.calls.sample)
    st.caption(f"Report {rid} (patient {md(result.patient_id or 'not given')}, sample {md(result.calls.sample)}). The PDF "
               "above is a draft. A release records you as the reviewer, the time (UTC) and the result's content hash, "
               "and stores the released PDF; a released version is never changed, and a later release is an amended "
               "version that says what changed. Not a regulated e-signature (docs/oncologist.md).")
    if may(Action.RELEASE):
        _release_button(result, provenance, context, panels, timeline)
    if may(Action.RELEASED):
        _released_versions(rid)


def save_section(assessment: Any, result: Any, provenance: Any) -> None:
    """Save an uploaded export with these calls and link the sample to the patient (clinicians; not the demo)."""
    if provenance.droplets:
        st.caption("Results made from droplet files are not saved to the database in this version (a limitation listed "
                   "in docs/limitations.md); the PDF and the JSON carry the classification and every file's SHA-256.")
    if assessment is None or provenance.demo or provenance.droplets or not may(Action.SAVE_RESULT):
        return
    st.subheader("Save to the cohort database")
    st.caption("Stores the export as received (once, by SHA-256) with exactly the calls shown here (this session's "
               "settings and target map), and links the sample to the patient ID when the patient is in the cohort.")
    if not st.button("Save", key="patient_save"):
        return
    try:
        st.success(md(save_result(store(), assessment, result, who()).message))
        pid, sample = result.patient_id, result.calls.sample
        if pid and link_sample(store(), pid, sample, who()):
            st.success(f"Sample {md(sample)} linked to patient {md(pid)}.")
        elif pid:
            st.warning(f"Patient {md(pid)} is not in the cohort database; import the patient table to link the sample.")
    except InputError as exc:
        show_error(exc)
