"""Settings & help: cut-offs, droplet volume, target-name map and CI method; data dictionary, templates, how to export."""
import pandas as pd
import streamlit as st

from pages._help import help_section
from pages._settings_validation import validation_section
from pages._common import SETTINGS_KEY, may, md, page_header, settings, show_error, store, who
from tdm1core.storage.access import Action
from tdm1core import InputError, Settings
from tdm1core.settings import PLAUSIBLE_RANGES, settings_changes
from tdm1core.calling.profiles import apply_profile
from tdm1core.app.admin import apply_settings
from tdm1core.app.lab import cutoff_profiles, target_map_preview
from tdm1core.targets import ASSAYS, check_alias_rows

page_header("Settings & help")
s = settings()

st.subheader("Cut-off profile")
profiles = cutoff_profiles(store(), who())
labels = [p.label for p in profiles]
in_force = s.cutoff_profile
choice = st.selectbox("Profile: the three cut-offs, named and versioned, with the evidence they came from", labels,
                      index=labels.index(in_force) if in_force in labels else 0, key="set_profile")
chosen = profiles[labels.index(choice)]
st.caption(md(chosen.describe()) + ("" if not chosen.evidence else " · evidence: " + md("; ".join(
    f"{n} (SHA-256 {h[:12]}…)" for n, h in chosen.evidence))))
if in_force not in labels:
    st.caption(f"In force now: {md(in_force)} (a cut-off was changed by hand).")
if choice != in_force and st.button("Use this profile for this session", key="set_use_profile"):
    st.session_state[SETTINGS_KEY] = apply_profile(s, chosen)
    for key in ("set_her2", "set_pik", "set_ref"):  # the form below shows the profile's values
        st.session_state.pop(key, None)
    st.session_state["settings_message"] = f"Cut-off profile {md(chosen.label)} in force for this session."
    st.rerun()

validation_section(s)

st.subheader("Settings (this session, every page)")
R = {name: (float(lo), float(hi)) for name, (lo, hi, _) in PLAUSIBLE_RANGES.items()}  # the core's one table
with st.form("settings_form"):
    c1, c2, c3 = st.columns(3)
    her2 = c1.number_input("HER2/EFTUD2 ratio cut-off (amplified when ≥)", *R["her2_ratio_cutoff"], s.her2_ratio_cutoff, 0.01, key="set_her2")
    pik = c2.number_input("PIK3CA mutant cut-off, copies/20 µL (positive when ≥)", *R["pik3ca_mutant_cutoff_copies"], s.pik3ca_mutant_cutoff_copies, 0.5, key="set_pik")
    ref = c3.number_input("EFTUD2 reference minimum, copies/20 µL (must exceed)", *R["reference_min_copies"], s.reference_min_copies, 10.0, key="set_ref")
    c4, c5, c6 = st.columns(3)
    drops = c4.number_input("Minimum accepted droplets per well", *(int(x) for x in R["min_accepted_droplets"]), s.min_accepted_droplets, 500, key="set_drops")
    vol = c5.number_input("Droplet volume, nL (QuantaSoft 1.7.x / QX Manager)", *R["droplet_volume_nl"], s.droplet_volume_nl, 0.01, key="set_vol")
    legacy = c6.number_input("Droplet volume, nL (older QuantaSoft)", *R["legacy_droplet_volume_nl"], s.legacy_droplet_volume_nl, 0.01, key="set_legacy")
    c7, c8, c9 = st.columns(3)
    level = c7.selectbox("Confidence level", [0.90, 0.95, 0.99], index=[0.90, 0.95, 0.99].index(s.confidence_level)
                         if s.confidence_level in (0.90, 0.95, 0.99) else 1, key="set_level")
    ci = c8.selectbox("Kaplan-Meier median CI method", ["log-log", "log", "plain"], index=["log-log", "log", "plain"].index(s.km_ci_method),
                      key="set_ci", help="log-log: as EZR, which the study used; log: R's default; plain: linear.")
    source = c9.selectbox("Concentrations", ["recomputed", "exported"], index=["recomputed", "exported"].index(s.concentration_source),
                          key="set_source", help="recomputed: from the droplet counts at the volume set (default); exported: "
                          "where an export implies its own per-well droplet volume, use it (the instrument's numbers).")
    max_vaf = st.number_input("Warn when a 'not detected' could miss a mutation at this VAF or above (%)", *(100 * x for x in R["max_detectable_vaf"]),
                              round(100 * s.max_detectable_vaf, 4), 0.1, key="set_max_vaf")
    st.markdown("**Target-name map**: your lab's target names → assays (checked before the built-in aliases). "
                "One row per name; clear both boxes of a row to remove it.")
    alias_rows = []
    existing = list(s.target_aliases)
    for i in range(len(existing) + 3):
        name0, assay0 = existing[i] if i < len(existing) else ("", None)
        a1, a2 = st.columns([2, 1])
        name = a1.text_input(f"Target name {i + 1}", value=name0, key=f"set_alias_name_{i}", max_chars=200,
                             label_visibility="visible" if i == 0 else "collapsed", placeholder="e.g. HbS")
        assay = a2.selectbox(f"Assay {i + 1}", [None] + list(ASSAYS), index=(list(ASSAYS).index(assay0) + 1) if assay0 else 0,
                             format_func=lambda x: "choose an assay…" if x is None else x, key=f"set_alias_assay_{i}",
                             label_visibility="visible" if i == 0 else "collapsed")
        alias_rows.append((name, assay))
    applied = st.form_submit_button("Apply", type="primary")
