"""Settings & help: cut-offs, droplet volume, target-name map and CI method; data dictionary, templates, how to export."""
import pandas as pd
import streamlit as st

from pages._common import SETTINGS_KEY, may, md, page_header, settings, show_error, store, who
from tdm1core.storage.access import Action
from tdm1core import InputError, Settings, __version__
from tdm1core.settings import PLAUSIBLE_RANGES, settings_changes
from tdm1core.stats.cohort import data_dictionary, template_frame
from tdm1core.calling.profiles import apply_profile
from tdm1core.app.workflows import apply_settings, cutoff_profiles, save_profile, validate_limits
from tdm1core.demo import demo_files
from tdm1core.reporting.export import to_csv_bytes, to_xlsx_bytes
from tdm1core.clinical.provenance import mapped_targets
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

if may(Action.REVIEW_DROPLETS):
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
            from tdm1core.reading.exports import read_export

            export = read_export(preview.getvalue(), preview.name, settings())
            st.dataframe(pd.DataFrame([m.__dict__ for m in mapped_targets(export, settings())])
                         .rename(columns={"rule": "how"}), hide_index=True, key="set_map_table")
        except InputError as exc:
            show_error(exc)

st.subheader("Patient table: data dictionary and template")
st.dataframe(data_dictionary(), hide_index=True, key="help_dictionary")
t = template_frame()
c1, c2, _ = st.columns([1, 1, 4])
c1.download_button("Template (CSV)", to_csv_bytes(t), "patient_table_template.csv", "text/csv", key="help_tpl_csv")
c2.download_button("Template (XLSX)", to_xlsx_bytes({"patients": t, "dictionary": data_dictionary()}), "patient_table_template.xlsx",
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="help_tpl_xlsx")
st.markdown("**Demo files** (synthetic, to try every upload):")
for i, path in enumerate(demo_files()):
    st.download_button(path.name, path.read_bytes(), path.name, "text/csv", key=f"help_demo_{i}")

st.subheader("How to export from the ddPCR software")
st.markdown(
    "- **QuantaSoft (1.7.x)**: open the plate, *Analyze* tab, select the wells, *Options* → *Export CSV*. "
    "Keep the default comma delimiter and a dot as the decimal sign.\n"
    "- **QX Manager**: open the data file, *Well data* view, select the wells, *Export* → *CSV* (the well-level results table, "
    "not the droplet amplitude files).\n"
    "- Name the targets HER2 and EFTUD2 (duplex, FAM/HEX), and for PIK3CA e.g. `PIK3CA E545K MUT` (FAM) and "
    "`PIK3CA E545K WT` (HEX); other names can be mapped above.\n"
    "- Samples are matched to the patient table by the `Sample` (QuantaSoft) or `Sample description 1` (QX Manager) name."
)
st.subheader("About")
st.markdown(
    f"tdm1core {__version__}. Implements: *Prediction of primary resistance to trastuzumab emtansine (T-DM1) using "
    "genomic analysis of ctDNA and clinicopathological features in HER2-positive advanced breast cancer* "
    "(Kindai University; 34 patients, 16 with ctDNA). Exploratory, research use only; not a diagnostic device."
)
