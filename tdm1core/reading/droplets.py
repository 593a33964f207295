"""Reading Bio-Rad per-droplet "Amplitude" files: one file per well, one row per accepted droplet.

Layouts (``shared/docs/ddpcr_formats.md`` section 4), recognised by the exact header names:

* QuantaSoft: ``Ch1 Amplitude,Ch2 Amplitude,Cluster`` (clusters 1 = Ch1-Ch2-, 2 = Ch1+Ch2-, 3 = Ch1+Ch2+,
  4 = Ch1-Ch2+; 0 = not assigned); the older header ``Assay1 Amplitude,Assay2 Amplitude,Cluster``; amplitudes
  without a ``Cluster`` column are read too (no instrument classes then);
* QX Manager: preamble lines (``Target Value of 0 = negative`` ...), then ``Ch1Amplitude,Ch2Amplitude,<target>,...,``
  with one 0/1/u column per target (u = unclassified) and a trailing comma; QX600: ``Ch1Amplitude`` to
  ``Ch6Amplitude`` and its targets.

Amplitudes may be negative; a well of a few hundred droplets is read (and later fails the droplet minimum). Column
oriented: the droplets of a well are one numpy array (rows = droplets, columns = channels), never Python objects.

Refused, with the file, line and column: a well-level results export given as droplets, text or a blank in an
amplitude, a row with more or fewer fields than the header, a cluster code other than 0-4, a class other than 0/1/u.
"""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field

import numpy as np

from tdm1core.errors import DropletFormatError, Problem
from tdm1core.reading.textfile import decode_unicode
from tdm1core.reading.wells import PLATE_WELL

__all__ = ["DropletWell", "read_droplets", "well_from_name", "FORMAT_QS_DROPLETS", "FORMAT_QS_OLD_DROPLETS",
           "FORMAT_QXM_DROPLETS", "MAX_DROPLET_FILE_BYTES", "CLUSTER_NAMES"]

FORMAT_QS_DROPLETS = "QuantaSoft droplet amplitudes"
FORMAT_QS_OLD_DROPLETS = "QuantaSoft droplet amplitudes (older header)"
FORMAT_QXM_DROPLETS = "QX Manager droplet amplitudes"
MAX_DROPLET_FILE_BYTES = 100 * 1024 * 1024  # a well of 30,000 droplets in six channels is < 5 MB
MAX_DROPLETS_PER_WELL = 1_000_000
MAX_AMPLITUDE = 1e6  # instrument amplitudes are below ~40,000
CLUSTER_NAMES = {1: "Ch1-Ch2-", 2: "Ch1+Ch2-", 3: "Ch1+Ch2+", 4: "Ch1-Ch2+"}
_REEXPORT = ("Export the droplet amplitudes again from QuantaSoft ('Options > Export Amplitude and Cluster Data') or "
             "QX Manager ('Export > Amplitude data'); never edit them by hand.")
_NAME = re.compile(r"^(?P<plate>.*)_(?P<well>" + PLATE_WELL + r")_Amplitude\.csv$", re.I)
_QS_HEADERS = {("Ch1 Amplitude", "Ch2 Amplitude"): FORMAT_QS_DROPLETS,
               ("Assay1 Amplitude", "Assay2 Amplitude"): FORMAT_QS_OLD_DROPLETS}


@dataclass(frozen=True, eq=False)
class DropletWell:
    """The droplets of one well as read: amplitudes per channel and the instrument's own classes.

    ``instrument`` holds, per class key, an int8 array: 1 positive, 0 negative, -1 not classified. For QuantaSoft
    files the keys are the channels (``Ch1``, ``Ch2``, from the Cluster codes); for QX Manager they are the target
    names of the file's class columns (matched to channels through the results export)."""

    name: str
    sha256: str
    format: str
    plate: str | None
    well: str | None
    channels: tuple[str, ...]
    amplitudes: np.ndarray  # float64, shape (droplets, channels)
    instrument: dict[str, np.ndarray] = field(default_factory=dict)
    instrument_by_channel: bool = True
    warnings: tuple[str, ...] = ()

    @property
    def droplets(self) -> int:
        return int(self.amplitudes.shape[0])

    def channel(self, name: str) -> np.ndarray:
        """A channel's amplitudes; ``Ch1:TARGET`` (one of targets multiplexed in a channel) reads its channel."""
        return self.amplitudes[:, self.channels.index(name.split(":", 1)[0])]

    def cluster_codes(self) -> np.ndarray | None:
        """QuantaSoft's Cluster codes (0-4) of each droplet, rebuilt from the classes of Ch1 and Ch2."""
        if not self.instrument_by_channel or not {"Ch1", "Ch2"} <= set(self.instrument):
            return None
        c1, c2 = self.instrument["Ch1"], self.instrument["Ch2"]
        codes = np.select([(c1 == 0) & (c2 == 0), (c1 == 1) & (c2 == 0), (c1 == 1) & (c2 == 1), (c1 == 0) & (c2 == 1)],
                          [1, 2, 3, 4], 0)
        return codes.astype(np.int8)


