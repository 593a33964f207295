"""The Settings page's validation section: the lab's own cut-offs from blank wells (CLSI EP17-A2)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pages._common import may, md, show_error, store, who
from tdm1core import InputError, Settings
from tdm1core.app.lab import save_profile, validate_limits
from tdm1core.storage.access import Action


def validation_section(s: Settings) -> None:
    """Blank (and low-positive) exports → LoB/LoD per hotspot and a proposed profile, saved by an admin; the lab only."""
    if not may(Action.REVIEW_DROPLETS):
        return
    with st.expander("Validation: the lab's own cut-offs from blank wells (CLSI EP17-A2)"):
        if st.session_state.get("val_message"):
            st.success(st.session_state.pop("val_message"), icon=":material/check:")
        st.caption("Upload the results exports of blank samples (healthy-volunteer plasma, wild-type DNA, NTC: every "
                   "sample in these files is taken as a blank) and, optionally, of low-positive samples. Nothing is "
                   "stored until you save the profile.")
        blanks = st.file_uploader("Blank samples' exports", type=["csv", "txt", "xlsx"], accept_multiple_files=True,
                                  key="val_blanks")
        lows = st.file_uploader("Low-positive samples' exports (optional)", type=["csv", "txt", "xlsx"],
                                accept_multiple_files=True, key="val_lows")
        if blanks:
            try:
                validation = validate_limits([(f.getvalue(), f.name) for f in blanks], s,
                                             [(f.getvalue(), f.name) for f in lows or []], who())
                st.dataframe(pd.DataFrame(validation.table()).round(2), hide_index=True, key="val_table")  # copies: 2 decimals
                for lob in validation.lob:
                    st.caption(md(lob.describe()))
                if validation.her2 is not None:
                    st.caption(md(validation.her2.describe()))
                for note in validation.notes:
                    st.warning(md(note))
                st.markdown(f"**Proposed PIK3CA cut-off: {validation.proposed_pik3ca_cutoff:g} copies/20 µL** (the largest "
                            f"LoD rounded up); HER2 {validation.her2_ratio_cutoff:g} and EFTUD2 > "
                            f"{validation.reference_min_copies:g} kept from the settings in force.")
                if may(Action.DEFAULT_SETTINGS):
                    name = st.text_input("Profile name (saving a name again makes its next version)", max_chars=150,
                                         key="val_name", placeholder="e.g. Lab X PIK3CA")
                    # never disabled: a person types the name and clicks at once (the click commits the text box)
                    if st.button("Save as a cut-off profile", key="val_save") and not name.strip():
                        st.warning("Give the profile a name first.", icon=":material/edit:")
                    elif st.session_state.get("val_save") and name.strip():
                        saved = save_profile(store(), validation, name, who())
                        st.session_state["val_message"] = (f"Stored cut-off profile {md(saved.label)} (recorded in the "
                                                           "audit log). Choose it above to use it.")
                        st.rerun()  # the profile list above shows it at once
            except InputError as exc:
                show_error(exc)

