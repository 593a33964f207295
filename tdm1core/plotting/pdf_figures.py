"""Figures for the PDF reports, drawn with matplotlib's object API (``matplotlib.figure.Figure``, no pyplot: the
app is a threaded server and pyplot's global state is not thread-safe). The screen's figures are Plotly
(:mod:`tdm1core.plotting.figures`); both take their colours from :mod:`tdm1core.plotting.palette` and their time axis from
:func:`time_axis_step`, and both carry words and symbols so they read without colour.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from tdm1core.plotting.axes import time_axis_step
from tdm1core.plotting.palette import GREY, GROUP_COLOURS, PALETTE

__all__ = ["ratio_plot", "km_plot", "forest_plot", "timeline_plot"]


def ratio_plot(ratio: float | None, ci: Any, cutoff: float, cohort_points: Any) -> Figure:
    """This sample's HER2/EFTUD2 ratio with its CI against the cut-off and, where given, the cohort's ratios."""
    fig = Figure(figsize=(3.4, 1.7))
    ax = fig.subplots()
    labels = []
    y = 0
    if cohort_points is not None and len(cohort_points):
        for name, colour, marker in (("no primary resistance", "#0072B2", "o"), ("primary resistance", "#D55E00", "x")):
            sub = cohort_points[cohort_points["group"] == name]
            if len(sub):
                ax.scatter(sub["ratio"], [y] * len(sub), color=colour, marker=marker, s=18,
                           facecolors="none" if marker == "o" else colour, linewidths=1)
                labels.append(f"cohort: {name}")
                y += 1
    if ratio is not None and not math.isnan(ratio):
        if ci is not None:
            ax.errorbar([ratio], [y], xerr=[[ratio - ci.low], [ci.high - ratio]], fmt="D", color="black", capsize=3, ms=5)
        else:
            ax.plot([ratio], [y], "D", color="black", ms=5)
        labels.append("this sample" + (" (borderline)" if ci is not None and ci.low < cutoff <= ci.high else ""))
    ax.axvline(cutoff, color="#555555", ls="--", lw=1)
    ax.text(cutoff, len(labels) - 0.45, f" cut-off {cutoff:g}", fontsize=6.5, color="#333333", va="bottom")
    ax.set_xscale("log")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=6.5)
    ax.set_ylim(-0.6, len(labels) - 0.1)
    ax.set_xlabel("HER2/EFTUD2 ratio (log scale)", fontsize=7)
    ax.tick_params(axis="x", labelsize=6.5)
    values = [v for v in ([ratio] if ratio is not None else []) + ([ci.low, ci.high] if ci is not None else [])
              + (list(cohort_points["ratio"]) if cohort_points is not None else []) + [cutoff] if v and v > 0]
    lo, hi = min(values) / 1.2, max(values) * 1.2
    ax.set_xlim(lo, hi)
    ax.set_xticks([t for t in (0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 12, 20) if lo <= t <= hi])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def km_plot(km: Any, highlight: str | None, width: float = 6.8, height: float = 3.6) -> Figure:
    """Kaplan-Meier curves with bands, censoring marks, medians, the log-rank p and the numbers at risk."""
    max_t = max((float(g.table["time"].max()) for g in km.groups if len(g.table)), default=1.0)
    step = time_axis_step(max_t)
    ticks = [i * step for i in range(int(max_t // step) + 2)]
    fig = Figure(figsize=(width, height))
    n = len(km.groups)
    ax = fig.add_axes((0.1, 0.1 + 0.07 * n + 0.08, 0.86, 0.8 - 0.07 * n - 0.08))
    ax_r = fig.add_axes((0.1, 0.04, 0.86, 0.07 * n), sharex=ax)
    for i, g in enumerate(km.groups):
        colour = GROUP_COLOURS.get(g.group, PALETTE[i % len(PALETTE)])
        t = g.table
        xs = [0.0] + list(t["time"])
        ys = [1.0] + list(t["survival"])
        lw = 2.6 if highlight == g.group else 1.6
        ax.step(xs, ys, where="post", color=colour, lw=lw,
                label=f"{g.group} (n={g.n}; median {g.median.format(1)})" + ("  ◀ this patient" if highlight == g.group else ""))
        lo = [1.0] + list(t["lower"])
        hi = [1.0] + list(t["upper"])
        ax.fill_between(xs, lo, hi, step="post", color=colour, alpha=0.12, lw=0)
        cens = t[t["n_censor"] > 0]
        ax.plot(cens["time"], cens["survival"], "|", color=colour, ms=8, mew=1.5)
        if g.median.reached:
            ax.plot([0, g.median.value, g.median.value], [0.5, 0.5, 0], ls=":", color=colour, lw=0.8)
        for tt, nr in zip(ticks, g.n_at_risk(ticks)):
            ax_r.text(tt, n - 1 - i, str(nr), ha="center", va="center", fontsize=7, color=colour)
    ax.set_ylim(0, 1.04)
    ax.set_xlim(0, ticks[-1])
    ax.set_ylabel("Progression-free", fontsize=8)
    ax.set_xticks(ticks)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper right", frameon=False)
    if km.logrank is not None:
        p = km.logrank.p
        ax.text(0.99, 0.62, f"log-rank p = {p:.4f} (this cohort)" if p >= 1e-4 else "log-rank p < 0.0001 (this cohort)", transform=ax.transAxes,
                ha="right", fontsize=7.5)
    ax.set_xlabel("Days from T-DM1 start", fontsize=8)
    ax_r.set_ylim(-0.6, n - 0.4)
    ax_r.set_yticks(range(n))
    ax_r.set_yticklabels([g.group for g in reversed(km.groups)], fontsize=6.5)
    ax_r.tick_params(axis="x", labelbottom=False, length=0)
    ax_r.tick_params(axis="y", length=0, pad=10)
    for s in ("top", "right", "bottom", "left"):
        ax_r.spines[s].set_visible(False)
    ax_r.set_title("Numbers at risk", fontsize=7, loc="left", pad=2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def droplet_strips(panels: Any, columns: int = 2) -> Figure:
    """A small 1D droplet plot per well and channel behind the calls: amplitude by droplet, negatives grey, positives
    blue (Okabe-Ito), the threshold(s) dashed; the count of positives in each title (rasterised points)."""
    n = max(1, len(panels))
    rows = (n + columns - 1) // columns
    fig = Figure(figsize=(7.0, 1.35 * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        if i >= len(panels):
            ax.set_visible(False)
            continue
        p = panels[i]
        idx = np.arange(1, p.amplitudes.size + 1)
        if p.positive is None:
            ax.scatter(idx, p.amplitudes, s=0.4, color="#9A9A9A", rasterized=True, linewidths=0)
        else:
            neg = ~p.positive & p.classified
            pos = p.positive & p.classified
            ax.scatter(idx[neg], p.amplitudes[neg], s=0.4, color="#9A9A9A", rasterized=True, linewidths=0)
            ax.scatter(idx[pos], p.amplitudes[pos], s=2.5 if pos.sum() < 50 else 0.6, color="#0072B2", rasterized=True,
                       linewidths=0)
        for t in p.thresholds:
            ax.axhline(t, color="#CC79A7", ls="--", lw=0.8)
        ax.set_title(p.label, fontsize=6.5, loc="left")
        ax.tick_params(labelsize=5.5)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout(pad=0.4, h_pad=0.6, w_pad=0.8)
    return fig


def forest_plot(cox: Any, width: float = 6.8) -> Figure:
    """The forest plot of a Cox model for the PDF (as on screen: log axis, reference marked, n and events per level)."""
    rows = cox.forest_rows()
    fig = Figure(figsize=(width, 0.7 + 0.28 * len(rows)))
    ax = fig.add_axes((0.45, 0.12 + 0.3 / len(rows), 0.5, 1 - 0.2 - 0.3 / len(rows)))
    ys = list(range(len(rows)))[::-1]
    values = [1.0]
    for y, r in zip(ys, rows):
        if r["reference"]:
            ax.plot([1.0], [y], "D", mfc="none", color=GREY, ms=5)
        elif r["hr"] is None:
            ax.text(1.0, y, "not estimable ", fontsize=6.5, color=GREY, ha="right", va="center")
        else:
            ax.errorbar([r["hr"]], [y], xerr=[[r["hr"] - r["low"]], [r["high"] - r["hr"]]], fmt="s", color=PALETTE[0],
                        capsize=2.5, ms=4)
            values += [r["low"], r["high"]]
    ax.axvline(1.0, color=GREY, ls="--", lw=0.8)
    ax.set_xscale("log")
    lo, hi = min(v for v in values if v > 0) / 1.3, max(values) * 1.3
    ax.set_xlim(lo, hi)
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{r['label']}  (n {r['n']}, events {r['events']})" for r in rows], fontsize=6.5)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(f"Hazard ratio ({cox.level:.0%} CI, log scale)", fontsize=7)
    ax.tick_params(axis="x", labelsize=6.5)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _timeline_hotspots(ax: Any, tl: Any) -> None:
    from tdm1core.panel import HOTSPOTS
    from tdm1core.plotting.figures import timeline_series

    nan = float("nan")
    for i, h in enumerate(HOTSPOTS):
        colour = PALETTE[i % len(PALETTE)]
        det, nd = timeline_series(tl, h)
        if any(v is not None for _, v in det):
            ax.errorbar([d for d, _ in det], [v.mutant if v else nan for _, v in det],
                        yerr=[[v.mutant - v.low if v else nan for _, v in det], [v.high - v.mutant if v else nan for _, v in det]],
                        fmt="-o", color=colour, ms=4, capsize=2, label=f"{h} detected")
        if nd:
            ax.plot([d for d, _ in nd], [y for _, y in nd], "o", mfc="none", color=colour, ms=5,
                    label=f"{h} not detected (95 % detectable level)")


def _timeline_events(ax: Any, ax2: Any, tl: Any) -> None:
    from tdm1core.plotting.figures import timeline_spans

    lines, imaging = timeline_spans(tl)
    for a in (ax, ax2):
        for start, end, _ in lines:
            a.axvspan(start, end, color="#56B4E9", alpha=0.12, lw=0)
        for d, recist in imaging:
            a.axvline(d, color="#D55E00" if recist == "PD" else GREY, ls="--", lw=0.8)
    for d, recist in imaging:
        ax.text(d, 1.0, f" {recist}", transform=ax.get_xaxis_transform(), fontsize=6, va="bottom")
    for p in tl.timepoints:
        ax.text(p.days_from_baseline, 1.09, p.category, transform=ax.get_xaxis_transform(), fontsize=5.5,
                rotation=30, ha="left", va="bottom")


def timeline_plot(tl: Any, cutoff: float | None = None, her2_cutoff: float | None = None, width: float = 6.8) -> Figure:
    """The patient's timeline for the PDF, as on screen (log axis, CIs, open markers for "not detected" at their 95 %
    detectable level, the HER2/EFTUD2 track, treatment bars, imaging with RECIST, each sample's category)."""
    fig = Figure(figsize=(width, 4.4))
    ax = fig.add_axes((0.1, 0.38, 0.86, 0.48))
    ax2 = fig.add_axes((0.1, 0.1, 0.86, 0.2), sharex=ax)
    _timeline_hotspots(ax, tl)
    if cutoff and tl.unit != "copies_per_ml":
        ax.axhline(cutoff, color=GREY, ls=":", lw=0.8)
    _timeline_events(ax, ax2, tl)
    ax.set_yscale("log")
    ax.set_ylabel("mutant copies / mL" if tl.unit == "copies_per_ml" else "mutant copies / 20 µL", fontsize=7)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=5.5, loc="lower left", frameon=False)
    ratios = [(p.days_from_baseline, p.her2_ratio) for p in tl.timepoints if p.her2_ratio is not None]
    if ratios:
        ax2.plot([d for d, _ in ratios], [r for _, r in ratios], "-D", color="black", ms=3)
    if her2_cutoff:
        ax2.axhline(her2_cutoff, color=GREY, ls="--", lw=0.8)
    ax2.set_ylabel("HER2/EFTUD2", fontsize=7)
    ax2.set_xlabel("days from baseline", fontsize=7)
    for a in (ax, ax2):
        a.tick_params(labelsize=6.5)
        for side in ("top", "right"):
            a.spines[side].set_visible(False)
    return fig
