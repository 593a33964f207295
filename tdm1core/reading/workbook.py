"""Opening .xlsx workbooks safely: zip members and sizes are checked before any XML is parsed (no zip bombs)."""
from __future__ import annotations

import io
import zipfile
from typing import Any, Callable

__all__ = ["MAX_MEMBERS", "MAX_UNCOMPRESSED", "is_xlsx", "check_zip", "open_workbook"]

MAX_MEMBERS = 500
MAX_UNCOMPRESSED = 200 * 1024 * 1024  # 200 MB of XML is far beyond any ddPCR results or patient workbook
MAX_RATIO = 200  # a member that expands more than 200-fold is a bomb, not a spreadsheet


def is_xlsx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist()[:MAX_MEMBERS + 1])
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def check_zip(data: bytes, source: str, fail: Callable[..., Exception]) -> None:
    """Refuse, in well under a second, a zip with too many members, too much uncompressed data or paths outside it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise fail(f"the Excel workbook cannot be read: it is damaged (not a readable zip: {exc}).", source,
                   hint="Open and save it again in Excel, or export CSV from the ddPCR software.") from None
    if len(infos) > MAX_MEMBERS:
        raise fail(f"the workbook has {len(infos):,} parts; a real workbook has far fewer (limit {MAX_MEMBERS}).", source,
                   hint="Save the sheet as CSV and upload that.")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        raise fail(f"the workbook expands to {total / 1e6:,.0f} MB (limit {MAX_UNCOMPRESSED / 1e6:.0f} MB): it is not "
                   "read, as a file this large is a decompression bomb or not a results table.", source,
                   hint="Save the sheet as CSV and upload that.")
    for i in infos:
        if i.filename.startswith(("/", "\\")) or ".." in i.filename.replace("\\", "/").split("/"):
            raise fail(f"the workbook holds a path outside itself ({i.filename!r}); it is not read.", source)
        if i.compress_size and i.file_size / i.compress_size > MAX_RATIO and i.file_size > 10 * 1024 * 1024:
            raise fail(f"a part of the workbook expands {i.file_size / i.compress_size:,.0f}-fold "
                       f"({i.file_size / 1e6:,.0f} MB): a decompression bomb; it is not read.", source)


def open_workbook(data: bytes, source: str, fail: Callable[..., Exception], data_only: bool = True) -> Any:
    """The workbook, read only: cell values as Excel last computed them (``data_only``), or the formulas."""
    import openpyxl

    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except Exception as exc:  # openpyxl raises many kinds on damaged workbooks
        raise fail(f"the Excel workbook cannot be read ({type(exc).__name__}): it is damaged or not a real workbook.", source,
                   hint="Open and save it again in Excel, or export CSV from the ddPCR software.") from None


def first_sheet_merged_ranges(data: bytes) -> list[str]:
    """The merged-cell ranges ('B2:B4') of a workbook's first sheet, read from its XML (a read-only openpyxl sheet
    does not give them); empty when there are none or the parts cannot be found."""
    import re
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            book = z.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            first = re.search(r"<(?:\w+:)?sheet\b[^>]*\br:id=\"([^\"]+)\"", book)
            if not first:
                return []
            target = re.search(r"<Relationship\b[^>]*\bId=\"" + re.escape(first.group(1)) + r"\"[^>]*\bTarget=\"([^\"]+)\"",
                               rels) or re.search(r"<Relationship\b[^>]*\bTarget=\"([^\"]+)\"[^>]*\bId=\""
                                                  + re.escape(first.group(1)) + "\"", rels)
            if not target:
                return []
            path = target.group(1).lstrip("/")
            path = path if path.startswith("xl/") else "xl/" + path
            sheet = z.read(path).decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return []
    return re.findall(r"<(?:\w+:)?mergeCell\b[^>]*\bref=\"([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)\"", sheet)
