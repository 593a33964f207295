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


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"),
         (b"\xfe\xff", "utf-16-be"))


def decode_unicode(data: bytes) -> tuple[str, str] | None:
    """UTF-16 or UTF-32 text (Excel's 'Unicode Text' export), by its byte-order mark or by the NUL-byte pattern of
    ASCII text; None when the bytes are not such text (they are then decoded by :func:`decode_text`)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding), encoding.upper() + " with BOM"
            except UnicodeDecodeError:
                return None
    head = data[:4096]
    if b"\x00" in head and len(head) >= 8:  # ASCII text in UTF-16/32 without a BOM has NUL bytes; other text has none
        for encoding, width, offset in (("utf-32-le", 4, 0), ("utf-32-be", 4, 3), ("utf-16-le", 2, 0), ("utf-16-be", 2, 1)):
            n = len(head) // width * width
            chars = [head[i:i + width] for i in range(0, n, width)]
            ascii_like = sum(1 for c in chars if c[offset] != 0 and all(b == 0 for j, b in enumerate(c) if j != offset))
            if chars and ascii_like / len(chars) > 0.9:
                try:
                    return data[: len(data) // width * width].decode(encoding), encoding.upper()
                except UnicodeDecodeError:
                    return None
    return None
