import streamlit as st

from pages._common import may, no_patients_yet, page_header, settings, show_error, store, who
from tdm1core.app.cohort import cohort_counts
from tdm1core.storage.access import Action
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
    if not may(Action.REFERENCE_COHORT):
        raise LookupError
    counts = cohort_counts(store(), settings(), who())
    c1, c2, c3 = st.columns(3)
    c1.metric("Patients", counts.patients)
    c2.metric("With ctDNA", counts.with_ctdna)
    c3.metric("Data", {"demo": "synthetic demo", "mixed": "yours + demo", "real": "yours", "empty": "empty"}[counts.data])
    if counts.pending_files:
        st.caption(f"{counts.pending_files} stored export(s) not yet called with the settings in force: "
                   "the Cohort page calls them, and the count of patients with ctDNA follows.")
    if not counts.patients:
        no_patients_yet()
except LookupError:  # admins: no patient-level or cohort numbers here (Database & audit has the counts)
    pass
except InputError as exc:
    show_error(exc)

st.subheader("Where to go")
for action, target, label, icon in (
        (Action.PATIENT_RESULT, "pages/patient.py", "Patient result: one patient's export, calls and flag (oncologists)", ":material/person:"),
        (Action.REVIEW_DROPLETS, "pages/droplets.py", "Droplets: the droplets behind each call, thresholds (lab)", ":material/scatter_plot:"),
        (Action.COHORT, "pages/cohort.py", "Cohort: Tables 1-4 and the flag's performance (research)", ":material/table_chart:"),
        (Action.COHORT, "pages/survival.py", "Survival: Kaplan-Meier time to progression with log-rank test", ":material/monitoring:"),
        (Action.AUDIT, "pages/audit.py", "Database & audit: stored files, imports, deletions, roles and the audit log", ":material/history:"),
        (None, "pages/settings.py", "Settings & help: cut-offs, target names, templates, how to export", ":material/settings:")):
    if action is None or may(action):  # only the pages this user's roles open
        st.page_link(target, label=label, icon=icon)
st.caption("Evidence level: one retrospective single-centre study, 34 patients, 16 with ctDNA (4 primary-resistant). "
           "Exploratory, not validated.")
