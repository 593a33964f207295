"""PDF reports: a one-page patient report and a cohort report (reportlab layout, matplotlib figures; no browser).

Text is real text in embedded TrueType fonts (DejaVu Sans, shipped with matplotlib); figures are
300 dpi. Every report carries "research use only, not a diagnostic device", the settings, the
methods and the provenance of its input (file name and SHA-256).
"""
from __future__ import annotations

import datetime as dt
import io
import math
import os
import threading
from typing import Any, Sequence

from tdm1core._version import __version__
from tdm1core.plotting.palette import FLAG_STYLE
from tdm1core.clinical.provenance import Provenance
from tdm1core.settings import Settings

__all__ = ["patient_report", "cohort_report", "Provenance"]

TITLE = "T-DM1 ctDNA resistance flag"
RUO = "Research use only. Not a diagnostic device. Exploratory evidence (16 patients with ctDNA in one retrospective study)."
FLAG_COLOURS = {status: (colour, background, icon) for status, (icon, colour, background) in FLAG_STYLE.items()}


_FONTS_LOCK = threading.Lock()
_FONTS_READY: list[bool] = []  # set once every face and its mapping is registered


def _fonts() -> tuple[str, str]:
    """DejaVu Sans registered with reportlab, once per process, under a lock: sessions building PDFs at the same
    moment must not see the regular face registered before the bold one and its mapping (the load test through the
    proxy found PDFs failing with "Can't map determine family/bold/italic for dejavusans-bold")."""
    if not _FONTS_READY:
        with _FONTS_LOCK:
            if not _FONTS_READY:
                _register_fonts()
                _FONTS_READY.append(True)
    return "DejaVuSans", "DejaVuSans-Bold"


def _register_fonts() -> None:
    import matplotlib
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    base = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")
    for name, file in (("DejaVuSans", "DejaVuSans.ttf"), ("DejaVuSans-Bold", "DejaVuSans-Bold.ttf"),
                       ("DejaVuSans-Oblique", "DejaVuSans-Oblique.ttf")):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, os.path.join(base, file)))
    addMapping("DejaVuSans", 0, 0, "DejaVuSans")
    addMapping("DejaVuSans", 1, 0, "DejaVuSans-Bold")
    addMapping("DejaVuSans", 0, 1, "DejaVuSans-Oblique")
    addMapping("DejaVuSans", 1, 1, "DejaVuSans-Bold")


def _styles(base: float = 8.5) -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    regular, bold = _fonts()
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=14, leading=17, spaceAfter=2),
        "ruo": ParagraphStyle("ruo", fontName=bold, fontSize=8, leading=10, textColor="#B00020"),
        "h": ParagraphStyle("h", fontName=bold, fontSize=base + 1.5, leading=base + 4, spaceBefore=5, spaceAfter=2),
        "body": ParagraphStyle("body", fontName=regular, fontSize=base, leading=base + 2.5),
        "small": ParagraphStyle("small", fontName=regular, fontSize=base - 1.5, leading=base + 0.5),
        # table cells wrap between words only: a header never breaks mid-word ("Resistan/t")
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=base - 0.5, leading=base + 1.5, splitLongWords=0),
        "cellb": ParagraphStyle("cellb", fontName=bold, fontSize=base - 0.5, leading=base + 1.5, splitLongWords=0),
        "flag": ParagraphStyle("flag", fontName=bold, fontSize=15, leading=19),
        "mono": ParagraphStyle("mono", fontName=regular, fontSize=base - 1.5, leading=base + 0.5, wordWrap="CJK"),
    }


def _p(text: Any, style: Any) -> Any:
    from reportlab.platypus import Paragraph
    from xml.sax.saxutils import escape

    return Paragraph(escape("" if text is None else str(text)), style)


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "NA"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _table(rows: list[list[Any]], widths: Sequence[float], st: dict, header: bool = True, repeat: bool = True) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import LongTable, TableStyle

    cells = [[c if not isinstance(c, (str, int, float)) and c is not None else _p(c, st["cellb"] if header and i == 0 else st["cell"])
              for c in row] for i, row in enumerate(rows)]
    t = LongTable(cells, colWidths=widths, repeatRows=1 if header and repeat else 0)
    style = [("FONTNAME", (0, 0), (-1, -1), "DejaVuSans"),
             ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9aa5b1")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")))
    t.setStyle(TableStyle(style))
    return t


