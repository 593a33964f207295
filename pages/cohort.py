"""Cohort: data source, validation report, filters, Tables 1-4 and the flag's performance."""
import streamlit as st

from pages._common import SOURCE_KEY, page_header, current_cohort, downloads, settings, show_error, stamp
from tdm1core import InputError
from tdm1core.cohort import CATEGORICAL_DERIVED
from tdm1core.report import Provenance, cohort_report
from tdm1core.stats import FISHER_METHOD, analyse_cohort

page_header("Cohort")
s = settings()

with st.expander("Data source", expanded=False):
    choice = st.radio("Use", ["Built-in synthetic demo", "Upload a patient table and ddPCR exports"], key="cohort_choice",
                      index=0 if st.session_state.get(SOURCE_KEY, {"kind": "demo"})["kind"] == "demo" else 1)
    if choice.startswith("Built-in"):
        if st.session_state.get(SOURCE_KEY, {"kind": "demo"})["kind"] != "demo":
            st.session_state[SOURCE_KEY] = {"kind": "demo"}
    else:
        table = st.file_uploader("Patient table (CSV or XLSX, see the template on Settings & help)", type=["csv", "xlsx"],
                                 key="cohort_table")
        exports = st.file_uploader("ddPCR exports (CSV)", type=["csv", "txt"], accept_multiple_files=True, key="cohort_exports")
        if st.button("Load", key="cohort_load", type="primary", disabled=table is None):
            candidate = {"kind": "upload", "patients": (table.name, table.getvalue()),
                         "exports": [(f.name, f.getvalue()) for f in exports or []]}
            previous = st.session_state.get(SOURCE_KEY, {"kind": "demo"})
            st.session_state[SOURCE_KEY] = candidate
            try:
                current_cohort()
                st.session_state.pop("cohort_error", None)
                st.session_state["cohort_loaded"] = f"Loaded {table.name} with {len(exports or [])} ddPCR export(s)."
                st.rerun()
            except InputError as exc:
                st.session_state[SOURCE_KEY] = previous  # a bad upload replaces nothing
                st.session_state["cohort_error"] = str(exc)
    if st.session_state.get("cohort_loaded"):
        st.success(st.session_state["cohort_loaded"])
    if st.session_state.get("cohort_error"):
        st.error("The upload was rejected; the data in use is unchanged.\n\n" + st.session_state["cohort_error"], icon=":material/error:")
        if st.button("Dismiss", key="cohort_dismiss"):
            del st.session_state["cohort_error"]
            st.rerun()

try:
    cohort, calls = current_cohort()
except InputError as exc:
    show_error(exc)
    st.stop()

for note in cohort.notes:
    st.warning(note)

with st.sidebar:
    st.subheader("Filters")
    filters = {}
    for col, label in (("hr_group", "Hormone receptor"), ("tdm1_line", "T-DM1 line"), ("stage", "Stage"),
                       ("ctdna_available", "ctDNA available"), ("flag", "Risk flag")):
        options = sorted(cohort.patients[col].dropna().unique())
        filters[col] = st.multiselect(label, options, key=f"cohort_filter_{col}")
view = cohort.filter(**filters)
st.caption(f"{view.n} of {cohort.n} patients shown ({view.n_ctdna} with ctDNA). Source: {cohort.source}.")

extra = st.multiselect("More characteristics for Table 4 (any categorical column)",
                       [c for c in cohort.categorical_columns() if c not in ("primary_resistance", "first_response")],
                       key="cohort_table4_extra", format_func=lambda c: CATEGORICAL_DERIVED.get(c, c))
stats = analyse_cohort(view, s, table4_columns=extra, calls=calls)
note = "Synthetic demo data, not patient data." if cohort.source.startswith("built-in") else None

t1, t2, t3, t4, t5 = st.tabs(["Table 1: characteristics", "Best response", "ctDNA per patient",
                              "Primary resistance (Fisher)", "Flag performance"])
with t1:
    st.dataframe(stats.table1, hide_index=True, height=600, key="cohort_t1")
    downloads(stats.table1, "table1_characteristics", "cohort_t1_dl", s, note)
with t2:
    st.dataframe(stats.table2, hide_index=True, key="cohort_t2")
    downloads(stats.table2, "table2_best_response", "cohort_t2_dl", s, note)
with t3:
    st.dataframe(stats.table3, hide_index=True, key="cohort_t3")
    downloads(stats.table3, "table3_ctdna", "cohort_t3_dl", s, note)
with t4:
    st.caption(f"{FISHER_METHOD}. Primary resistance = progressive disease at the first RECIST 1.1 evaluation.")
    st.dataframe(stats.table4.drop(columns="test"), hide_index=True, key="cohort_t4",
                 column_config={"p_value": st.column_config.NumberColumn("p value", format="%.3f")})
    downloads(stats.table4, "table4_primary_resistance", "cohort_t4_dl", s, note)
with t5:
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
st.download_button("PDF summary of this cohort", lambda: cohort_report(view, stats, Provenance(cohort.source, cohort.sha256), filters),
                   "tdm1_cohort_report.pdf", "application/pdf", key="cohort_pdf", type="primary")
stamp(s)
