"""Build ddPCR exports in the documented layouts (shared/docs/ddpcr_formats.md), for tests."""
from __future__ import annotations

import math

from tdm1core.demo.writer import DuplexWell, quantasoft_csv

QXM_HEADER_A = (
    "Well,Sample description 1,Sample description 2,Sample description 3,Sample description 4,Target,Conc(copies/µL),"
    "pg/µL,Status,Status Reason,Experiment,SampleType,TargetType,Supermix,DyeName(s),Copies/20µLWell,TotalConfMax,"
    "TotalConfMin,PoissonConfMax,PoissonConfMin,Accepted Droplets,Positives,Negatives,Copies/uL linked molecules,CNV,"
    "TotalCNVMax,TotalCNVMin,PoissonCNVMax,PoissonCNVMin,ReferenceCopies,UnknownCopies,Threshold1,Threshold2,"
    "Threshold3,ThresholdSigmaAbove,ThresholdSigmaBelow,ReferenceUsed,Ratio,TotalRatioMax,TotalRatioMin,"
    "PoissonRatioMax,PoissonRatioMin,Fractional Abundance,TotalFractionalAbundanceMax,TotalFractionalAbundanceMin,"
    "PoissonFractionalAbundanceMax,PoissonFractionalAbundanceMin,MeanAmplitudeOfPositives,MeanAmplitudeOfNegatives,"
    "MeanAmplitudeTotal,ExperimentComments,MergedWells,TotalConfidenceMax68,TotalConfidenceMin68,"
    "PoissonConfidenceMax68,PoissonConfidenceMin68,TotalCNVMax68,TotalCNVMin68,PoissonCNVMax68,PoissonCNVMin68,"
    "TotalRatioMax68,TotalRatioMin68,PoissonRatioMax68,PoissonRatioMin68,TotalFractionalAbundanceMax68,"
    "TotalFractionalAbundanceMin68,PoissonFractionalAbundanceMax68,PoissonFractionalAbundanceMin68,TiltCorrected,"
    "Ch1+Ch2+,Ch1+Ch2-,Ch1-Ch2+,Ch1-Ch2-"
).split(",")
# variant B: 'Molecular Weight(pg/µL)', no 'Copies/uL linked molecules', Ch1±Ch2± and Linkage after Negatives
QXM_HEADER_B = [h for h in QXM_HEADER_A if h not in ("Copies/uL linked molecules", "Ch1+Ch2+", "Ch1+Ch2-", "Ch1-Ch2+", "Ch1-Ch2-")]
QXM_HEADER_B[QXM_HEADER_B.index("pg/µL")] = "Molecular Weight(pg/µL)"
_i = QXM_HEADER_B.index("Negatives") + 1
QXM_HEADER_B[_i:_i] = ["Ch1+Ch2+", "Ch1+Ch2-", "Ch1-Ch2+", "Ch1-Ch2-", "Linkage"]

OLD_QS_HEADER = (
    "Well,ExptType,Experiment,Sample,TypeAssay,Assay,Status,Concentration,TotalConfMax,TotalConfMin,PoissonConfMax,"
    "PoissonConfMin,Positives,Negatives,Ch1+Ch2+,Ch1+Ch2-,Ch1-Ch2+,Ch1-Ch2-,Linkage,AcceptedDroplets,CNV,TotalCNVMax,"
    "TotalCNVMin,PoissonCNVMax,PoissonCNVMin,ReferenceCopies,UnknownCopies,Ratio,TotalRatioMax,TotalRatioMin,"
    "PoissonRatioMax,PoissonRatioMin,FractionalAbundance,TotalFractionalAbundanceMax,TotalFractionalAbundanceMin,"
    "PoissonFractionalAbundanceMax,PoissonFractionalAbundanceMin,ReferenceAssayNumber,TargetAssayNumber,"
    "MeanAmplitudeofPositives,MeanAmplitudeofNegatives,MeanAmplitudeTotal,ExperimentComments,MergedWells"
).split(",")


def conc(pos: int, n: int, v_nl: float = 0.85) -> float:
    return -math.log((n - pos) / n) / (v_nl * 1e-3) if pos < n else 1_000_000.0


def qs17(wells: list[DuplexWell], **kw) -> bytes:
    return quantasoft_csv(wells, **kw).encode("ascii")


