"""Serial monitoring: a patient's ctDNA over time on T-DM1, each sample classed by a named rule set (issue 26)."""
import json

import streamlit as st

from pages._common import audit_view, audited, downloads, may, md, page_header, settings, show_error, stamp, store, who
from tdm1core import InputError
from tdm1core.app.monitoring import (MonitoringInputs, import_serial_tables, monitor_files, monitor_stored,
                                     monitoring_summary, timeline_pdf)
from tdm1core.storage.access import Action
from tdm1core.demo import demo_series_paths
from tdm1core.plotting.figures import km_figure, timeline_figure
from tdm1core.stats.monitoring import RULES_DESCRIPTION
from tdm1core.stats.serial_tables import events_template, samples_template, serial_dictionary
from tdm1core.reporting.export import to_csv_bytes

page_header("Serial monitoring on T-DM1")
s = settings()
st.caption("Exploratory: the molecular-response rules (monitoring rules v1) are this product's, from the ctDNA "
           "monitoring literature, and are not validated for clinical decisions.")
source = st.radio("Data", ["Upload the tables and exports", "The database", "Use the SYNTHETIC demo series"],
                  horizontal=True, key="monitor_source")
samples = events = None
exports: list = []
if source == "The database":
    if may(Action.IMPORT):
        with st.expander("Import a sample table or an events table into the database (all or nothing; audited)"):
            up = st.file_uploader("Sample or events table", type=["csv", "xlsx"], key="monitor_import")
            kind = st.radio("It is", ["a sample table", "an events table"], horizontal=True, key="monitor_import_kind")
            if up is not None and st.button("Import", key="monitor_import_go"):
                try:
                    item = (up.getvalue(), up.name)
                    n = import_serial_tables(store(), item if kind == "a sample table" else None,
                                             item if kind == "an events table" else None, s, who())
                    st.success(f"Stored {n[0]} sample(s) and {n[1]} event(s) from {md(up.name)}.")
                except InputError as exc:
                    show_error(exc)
elif source.startswith("Use"):
    samples_path, export_path, events_path = demo_series_paths()
    samples = (samples_path.read_bytes(), samples_path.name)
    exports = [(export_path.read_bytes(), export_path.name)]
    events = (events_path.read_bytes(), events_path.name)
    st.warning("**SYNTHETIC demo series, not patient data.** Four made-up courses on T-DM1.", icon=":material/science:")
else:
    c1, c2 = st.columns(2)
    table = c1.file_uploader("Sample table (CSV or XLSX)", type=["csv", "xlsx"], key="monitor_samples")
    ev = c2.file_uploader("Events table (optional)", type=["csv", "xlsx"], key="monitor_events")
    files = st.file_uploader("ddPCR exports with these samples", type=["csv", "txt", "xlsx"], accept_multiple_files=True,
                             key="monitor_exports")
    samples = (table.getvalue(), table.name) if table is not None else None
    events = (ev.getvalue(), ev.name) if ev is not None else None
    exports = [(f.getvalue(), f.name) for f in files or []]
    with st.expander("Templates and data dictionary"):
        st.dataframe(serial_dictionary(), hide_index=True, key="monitor_dictionary")
        t1, t2, _ = st.columns([1, 1, 3])
        t1.download_button("Sample table template", to_csv_bytes(samples_template()), "samples_template.csv", "text/csv",
                           key="monitor_tpl_samples")
        t2.download_button("Events table template", to_csv_bytes(events_template()), "events_template.csv", "text/csv",
                           key="monitor_tpl_events")
    if samples is None or not exports:
        st.info("Upload the sample table and the exports (and the events table for the baseline and imaging), or use "
                "the demo series.", icon=":material/upload_file:")
        st.stop()

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
