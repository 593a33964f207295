"""Safe CSV, XLSX and JSON exports.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) are prefixed with an apostrophe (OWASP
"CSV injection"); numbers stay numbers. Every export carries the settings used.
"""
from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd

from tdm1core.jsontext import json_safe
from tdm1core.settings import Settings

__all__ = ["safe_cell", "safe_frame", "to_csv_bytes", "to_xlsx_bytes", "to_json_bytes", "for_display", "json_safe", "NA"]

NA = "NA"

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.columns = [safe_cell(str(c)) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(safe_cell)
    return out


def _settings_lines(settings: Settings | None, note: str | list[str] | tuple[str, ...] | None) -> list[str]:
    lines: list[str] = []
    if isinstance(note, str):
        lines.append(note)
    elif note:
        lines.extend(note)
    if settings is not None:
        lines.append(f"Settings: {settings.describe()}")
    return lines


def to_csv_bytes(df: pd.DataFrame, settings: Settings | None = None, note: str | list[str] | tuple[str, ...] | None = None) -> bytes:
    """UTF-8 CSV (with BOM, so Excel reads µ), formula-safe; settings and note as trailing comment rows."""
    buf = io.StringIO()
    safe_frame(df).to_csv(buf, index=False, lineterminator="\r\n", na_rep=NA)
    for line in _settings_lines(settings, note):
        buf.write(f"# {safe_cell(line)}\r\n".replace('"', "'"))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx_bytes(sheets: dict[str, pd.DataFrame], settings: Settings | None = None,
                  note: str | list[str] | tuple[str, ...] | None = None) -> bytes:
    """An .xlsx workbook, one sheet per table plus an 'About' sheet with the settings; formula-safe."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, df in sheets.items():
            safe_frame(df).to_excel(writer, sheet_name=name[:31] or "Sheet", index=False)
        about = pd.DataFrame({"about": _settings_lines(settings, note) or ["T-DM1 ctDNA dashboard export"]})
        about.to_excel(writer, sheet_name="About", index=False)
        for ws in writer.book.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.startswith("="):
                        cell.value = "'" + cell.value  # belt and braces: openpyxl would store it as a formula
                        cell.data_type = "s"
    return buf.getvalue()


def for_display(df: pd.DataFrame, decimals: dict[str, int] | None = None, first: list[str] | None = None) -> pd.DataFrame:
    """A table for reading: numbers rounded (per column), every missing or not-reached value shown as NA, and the
    columns a reader needs first moved to the front. Downloads keep full precision."""
    decimals = decimals or {}
    out = df.copy()
    if first:
        out = out[[c for c in first if c in out.columns] + [c for c in out.columns if c not in first]]
    for col in out.columns:
        digits = decimals.get(col)
        values: list[Any] = []
        for v in out[col].tolist():
            if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))) or v is pd.NA or v is pd.NaT:
                values.append(NA)
            elif digits is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
                values.append(f"{v:.{digits}f}")
            else:
                values.append(v if isinstance(v, str) else (str(v) if not isinstance(v, (int, float)) else v))
        if any(not isinstance(v, str) for v in values) and any(isinstance(v, str) for v in values):
            # one type per column (the browser's table needs it): numbers shown as they read
            values = [v if isinstance(v, str) else (f"{v:g}" if isinstance(v, float) else str(v)) for v in values]
        out[col] = pd.Series(values, index=out.index, dtype=object)
    return out


def to_json_bytes(obj: Any) -> bytes:
    return json.dumps(json_safe(obj), indent=2, ensure_ascii=False, default=str).encode("utf-8")
