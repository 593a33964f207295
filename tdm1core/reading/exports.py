"""Reading Bio-Rad ddPCR well-level results exports.

Formats (detected from the header; see ``shared/docs/ddpcr_formats.md``):

* QuantaSoft 1.7.x, 63 columns (``Well,ExptType,Experiment,Sample,TargetType,Target,...``);
* the older QuantaSoft layout (``TypeAssay``/``Assay``; 0.91 nL droplets);
* QuantaSoft Analysis Pro, 65 columns (``Well,Sample,Target,Conc(copies/µL),...``; ``FAM Lo``/``FAM Hi`` dyes);
* QX Manager, 73 columns (``Well,Sample description 1,...,Conc(copies/µL)``), both header variants, the QX600
  81-column variant, the reduced 16-column ``;``/decimal-comma set, and results saved as .xlsx.

A damaged row (a blank or non-digit droplet count, counts that do not add up, a concentration no plausible droplet
volume explains, a shifted row, the same well and target twice) refuses the file with every such row listed: no call
is ever made from a damaged well. Other vendors' digital-PCR files are named and refused.

Quirks handled: UTF-8 with or without BOM, CP1252/Latin-1; LF, CRLF or CR-only
line ends; quoted rows with a trailing comma (64 fields under 63 names) and
unquoted rows; rows one field short; ``No Call`` with droplet counts present;
QX Manager's saturation sentinel ``1000000`` (flagged, never computed with);
merged wells (``M01`` with a member list); several targets per well in any
order; target names with stray spaces or that look like numbers; ``;``
delimiters with decimal commas.

Everything is normalised to one tidy well table (:data:`WELL_COLUMNS`), and
concentrations are recomputed from the droplet counts (:mod:`tdm1core.measuring.poisson`).
"""
from __future__ import annotations

import csv
import hashlib
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import tdm1core.measuring.poisson as poisson
from tdm1core.errors import DdpcrFormatError, Problem
from tdm1core.settings import DEFAULT_SETTINGS, Settings
from tdm1core.targets import normalise_name
from tdm1core.reading.layouts import (AMPLITUDE_HEADERS, FORMAT_QS17, FORMAT_QS_OLD, FORMAT_QSAP, FORMAT_QXM,
                                      FORMAT_QXM_REDUCED, ExportLayout, known_layouts, layout_of)
from tdm1core.reading.wells import is_merged_well, is_plate_well
from tdm1core.reading.textfile import decode_text, decode_unicode, sniff_delimiter, unsafe_characters, visible

__all__ = [
    "DdpcrExport",
    "read_export",
    "pool_replicates",
    "WELL_COLUMNS",
    "MAX_EXPORT_BYTES",
    "FORMAT_QS17",
    "FORMAT_QS_OLD",
    "FORMAT_QXM",
    "FORMAT_QXM_REDUCED",
    "FORMAT_QSAP",
]

MAX_EXPORT_BYTES = 20 * 1024 * 1024
MAX_DROPLETS = 10_000_000  # more than any well or merged well holds
MAX_CONCENTRATION = 1e6  # copies/µL; above it only QX Manager's saturation sentinel
MAX_COLUMNS = 200
MAX_ROWS = 20_000  # a 384-well plate with 6 channels and merged wells is < 5,000 rows
MAX_PROBLEMS = 20
PLAUSIBLE_VOLUME_NL = (0.70, 0.95)

WELL_COLUMNS = [
    "row", "well", "sample", "target", "target_type", "channel", "status",
    "positives", "negatives", "accepted_droplets",
    "exported_concentration", "exported_state", "concentration", "copies_per_20ul",
    "ci_low", "ci_high", "merged", "merged_members", "saturated", "warnings", "volume_nl",
]

_REQUIRED = ("well", "target", "positives", "negatives", "accepted", "conc")
_REEXPORT = "Re-export the plate from QuantaSoft or QX Manager as a well-level results CSV ('Export CSV')."
_SATURATION_SENTINEL = 1_000_000.0


CONTROL_KINDS = ("ntc", "control", "positive control", "negative control")  # wells never called as samples


@dataclass(frozen=True)
class DdpcrExport:
    """A parsed export: the tidy well table and what was learnt reading it."""

    name: str
    sha256: str
    format: str
    encoding: str
    line_ending: str
    delimiter: str
    volume_nl: float
    inferred_volume_nl: float | None
    wells: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())

    @property
    def samples(self) -> list[str]:
        """Sample names in plate order, no-template controls excluded."""
        w = self.wells
        non_ntc = w[~w["target_type"].isin(CONTROL_KINDS)]
        return list(dict.fromkeys(non_ntc["sample"]))


