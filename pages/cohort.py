"""Cohort: data source, validation report, filters, Tables 1-4 and the flag's performance."""
import streamlit as st

from pages._common import (audit_view, cohort_statistics, md, no_patients_yet, current_cohort, downloads, page_header,
                           reading_table, settings, show_error, stamp, store, who)
from tdm1core import InputError
from pages._cohort_import import import_messages, import_section
from tdm1core.app.cohort import cohort_report_pdf
from tdm1core.stats.cohort import column_label
from tdm1core.reporting.report import Provenance
from tdm1core.reporting.export import for_display
from tdm1core.stats import FISHER_METHOD, table1_for_reading, table4_for_reading

page_header("Cohort")
s = settings()

import_section()
import_messages()

try:
    cohort, calls = current_cohort()
except InputError as exc:
    show_error(exc)
    st.stop()
if cohort is None:
    no_patients_yet()
    st.stop()

for note in cohort.notes:
    st.warning(md(note))

with st.sidebar:
    st.subheader("Filters")
    filters = {}
    for col, label in (("hr_group", "Hormone receptor"), ("tdm1_line", "T-DM1 line"), ("stage", "Stage"),
                       ("ctdna_available", "ctDNA available"), ("flag", "Risk flag")):
        options = sorted(cohort.patients[col].dropna().unique())
        filters[col] = st.multiselect(label, options, key=f"cohort_filter_{col}")
caption = st.empty()
# Table 4's extra characteristics are chosen in its own section; kept here so they stay chosen while another section
# is shown (a widget's own state ends when it is not drawn)
EXTRA = "cohort_table4_extra_chosen"
extra = [c for c in st.session_state.get(EXTRA, []) if c in cohort.categorical_columns()]
view, stats = cohort_statistics(filters, extra)
audit_view("cohort statistics", {"filters": {k: v for k, v in filters.items() if v} or "none", "patients": view.n})
caption.caption(f"{view.n} of {cohort.n} patients shown ({view.n_ctdna} with ctDNA). Source: {md(cohort.source)}.")
note = "Includes synthetic demo data, not patient data." if "synthetic" in cohort.source else None

SECTIONS = ["Table 1: characteristics", "Best response", "ctDNA per patient", "Primary resistance (Fisher)",
            "Flag performance"]
# one section at a time (a choice that wraps on a phone, unlike a row of tabs; and only what is shown is sent)
section = st.radio("Show", SECTIONS, horizontal=True, key="cohort_section", label_visibility="collapsed")
if section == SECTIONS[0]:
    reading_table(table1_for_reading(stats.table1))  # two columns that wrap: fits a phone without sideways scrolling
    st.caption("n (%) unless stated; yes/no items count the patients with \"yes\". The downloads have one row per level.")
    downloads(stats.table1, "table1_characteristics", "cohort_t1_dl", s, note)
elif section == SECTIONS[1]:
    st.dataframe(stats.table2, hide_index=True, key="cohort_t2")
    downloads(stats.table2, "table2_best_response", "cohort_t2_dl", s, note)
elif section == SECTIONS[2]:
    copies = {c: 1 for c in stats.table3.columns if c.endswith((" MUT", " WT"))}
    st.dataframe(for_display(stats.table3, {"her2_ratio": 2, **copies}, first=["patient_id", "sample", "flag", "her2_ratio",
                                                                             "her2_call", "pik3ca", "primary_resistance"]),
                 hide_index=True, key="cohort_t3")
    st.caption("Ratios to 2 decimals and copies per 20 µL to 1 decimal; the downloads keep full precision. NA = not measured.")
    downloads(stats.table3, "table3_ctdna", "cohort_t3_dl", s, note)
elif section == SECTIONS[3]:
    def keep_extra() -> None:
        st.session_state[EXTRA] = list(st.session_state["cohort_table4_extra"])

    st.multiselect("More characteristics for Table 4 (any categorical column)",
                   [c for c in cohort.categorical_columns() if c not in ("primary_resistance", "first_response")],
                   default=extra, key="cohort_table4_extra", format_func=column_label, on_change=keep_extra)
    st.caption(f"{FISHER_METHOD}. Primary resistance = progressive disease at the first RECIST 1.1 evaluation.")
    reading_table(table4_for_reading(stats.table4))  # three columns that wrap, as the paper prints it
    st.caption("Levels under each characteristic: patients with primary resistance / patients in the level (%). "
               "p to 3 decimals; the downloads keep one row per level with full precision.")
    downloads(stats.table4, "table4_primary_resistance", "cohort_t4_dl", s, note)
else:
    p = stats.performance
    st.markdown(f"**Flag vs primary resistance** (patients with ctDNA and a complete flag; {p.excluded} excluded)")
    c1, c2 = st.columns(2)
    c1.dataframe(p.table(), hide_index=True, key="cohort_2x2")
    c2.markdown("\n".join(f"- **{n}**: {getattr(p, k).format()}" for n, k in
                          (("Sensitivity", "sensitivity"), ("Specificity", "specificity"), ("PPV", "ppv"), ("NPV", "npv"))))
    st.warning(p.caveat)
    st.markdown("**Other HER2 ratio cut-offs** (flag = ratio below the cut-off and ER/PR positive)")
    st.dataframe(stats.thresholds, hide_index=True, key="cohort_thresholds")
    downloads(stats.thresholds, "flag_cutoff_table", "cohort_thr_dl", s, note)
st.download_button("PDF summary of this cohort",
                   lambda user=who(), db=store(): cohort_report_pdf(db, view, stats, Provenance(cohort.source, cohort.sha256),
                                                                    filters, actor=user),
                   "tdm1_cohort_report.pdf", "application/pdf", key="cohort_pdf", type="primary")
stamp(s)