def well_from_name(name: str) -> tuple[str | None, str | None]:
    """(plate or run name, well as 'A04') from ``<Plate>_<Well>_Amplitude.csv`` (ddpcr's pattern, 384-well rows
    and columns allowed); (None, None) when the name does not follow it."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    m = _NAME.match(base)
    if not m:
        return None, None
    well = m.group("well")
    return m.group("plate"), f"{well[0].upper()}{int(well[1:]):02d}"


def _fail(message: str, source: str, row: int | None = None, column: str | None = None, value: object = None,
          hint: str | None = _REEXPORT, problems: tuple[Problem, ...] = ()) -> DropletFormatError:
    return DropletFormatError(message, source=source, row=row, column=column, value=value, hint=hint, problems=problems)


def _text_head(data: bytes, source: str) -> tuple[bytes, str]:
    """The file as bytes of ASCII-compatible text (UTF-16/32 re-encoded), without a UTF-8 BOM."""
    if not data.strip():
        raise _fail("the file is empty.", source)
    if data[:4] == b"PK\x03\x04":
        raise _fail("this is a zip archive; upload it as a plate (a zip of amplitude files), not as one well.", source,
                    hint="Choose the plate upload, or unzip it first.")
    unicode = decode_unicode(data)
    if unicode is not None:
        return unicode[0].encode("utf-8"), unicode[1]
    if b"\x00" in data[:65536]:
        raise _fail("the file is binary (it contains NUL bytes), not a droplet amplitude CSV.", source)
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:], "UTF-8 with BOM"
    return data, "UTF-8"


def _header(text: bytes, source: str) -> tuple[int, int, list[str], str]:
    """(0-based line of the header, byte offset of the first droplet row, header names, delimiter)."""
    offset = 0
    for line_no in range(12):
        end = text.find(b"\n", offset)
        raw = text[offset:] if end < 0 else text[offset:end]
        line = raw.decode("utf-8", "replace").strip("\r").strip().replace('"', "")  # headers re-saved with quotes
        next_offset = len(text) if end < 0 else end + 1
        low = line.lower()
        if low.startswith(("ch1 amplitude", "ch1amplitude", "assay1 amplitude")):
            delimiter = ";" if line.count(";") > line.count(",") else ("\t" if line.count("\t") > line.count(",") else ",")
            return line_no, next_offset, [h.strip() for h in line.split(delimiter)], delimiter
        if line and not low.startswith("target value of") and line_no == 0:
            break
        offset = next_offset
        if end < 0:
            break
    first = text[:200].decode("utf-8", "replace").splitlines()[0] if text.strip() else ""
    names = {h.strip().strip('"') for h in re.split(r"[,;\t]", first)}
    if "Well" in names or any(n.startswith(("Conc", "Concentration")) for n in names):
        raise _fail("this is a well-level results export, not a per-droplet amplitude file.", source, row=1,
                    hint="Give the results export as the plate's names (--results, or the 'results export' upload), "
                         "and the <Plate>_<Well>_Amplitude.csv files as droplets.")
    raise _fail(f"this is not a droplet amplitude file: it starts {first[:60]!r}, but amplitude files start with "
                "'Ch1 Amplitude,Ch2 Amplitude,Cluster' (QuantaSoft), 'Assay1 Amplitude,...' (older QuantaSoft) or "
                "QX Manager's 'Target Value of ...' lines and 'Ch1Amplitude,Ch2Amplitude,...'.", source, row=1)


def _layout(header: list[str], source: str, header_row: int) -> tuple[str, list[str], list[str], bool]:
    """(format, channel names, class column names, trailing empty column) from the header."""
    trailing = bool(header) and header[-1] == ""
    names = header[:-1] if trailing else list(header)
    first_two = (names[0], names[1]) if len(names) >= 2 else ("", "")
    if first_two in _QS_HEADERS:
        fmt = _QS_HEADERS[first_two]
        rest = names[2:]
        if rest not in ([], ["Cluster"]):
            raise _fail(f"after the two amplitude columns a QuantaSoft droplet file has only 'Cluster', but this one has "
                        f"{rest!r}.", source, row=header_row)
        return fmt, ["Ch1", "Ch2"], rest, trailing
    amplitude = []
    for h in names:
        m = re.fullmatch(r"Ch([1-6])Amplitude", h)
        if not m:
            break
        amplitude.append(h)
    if not amplitude or amplitude != [f"Ch{i}Amplitude" for i in range(1, len(amplitude) + 1)]:
        raise _fail(f"the header {','.join(header)!r} is not a droplet layout this program knows (QuantaSoft "
                    "'Ch1 Amplitude,Ch2 Amplitude,Cluster' or QX Manager 'Ch1Amplitude,Ch2Amplitude,<targets>,').",
                    source, row=header_row)
    targets = names[len(amplitude):]
    if any(t == "" for t in targets) or len(set(targets)) != len(targets):
        raise _fail("the QX Manager target columns have an empty or repeated name.", source, row=header_row)
    return FORMAT_QXM_DROPLETS, [f"Ch{i}" for i in range(1, len(amplitude) + 1)], targets, trailing


def _locate_bad_cell(body: bytes, first_line: int, header: list[str], n_amp: int, delimiter: str, decimal_comma: bool,
                     classes_kind: str) -> Problem | None:
    """The first cell that is not what the layout says (slow: only after the fast reader refused the file)."""
    import csv

    n_fields = len(header)
    lines = body.decode("utf-8", "replace").splitlines()
    for i, fields in enumerate(csv.reader(lines, delimiter=delimiter)):
        line = first_line + i
        if not fields or not any(f.strip() for f in fields):
            return Problem("a blank line among the droplets (the file was edited or truncated).", line)
        if len(fields) != n_fields:
            return Problem(f"this row has {len(fields)} fields but the header has {n_fields}: a cell was added or "
                           "deleted, so its values would be read under the wrong columns.", line)
        for j in range(n_amp):
            t = fields[j].strip().replace(",", ".") if decimal_comma else fields[j].strip()
            if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?", t):
                return Problem(f"expected an amplitude (a number), found {fields[j]!r}." if t else
                               "the amplitude is blank (a cell was cleared).", line, header[j], fields[j][:40])
        for j in range(n_amp, n_fields):
            t = fields[j].strip()
            if t == "" and j == n_fields - 1 and classes_kind == "trailing":
                continue
            ok = t in ("0", "1", "2", "3", "4") if classes_kind == "cluster" else t in ("0", "1", "u", "U", "")
            if not ok:
                what = "a cluster code 0-4" if classes_kind == "cluster" else "a class 0, 1 or u"
                return Problem(f"expected {what}, found {t!r}.", line, header[j] or f"column {j + 1}", t[:40])
    return None


def _parse_rows(body: bytes, names: list[str], n_amp: int, kind: str, delimiter: str,
                decimal_comma: bool) -> dict[str, np.ndarray]:
    """The droplet rows as numpy columns, by Arrow's CSV reader (C++, about 10 MB/s per core faster than pandas'):
    amplitudes (and QuantaSoft's Cluster codes) as float64 with NaN for a blank, QX Manager classes as text.
    Raises ValueError on any row it cannot read (the caller then finds the line and column)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {n: (pa.float64() if n.startswith("a") or kind == "cluster" and n.startswith("c") else pa.string())
             for n in names}
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 26),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                 null_values=[""], decimal_point="," if decimal_comma else "."))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(str(exc)) from None
    out: dict[str, np.ndarray] = {}
    for n in names:
        col = table.column(n)
        if types[n] == pa.float64():
            out[n] = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        else:
            out[n] = np.asarray(col.to_numpy(zero_copy_only=False), dtype="U8")
    return out