def _footer(settings: Settings, label: str, watermark: str | None = None):
    def draw(canvas: Any, doc: Any) -> None:
        regular, bold = _fonts()
        canvas.saveState()
        if watermark:
            canvas.saveState()
            # as large as fits along the page's diagonal (a long mark such as DRAFT + SYNTHETIC DEMO DATA stays whole)
            diagonal = (doc.pagesize[0] ** 2 + doc.pagesize[1] ** 2) ** 0.5
            canvas.setFont(bold, min(34.0, 0.72 * diagonal / max(1.0, canvas.stringWidth(watermark, bold, 1))))
            canvas.setFillColorRGB(0.84, 0.37, 0.0, alpha=0.16)
            canvas.translate(doc.pagesize[0] / 2, doc.pagesize[1] / 2)
            import math

            canvas.rotate(math.degrees(math.atan2(doc.pagesize[1], doc.pagesize[0])))
            canvas.drawCentredString(0, 0, watermark)
            canvas.restoreState()
        canvas.setFont(regular, 6.5)
        canvas.setFillColorRGB(0.35, 0.35, 0.35)
        canvas.drawString(doc.leftMargin, 12, f"{label} · tdm1core {__version__} · Research use only; not a diagnostic device."
                          + (f" · {watermark}" if watermark else ""))
        canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, 12, f"page {doc.page}")
        canvas.restoreState()

    return draw


def _notice(text: str, st: Any, width: float) -> Any:
    """A boxed notice in bold (synthetic demo data, manual entry), as prominent as the screen's banner."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table([[_p(text, st["flag"])]], colWidths=[width])
    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), "DejaVuSans"), ("BOX", (0, 0), (-1, -1), 2, colors.HexColor("#D55E00")),
                           ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#FBE3D6")),
                           ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
    return t


def _figure_png(fig: Any, width_in: float, height_in: float) -> Any:
    from reportlab.lib.units import inch
    from reportlab.platypus import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=200, bbox_inches="tight")  # a Figure without pyplot: nothing to close
    buf.seek(0)
    img = Image(buf, width=width_in * inch, height=height_in * inch, kind="proportional")
    return img


def _result_box(flag: Any, st: dict, width: float) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    border, fill, icon = FLAG_COLOURS[flag.status]
    rows = [[_p(f"{icon}  {flag.headline}", st["flag"])]] + [[_p("• " + r, st["body"])] for r in flag.reasons]
    t = Table(rows, colWidths=[width])
    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), "DejaVuSans"), ("BOX", (0, 0), (-1, -1), 2, colors.HexColor(border)),
                           ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(fill)),
                           ("LEFTPADDING", (0, 0), (-1, -1), 8), ("TOPPADDING", (0, 0), (-1, 0), 6),
                           ("BOTTOMPADDING", (0, -1), (-1, -1), 6)]))
    return t


def _document(pagesize: str, kind: str, margins: tuple[float, float, float]) -> tuple[Any, io.BytesIO]:
    """A reportlab document on A4 or letter with the product's fonts and metadata, writing into a buffer."""
    from reportlab.lib.pagesizes import A4, letter
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    side, top, bottom = margins  # mm
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4 if pagesize.upper() == "A4" else letter, leftMargin=side * mm,
                            rightMargin=side * mm, topMargin=top * mm, bottomMargin=bottom * mm,
                            initialFontName="DejaVuSans", title=f"{TITLE}: {kind}", author=f"tdm1core {__version__}",
                            subject="Research use only")
    return doc, buf


def _patient_header(result: Any, provenance: Provenance, st: dict, width: float, now: dt.datetime) -> list[Any]:
    from reportlab.platypus import Spacer

    calls = result.calls
    story: list[Any] = [_p(f"{TITLE}: patient report", st["title"]), _p(RUO, st["ruo"])]
    story += [_notice(notice, st, width) for notice in provenance.notices]
    story.append(Spacer(1, 3))
    ident = [["Patient ID (pseudonymous)", result.patient_id or "not given", "Sample", calls.sample],
             ["Collection date", result.collection_date or "not given", "Report date", now.strftime("%Y-%m-%d %H:%M")]]
    story += [_table(ident, [0.2 * width, 0.3 * width, 0.15 * width, 0.35 * width], st, header=False), Spacer(1, 5),
              _result_box(result.flag, st, width), _p("Results", st["h"])]
    return story


