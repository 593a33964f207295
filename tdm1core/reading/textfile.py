"""Reading text files as labs save them: encodings with and without BOM, and the delimiter."""
from __future__ import annotations

import re

__all__ = ["decode_text", "sniff_delimiter"]

ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def decode_text(data: bytes, source: str | None = None) -> tuple[str, str]:
    """The text and the encoding that read it: UTF-8 (with or without BOM), else CP1252, else Latin-1.

    A file that is part UTF-8 and part another encoding (two files pasted together, a line edited in another program)
    is refused, naming the first line that is not UTF-8: read as CP1252, its UTF-8 names would be garbled silently."""
    try:
        return data.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE.search(data):
            from tdm1core.errors import InputError

            line = data.count(b"\n", 0, exc.start) + 1 if b"\n" in data else data.count(b"\r", 0, exc.start) + 1
            raise InputError(f"the file mixes encodings: it has UTF-8 text, but line {line} is not UTF-8 (byte "
                             f"0x{data[exc.start]:02X}); reading it either way would garble names.", source=source,
                             row=line, hint="Save the whole file again in one encoding (UTF-8), or re-export it.") from None
    for encoding in ENCODINGS[1:]:
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


# ---------------------------------------------------------------- identifiers as people read them

import unicodedata  # noqa: E402  (the identifier rules below; decoding above needs none of it)

# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): drawn as nothing, so two IDs that differ
# only by them look identical. With category Cf (format) they are removed before IDs are compared.
_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
              (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
              (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
              (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))
# characters that reorder or hide text: never accepted in an identifier or a name
_BIDI_CONTROLS = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}


def _plain(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isprintable()


def _ignorable(ch: str) -> bool:
    cp = ord(ch)
    return unicodedata.category(ch) == "Cf" or any(lo <= cp <= hi for lo, hi in _IGNORABLE)


def id_key(value: str) -> str:
    """The form two identifiers are compared in: NFKC, invisible characters removed, spaces folded, case folded."""
    if _plain(value):  # printable ASCII (almost every ID): nothing to normalise or remove
        return " ".join(value.split()).casefold()
    text = unicodedata.normalize("NFKC", str(value))
    text = "".join(" " if unicodedata.category(c) == "Zs" else c for c in text if not _ignorable(c))
    return " ".join(text.split()).casefold()


def clean_id(value: str) -> str:
    """An identifier as stored: NFKC, invisible characters removed, surrounding space stripped (case kept)."""
    if _plain(value):
        return value.strip()
    text = unicodedata.normalize("NFKC", str(value))
    return "".join(c for c in text if not _ignorable(c)).strip()


def unsafe_characters(value: str) -> list[str]:
    """Control characters and bidirectional overrides in ``value``, as U+XXXX names (empty when there are none)."""
    if _plain(value):
        return []
    return [f"U+{ord(c):04X}" for c in str(value)
            if ord(c) in _BIDI_CONTROLS or (unicodedata.category(c) == "Cc" and c not in "\t")]


def visible(value: str) -> str:
    """A text with its invisible characters shown: leading/trailing spaces as '␠', others as <U+XXXX>, in quotes."""
    text = str(value)
    core = text.strip(" ")
    lead, trail = len(text) - len(text.lstrip(" ")), len(text) - len(text.rstrip(" "))
    shown = "".join(f"<U+{ord(c):04X}>" if _ignorable(c) or unicodedata.category(c) in ("Cc", "Zs", "Zl", "Zp")
                    and c != " " else c for c in core)
    return "'" + "␠" * lead + shown + "␠" * (trail if core else 0) + "'"