def read_droplets(data: bytes, name: str = "droplets.csv") -> DropletWell:
    """Read one per-droplet amplitude file (raises :class:`DropletFormatError` with the line and column)."""
    source = name
    if len(data) > MAX_DROPLET_FILE_BYTES:
        raise _fail(f"the file is {len(data) / 1e6:,.0f} MB; one well's droplets are a few MB (limit "
                    f"{MAX_DROPLET_FILE_BYTES / 1e6:.0f} MB).", source, hint="Check that this is one well's amplitude file.")
    digest = hashlib.sha256(data).hexdigest()
    text, _encoding = _text_head(data, source)
    if b"\r" in text[:65536] and b"\n" not in text:  # CR-only line ends (files re-saved on old Macs, ddPCRclust)
        text = text.replace(b"\r", b"\n")
    header_line, body_at, header, delimiter = _header(text, source)
    fmt, channels, class_cols, trailing = _layout(header, source, header_line + 1)
    n_amp = len(channels)
    body = text[body_at:].rstrip()  # blank lines after the last droplet are not droplets (one in the middle is damage)
    body = body + b"\n" if body else body
    decimal_comma = delimiter == ";"
    kind = "cluster" if class_cols == ["Cluster"] else "classes"
    names = [f"a{i}" for i in range(n_amp)] + [f"c{i}" for i in range(len(class_cols))] + (["_trailing"] if trailing else [])
    first_data_line = header_line + 2
    if not body.strip():
        amplitudes = np.empty((0, n_amp))
        frame: dict[str, np.ndarray] = {}
    else:
        try:
            frame = _parse_rows(body, names, n_amp, kind, delimiter, decimal_comma)
        except ValueError as exc:
            problem = _locate_bad_cell(body, first_data_line, header, n_amp, delimiter, decimal_comma,
                                       "cluster" if kind == "cluster" else ("trailing" if trailing else "classes"))
            if problem is None:
                raise _fail(f"the droplet rows cannot be read ({exc}).", source) from None
            raise _fail(problem.message, source, row=problem.row, column=problem.column, value=problem.value) from None
        n_rows = len(frame["a0"])
        if n_rows > MAX_DROPLETS_PER_WELL:
            raise _fail(f"{n_rows:,} droplets is more than any well holds (at most {MAX_DROPLETS_PER_WELL:,}).", source)
        amplitudes = np.column_stack([frame[f"a{i}"] for i in range(n_amp)]) if n_rows else np.empty((0, n_amp))
        bad = ~np.isfinite(amplitudes) | (np.abs(amplitudes) > MAX_AMPLITUDE)
        if trailing and (frame["_trailing"] != "").any():
            bad_row = int(np.flatnonzero(frame["_trailing"] != "")[0])
            raise _fail("this row has a value after its last column: a cell was inserted or the row was edited.", source,
                        row=first_data_line + bad_row)
        if bad.any():
            r, c = (int(v[0]) for v in np.nonzero(bad))
            value = amplitudes[r, c]
            what = "is blank (the row is short or a cell was cleared)" if np.isnan(value) else f"is {value:g}, beyond any instrument's range"
            raise _fail(f"the amplitude {what}.", source, row=first_data_line + r, column=header[c])
    instrument, warnings = _instrument_classes(frame, class_cols, kind, amplitudes.shape[0], first_data_line, source)
    plate, well = well_from_name(name)
    if amplitudes.shape[0] == 0:
        warnings.append("the file holds no droplets (an empty or failed well).")
    return DropletWell(name=name, sha256=digest, format=fmt, plate=plate, well=well, channels=tuple(channels),
                       amplitudes=np.ascontiguousarray(amplitudes), instrument=instrument,
                       instrument_by_channel=(kind == "cluster"), warnings=tuple(warnings))


