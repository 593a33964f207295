"""Patient result: one patient's ddPCR export (or typed numbers), ER/PR, the calls, QC and the flag."""
import datetime as dt

import streamlit as st

from pages._common import audit_view, audited, flag_card, live_download, md, page_header, settings, stamp, store, who
from pages._patient_input import patient_input
from pages._patient_release import release_section, save_section, timeline_section
from tdm1core.app.cohort_service import reference_context
from tdm1core.app.patient import patient_report_pdf, patient_result
from tdm1core.clinical.provenance import DEMO_NOTICE, MANUAL_NOTICE
from tdm1core.clinical.risk import EVIDENCE, LIMITS
from tdm1core.plotting.droplet_plots import channel_1d_figure
from tdm1core.plotting.figures import km_figure, ratio_figure
from tdm1core.reading.plate import sample_droplets
from tdm1core.reporting.export import for_display, to_csv_bytes, to_json_bytes

page_header("Patient result")
s = settings()
given = patient_input(s)
calls, provenance, source_name, plate_classified = given.calls, given.provenance, given.source_name, given.plate

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
reference = reference_context(store(), s, who())  # empty on an empty database: no cohort context to show
context = reference.points
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
if reference.km is None:
    st.info("No cohort in the database yet: import a patient table on the Cohort page to see this patient's group in context.")
else:
    st.plotly_chart(km_figure(reference.km, highlight=flag.status if flag.status != "incomplete" else None,
                              title="Kaplan-Meier time to progression by flag (cohort" + (", synthetic demo)" if reference.synthetic else ")")),
                    key="patient_km", width="stretch")

timeline = timeline_section(result, s)  # the stored serial samples of this patient, if any (PDF page; release)
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
pdf.update(lambda result=result, provenance=provenance, context=context, panels=panels, user=who(), db=store(), tl=timeline:
           patient_report_pdf(db, result, provenance, context, droplets=panels, actor=user, monitoring=tl))
d3.download_button("PDF report", pdf, "tdm1_ctdna_report.pdf", "application/pdf", key="patient_pdf", type="primary")
for line in provenance.lines():
    st.caption(md(line))

release_section(result, provenance, context, panels, timeline)
save_section(given.assessment, result, provenance)
stamp(s)