def _results_table(result: Any, st: dict, width: float) -> Any:
    from tdm1core.calling.calls import POSITIVE

    calls, s = result.calls, result.calls.settings
    h = calls.her2
    ci = f"{h.ci.low:.2f}–{h.ci.high:.2f}" if h.ci else "not available (no droplet counts)"
    call = h.call + (" — borderline: the CI crosses the cut-off" if h.borderline else "")
    rows = [["Marker", "Value", f"{s.confidence_level:.0%} CI", "Cut-off", "Call"],
            ["HER2/EFTUD2 ratio", _fmt(h.ratio, 2), ci, f"≥ {h.cutoff:g} amplified", call],
            ["EFTUD2 reference, copies/20 µL", _fmt(h.reference_copies, 0), "", f"> {s.reference_min_copies:g}", ""]]
    for hs in calls.pik3ca.hotspots:
        af = "NA" if hs.allele_fraction is None else f"AF {100 * hs.allele_fraction:.2f}%"
        rows.append([f"PIK3CA {hs.hotspot}: mutant / wild-type copies",
                     f"{_fmt(hs.mutant_copies, 1)} / {_fmt(hs.wildtype_copies, 0)} ({af})",
                     "" if hs.mutant_ci is None else f"{hs.mutant_ci.low:.1f}–{hs.mutant_ci.high:.1f}",
                     f"≥ {s.pik3ca_mutant_cutoff_copies:g} copies",
                     "DETECTED" + hs.result_text[len("detected"):] if hs.call == POSITIVE else hs.result_text])
    rows.append(["ER / PR (as entered)", f"ER {result.er}, PR {result.pr}", "", "positive: ≥ 10% of cells", ""])
    return _table(rows, [0.3 * width, 0.22 * width, 0.13 * width, 0.15 * width, 0.2 * width], st)


def _limits_section(calls: Any, st: dict) -> list[Any]:
    from reportlab.platypus import Spacer

    limits = [f"Cut-off profile: {calls.settings.cutoff_profile}."]
    if calls.controls is not None:
        limits.append(f"Plate controls: {calls.controls.describe()}.")
    for hs in calls.pik3ca.hotspots:
        if hs.genome_equivalents is None:
            limits.append(f"PIK3CA {hs.hotspot}: {hs.result_text}.")
        else:
            seen = ("NA" if hs.detectable_vaf_95 is None else f"{100 * hs.detectable_vaf_95:.2g} %")
            limits.append(f"PIK3CA {hs.hotspot}: {hs.genome_equivalents:,.0f} genome equivalents; mutations at ≥ {seen} "
                          f"VAF are detected with 95 % probability at the cut-off of {hs.cutoff:g} copies.")
    return ([_p("Limits of this result", st["h"]), _p(" ".join(limits), st["small"])]
            + [_p("• " + caveat, st["small"]) for caveat in calls.caveats] + [Spacer(1, 4)])


def _qc_beside_ratio(calls: Any, cohort_points: Any, st: dict, width: float) -> Any:
    """The QC table on the left, the HER2 ratio against the cut-off (and the cohort's ratios) on the right."""
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepInFrame, Table, TableStyle

    from tdm1core.plotting.pdf_figures import ratio_plot  # matplotlib loads with the first report, not with the page

    h = calls.her2
    fig = _figure_png(ratio_plot(h.ratio, h.ci, h.cutoff, cohort_points), 3.0, 1.55)
    qc_rows = [["Assay", "Wells", "Droplets", "Copies/20 µL", "QC"]]
    for q in calls.qc:
        qc_rows.append([q.assay, q.wells, _fmt(q.accepted_droplets), _fmt(q.copies_per_20ul, 1), "ok" if q.ok else "check"])
    if not calls.qc or all(q.accepted_droplets is None for q in calls.qc):
        qc_rows.append(["—", "—", "numbers typed in: no droplet QC", "", ""])
    qc = _table(qc_rows, [0.13 * width, 0.08 * width, 0.13 * width, 0.12 * width, 0.07 * width], st)
    side = Table([[KeepInFrame(0.54 * width, 80 * mm, [_p("Quality control", st["h"]), qc], mode="shrink"),
                   [_p("HER2 ratio against the cut-off", st["h"]), fig]]],
                 colWidths=[0.56 * width, 0.44 * width])
    side.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), "DejaVuSans"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return side


