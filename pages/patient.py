"""Patient result: one patient's ddPCR export (or typed numbers), ER/PR, the calls, QC and the flag."""
import datetime as dt
import json

import streamlit as st

from pages._common import (md, may, audit_view, audited, current_cohort, assessed_droplets, assessed_upload, droplet_thresholds,
                           flag_card, live_download, page_header, settings, settings_key, show_error, stamp, store, who)
from tdm1core.storage.access import Action
from tdm1core import InputError, ManualEntry
from tdm1core.demo import demo_export_path
from tdm1core.reporting.export import for_display, to_csv_bytes, to_json_bytes
from tdm1core.plotting.droplet_plots import channel_1d_figure
from tdm1core.plotting.figures import km_figure, ratio_figure
from tdm1core.reading.plate import sample_droplets
from tdm1core.clinical.provenance import DEMO_NOTICE, MANUAL_NOTICE, Provenance
from tdm1core.panel import HOTSPOTS
from tdm1core.clinical.risk import EVIDENCE, LIMITS
from tdm1core.stats import km_by
from tdm1core.reporting.fhir import fhir_bundle
from tdm1core.reporting.release import released_json, report_id
from tdm1core.app.workflows import (assess_manual, link_sample, patient_report_pdf, patient_result, release_digest, release_result,
                                released_pdf, released_reports, save_result)

REVIEWED_KEY = "release_reviewed_sha256"


def _attest(digest: str) -> None:
    st.session_state[REVIEWED_KEY] = digest if st.session_state.get(f"release_confirm_{digest}") else None


def _show_assessment(assessment, export_name: str, key: str):
    """The export's warnings and the sample box; (the chosen sample's calls, the provenance, the source line)."""
    export = assessment.export
    for w in export.warnings:
        st.warning(md(w))
    samples = assessment.samples
    chosen = st.selectbox("Sample", samples, key=key) if len(samples) > 1 else samples[0]
    return (assessment.sample(chosen), assessment.provenance,
            f"{export_name} ({export.format}, SHA-256 {export.sha256[:12]}…)")


page_header("Patient result")
s = settings()

mode = st.radio("Input", ["Upload a ddPCR export", "Upload droplet files (a plate)", "Use the built-in demo export",
                         "Enter the numbers"], horizontal=True, key="patient_mode")
calls = None
source_name = None
assessment = None
plate_classified = None
provenance = Provenance.manual_entry()
try:
    if mode == "Upload droplet files (a plate)":
        thresholds = droplet_thresholds()
        uploads = st.file_uploader("A zipped plate of droplet amplitude files with its results export (or the files)",
                                   type=["csv", "txt", "zip"], accept_multiple_files=True, key="patient_droplets")
        st.caption(f"Droplet classification: {md(thresholds.describe())} (set on the Droplets page).")
        if uploads:
            assessment, plate_classified = assessed_droplets([(u.getvalue(), u.name) for u in uploads], settings_key(s),
                                                             thresholds)
            calls, provenance, source_name = _show_assessment(assessment, export_name=assessment.export.name,
                                                              key="patient_droplet_sample")
    elif mode == "Enter the numbers":
        c1, c2, c3 = st.columns(3)
        # no min_value: a widget that refuses a value keeps the previous one, and the card would show a result for a
        # number no longer on screen; every value goes to the core, which refuses it with a message
        ratio = c1.number_input("HER2/EFTUD2 ratio (if reported)", value=None, step=0.01, key="patient_ratio")
        her2 = c2.number_input("HER2 copies per 20 µL", value=None, key="patient_her2")
        eftud2 = c3.number_input("EFTUD2 copies per 20 µL", value=None, key="patient_eftud2")
        pik = {}
        cols = st.columns(len(HOTSPOTS))
        for col, hotspot in zip(cols, HOTSPOTS):
            mut = col.number_input(f"{hotspot} mutant copies", value=None, key=f"patient_{hotspot}_mut")
            wt = col.number_input(f"{hotspot} wild-type copies", value=None, key=f"patient_{hotspot}_wt")
            if mut is not None or wt is not None:
                pik[hotspot] = (mut, wt)
        if ratio is not None or her2 is not None or eftud2 is not None or pik:
            calls, provenance = assess_manual(ManualEntry("manual entry", ratio, her2, eftud2, pik), s, who())
            source_name = "manual entry"
    else:
        if mode == "Use the built-in demo export":
            data, name = demo_export_path().read_bytes(), demo_export_path().name
        else:
            upload = st.file_uploader("ddPCR well-level results export (QuantaSoft or QX Manager: CSV, TXT or XLSX)",
                                      type=["csv", "txt", "xlsx"],
                                      key="patient_upload")
            data, name = (upload.getvalue(), upload.name) if upload is not None else (None, None)
        if data is not None:
            assessment = assessed_upload(data, name, settings_key(s))
            calls, provenance, source_name = _show_assessment(assessment, export_name=name, key="patient_sample")
