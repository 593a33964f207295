"""Interactive figures for the screen (Plotly). PDF figures are drawn with matplotlib in :mod:`tdm1core.reporting.report`.

Colours: the Okabe-Ito colour-blind-safe palette; every figure also carries
words and symbols so it reads without colour.
"""
from __future__ import annotations

import textwrap

import html
import math
from typing import Sequence

import numpy as np
import pandas as pd

from tdm1core.stats.survival import KaplanMeierResult

__all__ = ["PALETTE", "GROUP_COLOURS", "km_figure", "ratio_figure", "km_plot_data", "forest_figure", "zph_figure", "timeline_figure", "timeline_spans", "timeline_series"]

from tdm1core.plotting.palette import GREY, GROUP_COLOURS, PALETTE  # noqa: E402  one palette for the screen and the PDF
from tdm1core.plotting.axes import time_axis_step  # noqa: E402  one time axis for the screen and the PDF


def _colour(group: str, i: int) -> str:
    return GROUP_COLOURS.get(group, PALETTE[i % len(PALETTE)])


def _step(times: np.ndarray, values: np.ndarray) -> tuple[list[float], list[float]]:
    x = [0.0] + list(times)
    y = [1.0] + list(values)
    return x, y


def km_plot_data(km: KaplanMeierResult) -> pd.DataFrame:
    """The plotted data (for download): per group and time, S with its band, at risk, events, censored."""
    parts = []
    for g in km.groups:
        t = g.table.copy()
        t.insert(0, "group", g.group)
        parts.append(t)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(out):
        out["ci_method"] = km.ci_method
        out["level"] = km.level
    return out


def safe_label(text: object) -> str:
    """A user-derived string (sample, category, file name) as plain text inside a Plotly label or hover: Plotly reads
    a subset of HTML (links, tags) and ``%{...}`` templates in them, so both are neutralised."""
    return html.escape(str(text), quote=True).replace("%", "&#37;").replace("{", "&#123;")