def _interpretation_and_methods(calls: Any, flag: Any, st: dict) -> list[Any]:
    from tdm1core.measuring.poisson import CONC_CI_METHOD

    s, h = calls.settings, calls.her2
    story = []
    if calls.warnings:
        story.append(_p(f"QC warnings: {len(calls.warnings)} (listed in the appendix on page 2).", st["body"]))
    return story + [
        _p("Interpretation and limits", st["h"]), _p(flag.evidence, st["body"]),
        _p("What the flag means: the pre-treatment ctDNA and receptor profile matches the profile of the patients "
           "who had progressive disease at the first evaluation on T-DM1 in the study; 'not flagged' does not mean "
           "T-DM1 will work. " + flag.limits, st["body"]),
        _p("Methods", st["h"]),
        _p(f"Droplet digital PCR (Bio-Rad QX100/QX200). Concentration = −ln(negative/accepted droplets) / droplet volume "
           f"({s.droplet_volume_nl:g} nL; older QuantaSoft {s.legacy_droplet_volume_nl:g} nL); copies per 20 µL well = "
           f"20 × copies/µL. HER2 amplified when HER2/EFTUD2 ≥ {s.her2_ratio_cutoff:g}; PIK3CA positive when ≥ "
           f"{s.pik3ca_mutant_cutoff_copies:g} mutant copies; evaluable when EFTUD2 > {s.reference_min_copies:g} copies "
           f"and ≥ {s.min_accepted_droplets:,} droplets per well. Concentration CI: {CONC_CI_METHOD}. Ratio CI: "
           f"{h.ci.method if h.ci else 'none (numbers typed in)'}.", st["small"])]


def _provenance_section(provenance: Provenance, settings: Any, st: dict) -> list[Any]:
    story = [_p("Provenance", st["h"]),
             _p(f"Software tdm1core {__version__}. Input: {provenance.file_name}"
                + (f" ({provenance.detail})" if provenance.detail else ""), st["small"]),
             _p(f"SHA-256: {provenance.sha256 or 'not applicable (manual entry)'}", st["mono"])]
    if provenance.droplet_volume_nl is not None:
        story.append(_p(f"Droplet volume used: {provenance.droplet_volume_nl:g} nL.", st["small"]))
    if provenance.droplets:
        story.append(_p(f"Droplet classification: {provenance.droplets} ({len(provenance.files)} files read; the "
                        "SHA-256 above is the hash of all of them). The droplet plots are on page 2.", st["small"]))
    if provenance.target_map:
        story.append(_p("Target map: " + "; ".join(provenance.target_map) + ".", st["small"]))
    return story + [_p(f"Settings: {settings.describe()}", st["small"])]


def _release_section(release: Any, st: dict) -> list[Any]:
    from reportlab.platypus import Spacer

    if release is None:
        return [Spacer(1, 6), _p("DRAFT — NOT RELEASED: no reviewer has released this report.", st["body"])]
    return [Spacer(1, 6), _p("Release", st["h"])] + [_p(line, st["body"]) for line in release.lines()]


def _appendix(calls: Any, droplets: Any, provenance: Provenance, st: dict) -> list[Any]:
    """Page 2: the droplets behind the calls (droplet files only) and the QC warnings."""
    flow: list[Any] = []
    if droplets:
        from tdm1core.plotting.pdf_figures import droplet_strips

        strip_rows = (len(droplets) + 1) // 2
        wells = "; ".join(p.label + ("" if not p.thresholds else
                                     " (threshold " + " / ".join(f"{t:.0f}" for t in p.thresholds) + ")")
                          for p in droplets)
        flow += [_p("Appendix: the droplets behind the calls", st["h"]),
                 _p(f"Sample {calls.sample}. Classification: {provenance.droplets}. Amplitude by droplet; positives "
                    "blue, negatives grey, threshold(s) dashed.", st["small"]),
                 _figure_png(droplet_strips(droplets), 7.0, min(1.35 * strip_rows, 8.5)),
                 _p("Wells and channels: " + wells + ".", st["small"])]
    if calls.warnings:
        flow += [_p("Appendix: QC warnings", st["h"])] + [_p("• " + w, st["small"]) for w in calls.warnings]
    return flow


