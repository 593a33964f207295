"""Droplet figures for the screen (Plotly, WebGL for 20,000 points): the plate grid, a well's 2D Ch1-Ch2 scatter and
each channel's 1D amplitude plot, with the thresholds. Okabe-Ito colours, with the counts in the legend so that the
clusters read without colour."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tdm1core.plotting.figures import safe_label

if TYPE_CHECKING:
    from tdm1core.reading.plate import PlateClassification
    from tdm1core.reading.thresholds import WellClassification

__all__ = ["CLUSTER_COLOURS", "plate_status", "plate_figure", "well_2d_figure", "channel_1d_figure"]

CLUSTER_COLOURS = {"Ch1-Ch2-": "#9A9A9A", "Ch1+Ch2-": "#0072B2", "Ch1-Ch2+": "#009E73", "Ch1+Ch2+": "#E69F00",
                   "unclassified": "#000000"}
STATUS_STYLE = {  # status -> (colour, symbol, words)
    "ok": ("#0072B2", "square", "classified"),
    "check": ("#E69F00", "diamond", "check the warnings"),
    "few droplets": ("#D55E00", "x", "below the droplet minimum"),
    "no names": ("#9A9A9A", "square-open", "no sample/target names"),
}


def plate_status(c: "WellClassification", named: bool, min_droplets: int, qc: Any = ()) -> str:
    if c.accepted < min_droplets:
        return "few droplets"
    if not named:
        return "no names"
    return "check" if c.warnings or qc else "ok"


def plate_figure(classified: "PlateClassification", min_droplets: int, selected: str | None = None,
                 qc: "dict[str, Any] | None" = None):
    """The plate as an 8 x 12 (or 16 x 24) grid of wells coloured and shaped by status, each well's QC codes in its
    hover (``qc``: well -> findings); a click selects a well (``customdata`` holds the well)."""
    import plotly.graph_objects as go

    plate = classified.plate
    rows_letters = "ABCDEFGHIJKLMNOP"
    wells = [c.well.well for c in classified.wells if c.well.well]
    big = any(w[0] > "H" or int(w[1:]) > 12 for w in wells)
    n_rows, n_cols = (16, 24) if big else (8, 12)
    fig = go.Figure()
    # the empty grid, so a plate reads as a plate
    gx, gy = np.meshgrid(np.arange(1, n_cols + 1), np.arange(n_rows))
    fig.add_trace(go.Scatter(x=gx.ravel(), y=[rows_letters[i] for i in gy.ravel()], mode="markers", hoverinfo="skip",
                             marker=dict(symbol="square-open", size=19 if not big else 10, color="#D9D9D9"),
                             showlegend=False))
    by_status: dict[str, list] = {}
    for c in classified.wells:
        w = c.well.well
        if not w:
            continue
        flags = (qc or {}).get(w, ())
        status = plate_status(c, bool(plate.names_of(w)), min_droplets, flags)
        pos = ", ".join(f"{ch.channel} {ch.positives:,}" for ch in c.channels)
        hover = (f"{w} · {safe_label(plate.sample_of(w))}<br>{c.accepted:,} droplets<br>positives: {pos}"
                 + (f"<br>{len(c.warnings)} warning(s)" if c.warnings else "")
                 + (f"<br>QC: {' '.join(sorted({f.code for f in flags}))}" if flags else ""))
        by_status.setdefault(status, []).append((int(w[1:]), w[0], w, hover))
    for status, items in by_status.items():
        colour, symbol, words = STATUS_STYLE[status]
        fig.add_trace(go.Scatter(
            x=[i[0] for i in items], y=[i[1] for i in items], mode="markers", name=f"{words} ({len(items)})",
            customdata=[i[2] for i in items], hovertext=[i[3] for i in items], hovertemplate="%{hovertext}<extra></extra>",
            marker=dict(symbol=symbol, size=17 if not big else 9, color=colour, line=dict(width=1, color="#1a1a1a"))))
    if selected:
        fig.add_trace(go.Scatter(x=[int(selected[1:])], y=[selected[0]], mode="markers", name=f"selected: {selected}",
                                 hoverinfo="skip", marker=dict(symbol="square-open", size=23 if not big else 12,
                                                               color="#1a1a1a", line=dict(width=3))))
    fig.update_yaxes(categoryorder="array", categoryarray=list(rows_letters[:n_rows])[::-1], title_text=None)
    fig.update_xaxes(tickmode="array", tickvals=list(range(1, n_cols + 1)), title_text=None, side="top")
    fig.update_layout(height=330 if not big else 520, margin=dict(l=10, r=10, t=30, b=10), template="plotly_white",
                      legend=dict(orientation="h", y=-0.05), clickmode="event+select", dragmode=False)
    return fig


def _cluster_labels(c: "WellClassification") -> np.ndarray:
    p1, p2 = c.positive.get("Ch1"), c.positive.get("Ch2")
    n = c.well.droplets
    if p1 is None or p2 is None:
        return np.full(n, "unclassified", dtype=object)
    labels = np.select([~p1 & ~p2, p1 & ~p2, p1 & p2], ["Ch1-Ch2-", "Ch1+Ch2-", "Ch1+Ch2+"], "Ch1-Ch2+").astype(object)
    labels[~c.classified] = "unclassified"
    return labels


def _threshold_lines(c: "WellClassification", channel: str) -> list[tuple[float, str]]:
    """(value, label) of each threshold drawn for a channel: one, or one per part of the other channel (auto 2D)."""
    ch = next((x for x in c.channels if x.channel == channel), None)
    if ch is None or ch.threshold is None:
        return []
    parts = [(float(v), k.replace("threshold among ", "among ")) for k, v in ch.detail.items()
             if k.startswith("threshold among ") and v is not None]
    if parts and len({round(v, 6) for v, _ in parts}) > 1:
        return parts
    return [(float(ch.threshold), "threshold")]


def well_2d_figure(c: "WellClassification", names: dict[str, str] | None = None):
    """Ch1 against Ch2 amplitude, one WebGL trace per cluster (the legend gives the counts), with the thresholds."""
    import plotly.graph_objects as go

    names = names or {}
    labels = _cluster_labels(c)
    x, y = c.well.channel("Ch2"), c.well.channel("Ch1")
    fig = go.Figure()
    for cluster, colour in CLUSTER_COLOURS.items():
        sel = labels == cluster
        if not sel.any():
            continue
        n = int(sel.sum())
        fig.add_trace(go.Scattergl(x=x[sel], y=y[sel], mode="markers", name=f"{cluster}: {n:,}",
                                   marker=dict(size=3, color=colour, opacity=0.6),
                                   hovertemplate=f"{cluster} ({n:,} droplets)<br>Ch1 %{{y:.0f}} · Ch2 %{{x:.0f}}<extra></extra>"))
    for value, label in _threshold_lines(c, "Ch1"):
        fig.add_hline(y=value, line=dict(color="#CC79A7", width=2, dash="dash"),
                      annotation_text=f"Ch1 {value:.0f} ({label})", annotation_position="top left")
    for value, label in _threshold_lines(c, "Ch2"):
        fig.add_vline(x=value, line=dict(color="#CC79A7", width=2, dash="dot"),
                      annotation_text=f"Ch2 {value:.0f} ({label})", annotation_position="top right")
    fig.update_xaxes(title_text=f"Ch2 amplitude ({safe_label(names.get('Ch2', 'HEX/VIC'))})")
    fig.update_yaxes(title_text=f"Ch1 amplitude ({safe_label(names.get('Ch1', 'FAM'))})")
    fig.update_layout(height=430, margin=dict(l=10, r=10, t=30, b=10), template="plotly_white",
                      legend=dict(orientation="h", y=-0.2), title=f"{c.well.well or c.well.name}: 2D droplet plot")
    return fig


def channel_1d_figure(c: "WellClassification", channel: str, name: str | None = None):
    """One channel's amplitude by droplet order (QuantaSoft's 1D view), positives and negatives apart, threshold(s)."""
    import plotly.graph_objects as go

    x = c.well.channel(channel)
    pos = c.positive.get(channel)
    idx = np.arange(1, x.size + 1)
    fig = go.Figure()
    groups: list[tuple[str, Any, str]] = []
    if pos is None:
        groups.append(("not classified", np.ones(x.size, dtype=bool), "#9A9A9A"))
    else:
        rain = np.zeros(x.size, dtype=bool)
        detail = next((ch.detail for ch in c.channels if ch.channel == channel), {})
        centre, sd, high = detail.get("negative_centre"), detail.get("negative_sd"), detail.get("rain_high")
        if centre is not None and sd and high is not None:
            # rain, as the automatic method counts it (the RAIN QC code): above the negative cluster's edge (m + 5 s)
            # and below the threshold, or below the positive cluster's foot
            rain = c.classified & (x > centre + 5 * sd) & (x < high)
        groups += [("negative", ~pos & c.classified & ~rain, "#9A9A9A"),
                   ("positive", pos & c.classified & ~rain, "#0072B2"),
                   ("rain (between the clusters)", rain, "#E69F00"), ("unclassified", ~c.classified, "#000000")]
    for label, sel, colour in groups:
        if sel.any():
            fig.add_trace(go.Scattergl(x=idx[sel], y=x[sel], mode="markers", name=f"{label}: {int(sel.sum()):,}",
                                       marker=dict(size=3, color=colour, opacity=0.7),
                                       hovertemplate=f"{label}<br>droplet %{{x}} · %{{y:.0f}}<extra></extra>"))
    for value, label in _threshold_lines(c, channel):
        fig.add_hline(y=value, line=dict(color="#CC79A7", width=2, dash="dash"),
                      annotation_text=f"{value:.0f} ({label})", annotation_position="top left")
    title = f"{channel}" + (f" · {safe_label(name)}" if name else "")
    fig.update_xaxes(title_text="droplet")
    fig.update_yaxes(title_text="amplitude")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white", title=title,
                      legend=dict(orientation="h", y=-0.3))
    return fig
