"""Droplets: a plate's per-droplet amplitude files, the thresholds, the plate view, a well's droplet plots, the calls."""
import pandas as pd
import streamlit as st

from pages._common import (DROPLET_THRESHOLDS_KEY, audit_view, may, assessed_droplets, downloads, droplet_thresholds, md, page_header,
                           settings, settings_key, show_error, stamp, store, who)
from tdm1core import InputError
from tdm1core.plotting.droplet_plots import channel_1d_figure, plate_figure, plate_status, well_2d_figure
from tdm1core.reading.plate import droplet_table, plate_summary
from tdm1core.reading.thresholds import DropletThresholds
from tdm1core.storage.access import Action
from tdm1core.app.workflows import save_default_thresholds

page_header("Droplets")
s = settings()
st.caption("For the lab: the droplets behind each call. Upload a plate as a **zip** of its `<Plate>_<Well>_Amplitude.csv` "
           "files with the plate's results export (or a sample sheet `Well,Sample,TargetType,Target`), or the files "
           "themselves. Calls are made from the droplets as classified here, with the settings of this session.")

current = droplet_thresholds()  # this session's, else the lab's saved default
_METHODS = {"instrument": "Instrument classes", "auto": "Automatic thresholds", "manual": "Manual thresholds"}
if "droplet_method" not in st.session_state:  # the first view starts from the saved classification
    st.session_state["droplet_method"] = _METHODS[current.method]
    for ch, v in current.channels:
        st.session_state[f"droplet_thr_{ch.lower()}"] = v
    st.session_state["droplet_overrides"] = [list(w) for w in current.wells]
uploads = st.file_uploader("Droplet amplitude files, a zipped plate, and the results export", type=["csv", "txt", "zip"],
                           accept_multiple_files=True, key="droplet_upload")
method = st.radio("Droplet classification", ["Instrument classes", "Automatic thresholds", "Manual thresholds"],
                  horizontal=True, key="droplet_method",
                  help="Instrument: QuantaSoft's clusters or QX Manager's classes (the results export's counts). "
                       "Automatic: per well, the negative cluster's far fence or the density valley (method on the "
                       "Settings & help page and in docs/lab.md). Manual: positive at or above your threshold.")


def _assess(files: list[tuple[bytes, str]], thresholds: DropletThresholds):
    """(assessment or None, classified plate, the reason no call was made or None)."""
    try:
        assessment, classified = assessed_droplets(files, settings_key(s), thresholds)
        return assessment, classified, None
    except InputError as exc:
        if "no sample or target names" not in str(exc):
            raise
        from tdm1core.reading.plate import classify_plate, read_plate

        return None, classify_plate(read_plate(files, s), thresholds), exc


if not uploads:
    st.info("No droplet files yet. Export 'Amplitude and Cluster Data' in QuantaSoft (Options menu) or the amplitude "
            "data in QX Manager, zip the folder with the plate's results CSV, and upload the zip.", icon=":material/upload_file:")
    st.stop()

files = [(u.getvalue(), u.name) for u in uploads]
manual: list[tuple[str, float]] = []
overrides: list[tuple[str, str, float]] = st.session_state.setdefault("droplet_overrides", [])
if method == "Manual thresholds":
    c1, c2, _ = st.columns([1, 1, 2])
    # no value= where the saved default already put one in session state (Streamlit would warn about both)
    v1 = c1.number_input("Ch1 (FAM) threshold", step=50.0, key="droplet_thr_ch1",
                         **({} if "droplet_thr_ch1" in st.session_state else {"value": None}))
    v2 = c2.number_input("Ch2 (HEX/VIC) threshold", step=50.0, key="droplet_thr_ch2",
                         **({} if "droplet_thr_ch2" in st.session_state else {"value": None}))
    manual = [(ch, v) for ch, v in (("Ch1", v1), ("Ch2", v2)) if v is not None]
code = {"Instrument classes": "instrument", "Automatic thresholds": "auto", "Manual thresholds": "manual"}[method]
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
    assessment, classified, names_error = _assess(files, thresholds)
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

plate = classified.plate
audit_view(f"droplets: plate {plate.name}", {"wells": len(plate.wells)})
st.markdown(f"**Plate** {md(plate.name)}: {len(plate.wells)} well(s), {md(plate.wells[0].format)}; names from "
            f"{md(plate.names_source or 'none')}. **Classification:** {md(classified.thresholds.describe())}.")
for w in plate.warnings:
    st.warning(md(w))
if names_error is not None:
    st.warning(md(str(names_error)))

# ------------------------------------------------------------------ the plate
wells = [c.well.well for c in classified.wells]
# The chosen well is kept in our own key, and the well box is a widget whose key changes when a plate click picks
# the well: a box re-mounted later (the layout above it changed) starts from its own default, so the default must be
# the chosen well, never the first one.
chosen = st.session_state.get("_droplet_well")
if chosen not in wells:
    chosen = wells[0]
fig = plate_figure(classified, s.min_accepted_droplets, selected=chosen)
# a click is read once: the chart then gets a new key, so its selection starts empty (a kept selection would be
# re-sent by point index after the figure changes, and could name another well)
n_clicks = st.session_state.get("_droplet_plate_n", 0)
fig.update_layout(uirevision=n_clicks)
fig.update_traces(selectedpoints=None)
event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key=f"droplet_plate_{n_clicks}", width="stretch",
                        config={"displayModeBar": False})  # a plate is clicked, not zoomed
points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
    getattr(getattr(event, "selection", None), "points", [])
clicked = next((p.get("customdata") for p in points if p.get("customdata") in wells), None)
if clicked:
    st.session_state["_droplet_plate_n"] = n_clicks + 1
    st.session_state["_droplet_well"] = clicked
    st.rerun()