def km_figure(km: KaplanMeierResult, highlight: str | None = None, show_ci: bool = True, risk_times: Sequence[float] | None = None,
              title: str = "Time to progression", time_unit: str = "days"):
    """Kaplan-Meier step curves, optional CI bands, censoring marks, median lines, log-rank p and a numbers-at-risk table."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    max_t = max((float(g.table["time"].max()) for g in km.groups if len(g.table)), default=1.0)
    if risk_times is None:
        step = time_axis_step(max_t)
        risk_times = list(np.arange(0, max_t + step / 2, step))
    n_groups = max(len(km.groups), 1)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22], vertical_spacing=0.1)
    for i, g in enumerate(km.groups):
        colour = _colour(g.group, i)
        t = g.table
        width = 4 if highlight is not None and g.group == highlight else 2
        opacity = 1.0 if highlight is None or g.group == highlight else 0.55
        group = safe_label(g.group)
        label = f"{group} (n={g.n}, events {g.events})" + (" ◀ this patient" if g.group == highlight else "")
        x, y = _step(t["time"].to_numpy(), t["survival"].to_numpy())
        if show_ci:
            xl, lo = _step(t["time"].to_numpy(), t["lower"].to_numpy())
            _, hi = _step(t["time"].to_numpy(), t["upper"].to_numpy())
            fig.add_trace(go.Scatter(x=xl, y=hi, mode="lines", line=dict(width=0, shape="hv"), showlegend=False,
                                     hoverinfo="skip", connectgaps=False), row=1, col=1)
            fig.add_trace(go.Scatter(x=xl, y=lo, mode="lines", line=dict(width=0, shape="hv"), fill="tonexty",
                                     fillcolor=_rgba(colour, 0.15), showlegend=False, hoverinfo="skip", connectgaps=False), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=label, line=dict(color=colour, width=width, shape="hv"),
                                 opacity=opacity, hovertemplate=f"{group}<br>day %{{x:.0f}}: S = %{{y:.2f}}<extra></extra>"),
                      row=1, col=1)
        cens = t[t["n_censor"] > 0]
        if len(cens):
            fig.add_trace(go.Scatter(x=cens["time"], y=cens["survival"], mode="markers", showlegend=False,
                                     marker=dict(symbol="line-ns-open", size=10, color=colour, line=dict(width=2)),
                                     hovertemplate=f"{group}: censored at day %{{x:.0f}}<extra></extra>"), row=1, col=1)
        if g.median.reached:
            m = g.median.value
            fig.add_trace(go.Scatter(x=[0, m, m], y=[0.5, 0.5, 0], mode="lines", showlegend=False, hoverinfo="skip",
                                     line=dict(color=colour, width=1, dash="dot")), row=1, col=1)
        fig.add_trace(go.Scatter(x=list(risk_times), y=[n_groups - i] * len(risk_times), mode="text",
                                 text=[str(v) for v in g.n_at_risk(risk_times)], textfont=dict(color=colour, size=12),
                                 showlegend=False, hoverinfo="skip"), row=2, col=1)
    notes = []
    if km.logrank is not None:
        p = km.logrank.p
        notes.append("Log-rank: NA (no variance to test)" if p != p else
                     f"Log-rank p = {p:.4f} (this cohort)" if p >= 0.0001 else "Log-rank p < 0.0001 (this cohort)")
    notes.append(f"Median CI: {km.ci_method}")
    fig.add_annotation(x=0.99, y=0.97, xref="x domain", yref="y domain", showarrow=False, align="right",
                       text="<br>".join(notes), font=dict(size=13), bgcolor="rgba(255,255,255,0.8)")
    fig.update_yaxes(title_text="Progression-free (proportion)", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(tickvals=list(range(1, n_groups + 1)), ticktext=[safe_label(g.group) for g in reversed(km.groups)],
                     range=[0.4, n_groups + 0.6], row=2, col=1, title_text="Number at risk", showgrid=False)
    axis = f"Time ({time_unit})" if " from " in time_unit else f"Time from T-DM1 start ({time_unit})"  # a landmark's own origin
    fig.update_xaxes(title_text=axis, row=2, col=1, tickvals=list(risk_times))
    fig.update_xaxes(tickvals=list(risk_times), row=1, col=1)
    # the legend sits below the plot, so on a phone it never covers the title or the curves
    lines = textwrap.wrap(safe_label(title), 42) or [""]  # a long title wraps (a phone shows ~45 characters)
    fig.update_layout(title="<br>".join(lines), height=620 + 20 * (len(lines) - 1),
                      margin=dict(l=60, r=20, t=50 + 22 * (len(lines) - 1), b=120),
                      legend=dict(orientation="h", yanchor="top", y=-0.16, x=0), template="plotly_white")
    return fig


def ratio_figure(ratio: float | None, ci_low: float | None, ci_high: float | None, cutoff: float,
                 cohort: pd.DataFrame | None = None, label: str = "This patient", borderline: bool = False):
    """The patient's HER2/EFTUD2 ratio with its CI against the cut-off, beside the cohort's ratios (resistant vs not)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    rows = []
    if cohort is not None and len(cohort):
        for name, colour, symbol in (("primary resistance", "#D55E00", "x"), ("no primary resistance", "#0072B2", "circle-open")):
            sub = cohort[cohort["group"] == name]
            if len(sub):
                y = [name.capitalize() + " (cohort)"] * len(sub)
                rows.append(name)
                fig.add_trace(go.Scatter(x=sub["ratio"], y=y, mode="markers", name=f"Cohort: {name}",
                                         marker=dict(color=colour, symbol=symbol, size=10),
                                         hovertemplate="%{x:.2f}<extra></extra>"))
    label = safe_label(label)
    if ratio is not None and not math.isnan(ratio):
        err = None
        if ci_low is not None and ci_high is not None:
            err = dict(type="data", symmetric=False, array=[ci_high - ratio], arrayminus=[ratio - ci_low], thickness=2, width=8)
        fig.add_trace(go.Scatter(x=[ratio], y=[label], mode="markers", name=label, error_x=err,
                                 marker=dict(color="#000000", size=14, symbol="diamond"),
                                 hovertemplate="ratio %{x:.2f}<extra></extra>"))
    fig.add_vline(x=cutoff, line=dict(color="#7F7F7F", dash="dash"), annotation_text=f"cut-off {cutoff:g}",
                  annotation_position="top")
    if borderline and ratio is not None:
        fig.add_annotation(x=math.log10(ratio), y=label, text="borderline: the CI crosses the cut-off", showarrow=True,
                           arrowhead=0, ay=-28, font=dict(size=13, color="#1a1a1a"), bgcolor="#FFF3CD", bordercolor="#7F6000")
    ticks = [t for t in (0.1, 0.2, 0.5, 0.7, 1, 1.25, 2, 5, 10, 20, 50, 100) if t != cutoff] + [cutoff]
    fig.update_xaxes(type="log", title_text="HER2/EFTUD2 ratio (log scale)", tickvals=sorted(ticks),
                     ticktext=[f"{t:g}" for t in sorted(ticks)])
    fig.update_layout(height=240 + 30 * len(rows), margin=dict(l=20, r=20, t=40, b=40), template="plotly_white",
                      showlegend=False)
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    return f"rgba({r},{g},{b},{alpha})"



