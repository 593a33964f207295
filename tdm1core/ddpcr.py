"""Reading Bio-Rad ddPCR well-level results exports.

Formats (detected from the header; see ``shared/docs/ddpcr_formats.md``):

* QuantaSoft 1.7.x, 63 columns (``Well,ExptType,Experiment,Sample,TargetType,Target,...``);
* the older QuantaSoft layout (``TypeAssay``/``Assay``; 0.91 nL droplets);
* QX Manager, 73 columns (``Well,Sample description 1,...,Conc(copies/µL)``), both header variants.

Quirks handled: UTF-8 with or without BOM, CP1252/Latin-1; LF, CRLF or CR-only
line ends; quoted rows with a trailing comma (64 fields under 63 names) and
unquoted rows; rows one field short; ``No Call`` with droplet counts present;
QX Manager's saturation sentinel ``1000000`` (flagged, never computed with);
merged wells (``M01`` with a member list); several targets per well in any
order; target names with stray spaces or that look like numbers; ``;``
delimiters with decimal commas.

Everything is normalised to one tidy well table (:data:`WELL_COLUMNS`), and
concentrations are recomputed from the droplet counts (:mod:`tdm1core.poisson`).
"""
from __future__ import annotations

import csv
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import poisson
from .errors import DdpcrFormatError
from .settings import DEFAULT_SETTINGS, Settings
from .textfile import decode_text, sniff_delimiter

__all__ = [
    "DdpcrExport",
    "read_export",
    "pool_replicates",
    "WELL_COLUMNS",
    "MAX_EXPORT_BYTES",
    "FORMAT_QS17",
    "FORMAT_QS_OLD",
    "FORMAT_QXM",
]

MAX_EXPORT_BYTES = 20 * 1024 * 1024
FORMAT_QS17 = "QuantaSoft 1.7.x"
FORMAT_QS_OLD = "QuantaSoft (older layout)"
FORMAT_QXM = "QX Manager"

WELL_COLUMNS = [
    "row", "well", "sample", "target", "target_type", "channel", "status",
    "positives", "negatives", "accepted_droplets",
    "exported_concentration", "exported_state", "concentration", "copies_per_20ul",
    "ci_low", "ci_high", "merged", "merged_members", "saturated", "warnings",
]

# canonical field -> header names, per format
_COLUMNS = {
    FORMAT_QS17: {
        "well": "Well", "sample": "Sample", "target": "Target", "target_type": "TargetType",
        "status": "Status", "conc": "Concentration", "positives": "Positives", "negatives": "Negatives",
        "accepted": "AcceptedDroplets", "merged": "MergedWells",
    },
    FORMAT_QS_OLD: {
        "well": "Well", "sample": "Sample", "target": "Assay", "target_type": "TypeAssay",
        "status": "Status", "conc": "Concentration", "positives": "Positives", "negatives": "Negatives",
        "accepted": "AcceptedDroplets", "merged": "MergedWells",
    },
    FORMAT_QXM: {
        "well": "Well", "sample": "Sample description 1", "target": "Target", "target_type": "TargetType",
        "status": "Status", "conc": "Conc(copies/µL)", "positives": "Positives", "negatives": "Negatives",
        "accepted": "Accepted Droplets", "merged": "MergedWells", "dye": "DyeName(s)", "sample_type": "SampleType",
    },
}
_REQUIRED = ("well", "target", "positives", "negatives", "accepted", "conc")
_REEXPORT = "Re-export the plate from QuantaSoft or QX Manager as a well-level results CSV ('Export CSV')."
_SATURATION_SENTINEL = 1_000_000.0


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
        non_ntc = w[w["target_type"] != "ntc"]
        return list(dict.fromkeys(non_ntc["sample"]))


def _fail(message: str, source: str, row: int | None = None, column: str | None = None, value: object = None, hint: str | None = _REEXPORT) -> DdpcrFormatError:
    return DdpcrFormatError(message, source=source, row=row, column=column, value=value, hint=hint)


