"""Serial monitoring: a patient's ctDNA over time on T-DM1, each sample classed by a named rule set (issue 26)."""
import json

import streamlit as st

from pages._common import audit_view, audited, downloads, md, page_header, settings, show_error, stamp, store, who
from pages._monitoring_input import monitoring_input
from tdm1core import InputError
from tdm1core.app.monitoring import MonitoringInputs, monitor_files, monitor_stored, monitoring_summary, timeline_pdf
from tdm1core.plotting.figures import km_figure, timeline_figure
from tdm1core.stats.monitoring import RULES_DESCRIPTION

page_header("Serial monitoring on T-DM1")
s = settings()
st.caption("Exploratory: the molecular-response rules (monitoring rules v1) are this product's, from the ctDNA "
           "monitoring literature, and are not validated for clinical decisions.")
source, samples, events, exports = monitoring_input(s)
try:
    with st.spinner("Calling every sample…"):
        found = monitor_stored(store(), s, actor=who()) if source == "The database" else \
            monitor_files(samples, exports, events, s, actor=who())
except InputError as exc:
    show_error(exc)
    st.stop()
if not found:
    st.info("The sample table has no patient.")
    st.stop()
patient = st.selectbox("Patient", [t.patient_id for t in found], key="monitor_patient")
tl = next(t for t in found if t.patient_id == patient)
audit_view(f"serial monitoring: patient {patient}", {"timepoints": len(tl.timepoints)})
lead = "not available" if tl.lead_time_days is None else f"**{tl.lead_time_days} days**"
st.markdown(f"**Baseline** {md(tl.baseline_sample or 'none')} · **tracking** {md(tl.tracking_hotspot or 'none')} · "
            f"**first molecular progression** {md(tl.first_molecular_progression or 'none')} · **imaging PD** "
            f"{md(tl.first_radiological_progression or 'none')} · **lead time** {lead} · unit: "
            + ("mutant copies per mL plasma" if tl.unit == "copies_per_ml" else "mutant copies per 20 µL well"))
for w in tl.warnings:
    st.warning(md(w))
st.plotly_chart(timeline_figure(tl, s.pik3ca_mutant_cutoff_copies, s.her2_ratio_cutoff), key="monitor_fig",
                width="stretch")
table = tl.table()
st.dataframe(table, hide_index=True, key="monitor_table")
downloads(table, f"monitoring_{patient}", "monitor_dl", s, note=tl.rules)
inputs = MonitoringInputs([x for x in (samples, *exports, events) if x is not None])
d1, d2, _ = st.columns([1, 1, 3])
d1.download_button("JSON", audited(json.dumps(tl.to_dict(), indent=1).encode(), f"monitoring_{patient}.json",
                                   {"patient": patient}), f"monitoring_{patient}.json", "application/json",
                   key="monitor_json")
d2.download_button("PDF", lambda tl=tl, user=who(): timeline_pdf(tl, inputs, user), f"monitoring_{patient}.pdf",
                   "application/pdf", key="monitor_pdf", type="primary")
for line in inputs.lines():
    st.caption(md(line))
with st.expander(f"Across the {len(found)} patient(s): lead time and time to progression by molecular response"):
    day = st.number_input("Landmark (days after baseline)", min_value=1, value=56, step=7, key="monitor_landmark")
    summary = monitoring_summary(found, int(day), s, who())
    leads = summary.lead_times
    st.markdown("Lead time (imaging PD − molecular progression): " + (
        f"median **{summary.median_lead_time:g} days** (range {min(leads)} to {max(leads)}; n = {len(leads)} with both "
        f"dates); molecular progression before imaging in {summary.molecular_first} of {len(leads)}." if leads
        else "no patient has both dates."))
    st.caption(md(summary.landmark_rule) + ".")
    if summary.km is not None and summary.km.groups:
        st.plotly_chart(km_figure(summary.km, title=f"Time to imaging PD from day {int(day)}, by molecular response",
                                  time_unit="days from the landmark"), key="monitor_km", width="stretch")
with st.expander("The rule set: monitoring rules v1"):
    st.markdown(RULES_DESCRIPTION)  # the core's own text (no user data)
stamp(s)
