"""Droplets: a plate's per-droplet amplitude files, the thresholds, the plate view, a well's droplet plots, the calls."""
import streamlit as st

from pages._common import (DROPLET_THRESHOLDS_KEY, audit_view, may, downloads, droplet_thresholds, md, page_header,
                           reviewed_plate, settings, show_error, stamp, store, who)
from pages._droplet_well import OVERRIDES_KEY, chosen_well, well_section
from tdm1core import InputError
from tdm1core.reading.plate import droplet_table
from tdm1core.reading.thresholds import DropletThresholds
from tdm1core.storage.access import Action
from tdm1core.app.admin import save_default_thresholds

page_header("Droplets")
s = settings()
st.caption("For the lab: the droplets behind each call. Upload a plate as a **zip** of its `<Plate>_<Well>_Amplitude.csv` "
           "files with the plate's results export (or a sample sheet `Well,Sample,TargetType,Target`), or the files "
           "themselves. Calls are made from the droplets as classified here, with the settings of this session.")

current = droplet_thresholds()  # this session's, else the lab's saved default
_METHODS = {"instrument": "Instrument classes", "auto": "Automatic thresholds", "extreme": "Extreme-value thresholds",
            "manual": "Manual thresholds"}
if "droplet_method" not in st.session_state:  # the first view starts from the saved classification
    st.session_state["droplet_method"] = _METHODS[current.method]
    for ch, v in current.channels:
        st.session_state[f"droplet_thr_{ch.lower()}"] = v
    st.session_state[OVERRIDES_KEY] = [list(w) for w in current.wells]
uploads = st.file_uploader("Droplet amplitude files, a zipped plate, and the results export", type=["csv", "txt", "zip"],
                           accept_multiple_files=True, key="droplet_upload")
method = st.radio("Droplet classification", list(_METHODS.values()), horizontal=True, key="droplet_method",
                  help="Instrument: QuantaSoft's clusters or QX Manager's classes (the results export's counts). "
                       "Automatic: per well, the negative cluster's far fence or the density valley. Extreme-value: "
                       "after ddpcRquant, a Gumbel law fitted to the maxima of the negative droplets, for low-level "
                       "mutants (docs/lab.md). Manual: positive at or above your threshold.")


if not uploads:
    st.info("No droplet files yet. Export 'Amplitude and Cluster Data' in QuantaSoft (Options menu) or the amplitude "
            "data in QX Manager, zip the folder with the plate's results CSV, and upload the zip.", icon=":material/upload_file:")
    st.stop()

files = [(u.getvalue(), u.name) for u in uploads]
manual: list[tuple[str, float]] = []
overrides: list[tuple[str, str, float]] = st.session_state.setdefault(OVERRIDES_KEY, [])
if method == "Manual thresholds":
    c1, c2, _ = st.columns([1, 1, 2])
    # no value= where the saved default already put one in session state (Streamlit would warn about both)
    v1 = c1.number_input("Ch1 (FAM) threshold", step=50.0, key="droplet_thr_ch1",
                         **({} if "droplet_thr_ch1" in st.session_state else {"value": None}))
    v2 = c2.number_input("Ch2 (HEX/VIC) threshold", step=50.0, key="droplet_thr_ch2",
                         **({} if "droplet_thr_ch2" in st.session_state else {"value": None}))
    manual = [(ch, v) for ch, v in (("Ch1", v1), ("Ch2", v2)) if v is not None]
code = {v: k for k, v in _METHODS.items()}[method]
if code == "manual" and not manual and not overrides:
    # the page goes on with the instrument's classes (said so) rather than stopping: a page that stops early loses
    # the state of the widgets below it (the chosen well)
    st.info("Type a threshold for at least one channel (a droplet at or above it is positive). Until then the "
            "instrument's classes are shown.", icon=":material/tune:")
    code = "instrument"
try:
    thresholds = DropletThresholds(method=code, channels=tuple(manual) if code == "manual" else (),
                                   wells=tuple(tuple(x) for x in overrides) if code == "manual" else ())
    st.session_state[DROPLET_THRESHOLDS_KEY] = thresholds  # the Patient page classifies droplet uploads the same way
    with st.spinner("Reading and classifying the plate…"):  # a new plate or method takes about a second
        review = reviewed_plate(files, s, thresholds)
except InputError as exc:
    show_error(exc)
    st.stop()

saved = store().saved_droplet_thresholds()
if thresholds != saved and may(Action.DEFAULT_SETTINGS):  # the lab's default is the admin's
    st.caption(f"The lab's saved default is: {md(saved.describe())}.")
    if st.button("Save this classification as the lab's default", key="droplet_save_default"):
        save_default_thresholds(store(), thresholds, who())
        st.success("Saved as the lab's default droplet classification (new sessions and the Patient page start from "
                   "it); the change is in the audit log with the previous value.", icon=":material/check:")

classified, plate = review.classified, review.classified.plate
audit_view(f"droplets: plate {plate.name}", {"wells": len(plate.wells)})
st.markdown(f"**Plate** {md(plate.name)}: {len(plate.wells)} well(s), {md(plate.wells[0].format)}; names from "
            f"{md(plate.names_source or 'none')}. **Classification:** {md(classified.thresholds.describe())}.")
for w in plate.warnings:
    st.warning(md(w))
if review.not_called is not None:
    st.info(md(review.not_called), icon=":material/info:")

# ------------------------------------------------------------------ the plate and one well
well = chosen_well(classified, s.min_accepted_droplets, review.qc)
well_section(classified, well, code == "manual", s.min_accepted_droplets, review.qc.get(well, ()))
table = droplet_table(classified.well(well))
downloads(table, f"droplets_{plate.name}_{well}", "droplet_well_dl", s,
          note=f"Droplets of well {well} of {plate.name}; classification: {classified.thresholds.describe()}")

# ------------------------------------------------------------------ the calls and the plate summary
flat = review.summary_frame()
st.subheader("Plate summary", anchor=False)
st.dataframe(flat, hide_index=True, width="stretch")
downloads(flat, f"plate_summary_{plate.name}", "droplet_plate_dl", s,
          note=f"Plate {plate.name}; classification: {classified.thresholds.describe()}")
if review.assessment is not None:
    st.subheader("Calls from these droplets", anchor=False)
    st.dataframe(review.calls_frame(), hide_index=True, width="stretch")
    st.caption("For the patient's flag (with ER/PR), the report and the PDF, use the Patient result page with the "
               "plate's results export, or `python -m tdm1core call PLATE.zip --threshold ...` on the command line.")
if review.not_in_panel:
    st.markdown("**Not part of the panel** (shown above, not called):\n" + "\n".join(f"- {md(n)}" for n in review.not_in_panel))
stamp(s)