def _fail(message: str, source: str, row: int | None = None, column: str | None = None, value: object = None,
          hint: str | None = _REEXPORT, problems: list[Problem] | tuple[Problem, ...] = ()) -> DdpcrFormatError:
    return DdpcrFormatError(message, source=source, row=row, column=column, value=value, hint=hint, problems=problems)


# ---------------------------------------------------------------- reading the bytes into rows

@dataclass(frozen=True)
class _Table:
    """The file as rows of text cells, whatever the container (text CSV or an .xlsx sheet)."""

    rows: list[list[str]]
    row_numbers: list[int]  # the file's line (or spreadsheet row) number of each row
    encoding: str
    line_ending: str
    delimiter: str
    preamble: str  # the first few KB of text, for recognising other vendors' files


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")  # control characters other than tab and line ends


def _decode(data: bytes, source: str) -> tuple[str, str]:
    if not data or not data.strip():
        raise _fail("the file is empty.", source)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _fail("this is an old Excel (.xls) workbook, not a CSV file.", source,
                    hint="In Excel use 'Save As' > 'CSV (Comma delimited)', or re-export from the ddPCR software.")
    if data[:5] == b"%PDF-":
        raise _fail("this is a PDF document, not a CSV export.", source)
    unicode = decode_unicode(data)
    if unicode is not None:
        text, encoding = unicode
    else:
        if b"\x00" in data[:65536]:
            raise _fail("the file is binary (it contains NUL bytes), not a text CSV export.", source)
        text, encoding = decode_text(data, source)
        encoding = encoding.replace("-sig", " with BOM" if data.startswith(b"\xef\xbb\xbf") else "")
    if "\x00" in text:
        raise _fail("the file is binary (it contains NUL characters), not a text CSV export.", source)
    sample = text[:65536]
    controls = len(_CONTROL.findall(sample))
    if controls > max(3, len(sample) // 200):
        raise _fail("the file is not text (it holds many control characters).", source)
    return text, encoding


def _line_ending(text: str) -> str:
    if "\r\n" in text:
        return "CRLF"
    if "\r" in text:
        return "CR"
    return "LF"


def _text_table(data: bytes, source: str) -> _Table:
    text, encoding = _decode(data, source)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise _fail("the file is empty.", source)
    preamble = "\n".join(lines[first:first + 40])[:8192]
    delimiter = sniff_delimiter(lines[first])
    try:
        rows = list(csv.reader(lines[first:], delimiter=delimiter))
    except csv.Error as exc:
        raise _fail(f"the CSV structure is broken ({exc}).", source) from exc
    return _Table(rows, [first + 1 + i for i in range(len(rows))], encoding, _line_ending(text), delimiter, preamble)


def _refuse_other_vendors(preamble: str, first_line: str, source: str) -> None:
    """Other digital-PCR systems' exports are named, never mistaken for a damaged Bio-Rad file."""
    low = preamble.lower()
    if first_line.strip().lower().startswith("sep=") or ("reaction mix" in low and "partitions" in low):
        raise _fail("this looks like a Qiagen QIAcuity export; only Bio-Rad ddPCR exports (QuantaSoft, QuantaSoft "
                    "Analysis Pro, QX Manager) are supported.", source, hint="Export the plate from the Bio-Rad software.")
    if "[quantification results]" in low or "quantstudio" in low or "absolute q" in low or "[sample setup]" in low:
        raise _fail("this looks like a Thermo Fisher QuantStudio 3D / Absolute Q export; only Bio-Rad ddPCR exports "
                    "(QuantaSoft, QuantaSoft Analysis Pro, QX Manager) are supported.", source,
                    hint="Export the plate from the Bio-Rad software.")


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def _xlsx_table(data: bytes, source: str) -> _Table:
    """The first sheet of an .xlsx workbook that carries a ddPCR results header (zip guarded before parsing)."""
    from tdm1core.reading.workbook import check_zip, open_workbook

    check_zip(data, source, _fail)
    wb = open_workbook(data, source, _fail)
    try:
        for ws in wb.worksheets:
            rows: list[list[str]] = []
            numbers: list[int] = []
            header_at = None
            for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
                if i > MAX_ROWS:
                    raise _fail(f"the sheet '{ws.title}' has more than {MAX_ROWS:,} rows; no ddPCR plate has so many.", source)
                cells = [_cell_text(v) for v in values[:MAX_COLUMNS + 1]]
                if len(cells) > MAX_COLUMNS:
                    raise _fail(f"the sheet '{ws.title}' has more than {MAX_COLUMNS} columns; no ddPCR export has so many.", source)
                while cells and cells[-1] == "":
                    cells.pop()
                if header_at is None:
                    if not (cells and cells[0].strip().lstrip("\ufeff") == "Well" and layout_of([c.strip() for c in cells])):
                        if i > 30:
                            break
                        continue
                    header_at = i
                rows.append(cells)
                numbers.append(i)
            if header_at is not None:
                n = len(rows[0])
                rows = [r + [""] * (n - len(r)) if len(r) < n else r for r in rows]
                return _Table(rows, numbers, f"xlsx (sheet '{ws.title}')", "n/a", "xlsx", "")
    finally:
        wb.close()
    raise _fail("this is an Excel workbook without a ddPCR results table (no sheet has a header starting with 'Well' "
                "in a known layout).", source,
                hint="In QuantaSoft or QX Manager use 'Export CSV', or save the results sheet from Excel as 'CSV (Comma delimited)'.")


def _load(data: bytes, source: str) -> _Table:
    if data[:4] == b"PK\x03\x04":
        from tdm1core.reading.workbook import is_xlsx

        if is_xlsx(data):
            return _xlsx_table(data, source)
        raise _fail("this is a zip archive, not a CSV export or an Excel workbook.", source,
                    hint="Unzip it and upload the well-level results CSV (droplet amplitude files are not read here).")
    return _text_table(data, source)


# ---------------------------------------------------------------- layouts (tdm1core.reading.layouts)

def _detect_layout(header: list[str], preamble: str, source: str) -> ExportLayout:
    layout = layout_of(header)
    if layout is not None:
        return layout
    if preamble:
        _refuse_other_vendors(preamble, preamble.split("\n", 1)[0], source)
    names = set(header)
    if any(h <= names for h in AMPLITUDE_HEADERS) or preamble.lstrip().lower().startswith("target value of"):
        raise _fail("this is a per-droplet Amplitude file (one file per well), not the well-level results export.", source,
                    hint="Export the results table instead: QuantaSoft 'Export CSV' from the Analyze tab, or QX Manager "
                         "'Export CSV' of the well data.")
    found = ", ".join(repr(h) for h in header[:6]) + (", …" if len(header) > 6 else "")
    if "Well" in names or "Concentration" in names or any(h.startswith("Conc(") for h in header):
        raise _fail(f"the header is not one of the ddPCR layouts this program knows ({known_layouts()}); "
                    f"its first columns are {found}.", source, row=1)
    raise _fail(f"this does not look like a ddPCR export: its first columns are {found}, but the layouts this program "
                f"knows are {known_layouts()}.", source, row=1)


# ---------------------------------------------------------------- cells

_COUNT = re.compile(r"[0-9]{1,12}")


def _number(text: str, decimal_comma: bool) -> float:
    t = text.strip()
    if decimal_comma:
        t = t.replace(".", "").replace(",", ".") if t.count(",") == 1 and t.count(".") >= 1 else t.replace(",", ".")
    if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?", t):
        raise ValueError(t)  # Python's float() also takes '4_06', non-ASCII digits, 'inf' and 'nan'
    value = float(t)
    if not math.isfinite(value):
        raise ValueError(t)
    return value


def _count(text: str, where: tuple[int, str], problems: list[Problem]) -> int | None:
    """A droplet count: ASCII digits only, at most 10^7 (no plate has more); else a problem and None."""
    t = text.strip()
    row, column = where
    if t == "":
        problems.append(Problem("the droplet count is blank; a blank is not zero droplets.", row, column))
        return None
    if not _COUNT.fullmatch(t):
        kind = "negative" if t.startswith("-") else "not a whole number written in digits"
        problems.append(Problem(f"expected a whole number of droplets, found {t!r} ({kind}).", row, column, t))
        return None
    value = int(t)
    if value > MAX_DROPLETS:
        problems.append(Problem(f"{value:,} droplets is more than any real well or merged well holds "
                                f"(at most {MAX_DROPLETS:,}).", row, column, t))
        return None
    return value


def _decimals(text: str) -> int:
    t = text.strip().replace(",", ".")
    if "e" in t.lower():
        return 15
    return len(t.split(".", 1)[1]) if "." in t else 0


def _channel_and_kind(layout: ExportLayout, get: Any) -> tuple[str, str]:
    target_type = get("target_type").strip()
    if layout.channel_from == "dye":
        dye = " ".join(get("dye").split()).upper().replace(" LO", " Lo").replace(" HI", " Hi")
        channel = dye or ("HEX" if target_type.lower() == "reference" else "FAM")
        sample_type = get("sample_type").strip().lower()
        if sample_type in ("ntc", "blank"):
            kind = "ntc"
        elif sample_type in ("posctrl", "positive control"):
            kind = "positive control"
        elif sample_type in ("negctrl", "negative control"):
            kind = "negative control"
        else:
            kind = "reference" if target_type.lower() == "reference" else "unknown"
        return channel, kind
    m = re.match(r"(Ch\d)(.*)", target_type, re.I)
    channel = m.group(1).capitalize() if m else ""
    suffix = (m.group(2) if m else target_type).strip().lower()
    if suffix in ("ntc", "blank"):
        kind = "ntc"
    elif suffix in ("negative control", "positive control"):
        kind = suffix
    else:
        kind = "reference" if suffix == "reference" else "unknown"
    return channel, kind


# ---------------------------------------------------------------- one row

def _concentration(text: str, decimal_comma: bool, row_no: int, column: str) -> tuple[str, float] | Problem:
    """The exported concentration cell: (state, value) — 'ok' with a number, 'blank', 'no call', 'no data' — or the
    problem that refuses the row."""
    low = text.lower().replace(" ", "")
    if text == "":
        return "blank", math.nan
    if low in ("nocall", "blank"):
        return ("no call" if low == "nocall" else "no data"), math.nan
    try:
        value = _number(text, decimal_comma)
    except ValueError:
        return Problem(f"expected a concentration (a number, 'No Call', 'Blank' or blank), found {text!r}.", row_no,
                       column, text)
    if value < 0 or (value > MAX_CONCENTRATION and value != _SATURATION_SENTINEL):
        return Problem(f"a concentration of {text} copies/µL is beyond any real ddPCR well.", row_no, column, text)
    return "ok", value


def _text_problem(get: Any, row_no: int, cols: dict[str, str]) -> Problem | None:
    """A text cell too long for the database, or a name holding characters that hide or reorder its own text (one
    sample could then be shown under another's name)."""
    for key, limit in (("sample", 200), ("target", 200), ("status", 50), ("merged", 500)):
        if len(get(key)) > limit:  # the database columns hold this much; both databases behave alike
            return Problem(f"the {key} is {len(get(key)):,} characters long (at most {limit}).", row_no, cols.get(key),
                           get(key)[:40] + "…")
    for key in ("sample", "target"):
        bad = unsafe_characters(get(key))
        if bad:
            return Problem(f"the {key} name {visible(get(key))} holds control or bidirectional character(s) "
                           f"{', '.join(dict.fromkeys(bad))}.", row_no, cols.get(key), get(key)[:40])
    return None


def _read_row(fields: list[str], row_no: int, layout: ExportLayout, index: dict[str, int], decimal_comma: bool,
              problems: list[Problem]) -> dict[str, Any] | None:
    cols = layout.columns

    def get(key: str) -> str:
        col = cols.get(key)
        return fields[index[col]] if col is not None and col in index else ""

    well = get("well").strip()
    if not (is_plate_well(well) or is_merged_well(well)):
        problems.append(Problem(f"{well!r} is not a plate well (A01-P24, or M01 for merged wells): the row's cells look "
                                "shifted or edited.", row_no, cols["well"], well))
        return None
    problem = _text_problem(get, row_no, cols)
    if problem is not None:
        problems.append(problem)
        return None
    warnings: list[str] = []
    channel, kind = _channel_and_kind(layout, get)
    conc_text = get("conc").strip()
    read = _concentration(conc_text, decimal_comma, row_no, cols["conc"])
    if isinstance(read, Problem):
        problems.append(read)
        return None
    state, exported = read
    if state == "no call":
        warnings.append(f"Well {well}: exported as 'No Call' (automatic thresholding failed); recomputed from the droplet counts.")
    n_before = len(problems)
    positives: int | None
    negatives: int | None
    accepted: int | None
    if state == "no data" and all(get(k).strip() in ("", "0") for k in ("positives", "negatives", "accepted")):
        positives = negatives = accepted = 0
    else:
        positives = _count(get("positives"), (row_no, cols["positives"]), problems)
        negatives = _count(get("negatives"), (row_no, cols["negatives"]), problems)
        accepted = _count(get("accepted"), (row_no, cols["accepted"]), problems)
    if len(problems) > n_before or positives is None or negatives is None or accepted is None:
        return None
    if positives > accepted:
        problems.append(Problem(f"{positives:,} positive droplets is more than the {accepted:,} accepted droplets.",
                                row_no, cols["positives"], str(positives)))
        return None
    if positives + negatives != accepted:
        problems.append(Problem(f"positives + negatives ({positives:,} + {negatives:,}) do not add up to the "
                                f"{accepted:,} accepted droplets.", row_no, cols["accepted"], str(accepted)))
        return None
    if state == "no data":
        warnings.append(f"Well {well}: exported as 'Blank' (no data); not used.")
    saturated = accepted > 0 and negatives == 0
    if saturated:
        state = "saturated" if state == "ok" else state
        warnings.append(f"Well {well}: saturated (no negative droplets), so the concentration cannot be computed"
                        + (" (the exported 1000000 is QX Manager's sentinel)" if exported == _SATURATION_SENTINEL else "")
                        + "; dilute the sample and rerun.")
        exported = math.nan
    elif exported == _SATURATION_SENTINEL:
        problems.append(Problem("the concentration is QX Manager's saturation sentinel 1000000, but the well has negative "
                                "droplets.", row_no, cols["conc"], conc_text))
        return None
    if accepted == 0:
        warnings.append(f"Well {well}: no accepted droplets.")
    merged_members = get("merged").strip().strip("()")
    return {
        "row": row_no, "well": well, "sample": get("sample").strip() or well, "target": get("target"), "target_type": kind,
        "channel": channel, "status": get("status").strip(), "positives": positives, "negatives": negatives,
        "accepted_droplets": accepted, "exported_concentration": exported, "exported_state": state,
        "merged": bool(merged_members) or bool(re.fullmatch(r"M[0-9]+", well)), "merged_members": merged_members,
        "saturated": saturated, "warnings": warnings, "_decimals": _decimals(conc_text) if state == "ok" else None,
    }


# ---------------------------------------------------------------- checks over the rows

def _check_field_counts(rows: list[list[str]], numbers: list[int], n_header: int, layout: ExportLayout,
                        source: str) -> list[tuple[list[str], int]]:
    """Every data row has the header's field count in the file's one dialect (a trailing comma, or one short for the
    older QuantaSoft layout); a row that differs had a cell deleted or inserted, so its values are shifted."""
    allowed = {n_header, n_header + 1}
    if layout.short_rows:
        allowed.add(n_header - 1)
    lengths = [len(r) for r in rows if any(f.strip() for f in r)]
    if not lengths:
        return []
    usual = max(set(lengths) & allowed or {n_header}, key=lengths.count)
    out = []
    for fields, row_no in zip(rows, numbers):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != usual or (usual == n_header + 1 and fields[-1].strip() != ""):
            if len(fields) != usual:
                raise _fail(
                    f"this row has {len(fields)} fields but the header has {n_header} and the other rows {usual}: "
                    "the file looks truncated, or a cell was deleted or inserted (as Excel's 'shift cells left' does), "
                    "so the row's values would be read under the wrong columns.", source, row=row_no)
            raise _fail("this row has a value after its last column: a cell was inserted or the row was edited.", source,
                        row=row_no)
        if usual == n_header + 1:
            fields = fields[:-1]
        elif usual == n_header - 1:
            fields = fields + [""]
        out.append((fields, row_no))
    return out


def _check_duplicates(records: list[dict[str, Any]], source: str, target_col: str) -> None:
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    problems = []
    for r in records:
        key = (r["well"], normalise_name(r["target"]), r["channel"])
        if key in seen:
            first = seen[key]
            problems.append(Problem(
                f"well {r['well']} has target '{r['target'].strip()}' ({r['channel'] or 'same channel'}) twice, rows "
                f"{first['row']} and {r['row']} (samples '{first['sample']}' and '{r['sample']}').", r["row"], target_col))
        else:
            seen[key] = r
    if problems:
        raise _fail(f"the same well and target appear twice ({len(problems)} time(s)): plates pasted together or a file "
                    "re-saved by a script.", source, problems=problems[:MAX_PROBLEMS],
                    hint="Export one plate per file from the ddPCR software; do not paste exports together.")


def _tolerance(r: dict[str, Any]) -> float:
    # rounding of the displayed value, plus 1.5 % for the droplet volume QuantaSoft rounds to
    tol = 0.5 * 10 ** (-r["_decimals"]) + 0.015 * abs(r["exported_concentration"]) + 1e-9
    return max(tol, 0.05 * abs(r["exported_concentration"])) if r["positives"] < 3 else tol


def _implied_volume(r: dict[str, Any]) -> float | None:
    if r["exported_state"] != "ok" or not r["exported_concentration"] > 0 or not 0 < r["positives"] < r["accepted_droplets"]:
        return None
    return -math.log(r["negatives"] / r["accepted_droplets"]) / r["exported_concentration"] * 1e3


def _check_concentrations(records: list[dict[str, Any]], volume: float, source: str, conc_col: str,
                          settings: Settings) -> tuple[dict[str, float], dict[str, tuple[float, str]]]:
    """Compare each exported concentration with the counts. A well whose rows all imply one plausible droplet volume
    (0.70-0.95 nL) is explained (said per well); any other disagreement is damage and refuses the file.

    Returns the droplet volume per well (the setting, or the implied one under ``concentration_source='exported'``)
    and the per-well warnings."""
    by_well: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_well.setdefault(r["well"], []).append(r)
    volumes: dict[str, float] = {}
    warnings: dict[str, tuple[float, str]] = {}  # well -> (implied volume, the sentence that says so)
    problems: list[Problem] = []
    for well, rows in by_well.items():
        volumes[well] = volume
        informative: list[tuple[dict[str, Any], float]] = [(r, v) for r in rows if (v := _implied_volume(r)) is not None]
        off = [r for r in rows if r["exported_state"] == "ok" and r["positives"] > 0
               and abs(poisson.concentration(r["positives"], r["accepted_droplets"], volume) - r["exported_concentration"]) > _tolerance(r)]
        if not off:
            continue
        implied = sorted(v for _, v in informative)
        median = implied[len(implied) // 2] if implied else None
        agree = median is not None and all(
            abs(v / median - 1) <= 0.02 + 0.5 * 10 ** (-r["_decimals"]) / r["exported_concentration"] + (0.05 if r["positives"] < 3 else 0)
            for r, v in informative)
        if median is not None and agree and PLAUSIBLE_VOLUME_NL[0] <= median <= PLAUSIBLE_VOLUME_NL[1] \
                and all(r in [x for x, _ in informative] for r in off):
            change = volume / median - 1
            text = (f"Exported concentrations imply {median:.3f} nL droplets in {well}; the exported copies are "
                    f"{abs(change):.0%} {'higher' if change > 0 else 'lower'} than those recomputed at {volume:g} nL")
            if settings.concentration_source == "exported":
                volumes[well] = median
                text += ", and the exported values are used (concentration_source = exported)."
            else:
                text += " (recomputed values are used; set concentration_source = exported to use the instrument's)."
            warnings[well] = (median, text)
            continue
        for r in off:
            recomputed = poisson.concentration(r["positives"], r["accepted_droplets"], volume)
            problems.append(Problem(
                f"the exported concentration {r['exported_concentration']:g} copies/µL does not match the droplet counts "
                f"({r['positives']:,} of {r['accepted_droplets']:,} positive give {recomputed:.4g} at {volume:g} nL), and no "
                f"plausible droplet volume ({PLAUSIBLE_VOLUME_NL[0]}-{PLAUSIBLE_VOLUME_NL[1]} nL, one for the whole well) "
                "explains it: a count or the concentration was changed.", r["row"], conc_col))
    if problems:
        raise _fail(f"{len(problems)} row(s) have droplet counts that disagree with their concentrations.", source,
                    problems=problems[:MAX_PROBLEMS],
                    hint="Re-export the plate from the ddPCR software; never edit counts by hand.")
    return volumes, warnings


# ---------------------------------------------------------------- the pipeline

def read_export(
    data: bytes | str | Path,
    name: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> DdpcrExport:
    """Read a ddPCR well-level results export (CSV, or QX Manager's .xlsx).

    The steps, each a small check: load the rows (decoding, container, other vendors refused) → detect the layout from
    the exact header names → check every row's field count → read each row (counts, states) → refuse duplicated
    well/targets → compare the exported concentrations with the counts (per-well droplet volumes) → build the tidy table.

    Raises
    ------
    DdpcrFormatError
        With the file, row and column, and how to fix it (every damaged row at once, up to 20).
    """
    if isinstance(data, (str, Path)):
        path = Path(data)
        name = name or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DdpcrFormatError(f"cannot read the file: {exc.strerror}.", source=name,
                                   hint="Check the path and that the file is readable.") from exc
    source = name or "upload"
    if len(data) > MAX_EXPORT_BYTES:
        raise _fail(f"the file is {len(data) / 1e6:.1f} MB; ddPCR exports are a few MB at most (limit {MAX_EXPORT_BYTES / 1e6:.0f} MB).",
                    source, hint="Upload the well-level results CSV, not droplet amplitude files or a zip.")
    digest = hashlib.sha256(data).hexdigest()
    table = _load(data, source)
    header = [h.strip().lstrip("\ufeff") for h in table.rows[0]]
    if len(header) > MAX_COLUMNS:
        raise _fail(f"the header has {len(header):,} columns; no ddPCR export has more than {MAX_COLUMNS}.", source, row=1)
    if len(table.rows) > MAX_ROWS:
        raise _fail(f"the file has {len(table.rows):,} rows; no ddPCR plate export has more than {MAX_ROWS:,}.", source)
    layout = _detect_layout(header, table.preamble, source)
    index = {h: i for i, h in enumerate(header)}
    for key in _REQUIRED:
        if layout.columns[key] not in index:
            raise _fail(f"the required column '{layout.columns[key]}' is missing from the header.", source, row=1,
                        column=layout.columns[key])
    volume = layout.droplet_volume(settings.droplet_volume_nl, settings.legacy_droplet_volume_nl)
    body = _check_field_counts(table.rows[1:], table.row_numbers[1:], len(header), layout, source)
    if not body:
        raise _fail("the file has a header but no data rows.", source, hint="Export again with the wells selected.")
    decimal_comma = table.delimiter == ";"
    problems: list[Problem] = []
    records = [r for fields, row_no in body
               if (r := _read_row(fields, row_no, layout, index, decimal_comma, problems)) is not None]
    if problems:
        raise _fail(f"{len(problems)} problem(s) in the rows; no call is made from a damaged well.", source,
                    problems=problems[:MAX_PROBLEMS])
    _check_duplicates(records, source, layout.columns["target"])
    well_volumes, volume_warnings = _check_concentrations(records, volume, source, layout.columns["conc"], settings)
    return _assemble(records, well_volumes, volume_warnings, volume, settings, layout, table, source, digest)


def _assemble(records: list[dict[str, Any]], well_volumes: dict[str, float], volume_warnings: dict[str, tuple[float, str]],
              volume: float,
              settings: Settings, layout: ExportLayout, table: _Table, source: str, digest: str) -> DdpcrExport:
    implied = [v for r in records if r["positives"] >= 100 and r["negatives"] >= 100 and (v := _implied_volume(r)) is not None]
    inferred = float(statistics.median(implied)) if implied else None
    file_warnings: list[str] = []
    if volume_warnings:
        vols = [v for v, _ in volume_warnings.values()]
        file_warnings.append(f"The exported concentrations imply per-well droplet volumes of {min(vols):.3f}-{max(vols):.3f} nL "
                             f"in {len(vols)} well(s), not the {volume:g} nL set; HER2/EFTUD2 ratios within a well are "
                             "unaffected by the droplet volume.")
    elif inferred is not None and abs(inferred / volume - 1) > 0.02:
        file_warnings.append(
            f"The exported concentrations imply droplets of {inferred:.3f} nL but {volume:g} nL is set"
            f"{' (older QuantaSoft versions use 0.91 nL)' if abs(inferred - 0.91) < 0.02 else ''}; "
            "concentrations are recomputed with the setting (change the droplet volume setting if the export is right).")
    for r in records:
        v = well_volumes.get(r["well"], volume)
        r["volume_nl"] = v
        if r["saturated"] or r["exported_state"] == "no data":
            r["concentration"] = math.nan
        else:
            r["concentration"] = poisson.concentration(r["positives"], r["accepted_droplets"], v)
        r["copies_per_20ul"] = poisson.copies_per_20ul(r["concentration"])
        ci = poisson.concentration_ci(r["positives"], r["accepted_droplets"], v, settings.confidence_level)
        r["ci_low"], r["ci_high"] = ci.low, (math.inf if r["saturated"] else ci.high)
        del r["_decimals"]
        if r["well"] in volume_warnings:
            r["warnings"].append(volume_warnings[r["well"]][1])
        r["warnings"] = "\n".join(r["warnings"])
    singles = [r for r in records if not r["merged"]]
    if singles and all(r["target_type"] == "ntc" for r in singles):
        file_warnings.append("Every well is a no-template control.")
    file_warnings.extend(text for _, text in volume_warnings.values())
    wells = pd.DataFrame.from_records(records, columns=WELL_COLUMNS)
    return DdpcrExport(
        name=source, sha256=digest, format=layout.name, encoding=table.encoding, line_ending=table.line_ending,
        delimiter=table.delimiter, volume_nl=volume, inferred_volume_nl=inferred, wells=wells,
        warnings=tuple(file_warnings),
    )


@dataclass(frozen=True)
class PooledTarget:
    """Droplets of one sample and target, pooled over replicate wells."""

    sample: str
    target: str
    channel: str
    target_type: str
    wells: tuple[str, ...]
    positives: int
    negatives: int
    accepted_droplets: int
    min_well_droplets: int
    concentration: float
    ci_low: float
    ci_high: float
    saturated: bool
    warnings: tuple[str, ...]
    volume_nl: float = 0.85
    no_data: bool = False

    @property
    def copies_per_20ul(self) -> float:
        return 20.0 * self.concentration


def _rows_to_pool(records: list[dict]) -> list[dict]:
    """Single wells with data, and a merged row only where its member wells are absent (nothing counted twice)."""
    present = {(r["well"], r["target"].strip(), r["channel"]) for r in records if not r["merged"]}
    use = [r for r in records if not r["merged"] and r["exported_state"] != "no data"]
    for r in records:
        if r["merged"]:
            members = [m.strip() for m in r["merged_members"].split(",") if m.strip()]
            if not members or not all((m, r["target"].strip(), r["channel"]) in present for m in members):
                use.append(r)
    return use


def _pooled_kind(types: set[str]) -> str:
    if types == {"ntc"}:
        return "ntc"
    if types <= set(CONTROL_KINDS):
        return "control"
    return "reference" if "reference" in types else "unknown"


def _pool(key: tuple[str, str, str], g: list[dict], default_volume: float, settings: Settings) -> PooledTarget:
    sample, target, channel = key
    pos = sum(r["positives"] for r in g)
    acc = sum(r["accepted_droplets"] for r in g)
    saturated = any(r["saturated"] for r in g)
    volume = pooled_volume(g, default_volume)
    ci = poisson.concentration_ci(pos, acc, volume, settings.confidence_level)
    return PooledTarget(
        sample=str(sample), target=str(target), channel=str(channel),
        target_type=_pooled_kind({r["target_type"] for r in g}),
        wells=tuple(r["well"] for r in g), positives=pos, negatives=acc - pos, accepted_droplets=acc,
        min_well_droplets=min(r["accepted_droplets"] for r in g),
        concentration=math.nan if saturated else poisson.concentration(pos, acc, volume),
        ci_low=ci.low, ci_high=math.inf if saturated else ci.high, saturated=saturated,
        warnings=tuple(w for r in g for w in str(r["warnings"]).split("\n") if w),
        volume_nl=volume, no_data=all(r["exported_state"] == "no data" for r in g))


def pool_replicates(export: DdpcrExport, settings: Settings = DEFAULT_SETTINGS) -> list[PooledTarget]:
    """Pool replicate wells of the same sample and target by summing droplets.

    Single wells are pooled here, as QuantaSoft merges wells; merged rows already in
    the export (``M01``...) are used only where their member wells are absent, so
    nothing is counted twice.
    """
    w = export.wells
    records = [dict(zip(w.columns, row)) for row in zip(*(w[c].tolist() for c in w.columns))]  # (to_dict is slow)
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in _rows_to_pool(records):
        groups.setdefault((r["sample"], r["target"].strip(), r["channel"]), []).append(r)
    return [_pool(key, g, export.volume_nl, settings) for key, g in groups.items()]


def pooled_volume(rows: list[dict], default: float) -> float:
    """The droplet volume of pooled wells: their droplet-weighted mean (all equal unless per-well volumes are used)."""
    vols = [(float(r.get("volume_nl") or default), r["accepted_droplets"]) for r in rows]
    total = sum(n for _, n in vols)
    if not total or len({v for v, _ in vols}) == 1:
        return vols[0][0] if vols else default
    return sum(v * n for v, n in vols) / total
