"""Sections of the Droplets page: the plate (a click picks a well) and one well's droplets with manual thresholds."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from pages._base import md
from tdm1core.plotting.droplet_plots import channel_1d_figure, plate_figure, plate_status, well_2d_figure

OVERRIDES_KEY = "droplet_overrides"


def _points(event: Any) -> list:
    """The points a chart's selection event names (a dict or an attribute object, as Streamlit versions return)."""
    if isinstance(event, dict):
        return event.get("selection", {}).get("points", [])
    return getattr(getattr(event, "selection", None), "points", None) or []


def chosen_well(classified: Any, min_droplets: int, qc: Any = None) -> str:
    """The plate figure and the well box; the well chosen (by a click on the plate or in the box).

    The chosen well is kept in our own key, and the well box is a widget whose key changes when a plate click picks
    the well: a box re-mounted later (the layout above it changed) starts from its own default, so the default must
    be the chosen well, never the first one. A click is read once: the chart then gets a new key, so its selection
    starts empty (a kept selection would be re-sent by point index after the figure changes, and could name another
    well)."""
    plate = classified.plate
    wells = [c.well.well for c in classified.wells]
    chosen = st.session_state.get("_droplet_well")
    chosen = chosen if chosen in wells else wells[0]
    fig = plate_figure(classified, min_droplets, selected=chosen, qc=qc)
    n_clicks = st.session_state.get("_droplet_plate_n", 0)
    fig.update_layout(uirevision=n_clicks)
    fig.update_traces(selectedpoints=None)
    event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key=f"droplet_plate_{n_clicks}",
                            width="stretch", config={"displayModeBar": False})  # a plate is clicked, not zoomed
    clicked = next((p.get("customdata") for p in _points(event) if p.get("customdata") in wells), None)
    if clicked:
        st.session_state["_droplet_plate_n"] = n_clicks + 1
        st.session_state["_droplet_well"] = clicked
        st.rerun()
    well = st.selectbox("Well", wells, index=wells.index(chosen), key=f"droplet_well_{n_clicks}",
                        format_func=lambda w: f"{w} · {plate.sample_of(w)}")
    st.session_state["_droplet_well"] = well
    return well


def _set_override(overrides: list, well: str, channel: str, value: float) -> None:
    st.session_state[OVERRIDES_KEY] = [x for x in overrides if not (x[0] == well and x[1] == channel)] + [[well, channel, value]]
    st.rerun()


def well_section(classified: Any, well: str, manual: bool, min_droplets: int, qc: Any = ()) -> None:
    """One well: its counts, the 2D plot and a 1D plot per channel; with manual thresholds, a box dragged over the
    positive droplets (or a typed value) sets this well's threshold for that channel."""
    plate, c = classified.plate, classified.well(well)
    names = {n.channel: n.target.strip() for n in plate.names_of(well)}
    st.subheader(f"Well {well}: {plate.sample_of(well)}", anchor=False)
    st.markdown(f"{c.accepted:,} droplets · status: **{plate_status(c, bool(names), min_droplets, qc)}**" + (
        " · clusters: " + ", ".join(f"{k} {v:,}" for k, v in c.clusters().items()) if c.clusters() else ""))
    for w in c.warnings:
        st.warning(md(w))
    for f in qc:
        st.warning(f"**QC {f.code}**: {md(f.message)}", icon=":material/rule:")
    st.dataframe(pd.DataFrame([{"channel": ch.channel, "target": names.get(ch.channel, ""), "threshold": "instrument"
                                if ch.threshold is None else round(ch.threshold, 1), "positive": ch.positives,
                                "negative": ch.negatives, "unclassified": ch.unclassified,
                                "rain": "" if ch.rain is None else ch.rain} for ch in c.channels]),
                 hide_index=True, width="stretch")
    if "Ch1" in c.well.channels and "Ch2" in c.well.channels:
        st.plotly_chart(well_2d_figure(c, names), width="stretch", key="droplet_2d", config={"displaylogo": False})
    if manual:
        st.caption("Manual thresholds: **drag a box** over the positive droplets in a 1D plot to put this well's "
                   "threshold for that channel at the lowest droplet in the box (it and every droplet above it are "
                   "positive), or type the values below.")
    overrides = st.session_state.setdefault(OVERRIDES_KEY, [])
    cols = st.columns(2)
    for i, ch in enumerate(c.well.channels[:6]):
        fig1d = channel_1d_figure(c, ch, names.get(ch))
        if not manual:
            cols[i % 2].plotly_chart(fig1d, width="stretch", key=f"droplet_1d_{ch}", config={"displaylogo": False})
            continue
        # box selection is the drag (set here: a chart that replaces another in place keeps the old drag mode otherwise)
        fig1d.update_layout(dragmode="select", selectdirection="any")
        points = _points(cols[i % 2].plotly_chart(fig1d, width="stretch", key=f"droplet_1d_{well}_{ch}", on_select="rerun",
                                                  selection_mode="box", config={"displaylogo": False}))
        if points:
            mark = (well, ch, round(min(float(p["y"]) for p in points), 6))
            if st.session_state.get("_droplet_last_pick") != mark:  # each box once (the selection persists on reruns)
                st.session_state["_droplet_last_pick"] = mark
                _set_override(overrides, well, ch, min(float(p["y"]) for p in points))
    if manual:
        _well_threshold_box(c, well, overrides)


def _well_threshold_box(c: Any, well: str, overrides: list) -> None:
    with st.expander(f"A threshold for well {well} only"):
        o1, o2, o3 = st.columns([1, 1, 1])
        och = o1.selectbox("Channel", list(c.well.channels), key="droplet_override_channel")
        ov = o2.number_input("Threshold", value=None, step=50.0, key="droplet_override_value")
        if o3.button("Set for this well", key="droplet_override_set", disabled=ov is None):
            _set_override(overrides, well, och, ov)
        if overrides:
            st.caption("Well thresholds: " + ", ".join(f"{w} {ch} {v:g}" for w, ch, v in overrides))
            if st.button("Clear the well thresholds", key="droplet_override_clear"):
                st.session_state[OVERRIDES_KEY] = []
                st.rerun()