def _instrument_classes(frame, class_cols: list[str], kind: str, n: int, first_line: int,
                        source: str) -> tuple[dict[str, np.ndarray], list[str]]:
    warnings: list[str] = []
    if not class_cols or n == 0:
        if not class_cols:
            warnings.append("the file has no instrument classes (no Cluster column): only thresholds set here can "
                            "classify its droplets.")
        return {}, warnings
    if kind == "cluster":
        codes = frame["c0"]
        bad = ~np.isin(codes, (0, 1, 2, 3, 4))
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise _fail(f"expected a cluster code 0-4, found {codes[r]:g}." if not np.isnan(codes[r])
                        else "the cluster code is blank.", source, row=first_line + r, column="Cluster")
        codes = codes.astype(np.int8)
        ch1 = np.where(codes == 0, -1, np.isin(codes, (2, 3)).astype(np.int8)).astype(np.int8)
        ch2 = np.where(codes == 0, -1, np.isin(codes, (3, 4)).astype(np.int8)).astype(np.int8)
        unassigned = int((codes == 0).sum())
        if unassigned:
            warnings.append(f"{unassigned:,} droplet(s) have cluster 0 (not assigned by QuantaSoft); they are left out "
                            "of the instrument's counts.")
        return {"Ch1": ch1, "Ch2": ch2}, warnings
    out: dict[str, np.ndarray] = {}
    for i, target in enumerate(class_cols):
        text = np.char.lower(np.char.strip(frame[f"c{i}"]))
        cls = np.full(n, -2, dtype=np.int8)
        cls[text == "0"] = 0
        cls[text == "1"] = 1
        cls[text == "u"] = -1
        if (cls == -2).any():
            r = int(np.flatnonzero(cls == -2)[0])
            raise _fail(f"expected a class 0, 1 or u, found {text[r]!r}." if text[r] else "the class is blank.", source,
                        row=first_line + r, column=target)
        out[target] = cls
        u = int((cls == -1).sum())
        if u:
            warnings.append(f"target {target}: {u:,} droplet(s) are 'u' (unclassified, QX Manager's Advanced "
                            "Classification); they are left out of the instrument's counts.")
    return out, warnings