except InputError as exc:
    show_error(exc)

c1, c2 = st.columns(2)
er = c1.radio("ER status (positive when ≥ 10% of cells stain)", ["unknown", "positive", "negative"], key="patient_er", horizontal=True)
pr = c2.radio("PR status (positive when ≥ 10% of cells stain)", ["unknown", "positive", "negative"], key="patient_pr", horizontal=True)
c3, c4 = st.columns(2)
patient_id = c3.text_input("Pseudonymous patient ID (optional; no names)", max_chars=64, key="patient_id")
collected = c4.date_input("Collection date (optional)", value=None, max_value=dt.date.today(), key="patient_date")

if calls is None:
    st.info("Upload an export, use the demo export or type the numbers to see the result.")
    st.stop()

result = patient_result(calls, er, pr, patient_id, collected.isoformat() if collected else None, actor=who())
audit_view(f"patient result: patient {result.patient_id or 'not given'}",
           {"sample": calls.sample, "input": source_name, "input sha256": provenance.sha256 or "manual entry"})
if provenance.demo:
    st.warning(f"**{DEMO_NOTICE}.** This result, its downloads and its PDF are marked so.", icon=":material/science:")
if provenance.manual:
    st.info(f"**{MANUAL_NOTICE}.** The downloads and the PDF are marked so.", icon=":material/edit:")
flag = result.flag
h = calls.her2
flag_card(flag.status, flag.headline, f"Sample {calls.sample} · HER2 {h.call}" + (" (borderline)" if h.borderline else "")
          + f" · ER {er}, PR {pr}")
st.markdown("**Why:**\n" + "\n".join(f"- {md(r)}" for r in flag.reasons))
with st.expander("Evidence and limits", expanded=flag.status == "at risk"):
    st.write(EVIDENCE)
    st.write(LIMITS)

st.subheader("HER2 / EFTUD2")
cohort, _ = current_cohort(Action.REFERENCE_COHORT)  # None on an empty database: no cohort context to show
context = cohort.ratio_points() if cohort is not None else None
if h.ratio is not None:
    st.plotly_chart(ratio_figure(h.ratio, h.ci.low if h.ci else None, h.ci.high if h.ci else None, h.cutoff,
                                 context, f"Sample {calls.sample}", h.borderline), key="patient_ratio_fig")
st.markdown(md(h.reason))
if h.ci:
    st.caption(f"Ratio CI: {h.ci.method}.")
st.subheader("PIK3CA hotspots")
# a static table: its cells wrap, so every header and result is read whole (a grid cut "genome equivalents")
st.table(for_display(calls.pik3ca_table()).map(
    lambda v: (f"{v:,.0f}" if float(v).is_integer() else f"{v:,g}") if isinstance(v, (int, float)) and not isinstance(v, bool)
    else v), hide_index=True)  # the numbers as rounded for reading (a static table would print four decimals)