def sample_wells(sample: str = "S1", her2: int = 1200, eftud2: int = 1000, n: int = 15000,
                 e545k_mut: int = 0, wt: int = 600, well0: int = 0) -> list[DuplexWell]:
    """One HER2/EFTUD2 well and three PIK3CA wells for a sample."""
    pos = [f"{r}{c:02d}" for c in range(1, 13) for r in "ABCDEFGH"]
    wells = [DuplexWell(pos[well0], sample, "HER2", "EFTUD2", her2, eftud2, n)]
    for i, h in enumerate(("E542K", "E545K", "H1047R"), start=1):
        wells.append(DuplexWell(pos[well0 + i], sample, f"PIK3CA {h} MUT", f"PIK3CA {h} WT",
                                e545k_mut if h == "E545K" else 0, wt, n))
    return wells


def qxm_row(header: list[str], well: str, sample: str, target: str, dye: str, ttype: str, pos: int, n: int,
            sample_type: str = "Unknown", conc_text: str | None = None, status: str = "OK") -> list[str]:
    values = {
        "Well": well, "Sample description 1": sample, "Target": target,
        "Conc(copies/µL)": conc_text if conc_text is not None else repr(conc(pos, n)),
        "Status": status, "Experiment": "DQ", "SampleType": sample_type, "TargetType": ttype,
        "Supermix": "ddPCR Supermix for Probes (No dUTP)", "DyeName(s)": dye,
        "Accepted Droplets": str(n), "Positives": str(pos), "Negatives": str(n - pos), "TiltCorrected": "No",
    }
    if conc_text is None:
        values["Copies/20µLWell"] = repr(20 * conc(pos, n))
    return [values.get(h, "") for h in header]


def qxm(rows: list[list[str]], header: list[str] = QXM_HEADER_A, bom: bool = True, newline: str = "\r\n",
        encoding: str = "utf-8") -> bytes:
    text = newline.join([",".join(header)] + [",".join(r) for r in rows])  # QX Manager: no final newline
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom and encoding == "utf-8" else data


def old_qs_row(well: str, sample: str, assay: str, typeassay: str, pos: int, n: int, v_nl: float = 0.91) -> list[str]:
    values = {
        "Well": well, "ExptType": "Absolute Quantification", "Experiment": "ABS", "Sample": sample,
        "TypeAssay": typeassay, "Assay": assay, "Status": "OK", "Concentration": f"{conc(pos, n, v_nl):.3g}",
        "Positives": str(pos), "Negatives": str(n - pos), "AcceptedDroplets": str(n),
    }
    return [values.get(h, "") for h in OLD_QS_HEADER][:-1]  # data rows have one field fewer than the header


# QuantaSoft Analysis Pro, 65 columns (shared/docs/ddpcr_formats.md §1c), verbatim
QSAP_HEADER = (
    "Well,Sample,Target,Conc(copies/µL),Status,Experiment,SampleType,TargetType,Supermix,DyeName(s),Copies/20µLWell,"
    "TotalConfMax,TotalConfMin,PoissonConfMax,PoissonConfMin,Accepted Droplets,Positives,Negatives,Ch1+Ch2+,Ch1+Ch2-,"
    "Ch1-Ch2+,Ch1-Ch2-,Linkage,CNV,TotalCNVMax,TotalCNVMin,PoissonCNVMax,PoissonCNVMin,ReferenceCopies,UnknownCopies,"
    "Threshold1,Threshold2,Threshold3,ReferenceUsed,Ratio,TotalRatioMax,TotalRatioMin,PoissonRatioMax,PoissonRatioMin,"
    "Fractional Abundance,TotalFractionalAbundanceMax,TotalFractionalAbundanceMin,PoissonFractionalAbundanceMax,"
    "PoissonFractionalAbundanceMin,MeanAmplitudeOfPositives,MeanAmplitudeOfNegatives,MeanAmplitudeTotal,"
    "ExperimentComments,MergedWells,TotalConfidenceMax68,TotalConfidenceMin68,PoissonConfidenceMax68,"
    "PoissonConfidenceMin68,TotalCNVMax68,TotalCNVMin68,PoissonCNVMax68,PoissonCNVMin68,TotalRatioMax68,TotalRatioMin68,"
    "PoissonRatioMax68,PoissonRatioMin68,TotalFractionalAbundanceMax68,TotalFractionalAbundanceMin68,"
    "PoissonFractionalAbundanceMax68,PoissonFractionalAbundanceMin68"
).split(",")
# the reduced QX Manager set with ';' and decimal commas (16 columns)
QXM_REDUCED_HEADER = ("Well;Sample description 1;Sample description 2;Sample description 3;Sample description 4;Target;"
                      "Conc(copies/µL);Status;Experiment;SampleType;TargetType;Supermix;DyeName(s);Accepted Droplets;"
                      "Positives;Negatives").split(";")
