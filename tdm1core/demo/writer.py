"""Write well-level results CSVs in QuantaSoft 1.7.x layout (for the demo, tests and benchmarks).

The layout is the verbatim 63-column header of QuantaSoft 1.7.4 (see
``shared/docs/ddpcr_formats.md`` §1a): strings quoted, a trailing comma on every
data row, all Ch1 rows first and then all Ch2 rows, numbers rounded for display.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import tdm1core.measuring.poisson as poisson
__all__ = ["QS17_HEADER", "DuplexWell", "quantasoft_csv", "display"]

QS17_HEADER = (
    "Well,ExptType,Experiment,Sample,TargetType,Target,Status,Concentration,Supermix,CopiesPer20uLWell,TotalConfMax,"
    "TotalConfMin,PoissonConfMax,PoissonConfMin,Positives,Negatives,Ch1+Ch2+,Ch1+Ch2-,Ch1-Ch2+,Ch1-Ch2-,Linkage,"
    "AcceptedDroplets,CNV,TotalCNVMax,TotalCNVMin,PoissonCNVMax,PoissonCNVMin,ReferenceCopies,UnknownCopies,Ratio,"
    "TotalRatioMax,TotalRatioMin,PoissonRatioMax,PoissonRatioMin,FractionalAbundance,TotalFractionalAbundanceMax,"
    "TotalFractionalAbundanceMin,PoissonFractionalAbundanceMax,PoissonFractionalAbundanceMin,ReferenceAssayNumber,"
    "TargetAssayNumber,Threshold,MeanAmplitudeofPositives,MeanAmplitudeofNegatives,MeanAmplitudeTotal,"
    "ExperimentComments,MergedWells,TotalConfMax68,TotalConfMin68,PoissonConfMax68,PoissonConfMin68,TotalCNVMax68,"
    "TotalCNVMin68,PoissonCNVMax68,PoissonCNVMin68,TotalRatioMax68,TotalRatioMin68,PoissonRatioMax68,"
    "PoissonRatioMin68,TotalFractionalAbundanceMax68,TotalFractionalAbundanceMin68,PoissonFractionalAbundanceMax68,"
    "PoissonFractionalAbundanceMin68"
).split(",")
_QUOTED = {"Well", "Experiment", "Sample", "Target", "Status", "ExperimentComments"}


@dataclass(frozen=True)
class DuplexWell:
    well: str
    sample: str
    ch1_target: str
    ch2_target: str
    ch1_positives: int
    ch2_positives: int
    accepted: int
    ch2_type: str = "Unknown"
    experiment: str = "ABS"
    comment: str = ""
    status: str = "OK"


def display(value: float) -> str:
    """QuantaSoft's display rounding: integers from 100, one decimal from 10, else two."""
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return ""
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _rows(w: DuplexWell, volume_nl: float) -> list[dict[str, str]]:
    n = w.accepted
    p1, p2 = w.ch1_positives / n, w.ch2_positives / n
    both = round(n * p1 * p2)
    c1p2n = w.ch1_positives - both
    c1n2p = w.ch2_positives - both
    neg = n - both - c1p2n - c1n2p
    conc = [poisson.concentration(w.ch1_positives, n, volume_nl), poisson.concentration(w.ch2_positives, n, volume_nl)]
    out = []
    for ch, (target, pos, kind) in enumerate(((w.ch1_target, w.ch1_positives, "Unknown"), (w.ch2_target, w.ch2_positives, w.ch2_type)), start=1):
        c = conc[ch - 1]
        ci = poisson.concentration_ci(pos, n, volume_nl)
        ci68 = poisson.concentration_ci(pos, n, volume_nl, 0.6826894921370859)
        ratio = conc[0] / conc[1] if conc[1] > 0 else math.nan
        fa = 100 * conc[0] / (conc[0] + conc[1]) if conc[0] + conc[1] > 0 else math.nan
        shown = display(c)
        out.append({
            "Well": w.well, "ExptType": "Absolute Quantification", "Experiment": w.experiment, "Sample": w.sample,
            "TargetType": f"Ch{ch}{kind}", "Target": target, "Status": w.status, "Concentration": shown,
            "Supermix": "ddPCR Supermix for Probes (no dUTP)",
            "CopiesPer20uLWell": display(20 * float(shown)) if shown else "",
            "PoissonConfMax": display(ci.high), "PoissonConfMin": display(ci.low),
            "Positives": str(pos), "Negatives": str(n - pos), "Ch1+Ch2+": str(both), "Ch1+Ch2-": str(c1p2n),
            "Ch1-Ch2+": str(c1n2p), "Ch1-Ch2-": str(neg), "Linkage": "0", "AcceptedDroplets": str(n),
            "Ratio": f"{ratio:.3g}" if math.isfinite(ratio) else "", "FractionalAbundance": f"{fa:.3g}" if math.isfinite(fa) else "",
            "ReferenceAssayNumber": "1", "TargetAssayNumber": "1", "ExperimentComments": w.comment,
            "PoissonConfMax68": display(ci68.high), "PoissonConfMin68": display(ci68.low),
        })
    return out


def quantasoft_csv(wells: list[DuplexWell], volume_nl: float = 0.85, quoted: bool = True, newline: str = "\r\n") -> str:
    """A QuantaSoft 1.7.x results CSV for duplex wells (Ch1 rows first, then Ch2 rows)."""
    rows = [_rows(w, volume_nl) for w in wells]
    ordered = [r[0] for r in rows] + [r[1] for r in rows]
    lines = [",".join(QS17_HEADER)]
    for r in ordered:
        fields = []
        for col in QS17_HEADER:
            value = r.get(col, "")
            fields.append(f'"{value}"' if quoted and col in _QUOTED else value)
        lines.append(",".join(fields) + ("," if quoted else ""))
    return newline.join(lines) + newline
