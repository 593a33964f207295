import streamlit as st

from pages._common import current_cohort, demo_state, no_patients_yet, page_header, settings, show_error
from tdm1core.errors import InputError

page_header("T-DM1 primary-resistance flag from ctDNA")
st.markdown(
    "This tool reads a **pre-treatment liquid biopsy** measured by droplet digital PCR (Bio-Rad QuantaSoft or QX Manager "
    "export) and flags patients with HER2-positive advanced breast cancer **at risk of primary resistance to "
    f"trastuzumab emtansine (T-DM1)**: HER2 not amplified in ctDNA (HER2/EFTUD2 ratio below {settings().her2_ratio_cutoff:g}) "
    "**and** an ER- and/or "
    "PR-positive tumour. It also reproduces the study's cohort statistics for research teams."
)
try:
    cohort, calls = current_cohort()
    c1, c2, c3 = st.columns(3)
    c1.metric("Patients", 0 if cohort is None else cohort.n)
    c2.metric("With ctDNA", 0 if cohort is None else cohort.n_ctdna)
    c3.metric("Data", {"demo": "synthetic demo", "mixed": "yours + demo", "real": "yours", "empty": "empty"}[demo_state()])
    if cohort is None:
        no_patients_yet()
except InputError as exc:
    show_error(exc)

st.subheader("Where to go")
st.page_link("pages/patient.py", label="Patient result: one patient's export, calls and flag (oncologists)", icon=":material/person:")
st.page_link("pages/cohort.py", label="Cohort: Tables 1-4 and the flag's performance (research)", icon=":material/table_chart:")
st.page_link("pages/survival.py", label="Survival: Kaplan-Meier time to progression with log-rank test", icon=":material/monitoring:")
st.page_link("pages/audit.py", label="Database & audit: stored files, imports, deletions and settings changes", icon=":material/history:")
st.page_link("pages/settings.py", label="Settings & help: cut-offs, target names, templates, how to export", icon=":material/settings:")
st.caption("Evidence level: one retrospective single-centre study, 34 patients, 16 with ctDNA (4 primary-resistant). "
           "Exploratory, not validated.")
