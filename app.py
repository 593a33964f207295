"""T-DM1 ctDNA dashboard: who may come in (pages/_signin.gate), navigation (st.navigation with the pages in pages/
that the user's roles allow) and the shared sidebar."""
from pathlib import Path

import streamlit as st

from pages._common import VIA_APP_KEY, demo_state, md, settings
from pages._signin import app_pages, gate, not_available_page, serving, sidebar

# a local icon: no page load fetches anything from outside this server (hospital networks may be offline)
st.set_page_config(page_title="T-DM1 ctDNA resistance flag", page_icon=str(Path(__file__).parent / ".streamlit" / "icon.png"),
                   layout="wide")

user = gate()  # in signed-in mode, a session that is not signed in (or has no role) sees one page and stops here

# A page the user's role may not use is still routed, hidden, to a page that says so: a URL typed or bookmarked is
# never silently sent home. The sidebar's navigation is drawn here (Streamlit's own is off in config.toml, so the
# pages/ folder's module names never show before this script's first run).
pages = app_pages()
routed = [p if action is None or user.may(action) else not_available_page(p, action, user) for action, p in pages]
st.session_state[VIA_APP_KEY] = True
page = st.navigation(routed, position="hidden")

with st.sidebar:
    with st.container(key="sidebar_nav"):
        for action, p in pages:
            if action is None or user.may(action):
                st.page_link(p)
with st.sidebar:
    s = settings()
    st.markdown("**Data:** " + {"demo": "built-in synthetic demo", "mixed": "your data + synthetic demo", "real": "your data",
                                "empty": "empty database"}[demo_state(fresh=True)])
    st.caption(f"HER2 cut-off {s.her2_ratio_cutoff:g} · PIK3CA {s.pik3ca_mutant_cutoff_copies:g} copies · "
               f"EFTUD2 > {s.reference_min_copies:g} · KM CI {s.km_ci_method} · profile {md(s.cutoff_profile)}")
    sidebar(user, serving())
    st.caption("Research use only; not a diagnostic device.")

page.run()