def forest_figure(cox, title: str = "Hazard ratios (Cox model)"):
    """A forest plot: HR and CI per level on a log axis, n and events per level, the reference level marked, a level
    that is not estimable said so in words (no point drawn)."""
    import plotly.graph_objects as go

    rows = cox.forest_rows()
    labels = [safe_label(f"{r['label']} · n {r['n']}, events {r['events']}") for r in rows][::-1]
    fig = go.Figure()
    shown = [r for r in rows if r["hr"] is not None and not r["reference"]]
    ys = [safe_label(f"{r['label']} · n {r['n']}, events {r['events']}") for r in shown]
    fig.add_trace(go.Scatter(
        x=[r["hr"] for r in shown], y=ys, mode="markers", marker=dict(symbol="square", size=9, color=PALETTE[0]),
        error_x=dict(type="data", symmetric=False, array=[r["high"] - r["hr"] for r in shown],
                     arrayminus=[r["hr"] - r["low"] for r in shown], color=PALETTE[0]),
        hovertemplate="%{y}<br>HR %{x:.3f}<extra></extra>", name="hazard ratio"))
    refs = [r for r in rows if r["reference"]]
    fig.add_trace(go.Scatter(x=[1.0] * len(refs), y=[safe_label(f"{r['label']} · n {r['n']}, events {r['events']}") for r in refs],
                             mode="markers", marker=dict(symbol="diamond-open", size=10, color=GREY),
                             hovertemplate="%{y}: the reference (HR 1)<extra></extra>", name="reference level"))
    for r in rows:
        if r["note"] == "not estimable":
            fig.add_annotation(x=0, xref="x domain", y=safe_label(f"{r['label']} · n {r['n']}, events {r['events']}"),
                               text="not estimable", showarrow=False, xanchor="left", font=dict(color=GREY))
    fig.add_vline(x=1, line_dash="dash", line_color=GREY)
    values = [v for r in shown for v in (r["low"], r["high"]) if v and v > 0] + [1.0]
    lo, hi = min(values) / 1.3, max(values) * 1.3
    ticks = [v for k in range(-4, 5) for v in (10.0 ** k, 2 * 10.0 ** k, 5 * 10.0 ** k) if lo <= v <= hi]
    fig.update_xaxes(type="log", title=f"Hazard ratio ({cox.level:.0%} CI, log scale; ◇ reference level = 1)",
                     range=[math.log10(lo), math.log10(hi)], tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])
    fig.update_yaxes(categoryorder="array", categoryarray=labels, automargin=True)
    fig.update_layout(title=safe_label(title), height=140 + 34 * len(rows), template="plotly_white",
                      margin=dict(l=10, r=20, t=50, b=50), showlegend=False)
    return fig


def zph_figure(cox, term: str):
    """The scaled Schoenfeld residuals of one coefficient against time (cox.zph's plot, without its smooth): a flat
    cloud around the coefficient is what proportional hazards look like."""
    import plotly.graph_objects as go

    j = [c.term for c in cox.coefficients].index(term)
    fig = go.Figure(go.Scatter(x=list(cox.zph_time), y=list(cox.zph_residuals[j]), mode="markers",
                               marker=dict(size=6, color=PALETTE[0], symbol="circle-open"), name="scaled Schoenfeld residual",
                               hovertemplate="day %{x:g}: %{y:.3f}<extra></extra>"))
    coef = cox.coefficients[j].coef
    if coef is not None:
        fig.add_hline(y=coef, line_dash="dash", line_color=GREY, annotation_text=f"coefficient {coef:.3f}")
    fig.update_layout(title=safe_label(f"Proportional-hazards check: {term}"), template="plotly_white", height=320,
                      xaxis_title="Time (days)", yaxis_title=f"Beta(t) for {safe_label(term)}", margin=dict(l=10, r=20, t=50, b=40))
    return fig


def timeline_spans(tl) -> tuple[list[tuple[int, int, str]], list[tuple[int, str]]]:
    """A timeline's treatment lines as (start day, end day, drug) and imaging as (day, RECIST), in days from baseline
    (a line with no end runs to the last sample); shared by the screen and the PDF."""
    import datetime as dt

    if not tl.timepoints:
        return [], []
    base = dt.date.fromisoformat(next(p.collection_date for p in tl.timepoints if p.category == "baseline"))
    last = max(p.days_from_baseline for p in tl.timepoints)

    def day(iso: str) -> int:
        return (dt.date.fromisoformat(iso) - base).days

    lines, open_lines = [], {}
    for e in tl.events:
        if e.event_type == "treatment_start":
            open_lines[e.detail.lower()] = (day(e.event_date), e.detail)
        elif e.event_type == "treatment_end" and e.detail.lower() in open_lines:
            start, drug = open_lines.pop(e.detail.lower())
            lines.append((start, day(e.event_date), drug))
    lines += [(start, max(last, start), drug) for start, drug in open_lines.values()]
    imaging = [(day(e.event_date), e.detail) for e in tl.events if e.event_type == "imaging"]
    return lines, imaging