any_m = calls.pik3ca.any_mutant
st.write("PIK3CA-mutant: " + {True: "**yes**", False: "no", None: "not evaluable"}[any_m])

st.subheader("Limits of this result")
st.caption(f"Cut-off profile: {md(s.cutoff_profile)}. A 'not detected' says how small a mutation this sample could "
           "have shown: the smallest allele fraction detected with 95 % probability, given the DNA analysed.")
if calls.controls is not None and calls.controls.failed:
    st.error("**Plate control failed**: no result of this plate is evaluable. " + md("; ".join(calls.controls.reasons)),
             icon=":material/block:")
elif calls.controls is not None:
    st.caption(f"Plate controls: {md(calls.controls.describe())}.")
for caveat in calls.caveats:
    st.markdown(f"- {md(caveat)}")

st.subheader("Quality control")
st.dataframe(for_display(calls.qc_table()), hide_index=True, key="patient_qc")
for w in calls.warnings:
    st.warning(md(w))

panels = sample_droplets(plate_classified, calls.sample) if plate_classified is not None else None
if panels:
    st.subheader("The droplets behind these calls")
    st.caption(f"Classification: {md(plate_classified.thresholds.describe())}. Review or change it on the Droplets page.")
    cols = st.columns(2)
    for i, p in enumerate(panels):
        cols[i % 2].plotly_chart(channel_1d_figure(plate_classified.well(p.well), p.channel, f"{p.well} {p.target.strip()}"),
                                 width="stretch", key=f"patient_droplets_{p.well}_{p.channel}", config={"displaylogo": False})

st.subheader("Cohort time to progression by flag")
if cohort is None:
    st.info("No cohort in the database yet: import a patient table on the Cohort page to see this patient's group in context.")
else:
    st.plotly_chart(km_figure(km_by(cohort, "flag", s), highlight=flag.status if flag.status != "incomplete" else None,
                              title="Kaplan-Meier time to progression by flag (cohort" + (", synthetic demo)" if "synthetic" in cohort.source else ")")),
                    key="patient_km", width="stretch")

st.subheader("Download")
st.caption(f"Patient ID: {md(result.patient_id or 'not given')} · collection date: {md(result.collection_date or 'not given')} · "
           f"ER {result.er}, PR {result.pr}. The files carry exactly these inputs.")
d1, d2, d3, _ = st.columns([1, 1, 1, 3])
downloaded = {"patient": result.patient_id or "not given", "sample": calls.sample}
d1.download_button("Calls (CSV)", audited(to_csv_bytes(result.summary_table(), s, provenance.lines()), "tdm1_ctdna_result.csv",
                                          downloaded), "tdm1_ctdna_result.csv", "text/csv", key="patient_csv")
d2.download_button("Calls (JSON)", audited(to_json_bytes(result.to_dict() | {"input": source_name, "provenance": provenance.to_dict()}),
                                           "tdm1_ctdna_result.json", downloaded),
                   "tdm1_ctdna_result.json", "application/json", key="patient_json")
pdf = live_download("patient_pdf")
pdf.update(lambda result=result, provenance=provenance, context=context, panels=panels, user=who(), db=store():
           patient_report_pdf(db, result, provenance, context, droplets=panels, actor=user))
d3.download_button("PDF report", pdf, "tdm1_ctdna_report.pdf", "application/pdf", key="patient_pdf", type="primary")
for line in provenance.lines():
    st.caption(md(line))