if applied:
    pairs, alias_problems = check_alias_rows(alias_rows)
    for problem in alias_problems:
        st.error(md(problem), icon=":material/error:")
    try:
        if alias_problems:
            raise InputError(f"{len(alias_problems)} target-map row(s) need attention; nothing was applied.",
                             source="target map", hint="Correct the rows above and press Apply again.")
        st.session_state[SETTINGS_KEY] = Settings(
            her2_ratio_cutoff=her2, pik3ca_mutant_cutoff_copies=pik, reference_min_copies=ref, min_accepted_droplets=int(drops),
            droplet_volume_nl=vol, legacy_droplet_volume_nl=legacy, confidence_level=level, km_ci_method=ci,
            concentration_source=source, target_aliases=pairs, max_detectable_vaf=max_vaf / 100,
            cutoff_profile=s.cutoff_profile, profile_cutoffs=s.profile_cutoffs)
        st.session_state["settings_message"] = "Settings applied to every page of this session."
        st.rerun()  # the sidebar, drawn before this page, shows the settings in force at once
    except InputError as exc:
        show_error(exc)
if st.session_state.get("settings_message"):
    st.success(st.session_state.pop("settings_message"))
if may(Action.DEFAULT_SETTINGS):
    # every user's new sessions start from the database's default: confirmed, naming each change, before it is saved
    changes = settings_changes(store().saved_settings(), settings())
    with st.expander("Save as the database default (every user's new sessions start from it; audited)"):
        if not changes:
            st.caption("The settings in force are the database's default already.")
        else:
            st.markdown("This changes, for every user:\n" + "\n".join(f"- {md(c)}" for c in changes))
            sure = st.checkbox(f"I confirm these {len(changes)} change(s) for every user", key="set_save_db_confirm")
            if st.button("Save as the database default", key="set_save_db"):
                if not sure:
                    st.warning("Tick the box to confirm the change for every user.", icon=":material/check_box:")
                else:
                    n = apply_settings(store(), settings(), who())
                    st.success(f"Saved; {n} stored file(s) called with these settings (files already called with them "
                               "are not read again).")
if st.button("Restore the study's defaults", key="set_reset"):
    st.session_state[SETTINGS_KEY] = Settings()
    st.rerun()
st.caption(f"In use: {md(settings().describe())}")

with st.expander("Preview the target map on an export"):
    preview = st.file_uploader("A ddPCR export (nothing is stored)", type=["csv", "txt", "xlsx"], key="set_map_preview")
    if preview is not None:
        try:
            st.dataframe(pd.DataFrame(target_map_preview(preview.getvalue(), preview.name, settings(), who()))
                         .rename(columns={"rule": "how"}), hide_index=True, key="set_map_table")
        except InputError as exc:
            show_error(exc)

help_section()