# QX600 results: the 73-column QX Manager header plus the extra channel-pair columns (81 columns)
QX600_HEADER = QXM_HEADER_B + ["Ch3+Ch4+", "Ch3+Ch4-", "Ch3-Ch4+", "Ch3-Ch4-", "Ch5+Ch6+", "Ch5+Ch6-", "Ch5-Ch6+", "Ch5-Ch6-"]


def qsap_row(well: str, sample: str, target: str, dye: str, pos: int, n: int, conc_text: str | None = None,
             status: str = "OK") -> list[str]:
    values = {
        "Well": well, "Sample": sample, "Target": target,
        "Conc(copies/µL)": conc_text if conc_text is not None else repr(conc(pos, n)) if n else "No Call",
        "Status": status, "Experiment": "DQ", "SampleType": "Unknown", "TargetType": "Unknown",
        "Supermix": "ddPCR Supermix for Probes (No dUTP)", "DyeName(s)": dye, "Accepted Droplets": str(n),
        "Positives": str(pos), "Negatives": str(n - pos), "MeanAmplitudeOfPositives": "8123.5",
    }
    return [values.get(h, "") for h in QSAP_HEADER]


def qsap(rows: list[list[str]]) -> bytes:
    return b"\xef\xbb\xbf" + "\r\n".join([",".join(QSAP_HEADER)] + [",".join(r) for r in rows]).encode("utf-8")


def qsap_sample(sample: str, her2: int, eftud2: int, n: int = 16000, first: int = 0, mut: int = 0, wt: int = 700) -> list[list[str]]:
    wells = [f"{r}{c:02d}" for c in range(1, 13) for r in "ABCDEFGH"]
    rows = [qsap_row(wells[first], sample, "HER2", "FAM", her2, n), qsap_row(wells[first], sample, "EFTUD2", "HEX", eftud2, n)]
    for i, h in enumerate(("E542K", "E545K", "H1047R"), start=1):
        rows += [qsap_row(wells[first + i], sample, f"PIK3CA {h} MUT", "FAM", mut if h == "E545K" else 0, n),
                 qsap_row(wells[first + i], sample, f"PIK3CA {h} WT", "HEX", wt, n)]
    return rows


def qxm_reduced(rows: list[tuple[str, str, str, str, str, int, int, float]]) -> bytes:
    """(well, sample, target, dye, target type, positives, accepted, droplet volume nL) per row; decimal commas."""
    lines = [";".join(QXM_REDUCED_HEADER)]
    for well, sample, target, dye, ttype, pos, n, v in rows:
        c = repr(conc(pos, n, v)).replace(".", ",")
        lines.append(";".join([well, sample, "", "", "", target, c, "OK", "DQ", "Unknown", ttype,
                               "ddPCR Supermix for Probes (No dUTP)", dye, str(n), str(pos), str(n - pos)]))
    return b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode("utf-8")


def xlsx_of(header: list[str], rows: list[list[str]], sheets_before: int = 0, numeric: bool = True) -> bytes:
    """An .xlsx workbook as QX Manager saves results: numbers as numbers, the results on the first results sheet."""
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for i in range(sheets_before):
        ws.title = f"Notes {i}"
        ws.append(["Run notes", "plate 7"])
        ws = wb.create_sheet()
    ws.title = "Results"
    ws.append(header)
    for r in rows:
        out = []
        for v in r:
            if numeric:
                try:
                    out.append(int(v) if v.isdigit() else float(v) if v not in ("", "No Call") else (v or None))
                    continue
                except ValueError:
                    pass
            out.append(v if v != "" else None)
        ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ------------------------------------------------------------------ per-droplet amplitude files (formats doc section 4)

QXM_DROPLET_PREAMBLE = ("Target Value of 0 = negative", "Target Value of 1 = positive",
                        "Target Value of u = unclassified (Advanced Classification Mode)", "")


