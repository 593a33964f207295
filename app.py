"""T-DM1 ctDNA dashboard: who may come in (pages/_signin.gate), navigation (st.navigation with the pages in pages/
that the user's roles allow) and the shared sidebar."""
from pathlib import Path

import streamlit as st

from pages._common import VIA_APP_KEY, demo_state, md, settings
from pages._signin import gate, serving, sidebar
from tdm1core.access import Action

# a local icon: no page load fetches anything from outside this server (hospital networks may be offline)
st.set_page_config(page_title="T-DM1 ctDNA resistance flag", page_icon=str(Path(__file__).parent / ".streamlit" / "icon.png"),
                   layout="wide")

user = gate()  # in signed-in mode, a session that is not signed in (or has no role) sees one page and stops here

pages = [
    (None, st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)),
    (Action.PATIENT_RESULT, st.Page("pages/patient.py", title="Patient result", icon=":material/person:", url_path="patient-result")),
    (Action.REVIEW_DROPLETS, st.Page("pages/droplets.py", title="Droplets", icon=":material/scatter_plot:", url_path="droplet-review")),
    (Action.COHORT, st.Page("pages/cohort.py", title="Cohort", icon=":material/table_chart:", url_path="cohort-statistics")),
    (Action.COHORT, st.Page("pages/survival.py", title="Survival", icon=":material/monitoring:", url_path="survival-analysis")),
    (Action.AUDIT, st.Page("pages/audit.py", title="Database & audit", icon=":material/history:", url_path="database-audit")),
    (None, st.Page("pages/settings.py", title="Settings & help", icon=":material/settings:", url_path="settings-and-help")),
]
st.session_state[VIA_APP_KEY] = True
page = st.navigation([p for action, p in pages if action is None or user.may(action)])  # other URLs are not routed

with st.sidebar:
    s = settings()
    st.markdown("**Data:** " + {"demo": "built-in synthetic demo", "mixed": "your data + synthetic demo", "real": "your data",
                                "empty": "empty database"}[demo_state()])
    st.caption(f"HER2 cut-off {s.her2_ratio_cutoff:g} · PIK3CA {s.pik3ca_mutant_cutoff_copies:g} copies · "
               f"EFTUD2 > {s.reference_min_copies:g} · KM CI {s.km_ci_method} · profile {md(s.cutoff_profile)}")
    sidebar(user, serving())
    st.caption("Research use only; not a diagnostic device.")

page.run()
