"""Reading text files as labs save them: encodings with and without BOM, and the delimiter."""
from __future__ import annotations

__all__ = ["decode_text", "sniff_delimiter"]

ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


def decode_text(data: bytes) -> tuple[str, str]:
    """The text and the encoding that read it: UTF-8 (with or without BOM), else CP1252, else Latin-1 (never fails)."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def sniff_delimiter(header_line: str) -> str:
    """';' or tab when they outnumber commas in the header line, else ','."""
    if header_line.count(";") > header_line.count(","):
        return ";"
    if header_line.count("\t") > header_line.count(","):
        return "\t"
    return ","