def droplet_csv(amplitudes, layout: str = "qs", clusters=None, classes: dict | None = None, newline: str | None = None,
                bom: bool | None = None) -> bytes:
    """A per-droplet file: ``qs`` (Ch1 Amplitude,Ch2 Amplitude,Cluster), ``qs_old`` (Assay1 ...), ``qs_bare`` (no
    Cluster), ``qxm`` (4 preamble lines, Ch1Amplitude,...,<targets>, trailing comma, CRLF and BOM by default) and
    ``qx600`` (six channels). ``classes`` maps QX Manager target names to '0'/'1'/'u' strings per droplet."""
    import numpy as np

    a = np.asarray(amplitudes, dtype=float)
    n, k = a.shape
    if layout in ("qs", "qs_old", "qs_bare"):
        names = ["Assay1 Amplitude", "Assay2 Amplitude"] if layout == "qs_old" else ["Ch1 Amplitude", "Ch2 Amplitude"]
        lines = [",".join(names + ([] if layout == "qs_bare" else ["Cluster"]))]
        codes = clusters if clusters is not None else np.ones(n, dtype=int)
        for i in range(n):
            cells = [repr(float(a[i, 0])), repr(float(a[i, 1]))] + ([] if layout == "qs_bare" else [str(int(codes[i]))])
            lines.append(",".join(cells))
        nl, b = newline or "\n", bool(bom)
    else:
        classes = classes or {}
        header = [f"Ch{j + 1}Amplitude" for j in range(k)] + list(classes)
        lines = list(QXM_DROPLET_PREAMBLE) + [",".join(header) + ","]
        cols = list(classes.values())
        for i in range(n):
            lines.append(",".join([f"{a[i, j]:.3f}" for j in range(k)] + [str(c[i]) for c in cols]) + ",")
        nl, b = newline or "\r\n", True if bom is None else bom
    text = nl.join(lines) + nl
    return (b"\xef\xbb\xbf" if b else b"") + text.encode("utf-8")


def duplex_droplets(rng, n: int = 15000, ch1_pos: int = 3, ch2_pos: int = 4500, crosstalk: float = 0.0,
                    rain: bool = False):
    """Synthetic duplex droplets with known truth: (amplitudes (n, 2), Ch1 truth, Ch2 truth).

    Ch1 (FAM, e.g. PIK3CA mutant): negatives N(1000, 90), positives N(8000, 500); Ch2 (HEX, wild type / EFTUD2):
    negatives N(2000, 120), positives N(6000, 300). ``crosstalk`` adds that much FAM to Ch2-positive droplets.
    ``rain``: 1 % of the negatives trail upwards (an exponential tail of 1 SD) and a third of the positives are only
    partly amplified (uniform between half and 95 % of the positive centre): they are still positive."""
    import numpy as np

    t1 = np.zeros(n, dtype=bool)
    t1[rng.choice(n, ch1_pos, replace=False)] = True
    t2 = np.zeros(n, dtype=bool)
    t2[rng.choice(n, ch2_pos, replace=False)] = True
    ch1 = np.where(t1, rng.normal(8000, 500, n), rng.normal(1000, 90, n) + crosstalk * t2)
    ch2 = np.where(t2, rng.normal(6000, 300, n), rng.normal(2000, 120, n))
    if rain:
        for x, t, sd, centre in ((ch1, t1, 90, 8000), (ch2, t2, 120, 6000)):
            neg = np.flatnonzero(~t)
            trail = rng.choice(neg, neg.size // 100, replace=False)
            x[trail] += rng.exponential(sd, trail.size)
            pos = np.flatnonzero(t)
            if pos.size:
                part = rng.choice(pos, max(1, pos.size // 3), replace=False)
                x[part] = rng.uniform(0.5 * centre, 0.95 * centre, part.size)
    return np.column_stack([ch1, ch2]), t1, t2


def cluster_codes(ch1_positive, ch2_positive):
    """QuantaSoft's Cluster codes from two positive masks (1 = Ch1-Ch2-, 2 = Ch1+Ch2-, 3 = Ch1+Ch2+, 4 = Ch1-Ch2+)."""
    import numpy as np

    return np.select([~ch1_positive & ~ch2_positive, ch1_positive & ~ch2_positive, ch1_positive & ch2_positive],
                     [1, 2, 3], 4)


def plate_droplet_files(wells: list[DuplexWell], plate: str = "Run1", seed: int = 0, layout: str = "qs") -> list[tuple[bytes, str]]:
    """One amplitude file per duplex well whose instrument classes give exactly the well's positives per channel."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for w in wells:
        amp, t1, t2 = duplex_droplets(rng, w.accepted, w.ch1_positives, w.ch2_positives)
        if layout == "qxm":
            data = droplet_csv(amp, "qxm", classes={w.ch1_target: np.where(t1, "1", "0"), w.ch2_target: np.where(t2, "1", "0")})
        else:
            data = droplet_csv(amp, layout, clusters=cluster_codes(t1, t2))
        out.append((data, f"{plate}_{w.well}_Amplitude.csv"))
    return out