def _decode(data: bytes, source: str) -> tuple[str, str]:
    if not data or not data.strip():
        raise _fail("the file is empty.", source)
    if data[:4] == b"PK\x03\x04":
        raise _fail("this is an Excel workbook or another zip archive, not a CSV file.", source,
                    hint="In QuantaSoft or QX Manager use 'Export CSV', or in Excel 'Save As' > 'CSV (Comma delimited)'.")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _fail("this is an old Excel (.xls) workbook, not a CSV file.", source,
                    hint="In Excel use 'Save As' > 'CSV (Comma delimited)', or re-export from the ddPCR software.")
    if data[:5] == b"%PDF-":
        raise _fail("this is a PDF document, not a CSV export.", source)
    if b"\x00" in data[:65536]:
        raise _fail("the file is binary (it contains NUL bytes), not a text CSV export.", source)
    text, encoding = decode_text(data)
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t") + sample.count("\ufffd")
    if controls > max(3, len(sample) // 200):
        raise _fail("the file is not text (it holds many control characters).", source)
    return text, encoding.replace("-sig", " with BOM" if data.startswith(b"\xef\xbb\xbf") else "")


def _line_ending(text: str) -> str:
    if "\r\n" in text:
        return "CRLF"
    if "\r" in text:
        return "CR"
    return "LF"


def _detect_format(header: list[str], source: str) -> str:
    names = set(header)
    if "Concentration" in names and "CopiesPer20uLWell" in names and "Target" in names:
        return FORMAT_QS17
    if "TypeAssay" in names and "Assay" in names:
        return FORMAT_QS_OLD
    if "Sample description 1" in names and any(re.fullmatch(r"Conc\(copies/.{1,2}L\)", h) for h in header):
        return FORMAT_QXM
    joined = ",".join(header)
    if "Amplitude" in joined or joined.startswith("Target Value of"):
        raise _fail("this is a per-droplet Amplitude file, not the well-level results export.", source,
                    hint="Export the results table instead: QuantaSoft 'Export CSV' from the Analyze tab, or QX Manager 'Export CSV' of the well data.")
    if "Concentration" in names or "Well" in names:
        raise _fail(
            "the header is not one of the known ddPCR layouts (QuantaSoft 1.7.x 'Well,ExptType,Experiment,Sample,TargetType,Target,...', "
            "older QuantaSoft '...,TypeAssay,Assay,...', QX Manager 'Well,Sample description 1,...,Conc(copies/µL),...').",
            source, row=1,
        )
    raise _fail(
        "this does not look like a ddPCR export: the first line should be a header starting with 'Well,' "
        "(QuantaSoft: 'Well,ExptType,Experiment,Sample,...'; QX Manager: 'Well,Sample description 1,...').",
        source, row=1,
    )


def _number(text: str, decimal_comma: bool) -> float:
    t = text.strip()
    if decimal_comma:
        t = t.replace(".", "").replace(",", ".") if t.count(",") == 1 and t.count(".") >= 1 else t.replace(",", ".")
    return float(t)


def _count(text: str, decimal_comma: bool, source: str, row: int, column: str) -> int:
    t = text.strip()
    if t == "":
        return 0
    try:
        value = _number(t, decimal_comma)
    except ValueError:
        raise _fail(f"expected a whole number of droplets, found {t!r}.", source, row, column, t) from None
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise _fail(f"expected a whole number of droplets (0 or more), found {t!r}.", source, row, column, t)
    return int(value)


def _decimals(text: str) -> int:
    t = text.strip().replace(",", ".")
    if "e" in t.lower():
        return 15
    return len(t.split(".", 1)[1]) if "." in t else 0


def read_export(
    data: bytes | str | Path,
    name: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> DdpcrExport:
    """Read a ddPCR well-level export.

    Parameters
    ----------
    data
        The file's bytes, or a path to it.
    name
        The file name shown in messages (defaults to the path's name).
    settings
        Droplet volume (nL) and confidence level.

    Raises
    ------
    DdpcrFormatError
        With the file, row and column, and how to fix it.
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
    text, encoding = _decode(data, source)
    line_ending = _line_ending(text)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise _fail("the file is empty.", source)
    header_line = lines[first]
    delimiter = sniff_delimiter(header_line)
    decimal_comma = delimiter == ";"
    try:
        rows = list(csv.reader(lines[first:], delimiter=delimiter))
    except csv.Error as exc:
        raise _fail(f"the CSV structure is broken ({exc}).", source) from exc
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    fmt = _detect_format(header, source)
    cols = dict(_COLUMNS[fmt])
    if fmt == FORMAT_QXM:
        cols["conc"] = next(h for h in header if re.fullmatch(r"Conc\(copies/.{1,2}L\)", h))
    index = {h: i for i, h in enumerate(header)}
    for key in _REQUIRED:
        if cols[key] not in index:
            raise _fail(f"the required column '{cols[key]}' is missing from the header.", source, row=1, column=cols[key])
    volume = settings.legacy_droplet_volume_nl if fmt == FORMAT_QS_OLD else settings.droplet_volume_nl
    n_header = len(header)
    if len(rows) < 2:
        raise _fail("the file has a header but no data rows.", source, hint="Export again with the wells selected.")

    def get(fields: list[str], key: str) -> str:
        col = cols.get(key)
        if col is None or col not in index:
            return ""
        return fields[index[col]]

    records: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for offset, fields in enumerate(rows[1:]):
        row_no = first + offset + 2  # 1-based line number in the file
        if not any(f.strip() for f in fields):
            continue
        if len(fields) == n_header + 1 and fields[-1].strip() == "":
            fields = fields[:-1]
        elif len(fields) == n_header - 1:
            fields = fields + [""]
        elif len(fields) != n_header:
            raise _fail(
                f"this row has {len(fields)} fields but the header has {n_header}: the file looks truncated or was edited.",
                source, row=row_no,
            )
        well = get(fields, "well").strip()
        if not well:
            raise _fail("the well is blank.", source, row_no, cols["well"])
        target = get(fields, "target")
        target_type_raw = get(fields, "target_type").strip()
        warnings: list[str] = []
        if fmt == FORMAT_QXM:
            dye = get(fields, "dye").strip().upper()
            channel = dye or ("HEX" if target_type_raw.lower() == "reference" else "FAM")
            sample_type = get(fields, "sample_type").strip().lower()
            kind = "ntc" if sample_type == "ntc" else ("reference" if target_type_raw.lower() == "reference" else "unknown")
        else:
            m = re.match(r"(Ch\d)(.*)", target_type_raw, re.I)
            channel = m.group(1).capitalize() if m else ""
            suffix = (m.group(2) if m else target_type_raw).lower()
            kind = "ntc" if "ntc" in suffix else ("reference" if "reference" in suffix else "unknown")
        sample = get(fields, "sample").strip()
        positives = _count(get(fields, "positives"), decimal_comma, source, row_no, cols["positives"])
        negatives = _count(get(fields, "negatives"), decimal_comma, source, row_no, cols["negatives"])
        accepted = _count(get(fields, "accepted"), decimal_comma, source, row_no, cols["accepted"])
        if accepted == 0 and positives + negatives > 0:
            accepted = positives + negatives
        if positives + negatives != accepted:
            warnings.append(f"positives + negatives ({positives + negatives}) differ from accepted droplets ({accepted}); computed with positives + negatives")
            accepted = positives + negatives
        conc_text = get(fields, "conc").strip()
        exported = math.nan
        if conc_text == "":
            state = "blank"
        elif conc_text.lower().replace(" ", "") == "nocall":
            state = "no call"
            warnings.append("exported as 'No Call' (automatic thresholding failed); recomputed from the droplet counts")
        else:
            try:
                exported = _number(conc_text, decimal_comma)
            except ValueError:
                raise _fail(f"expected a concentration (a number, 'No Call' or blank), found {conc_text!r}.",
                            source, row_no, cols["conc"], conc_text) from None
            state = "ok"
        saturated = accepted > 0 and negatives == 0
        if saturated:
            state = "saturated" if state == "ok" else state
            warnings.append("saturated: no negative droplets, the concentration cannot be computed"
                            + (" (exported value 1000000 is QX Manager's sentinel)" if exported == _SATURATION_SENTINEL else "")
                            + "; dilute the sample and rerun")
            exported = math.nan
        merged_members = get(fields, "merged").strip().strip("()")
        merged = bool(merged_members) or bool(re.fullmatch(r"M\d+", well))
        if accepted == 0:
            warnings.append("no accepted droplets")
        conc = poisson.concentration(positives, accepted, volume) if not saturated else math.nan
        ci = poisson.concentration_ci(positives, accepted, volume, settings.confidence_level)
        if saturated:
            ci_low, ci_high = ci.low, math.inf
        else:
            ci_low, ci_high = ci.low, ci.high
        row_key = (well, target.strip(), channel)
        if row_key in seen:
            raise _fail(f"well {well} has two rows for target '{target.strip()}' ({channel or 'same channel'}), rows {seen[row_key]} and {row_no}.",
                        source, row_no, cols["target"],
                        hint="Export one plate per file; do not paste exports together.")
        seen[row_key] = row_no
        records.append({
            "row": row_no, "well": well, "sample": sample or well, "target": target, "target_type": kind,
            "channel": channel, "status": get(fields, "status").strip(), "positives": positives,
            "negatives": negatives, "accepted_droplets": accepted, "exported_concentration": exported,
            "exported_state": state, "concentration": conc, "copies_per_20ul": poisson.copies_per_20ul(conc),
            "ci_low": ci_low, "ci_high": ci_high, "merged": merged, "merged_members": merged_members,
            "saturated": saturated, "warnings": warnings, "_decimals": _decimals(conc_text) if state == "ok" else None,
        })
    if not records:
        raise _fail("the file has a header but no data rows.", source, hint="Export again with the wells selected.")

    file_warnings: list[str] = []
    # droplet volume implied by the exported concentrations (rows with enough droplets)
    implied = [
        -math.log(r["negatives"] / r["accepted_droplets"]) / r["exported_concentration"] * 1e3
        for r in records
        if r["exported_state"] == "ok" and r["positives"] >= 100 and r["negatives"] >= 100 and r["exported_concentration"] > 0
    ]
    inferred = float(pd.Series(implied).median()) if implied else None
    if inferred is not None and abs(inferred / volume - 1) > 0.02:
        file_warnings.append(
            f"the exported concentrations imply droplets of {inferred:.3f} nL but {volume:g} nL is set"
            f"{' (older QuantaSoft versions use 0.91 nL)' if abs(inferred - 0.91) < 0.02 else ''}; "
            "concentrations are recomputed with the setting; change the droplet volume setting if the export is right"
        )
    for r in records:
        if r["exported_state"] == "ok" and math.isfinite(r["concentration"]):
            # rounding of the displayed value, plus 1.5 % for the droplet volume QuantaSoft rounds to
            tol = 0.5 * 10 ** (-r["_decimals"]) + 0.015 * abs(r["exported_concentration"]) + 1e-9
            tol = max(tol, 0.05 * abs(r["exported_concentration"])) if r["positives"] < 3 else tol
            if abs(r["concentration"] - r["exported_concentration"]) > tol:
                r["warnings"].append(
                    f"recomputed concentration {r['concentration']:.4g} copies/µL differs from the exported "
                    f"{r['exported_concentration']:g} beyond rounding"
                )
    n_members = sum(1 for r in records if not r["merged"])
    if n_members and all(r["target_type"] == "ntc" for r in records if not r["merged"]):
        file_warnings.append("every well is a no-template control")
    for r in records:
        del r["_decimals"]
        r["warnings"] = "; ".join(r["warnings"])
    wells = pd.DataFrame.from_records(records, columns=WELL_COLUMNS)
    return DdpcrExport(
        name=source, sha256=digest, format=fmt, encoding=encoding, line_ending=line_ending,
        delimiter=delimiter, volume_nl=volume, inferred_volume_nl=inferred, wells=wells,
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

    @property
    def copies_per_20ul(self) -> float:
        return 20.0 * self.concentration


def pool_replicates(export: DdpcrExport, settings: Settings = DEFAULT_SETTINGS) -> list[PooledTarget]:
    """Pool replicate wells of the same sample and target by summing droplets.

    Single wells are pooled here, as QuantaSoft merges wells; merged rows already in
    the export (``M01``...) are used only where their member wells are absent, so
    nothing is counted twice.
    """
    records = export.wells.to_dict(orient="records")
    singles = [r for r in records if not r["merged"]]
    present = {(r["well"], r["target"].strip(), r["channel"]) for r in singles}
    use = list(singles)
    for r in records:
        if r["merged"]:
            members = [m.strip() for m in r["merged_members"].split(",") if m.strip()]
            if not members or not all((m, r["target"].strip(), r["channel"]) in present for m in members):
                use.append(r)
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in use:
        groups.setdefault((r["sample"], r["target"].strip(), r["channel"]), []).append(r)
    pooled: list[PooledTarget] = []
    for (sample, target, channel), g in groups.items():
        pos = sum(r["positives"] for r in g)
        acc = sum(r["accepted_droplets"] for r in g)
        saturated = any(r["saturated"] for r in g)
        conc = math.nan if saturated else poisson.concentration(pos, acc, export.volume_nl)
        ci = poisson.concentration_ci(pos, acc, export.volume_nl, settings.confidence_level)
        types = {r["target_type"] for r in g}
        pooled.append(PooledTarget(
            sample=str(sample), target=str(target), channel=str(channel),
            target_type="ntc" if types == {"ntc"} else ("reference" if "reference" in types else "unknown"),
            wells=tuple(r["well"] for r in g), positives=pos, negatives=acc - pos, accepted_droplets=acc,
            min_well_droplets=min(r["accepted_droplets"] for r in g), concentration=conc,
            ci_low=ci.low, ci_high=math.inf if saturated else ci.high, saturated=saturated,
            warnings=tuple(f"{r['well']}: {r['warnings']}" for r in g if r["warnings"]),
        ))
    return pooled