def patient_report(result: Any, provenance: Provenance, cohort_points: Any = None, now: dt.datetime | None = None,
                   pagesize: str = "A4", droplets: Any = None, release: Any = None, monitoring: Any = None) -> bytes:
    """One-page patient report; a second page for an appendix of QC warnings and, when the calls were made from
    droplet files, a small 1D droplet plot of every well and channel behind them (``droplets``: DropletPanel list).

    Without ``release`` the report is a draft: DRAFT — NOT RELEASED across every page. With a
    :class:`tdm1core.reporting.release.ReleaseStamp` it prints the reviewer, the time, the report ID and version (and,
    for an amendment, the version it replaces and what changed) instead of blank signature lines."""
    from reportlab.platypus import KeepInFrame, PageBreak

    st = _styles()  # registers the fonts
    doc, buf = _document(pagesize, "patient report", (14, 11, 12))
    width, calls = doc.width, result.calls
    story = (_patient_header(result, provenance, st, width, now or dt.datetime.now())
             + [_results_table(result, st, width)] + _limits_section(calls, st)
             + [_qc_beside_ratio(calls, cohort_points, st, width)] + _interpretation_and_methods(calls, result.flag, st)
             + _provenance_section(provenance, calls.settings, st) + _release_section(release, st))
    appendix = _appendix(calls, droplets, provenance, st)
    flow: list[Any] = [KeepInFrame(doc.width, doc.height - 4, story, mode="shrink")]
    flow += ([PageBreak()] + appendix) if appendix else []
    if monitoring is not None:  # the patient's serial ctDNA on T-DM1 (covered by a release's digest: result_content)
        flow += [PageBreak()] + _monitoring_story(monitoring, [], _styles(8.5), doc.width)
    mark = " · ".join(([] if release is not None else ["DRAFT — NOT RELEASED"])
                      + [n.split(":")[0] for n in provenance.notices]) or None
    footer = _footer(calls.settings, "patient report", mark)
    doc.build(flow, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


_T3_HEADERS = {"sample": "Sample", "her2_ratio": "HER2 ratio", "her2_call": "HER2", "pik3ca": "PIK3CA",
               "primary_resistance": "Resistant", "flag": "Flag"}


def _frame_rows(df: Any, columns: list[str], headers: list[str], fmt: dict | None = None) -> list[list[Any]]:
    """A table's rows for the PDF: a header, then each record formatted per column (2 decimals by default)."""
    fmt = fmt or {}
    return [headers] + [[fmt.get(c, lambda v: _fmt(v, 2))(v) for c, v in zip(columns, rec)]
                        for rec in df[columns].itertuples(index=False)]


def _cohort_title(cohort: Any, stats: Any, provenance: Provenance, filters: dict | None, now: dt.datetime,
                  st: dict, w: float) -> list[Any]:
    from reportlab.platypus import Spacer

    from tdm1core.stats.survival import CI_METHOD_LABELS

    synthetic = "synthetic" in cohort.source.lower()
    story: list[Any] = [_p(f"{TITLE}: cohort report", st["title"]), _p(RUO, st["ruo"])]
    if synthetic:
        story.append(_notice("SYNTHETIC DEMO DATA: not patient data", st, w))
    info = [["Data source", cohort.source + (" — SYNTHETIC demo data, not patient data" if synthetic else "")],
            ["Patients", f"{cohort.n} ({cohort.n_ctdna} with ctDNA)"],
            ["Filters", ", ".join(f"{k} in {list(v)}" for k, v in (filters or {}).items() if v) or "none"],
            ["Report date", now.strftime("%Y-%m-%d %H:%M")]]
    story += [Spacer(1, 6), _table(info, [0.22 * w, 0.78 * w], st, header=False)]
    story += [_p("Note: " + note, st["small"]) for note in cohort.notes]
    story += [_p("Provenance", st["h"]),
              _p(f"Software tdm1core {__version__}. Input: {provenance.file_name}"
                 + (f" ({provenance.detail})" if provenance.detail else ""), st["small"]),
              _p(f"SHA-256: {provenance.sha256 or 'n/a'}", st["mono"]),
              _p(f"Settings: {stats.settings.describe()}", st["small"])]
    return story + _summary(cohort, stats, st, w) + [
        _p("Methods: Fisher's exact test, two-sided (as R fisher.test); Kaplan-Meier with Greenwood variance; median CI "
           f"by {CI_METHOD_LABELS[stats.settings.km_ci_method]}; unstratified log-rank test (R survdiff, rho = 0); "
           "proportions with exact Clopper-Pearson intervals.", st["small"])]


def _cohort_tables(stats: Any, st: dict, w: float) -> list[Any]:
    """Tables 1-4, as on screen."""
    from reportlab.platypus import KeepTogether, PageBreak

    from tdm1core.stats import INDENT, table1_for_reading, table4_for_reading

    def cell(v: Any) -> str:  # a level under its characteristic, indented (the PDF's font has no em space)
        return str(v).replace(INDENT, "\u00a0" * 5)

    t1 = table1_for_reading(stats.table1)  # the screen's own layout of the same rows (the CSV keeps the long form)
    story = [PageBreak(), _p("Table 1. Characteristics (n (%) unless stated)", st["h"]),
             _table(_frame_rows(t1, list(t1.columns), ["Characteristic", "Value"], {c: cell for c in t1.columns}),
                    [0.7 * w, 0.3 * w], st),
             KeepTogether([_p("Table 2. Best response to T-DM1 (RECIST 1.1)", st["h"]),
                           _table(_frame_rows(stats.table2, ["response", "n", "percent"], ["Response", "n", "%"],
                                              {"percent": lambda v: _fmt(v, 1)}), [0.5 * w, 0.2 * w, 0.2 * w], st)])]
    t3cols = [c for c in stats.table3.columns if c not in ("patient_id",)]
    if len(stats.table3):
        formats = {c: (lambda v: _fmt(v, 2)) if c == "her2_ratio" else (lambda v: _fmt(v, 1)) for c in t3cols}
        story += [_p("Table 3. ctDNA per patient (copies per 20 µL well)", st["h"]),
                  _table(_frame_rows(stats.table3, t3cols, [_T3_HEADERS.get(c, c) for c in t3cols], formats),
                         _t3_widths(t3cols, w), _styles(6.5))]
    t4 = table4_for_reading(stats.table4)  # as on screen: a characteristic's p on its row, its levels under it
    return story + [_p("Table 4. Primary resistance by characteristic (Fisher's exact test, two-sided)", st["h"]),
                    _table(_frame_rows(t4, list(t4.columns), list(t4.columns), {c: cell for c in t4.columns}),
                           [0.5 * w, 0.3 * w, 0.2 * w], st)]


def _performance_section(stats: Any, st: dict, w: float) -> list[Any]:
    """The flag against primary resistance (2 x 2, sensitivity, specificity, PPV, NPV) and other HER2 cut-offs."""
    from reportlab.platypus import KeepTogether, Spacer

    p = stats.performance
    perf = [_p("The flag's performance against primary resistance", st["h"]),
            _table([["", "Primary resistance", "No primary resistance"], ["Flag: at risk", p.tp, p.fp],
                    ["Flag: not flagged", p.fn, p.tn]], [0.3 * w, 0.3 * w, 0.3 * w], st),
            Spacer(1, 3)]
    perf += [_p(f"{name}: {getattr(p, key).format()}", st["body"])
             for name, key in (("Sensitivity", "sensitivity"), ("Specificity", "specificity"), ("PPV", "ppv"), ("NPV", "npv"))]
    perf.append(_p(p.caveat + f" {p.excluded} patient(s) with ctDNA but an incomplete flag were excluded.", st["small"]))
    return [KeepTogether(perf), _p("Other HER2 ratio cut-offs", st["h"]),
            _table(_frame_rows(stats.thresholds, ["her2_cutoff", "flagged", "sensitivity", "specificity", "ppv", "npv"],
                               ["HER2 cut-off", "Flagged", "Sensitivity", "Specificity", "PPV", "NPV"],
                               {"her2_cutoff": lambda v: f"{v:g}", "flagged": str}),
                   [0.1 * w, 0.08 * w, 0.205 * w, 0.205 * w, 0.205 * w, 0.205 * w], _styles(7.5))]


def _km_section(stats: Any, st: dict, w: float) -> list[Any]:
    from reportlab.platypus import PageBreak

    from tdm1core.plotting.pdf_figures import km_plot
    from tdm1core.stats.survival import CI_METHOD_LABELS

    km = stats.km
    med = [["Group", "n", "Events", "Median, days", f"{km.level:.0%} CI"]]
    med += [[g.group, g.n, g.events, _fmt(g.median.value, 1), g.median.ci.format(1)] for g in km.groups]
    story = [PageBreak(), _p(f"Kaplan-Meier time to progression by {stats.km_group}", st["h"]),
             _figure_png(km_plot(km, None), 6.9, 3.9),
             _table(med, [0.35 * w, 0.1 * w, 0.12 * w, 0.18 * w, 0.25 * w], st),
             _p(f"Median CI: {CI_METHOD_LABELS[km.ci_method]}. NA = not reached.", st["small"])]
    if km.logrank is not None:
        lr = km.logrank
        shown = "NA (no variance to test)" if lr.p != lr.p else f"{lr.p:.4f}"
        story.append(_p(f"{lr.test_name}: chi-square {lr.chi2:.3f}, df {lr.df}, p = {shown}.", st["body"]))
    return story


def _hr_text(c: Any, level: float) -> str:
    if not c.estimable:
        return f"{c.term}: hazard ratio not estimable ({c.reason})"
    return f"{c.term}: HR {c.hr:.2f} ({level:.0%} CI {c.hr_low:.2f}-{c.hr_high:.2f}), p = {_p_text(c.p)}"


def _p_text(p: float | None) -> str:
    return "NA" if p is None or p != p else ("<0.001" if p < 0.001 else f"{p:.3f}")


def _cox_block(cox: Any, title: str, st: dict, w: float, forest: bool) -> list[Any]:
    """A Cox model: its coefficients, tests, PH check and (``forest``) its forest plot, with the methods named."""
    from tdm1core.plotting.pdf_figures import forest_plot

    rows = [["Term", "HR", f"{cox.level:.0%} CI", "p"]] + [
        [c.term, _fmt(c.hr, 3), "not estimable" if not c.estimable else f"{c.hr_low:.3f}-{c.hr_high:.3f}", _p_text(c.p)]
        for c in cox.coefficients]
    story = [_p(title, st["h"]), _table(rows, [0.46 * w, 0.14 * w, 0.26 * w, 0.14 * w], st),
             _p(f"n {cox.n}, events {cox.events} ({cox.ties} ties). Likelihood ratio {cox.likelihood_ratio.statistic:.2f} on "
                f"{cox.likelihood_ratio.df} df, p {_p_text(cox.likelihood_ratio.p)}; score (log-rank) "
                f"{cox.score.statistic:.2f}, p {_p_text(cox.score.p)}. {cox.method}.", st["small"])]
    if forest:
        story.append(_figure_png(forest_plot(cox), 6.9, 0.7 + 0.28 * len(cox.forest_rows())))
    if cox.ph_test:
        ph = [["Proportional hazards", "chi-square", "df", "p"]] + [
            [x.term, f"{x.chisq:.3f}", str(x.df), _p_text(x.p)] for x in cox.ph_test]
        story += [_table(ph, [0.46 * w, 0.2 * w, 0.1 * w, 0.24 * w], st), _p(cox.ph_method + ".", st["small"])]
    story += [_p("Warning: " + x, st["small"]) for x in cox.warnings]
    return story


def _models_section(models: Any, st: dict, w: float) -> list[Any]:
    """Hazard ratios (the group alone, and adjusted when chosen) and the RMST, each with its method; exploratory."""
    if models is None:
        return []
    story = [_p(f"Survival models by {models.group} (exploratory: few events give wide intervals)", st["h"])]
    if models.unadjusted is not None:
        story += _cox_block(models.unadjusted, f"Hazard ratio of {models.group} (Cox model, the group alone)", st, w, False)
    if models.adjusted is not None:
        story += _cox_block(models.adjusted, "Adjusted Cox model: " + ", ".join(models.adjusted.covariates), st, w, True)
    if models.rmst is not None:
        r = models.rmst
        rows = [["Group", "n", "RMST, days", f"{r.level:.0%} CI"]] + [
            [g.group, str(g.n), f"{g.rmst:.1f}", f"{g.low:.1f}-{g.high:.1f}"] for g in r.groups]
        story += [_p(f"Restricted mean survival time up to {r.tau:g} days", st["h"]),
                  _table(rows, [0.4 * w, 0.12 * w, 0.2 * w, 0.28 * w], st)]
        if r.difference is not None:
            d = r.difference
            story.append(_p(f"Difference {d.groups[0]} - {d.groups[1]}: {d.estimate:.1f} days ({d.low:.1f} to "
                            f"{d.high:.1f}), p {_p_text(d.p)}; ratio {r.ratio.estimate:.2f} ({r.ratio.low:.2f}-"
                            f"{r.ratio.high:.2f}). {r.method}.", st["small"]))
    story += [_p("Not estimated: " + x, st["small"]) for x in models.problems]
    return story


def cohort_report(cohort: Any, stats: Any, provenance: Provenance, filters: dict | None = None,
                  now: dt.datetime | None = None, pagesize: str = "A4", models: Any = None) -> bytes:
    """Cohort report: title page, Tables 1-4, the flag's performance, KM figure with numbers at risk, the survival
    models (hazard ratios, an adjusted model with its PH check, RMST: ``models``), provenance."""
    st = _styles(9)
    doc, buf = _document(pagesize, "cohort report", (16, 14, 14))
    w = doc.width
    story = (_cohort_title(cohort, stats, provenance, filters, now or dt.datetime.now(), st, w)
             + _cohort_tables(stats, st, w) + _performance_section(stats, st, w) + _km_section(stats, st, w)
             + _models_section(models, st, w))
    footer = _footer(stats.settings, "cohort report", "SYNTHETIC DEMO DATA" if "synthetic" in cohort.source.lower() else None)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _t3_widths(columns: list[str], width: float) -> list[float]:
    """Table 3 column widths by what they hold (names and calls wider than numbers)."""
    weight = {"sample": 1.3, "her2_call": 1.6, "pik3ca": 1.2, "primary_resistance": 1.2, "flag": 1.4, "her2_ratio": 0.9}
    raw = [weight.get(c, 0.85) for c in columns]
    return [width * r / sum(raw) for r in raw]


def _summary(cohort: Any, stats: Any, st: dict, w: float) -> list[Any]:
    """Page 1's one-screen summary: patients, ctDNA, flag counts, the flag's performance, KM medians and log-rank."""
    flags = cohort.patients["flag"].value_counts().to_dict()
    p = stats.performance
    rows = [["Summary", ""],
            ["Patients", f"{cohort.n} ({cohort.n_ctdna} with ctDNA)"],
            ["Flag", ", ".join(f"{k}: {v}" for k, v in sorted(flags.items())) or "no ctDNA calls"]]
    for name, key in (("Sensitivity", "sensitivity"), ("Specificity", "specificity"), ("PPV", "ppv"), ("NPV", "npv")):
        rows.append([f"Flag {name.lower() if name in ('Sensitivity', 'Specificity') else name}", getattr(p, key).format()])
    km = stats.km
    for g in km.groups:
        rows.append([f"Median TTP, {g.group}", f"{_fmt(g.median.value, 1)} days ({km.level:.0%} CI {g.median.ci.format(1)}), "
                                               f"n = {g.n}, {g.events} events"])
    if km.logrank is not None:
        lr = km.logrank
        rows.append(["Log-rank test", ("p = NA (no variance to test)" if lr.p != lr.p else f"p = {lr.p:.4f}")
                     + f" (chi-square {lr.chi2:.2f}, df {lr.df})"])
    return [_p("Summary", st["h"]), _table(rows, [0.3 * w, 0.7 * w], st),
            _p(p.caveat, st["small"])]


MONITORING_LIMITS = ("Serial monitoring is exploratory: the molecular-response rules are this product's, from the ctDNA "
                     "monitoring literature, and are not validated for clinical decisions. Research use only; not a "
                     "diagnostic device.")


def _monitoring_story(tl: Any, input_lines: Sequence[str], st: dict, w: float) -> list[Any]:
    """The serial-monitoring page's content: the rule set, the progressions and lead time, the figure, each timepoint."""
    from tdm1core.plotting.pdf_figures import timeline_plot

    s = tl.settings
    unit = "copies per mL plasma" if tl.unit == "copies_per_ml" else "copies per 20 µL well"
    rows = [["Day", "Sample", "Date", "Tracking level", "Category", "Rule"]]
    for p in tl.timepoints:
        lv = p.hotspots.get(tl.tracking_hotspot) if tl.tracking_hotspot else None
        rows.append([str(p.days_from_baseline), p.sample_id, p.collection_date,
                     "" if lv is None or lv.mutant is None else f"{lv.mutant:.3g}", p.category, p.rule])
    lead = "not available" if tl.lead_time_days is None else f"{tl.lead_time_days} days"
    story = [_p(f"Serial ctDNA on T-DM1: patient {tl.patient_id}", st["title"]),
             _p(MONITORING_LIMITS, st["small"]),
             _p(f"Rule set: {tl.rules}. Baseline: {tl.baseline_sample or 'none'}; tracking hotspot: "
                f"{tl.tracking_hotspot or 'none (nothing detected at baseline)'}; unit: {unit}. First molecular "
                f"progression: {tl.first_molecular_progression or 'none'}; first radiological progression (imaging PD): "
                f"{tl.first_radiological_progression or 'none'}; lead time: {lead}.", st["body"]),
             _figure_png(timeline_plot(tl, s.pik3ca_mutant_cutoff_copies, s.her2_ratio_cutoff), 6.9, 4.4),
             _table(rows, [0.07 * w, 0.13 * w, 0.13 * w, 0.12 * w, 0.15 * w, 0.4 * w], _styles(6.5))]
    story += [_p("Warning: " + x, st["small"]) for x in tl.warnings]
    return story + [_p(line, st["small"]) for line in input_lines]


def monitoring_report(tl: Any, input_lines: Sequence[str] = (), now: dt.datetime | None = None, pagesize: str = "A4") -> bytes:
    """One patient's serial ctDNA as a PDF page: the timeline figure, each timepoint with its category and rule, the
    first molecular and radiological progressions and the lead time, the rule set, the inputs' SHA-256."""
    st = _styles(8.5)
    doc, buf = _document(pagesize, "serial monitoring", (16, 14, 14))
    story = _monitoring_story(tl, input_lines, st, doc.width)
    story.append(_p(f"Generated {(now or dt.datetime.now()).strftime('%Y-%m-%d %H:%M')}.", st["small"]))
    footer = _footer(tl.settings, "serial monitoring")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