def timeline_series(tl, hotspot: str) -> tuple[list, list]:
    """One hotspot's points for a timeline plot: (day, level or None where not detected: the line breaks there,
    never drawn across a "not detected"), and the not-detected samples as (day, 95 % detectable level)."""
    det = [(p.days_from_baseline, p.hotspots[hotspot] if p.hotspots[hotspot].detected else None) for p in tl.timepoints]
    nd = [(p.days_from_baseline, p.hotspots[hotspot].detectable) for p in tl.timepoints
          if p.hotspots[hotspot].detected is False and p.hotspots[hotspot].detectable]
    return det, nd


def _hotspot_traces(fig, tl, hotspot: str, colour: str) -> None:
    import plotly.graph_objects as go

    det, nd = timeline_series(tl, hotspot)
    if any(v is not None for _, v in det):
        fig.add_trace(go.Scatter(x=[d for d, _ in det], y=[v.mutant if v else None for _, v in det],
                                 mode="lines+markers", name=f"{hotspot} detected", connectgaps=False,
                                 marker=dict(color=colour, size=9, symbol="circle"), line=dict(color=colour),
                                 error_y=dict(type="data", symmetric=False, color=colour,
                                              array=[v.high - v.mutant if v else 0 for _, v in det],
                                              arrayminus=[v.mutant - v.low if v else 0 for _, v in det])),
                      row=1, col=1)
    if nd:
        fig.add_trace(go.Scatter(x=[d for d, _ in nd], y=[y for _, y in nd], mode="markers",
                                 name=f"{hotspot} not detected (95 % detectable level)",
                                 marker=dict(color=colour, size=9, symbol="circle-open")), row=1, col=1)


def _events_and_categories(fig, tl) -> None:
    lines, imaging = timeline_spans(tl)
    for start, end, drug in lines:
        fig.add_vrect(x0=start, x1=end, fillcolor="#56B4E9", opacity=0.12, line_width=0,
                      annotation_text=safe_label(drug), annotation_position="bottom left")
    for d, recist in imaging:  # labelled at the bottom: the samples' categories are at the top
        fig.add_vline(x=d, line=dict(color="#D55E00" if recist == "PD" else GREY, dash="dash"),
                      annotation_text=f"imaging {recist}", annotation_position="bottom right")
    for p in tl.timepoints:
        fig.add_annotation(x=p.days_from_baseline, y=1.01, yref="paper", text=safe_label(p.category), showarrow=False,
                           textangle=-30, font=dict(size=10), xanchor="left", yanchor="bottom")


def timeline_figure(tl, cutoff: float | None = None, her2_cutoff: float | None = None):
    """A patient's serial ctDNA: mutant level per hotspot over days from baseline (log axis, 95 % CIs; a "not
    detected" as an open marker at its 95 % detectable level), the PIK3CA cut-off (copies per well), the HER2/EFTUD2
    ratio with its cut-off, treatment lines as bars, imaging with its RECIST response, each sample's category."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from tdm1core.panel import HOTSPOTS

    unit = "mutant copies per mL plasma" if tl.unit == "copies_per_ml" else "mutant copies per 20 µL well"
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06)
    for i, h in enumerate(HOTSPOTS):
        _hotspot_traces(fig, tl, h, PALETTE[i % len(PALETTE)])
    if cutoff and tl.unit != "copies_per_ml":
        fig.add_hline(y=cutoff, line=dict(color=GREY, dash="dot"), annotation_text=f"PIK3CA cut-off {cutoff:g}",
                      row=1, col=1)
    ratios = [(p.days_from_baseline, p.her2_ratio) for p in tl.timepoints if p.her2_ratio is not None]
    if ratios:
        fig.add_trace(go.Scatter(x=[d for d, _ in ratios], y=[r for _, r in ratios], mode="lines+markers",
                                 name="HER2/EFTUD2 ratio", marker=dict(color="#000000", symbol="diamond")), row=2, col=1)
    if ratios and her2_cutoff:
        fig.add_hline(y=her2_cutoff, line=dict(color=GREY, dash="dash"), annotation_text=f"amplified ≥ {her2_cutoff:g}",
                      row=2, col=1)
    _events_and_categories(fig, tl)
    lines, imaging = timeline_spans(tl)
    days = [p.days_from_baseline for p in tl.timepoints] + [0] + [d for d, _ in imaging] + [e for _, e, _ in lines]
    fig.update_yaxes(type="log", title_text=unit, row=1, col=1)
    fig.update_yaxes(title_text="HER2/EFTUD2", row=2, col=1)
    fig.update_xaxes(title_text="days from baseline", row=2, col=1, range=[min(days) - 10, max(days) + 20])
    fig.update_layout(height=560, template="plotly_white", margin=dict(l=10, r=20, t=90, b=40),
                      title=safe_label(f"Patient {tl.patient_id}: serial ctDNA ({tl.rules})"),
                      legend=dict(orientation="h", y=-0.18))
    return fig