well = st.selectbox("Well", wells, index=wells.index(chosen), key=f"droplet_well_{n_clicks}",
                    format_func=lambda w: f"{w} · {plate.sample_of(w)}")
st.session_state["_droplet_well"] = well
c = classified.well(well)
names = {n.channel: n.target.strip() for n in plate.names_of(well)}

# ------------------------------------------------------------------ one well
status = plate_status(c, bool(names), s.min_accepted_droplets)
st.subheader(f"Well {well}: {plate.sample_of(well)}", anchor=False)
st.markdown(f"{c.accepted:,} droplets · status: **{status}**" + (" · clusters: " + ", ".join(
    f"{k} {v:,}" for k, v in c.clusters().items()) if c.clusters() else ""))
for w in c.warnings:
    st.warning(md(w))
rows = [{"channel": ch.channel, "target": names.get(ch.channel, ""), "threshold": "instrument" if ch.threshold is None
         else round(ch.threshold, 1), "positive": ch.positives, "negative": ch.negatives, "unclassified": ch.unclassified,
         "rain": "" if ch.rain is None else ch.rain} for ch in c.channels]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
if "Ch1" in c.well.channels and "Ch2" in c.well.channels:
    st.plotly_chart(well_2d_figure(c, names), width="stretch", key="droplet_2d", config={"displaylogo": False})
if code == "manual":
    st.caption("Manual thresholds: **drag a box** over the positive droplets in a 1D plot to put this well's threshold "
               "for that channel at the lowest droplet in the box (it and every droplet above it are positive), or type "
               "the values below.")
cols = st.columns(2)
for i, ch in enumerate(c.well.channels[:6]):
    fig1d = channel_1d_figure(c, ch, names.get(ch))
    if code != "manual":
        cols[i % 2].plotly_chart(fig1d, width="stretch", key=f"droplet_1d_{ch}", config={"displaylogo": False})
        continue
    # box selection is the drag (set here: a chart that replaces another in place keeps the old drag mode otherwise)
    fig1d.update_layout(dragmode="select", selectdirection="any")
    picked = cols[i % 2].plotly_chart(fig1d, width="stretch", key=f"droplet_1d_{well}_{ch}", on_select="rerun",
                                      selection_mode="box", config={"displaylogo": False})
    points = getattr(getattr(picked, "selection", None), "points", None) or \
        ((picked or {}).get("selection", {}).get("points", []) if isinstance(picked, dict) else [])
    if points:
        y = min(float(p["y"]) for p in points)
        mark = (well, ch, round(y, 6))
        if st.session_state.get("_droplet_last_pick") != mark:  # each box once (the selection persists on reruns)
            st.session_state["_droplet_last_pick"] = mark
            st.session_state["droplet_overrides"] = [x for x in overrides if not (x[0] == well and x[1] == ch)] + [[well, ch, y]]
            st.rerun()
if code == "manual":
    with st.expander(f"A threshold for well {well} only"):
        o1, o2, o3 = st.columns([1, 1, 1])
        och = o1.selectbox("Channel", list(c.well.channels), key="droplet_override_channel")
        ov = o2.number_input("Threshold", value=None, step=50.0, key="droplet_override_value")
        if o3.button("Set for this well", key="droplet_override_set", disabled=ov is None):
            st.session_state["droplet_overrides"] = [x for x in overrides if not (x[0] == well and x[1] == och)] + [(well, och, ov)]
            st.rerun()
        if overrides:
            st.caption("Well thresholds: " + ", ".join(f"{w} {ch} {v:g}" for w, ch, v in overrides))
            if st.button("Clear the well thresholds", key="droplet_override_clear"):
                st.session_state["droplet_overrides"] = []
                st.rerun()

table = droplet_table(c)
downloads(table, f"droplets_{plate.name}_{well}", "droplet_well_dl", s,
          note=f"Droplets of well {well} of {plate.name}; classification: {classified.thresholds.describe()}")

# ------------------------------------------------------------------ the calls and the plate summary
summary = plate_summary(classified)
flat = pd.DataFrame([{
    "well": r["well"], "sample": r["sample"], "droplets": r["droplets"],
    **{f"{ch} target": t for ch, t in r["targets"].items()},
    **{f"{ch} positive": r["positives"].get(t, r["positives"].get(ch)) for ch, t in r["targets"].items()},
    **{f"{ch} threshold": ("instrument" if v is None else round(v, 1)) for ch, v in r["threshold"]["values"].items()},
    "rain": sum(v for v in r["rain"].values() if v) if r["rain"] else "", "warnings": " | ".join(r["warnings"]),
} for r in summary])
st.subheader("Plate summary", anchor=False)
st.dataframe(flat, hide_index=True, width="stretch")
downloads(flat, f"plate_summary_{plate.name}", "droplet_plate_dl", s,
          note=f"Plate {plate.name}; classification: {classified.thresholds.describe()}")
if assessment is not None:
    st.subheader("Calls from these droplets", anchor=False)
    calls = pd.DataFrame([{
        "sample": x.sample, "HER2/EFTUD2 ratio": None if x.her2.ratio is None else round(x.her2.ratio, 2),
        "HER2": x.her2.call, "PIK3CA mutant": {True: "detected", False: "not detected", None: "not evaluable"}[x.pik3ca.any_mutant],
        "QC": "ok" if all(q.ok for q in x.qc) else "check",
    } for x in assessment.calls])
    st.dataframe(calls, hide_index=True, width="stretch")
    st.caption("For the patient's flag (with ER/PR), the report and the PDF, use the Patient result page with the "
               "plate's results export, or `python -m tdm1core call PLATE.zip --threshold ...` on the command line.")
stamp(s)