if may(Action.RELEASE) or may(Action.RELEASED):
    st.subheader("Release for the hospital record")
    rid = report_id(result.patient_id, calls.sample)
    st.caption(f"Report {rid} (patient {md(result.patient_id or 'not given')}, sample {md(calls.sample)}). The PDF above is "
               "a draft. A release records you as the reviewer, the time (UTC) and the result's content hash, and stores "
               "the released PDF; a released version is never changed, and a later release is an amended version that "
               "says what changed. Not a regulated e-signature (docs/oncologist.md).")
    if may(Action.RELEASE):
        digest = release_digest(result, provenance)
        # the attestation names the content seen when ticked (the callback's argument is this run's digest), and the
        # box is keyed by it, so any change of the content clears the tick; the core refuses any other content
        confirm = st.checkbox(f"I have reviewed this result (content SHA-256 {digest[:12]}…); release it",
                              key=f"release_confirm_{digest}", on_change=_attest, args=(digest,))
        if st.button("Release this report", key="release", type="primary"):
            if not confirm:
                st.warning("Tick the box to confirm that you reviewed this result as it is now.", icon=":material/check_box:")
            else:
                try:
                    done = release_result(store(), result, provenance, context, panels, who(),
                                          reviewed=st.session_state.get(REVIEWED_KEY))
                    st.success(f"Released report {done.stamp.report_id} version {done.stamp.version} ({done.stamp.status})"
                               + (": " + md("; ".join(done.stamp.changes)) if done.stamp.replaces else "") + ".",
                               icon=":material/verified:")
                except InputError as exc:
                    show_error(exc)
    if may(Action.RELEASED):
        for i, rel in enumerate(released_reports(store(), report=rid, who=who())):
            v = rel.stamp.version
            st.markdown(f"**Version {v}** ({rel.stamp.status}) · " + md(" ".join(rel.stamp.lines())))
            r1, r2, r3, _ = st.columns([1, 1, 1, 3])
            # built when clicked, in another thread (the database and the user are taken now); one holder per button
            # and session, as for the draft PDF, so a click that lands while the page re-runs still downloads
            db, user = store(), who()
            pdf_dl, fhir_dl, json_dl = (live_download(f"released_{kind}_{rid}_{v}") for kind in ("pdf", "fhir", "json"))
            pdf_dl.update(lambda v=v, db=db, user=user: released_pdf(db, rid, v, user))
            fhir_dl.update(audited(lambda rel=rel, v=v, db=db, user=user: json.dumps(
                fhir_bundle(rel, released_pdf(db, rid, v, user)), indent=1).encode(), f"{rid}_v{v}.fhir.json"))
            json_dl.update(audited(lambda rel=rel: json.dumps(released_json(rel), indent=1, default=str).encode(),
                                   f"{rid}_v{v}.json"))
            r1.download_button(f"Released PDF v{v}", pdf_dl, f"{rid}_v{v}.pdf", "application/pdf", key=f"released_pdf_{v}")
            r2.download_button(f"FHIR bundle v{v}", fhir_dl, f"{rid}_v{v}.fhir.json", "application/fhir+json",
                               key=f"released_fhir_{v}")
            r3.download_button(f"JSON v{v}", json_dl,
                               f"{rid}_v{v}.json", "application/json", key=f"released_json_{v}")

if provenance.droplets:
    st.caption("Results made from droplet files are not saved to the database in this version (a limitation listed in "
               "docs/limitations.md); the PDF and the JSON carry the classification and every file's SHA-256.")
if assessment is not None and not provenance.demo and not provenance.droplets and may(Action.SAVE_RESULT):
    st.subheader("Save to the cohort database")
    st.caption("Stores the export as received (once, by SHA-256) with exactly the calls shown here (this session's settings "
               "and target map), and links the sample to the patient ID when the patient is in the cohort.")
    if st.button("Save", key="patient_save"):
        try:
            saved = save_result(store(), assessment, result, who())
            st.success(md(saved.message))
            if patient_id:
                if link_sample(store(), patient_id, calls.sample, who()):
                    st.success(f"Sample {md(calls.sample)} linked to patient {md(patient_id)}.")
                else:
                    st.warning(f"Patient {md(patient_id)} is not in the cohort database; import the patient table to link the sample.")
        except InputError as exc:
            show_error(exc)
stamp(s)
