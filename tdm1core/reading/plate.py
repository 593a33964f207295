"""A plate of droplet files: from ``<Plate>_<Well>_Amplitude.csv`` files (a folder, a selection or a ``.zip``) and
the plate's names (its well-level results export, or a sample sheet ``Well,Sample,TargetType,Target``) to
classified wells, a plate summary, and the well table the calls are made from.

* Zips are checked before anything is extracted: at most :data:`MAX_MEMBERS` members, :data:`MAX_UNCOMPRESSED`
  bytes in all, no member expanding more than 200-fold beyond 10 MB (a bomb), no absolute path or ``..``. Member
  names without the UTF-8 flag are CP437, as Windows writes them (``60°C`` arrives as byte 0xF8, read as '°').
* One plate per upload: two files for one well are refused.
* :func:`plate_export` turns the classified droplets into the same tidy well table a results export gives, so the
  calls (Poisson concentration and CI, ratio, cut-offs, evaluability, the flag) are made by the unchanged pipeline;
  the threshold method and values are stamped on it.
"""
from __future__ import annotations

import hashlib
import io
import math
import re
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from tdm1core.reading.droplets import FORMAT_QS_OLD_DROPLETS, DropletWell, read_droplets, well_from_name
from tdm1core.errors import DdpcrFormatError, DropletFormatError, InputError
from tdm1core.settings import DEFAULT_SETTINGS, Settings
from tdm1core.targets import normalise_name
from tdm1core.reading.wells import is_plate_well
from tdm1core.reading.thresholds import DropletThresholds, WellClassification, classify_well

if TYPE_CHECKING:
    from tdm1core.reading.exports import DdpcrExport

__all__ = ["panel_subset", "DropletPlate", "WellName", "PlateClassification", "DropletPanel", "sample_droplets", "read_plate", "read_zip",
           "is_droplet_file", "classify_plate",
           "plate_export", "plate_summary", "droplet_table", "MAX_MEMBERS", "MAX_UNCOMPRESSED", "DYE_CHANNELS"]

MAX_MEMBERS = 2_000  # a 384-well plate has 384 amplitude files
MAX_UNCOMPRESSED = 1_500 * 1024 * 1024  # 384 wells x 6 channels x 30,000 droplets is ~1 GB of CSV
MAX_RATIO = 200
DYE_CHANNELS = {"FAM": "Ch1", "HEX": "Ch2", "VIC": "Ch2", "CY5": "Ch3", "CY5.5": "Ch4", "ROX": "Ch5", "ATTO590": "Ch6"}


@dataclass(frozen=True)
class WellName:
    """What the plate's names say about one target of one well."""

    well: str
    sample: str
    target: str
    target_type: str  # unknown, reference, ntc, control
    channel: str  # Ch1..Ch6
    label: str  # the channel as the names file wrote it (Ch1, FAM, HEX ...)


@dataclass(frozen=True, eq=False)
class DropletPlate:
    name: str
    wells: tuple[DropletWell, ...]
    names: tuple[WellName, ...]  # empty when no results export or sample sheet was given
    names_source: str | None
    results: "DdpcrExport | None"  # the results export, when the names came from one
    files: tuple[tuple[str, str], ...]  # (name, SHA-256) of every file read
    warnings: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        """One hash of every file read (names and contents), for stamping and provenance."""
        h = hashlib.sha256()
        for name, digest in sorted(self.files):
            h.update(f"{name}\0{digest}\n".encode())
        return h.hexdigest()

    def well(self, well: str) -> DropletWell:
        return next(w for w in self.wells if w.well == well)

    def names_of(self, well: str | None) -> list[WellName]:
        return [n for n in self.names if n.well == well]

    def sample_of(self, well: str | None) -> str:
        names = self.names_of(well)
        return names[0].sample if names else (well or "")


def _fail(message: str, source: str, hint: str | None = None) -> DropletFormatError:
    return DropletFormatError(message, source=source, hint=hint)


def read_zip(data: bytes, source: str) -> list[tuple[bytes, str]]:
    """The files of a zipped plate (guarded as the module docstring says), as (bytes, member name)."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _fail(f"the zip archive cannot be read: it is damaged ({exc}).", source,
                    hint="Zip the plate's folder again, or upload the files themselves.") from None
    with z:
        infos = [i for i in z.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise _fail(f"the zip holds {len(infos):,} files; a plate has at most a few hundred (limit {MAX_MEMBERS:,}).", source)
        total = sum(i.file_size for i in infos)
        if total > MAX_UNCOMPRESSED:
            raise _fail(f"the zip expands to {total / 1e6:,.0f} MB (limit {MAX_UNCOMPRESSED / 1e6:,.0f} MB): it is not "
                        "read, as a plate this large is a decompression bomb or not a plate.", source)
        wanted = []
        for i in infos:
            parts = i.filename.replace("\\", "/").split("/")
            if i.filename.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", i.filename):
                raise _fail(f"the zip holds a path outside itself ({i.filename!r}); nothing is read from it.", source)
            if i.compress_size and i.file_size / i.compress_size > MAX_RATIO and i.file_size > 10 * 1024 * 1024:
                raise _fail(f"'{i.filename}' expands {i.file_size / i.compress_size:,.0f}-fold ({i.file_size / 1e6:,.0f} MB): "
                            "a decompression bomb; nothing is read.", source)
            base = parts[-1]
            if parts[0] == "__MACOSX" or base.startswith("._") or base.startswith("~$") or not base:
                continue
            wanted.append((i, "/".join(parts)))
    contents = _in_threads(lambda item: _member(data, item[0], source), wanted)
    nested = [name for content, (_, name) in zip(contents, wanted) if content[:4] == b"PK\x03\x04"
              and not name.lower().endswith(".xlsx")]
    if nested:
        raise _fail(f"the zip holds another zip ({', '.join(repr(n) for n in nested[:5])}): its files would be left out "
                    "unseen, so nothing is read.", source, hint="Zip the plate's files themselves, in one zip.")
    return [(content, name) for content, (_, name) in zip(contents, wanted)]


_local = __import__("threading").local()


def _member(data: bytes, info: zipfile.ZipInfo, source: str) -> bytes:
    """One member's bytes (each thread reads through its own ZipFile over the same bytes; zlib releases the GIL)."""
    held = getattr(_local, "zip", None)  # (the bytes, their ZipFile): holding the bytes keeps the pair true
    if held is None or held[0] is not data:
        held = (data, zipfile.ZipFile(io.BytesIO(data)))
        _local.zip = held
    z = held[1]
    try:
        content = z.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
        raise _fail(f"'{info.filename}' in the zip cannot be read ({exc}).", source) from None
    if len(content) != info.file_size:
        raise _fail(f"'{info.filename}' in the zip is not the size its header says.", source)
    return content


def _in_threads(work: Any, items: list) -> list:
    """``work`` over ``items`` on up to four threads, results in order; the first failure in order is raised."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    workers = min(4, os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tdm1-plate") as pool:
        return list(pool.map(work, items))


def is_droplet_file(data: bytes, name: str) -> bool:
    """True for a per-droplet amplitude file, by its name (<Plate>_<Well>_Amplitude.csv) or its first line."""
    if well_from_name(name)[1] is not None:
        return True
    head = data[:400].lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace").lower()
    return head.startswith(("ch1 amplitude", "assay1 amplitude", "ch1amplitude", "target value of"))


def _unzipped(files: Iterable[tuple[bytes, str]]) -> list[tuple[bytes, str]]:
    items: list[tuple[bytes, str]] = []
    for data, name in files:
        if data[:4] == b"PK\x03\x04" and name.lower().endswith(".zip"):
            items += read_zip(data, name)
        else:
            items.append((data, name))
    return items


def _split_files(items: list[tuple[bytes, str]], label: str) -> tuple[list[tuple[bytes, str]], tuple[bytes, str] | None]:
    """The droplet amplitude files, and the one names file (results export or sample sheet) if any."""
    is_droplets = [n.lower().endswith((".csv", ".txt")) and is_droplet_file(d, n) for d, n in items]
    droplet_items = [item for item, yes in zip(items, is_droplets) if yes]
    other = [item for item, yes in zip(items, is_droplets)
             if not yes and item[1].lower().endswith((".csv", ".txt", ".xlsx"))]
    if not droplet_items:
        raise _fail("no droplet amplitude file was found (files named <Plate>_<Well>_Amplitude.csv, or starting "
                    "'Ch1 Amplitude' / QX Manager's 'Target Value of').", label,
                    hint="Export 'Amplitude and Cluster Data' from QuantaSoft, or the amplitude data from QX Manager.")
    if len(other) > 1:
        raise _fail("more than one names file (results export or sample sheet) was given: "
                    + ", ".join(repr(n) for _, n in other) + "; it cannot be told which names the wells.", label,
                    hint="Give one results export (or sample sheet) per plate.")
    return droplet_items, (other[0] if other else None)


def _check_wells(wells: list[DropletWell], label: str) -> None:
    """Several files each name their well, no well twice, one program's layout."""
    if len(wells) > 1:
        missing = [w.name for w in wells if w.well is None]
        if missing:
            raise _fail(f"cannot tell which well {missing[0]!r} is: with several files each must be named "
                        "<Plate>_<Well>_Amplitude.csv.", label, hint="Keep the names the instrument software wrote.")
        seen: dict[str, DropletWell] = {}
        for w in wells:
            if w.well in seen:
                raise _fail(f"well {w.well} has two droplet files ({seen[w.well].name!r} and {w.name!r}): one plate per "
                            "upload.", label, hint="Upload each plate on its own.")
            seen[str(w.well)] = w
    formats = {w.format for w in wells}
    if len(formats) > 1:
        raise _fail(f"the droplet files are in different layouts ({', '.join(sorted(formats))}): one plate comes from "
                    "one program.", label)


def _listed(wells: list[str]) -> str:
    return ", ".join(wells[:12]) + ("…" if len(wells) > 12 else "")


def _naming_warnings(wells: list[DropletWell], names: tuple[WellName, ...], names_source: str | None) -> list[str]:
    """Droplet files the names file does not name, and named wells with no droplet file."""
    if not names:
        return []
    warnings = []
    named = {n.well for n in names}
    unnamed = [str(w.well) for w in wells if w.well not in named]
    if unnamed:
        warnings.append(f"{len(unnamed)} droplet file(s) have no row in {names_source!r} ({_listed(unnamed)}): they are "
                        "shown, but no call is made from them.")
    without = sorted(named - {w.well for w in wells}, key=lambda s: (s[0], int(s[1:]) if s[1:].isdigit() else 0))
    without = [w for w in without if not w.startswith("M")]
    if without:
        warnings.append(f"{len(without)} well(s) in {names_source!r} have no droplet file ({_listed(without)}): they are "
                        "left out, so every call rests on droplets classified here.")
    return warnings


def read_plate(files: Iterable[tuple[bytes, str]], settings: Settings = DEFAULT_SETTINGS,
               source: str | None = None) -> DropletPlate:
    """Read a plate from files (zips are opened): amplitude files, and at most one results export or sample sheet."""
    items = _unzipped(files)
    label = source or (items[0][1] if len(items) == 1 else "plate")
    droplet_items, names_file = _split_files(items, label)
    wells = _read_all(droplet_items)
    _check_wells(wells, label)
    plates = sorted({w.plate for w in wells if w.plate})
    names: tuple[WellName, ...] = ()
    names_source, results = None, None
    if names_file is not None:
        names, results = _read_names(names_file[0], names_file[1], settings)
        names_source = names_file[1]
    wells.sort(key=_well_order)
    read: list[tuple[str, str]] = [(w.name, w.sha256) for w in wells]
    if names_file is not None:
        read.append((str(names_source), hashlib.sha256(names_file[0]).hexdigest()))
    return DropletPlate(name=plates[0] if len(plates) == 1 else (label if not plates else ", ".join(plates)),
                        wells=tuple(wells), names=names, names_source=names_source, results=results,
                        files=tuple(read), warnings=tuple(_naming_warnings(wells, names, names_source)))


def _read_all(items: list[tuple[bytes, str]]) -> list[DropletWell]:
    """Every droplet file read on up to four threads (the CSV reader and SHA-256 release the GIL)."""
    return _in_threads(lambda item: read_droplets(*item), items)


def _well_order(w: DropletWell) -> tuple:
    well = w.well or ""
    return (well[:1], int(well[1:]) if well[1:].isdigit() else 0, w.name)


def _channel_of(label: str, target_type_text: str = "") -> str:
    t = label.strip().upper()
    m = re.match(r"CH([1-6])", t) or re.match(r"CH([1-6])", target_type_text.strip().upper())
    if m:
        return f"Ch{m.group(1)}"
    return DYE_CHANNELS.get(t.replace(" ", ""), "")


def _read_names(data: bytes, name: str, settings: Settings) -> tuple[tuple[WellName, ...], "DdpcrExport | None"]:
    """The well names from a results export (any layout :func:`read_export` reads) or a sample sheet."""
    from tdm1core.reading.exports import read_export

    try:
        export = read_export(data, name, settings)
    except DdpcrFormatError as first:
        try:
            return _read_sample_sheet(data, name), None
        except InputError:
            raise first from None
    rows = []
    for r in export.wells.itertuples(index=False):
        if r.merged:
            continue
        channel = _channel_of(str(r.channel))
        if not channel:
            raise _fail(f"well {r.well}: the channel {r.channel!r} of target {r.target!r} cannot be matched to a droplet "
                        "amplitude column.", name)
        rows.append(WellName(str(r.well), str(r.sample), str(r.target), str(r.target_type), channel, str(r.channel)))
    return tuple(rows), export


def _read_sample_sheet(data: bytes, name: str) -> tuple[WellName, ...]:
    """A sample sheet: a CSV with Well, Sample, TargetType and Target (PoDCall's layout), optionally DyeName(s)."""
    import csv

    from tdm1core.reading.textfile import decode_text, sniff_delimiter

    text, _ = decode_text(data, name)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError("the sample sheet is empty.", source=name)
    rows = list(csv.reader(lines, delimiter=sniff_delimiter(lines[0])))
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    need = ("Well", "Sample", "TargetType", "Target")
    if not set(need) <= set(header):
        raise InputError("not a sample sheet: it needs the columns Well, Sample, TargetType and Target.", source=name)
    ix = {h: i for i, h in enumerate(header)}
    out = []
    for line_no, fields in enumerate(rows[1:], start=2):
        fields = fields + [""] * (len(header) - len(fields))
        well = fields[ix["Well"]].strip()
        if not is_plate_well(well):
            if well:
                raise InputError(f"{well!r} is not a plate well (A01-P24).", source=name, row=line_no, column="Well",
                                 hint="Correct the sample sheet's Well column.")
            continue
        well = f"{well[0].upper()}{int(well[1:]):02d}"
        ttype = fields[ix["TargetType"]].strip()
        dye = fields[ix["DyeName(s)"]].strip() if "DyeName(s)" in ix else ""
        channel = _channel_of(dye or ttype, ttype)
        if not channel:
            raise InputError(f"the channel of this row cannot be told from TargetType {ttype!r}.", source=name,
                             row=line_no, column="TargetType", hint="Use Ch1Unknown / Ch2Unknown (or a DyeName(s) column).")
        low = ttype.lower()
        kind = ("ntc" if "ntc" in low or "blank" in low else "control" if "control" in low
                else "reference" if "reference" in low else "unknown")
        out.append(WellName(well, fields[ix["Sample"]].strip() or well, fields[ix["Target"]], kind, channel,
                            dye or ttype[:3]))
    if not out:
        raise InputError("the sample sheet has no well rows.", source=name)
    return tuple(out)


@dataclass(frozen=True, eq=False)
class PlateClassification:
    plate: DropletPlate
    thresholds: DropletThresholds
    wells: tuple[WellClassification, ...]

    def well(self, well: str | None) -> WellClassification:
        return next(c for c in self.wells if c.well.well == well)


def slot_of(n: WellName, names: "list[WellName]") -> str:
    """The classification a name reads: its channel, or ``Ch1:TARGET`` when several targets share the channel
    (multiplexed by amplitude; QX Manager classifies each in its own class column)."""
    shared = sum(1 for m in names if m.channel == n.channel) > 1
    return f"{n.channel}:{n.target.strip()}" if shared else n.channel


def _infer_channels(w: DropletWell, keys: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Class columns no name places on a channel (a six-channel QX Manager file without its results export): each is
    put on the free channel where its positive droplets stand furthest above its negatives (in robust SDs, at least
    3), and that is said in a warning. Shown on the bench only: no call is made without the plate's names."""
    taken = set(keys)
    placed = set(keys.values())
    notes = []
    for key, cls in w.instrument.items():
        if key in placed or not (cls == 1).any() or not (cls == 0).any():
            continue
        best, score = None, 3.0
        for ch in w.channels:
            if ch in taken:
                continue
            x = w.channel(ch)
            neg, pos = x[cls == 0], x[cls == 1]
            spread = 1.4826 * float(np.median(np.abs(neg - np.median(neg)))) or 1.0
            s = (float(np.median(pos)) - float(np.median(neg))) / spread
            if s > score:
                best, score = ch, s
        if best is not None:
            keys[best] = key
            taken.add(best)
            notes.append(f"target {key}: channel {best} inferred from the amplitudes (no results export or sample sheet "
                         "names it); give the plate's results export to be sure.")
    return keys, notes


def classify_plate(plate: DropletPlate, thresholds: DropletThresholds) -> PlateClassification:
    """Classify every well (QX Manager class columns are matched to channels by the names' targets; without names,
    in channel order when there is one per channel, else by :func:`_infer_channels`)."""
    from dataclasses import replace

    out = []
    for w in plate.wells:
        keys: dict[str, str] | None = None
        if not w.instrument_by_channel and w.instrument:
            keys = {}
            by_name = {normalise_name(k): k for k in w.instrument}
            names = plate.names_of(w.well)
            for n in names:
                key = by_name.get(normalise_name(n.target))
                if key is not None:
                    keys[slot_of(n, names)] = key
            if not keys and len(w.instrument) == len(w.channels):  # no names: class columns in channel order
                keys = dict(zip(w.channels, w.instrument))
            elif thresholds.method == "instrument" and len(keys) < len(w.instrument):
                keys, notes = _infer_channels(w, keys)
                if notes:
                    w = replace(w, warnings=w.warnings + tuple(notes))
        out.append(classify_well(w, thresholds, keys))
    return PlateClassification(plate, thresholds, tuple(out))


def panel_subset(classified: PlateClassification, settings: Settings = DEFAULT_SETTINGS) -> tuple[PlateClassification, tuple[str, ...]]:
    """The plate restricted to the samples whose every target maps to the panel (what can be called), and one
    sentence per other sample: "not part of the panel", with its wells and targets. Never a partial sample: a sample
    with one target that does not map is left out whole (and named), so no call is made from part of its wells."""
    from dataclasses import replace

    tmap = settings.target_map()
    plate = classified.plate
    by_sample: dict[str, list[WellName]] = {}
    for n in plate.names:
        by_sample.setdefault(n.sample, []).append(n)
    keep: list[WellName] = []
    notes: list[str] = []
    for sample, names in by_sample.items():
        unmapped = list(dict.fromkeys(n.target.strip() for n in names if tmap.resolve(n.target, n.label) is None))
        if not unmapped:
            keep.extend(names)
            continue
        wells = ", ".join(dict.fromkeys(n.well for n in names))
        notes.append(f"sample {sample} (well(s) {wells}; target(s) {', '.join(unmapped)}): not part of the panel, shown "
                     "but not called")
    kept = set(id(n) for n in keep)
    subset = replace(plate, names=tuple(n for n in plate.names if id(n) in kept), warnings=plate.warnings + tuple(notes))
    return replace(classified, plate=subset), tuple(notes)


def plate_export(classified: PlateClassification, settings: Settings = DEFAULT_SETTINGS) -> "DdpcrExport":
    """The tidy well table of the classified droplets (one row per named target of every well with droplets), as a
    :class:`~tdm1core.reading.exports.DdpcrExport` that :func:`tdm1core.calling.calls.call_export` calls unchanged."""
    import pandas as pd

    import tdm1core.measuring.poisson as poisson
    from tdm1core.reading.exports import WELL_COLUMNS, DdpcrExport

    plate = classified.plate
    if not plate.names:
        raise InputError("the droplets have no sample or target names, so no call can be made: give the plate's "
                         "results export or a sample sheet (Well, Sample, TargetType, Target) with them.",
                         source=plate.name, hint="Add the results CSV to the upload (or --results EXPORT.csv).")
    old = any(w.format == FORMAT_QS_OLD_DROPLETS for w in plate.wells)
    volume = settings.legacy_droplet_volume_nl if old else settings.droplet_volume_nl
    records: list[dict[str, Any]] = []
    by_well = {c.well.well: c for c in classified.wells}
    for n in plate.names:  # in the names file's row order, as a results export lists them
        c = by_well.get(n.well)
        if c is None:
            continue
        ch = {x.channel: x for x in c.channels}.get(slot_of(n, plate.names_of(n.well)))
        if ch is None:
            raise InputError(f"well {n.well}: target {n.target!r} ({n.label}) has no classified droplets in "
                             f"{n.channel} ({'no such amplitude column' if n.channel not in c.well.channels else 'no class or threshold for it'}).",
                             source=c.well.name, hint="Choose thresholds for every channel, or another method.")
        acc = ch.positives + ch.negatives
        saturated = acc > 0 and ch.negatives == 0
        conc = math.nan if saturated else poisson.concentration(ch.positives, acc, volume)
        ci = poisson.concentration_ci(ch.positives, acc, volume, settings.confidence_level)
        warns = [f"Well {n.well}: {w}" for w in c.warnings]
        if saturated:
            warns.append(f"Well {n.well}: saturated (no negative droplets) in {n.channel}.")
        records.append({
            "row": len(records) + 1, "well": n.well, "sample": n.sample, "target": n.target,
            "target_type": n.target_type, "channel": n.label, "status": f"droplets: {classified.thresholds.method}",
            "positives": ch.positives, "negatives": ch.negatives, "accepted_droplets": acc,
            "exported_concentration": math.nan, "exported_state": "ok", "concentration": conc,
            "copies_per_20ul": poisson.copies_per_20ul(conc), "ci_low": ci.low,
            "ci_high": math.inf if saturated else ci.high, "merged": False, "merged_members": "",
            "saturated": saturated, "warnings": "\n".join(warns), "volume_nl": volume,
        })
    if not records:
        raise InputError("no well with droplets has a row in the names file, so no call can be made.",
                         source=plate.name, hint="Check that the results export belongs to this plate.")
    check_against_results(classified, records)
    fmt = f"{plate.wells[0].format}, classified here ({classified.thresholds.method}), names from {plate.names_source}"
    return DdpcrExport(name=f"{plate.name} (droplets)", sha256=plate.sha256, format=fmt, encoding="n/a",
                       line_ending="n/a", delimiter=",", volume_nl=volume, inferred_volume_nl=None,
                       wells=pd.DataFrame.from_records(records, columns=WELL_COLUMNS), warnings=plate.warnings)


def _file_accepted(w: DropletWell) -> int:
    """The droplets of a file the instrument accepted: all of them, less those its own classes left unclassified."""
    if not w.instrument:
        return w.droplets
    unclassified = np.zeros(w.droplets, dtype=bool)
    for classes in w.instrument.values():
        unclassified |= classes < 0
    return int(w.droplets - unclassified.sum())


def check_against_results(classified: PlateClassification, records: list[dict[str, Any]]) -> None:
    """Refuse droplets named by a results export of another plate (or another analysis of it).

    With the instrument's own classes, each well and target must have the export's positive and accepted droplets
    exactly; with other thresholds the positives may differ (that is the point), but each well's accepted droplets
    must still be the export's. A mismatch names the wells."""
    results = classified.plate.results
    if results is None:
        return
    exported = {(str(r.well), str(r.target).strip(), str(r.channel)): (int(r.positives), int(r.accepted_droplets))
                for r in results.wells.itertuples(index=False) if not r.merged}
    by_well = {c.well.well: c for c in classified.wells}
    instrument = classified.thresholds.method == "instrument"
    differ: list[str] = []
    for rec in records:
        found = exported.get((rec["well"], str(rec["target"]).strip(), rec["channel"]))
        if found is None:
            continue
        pos, acc = found
        here_acc = rec["accepted_droplets"] if instrument else _file_accepted(by_well[rec["well"]].well)
        if here_acc != acc or (instrument and rec["positives"] != pos):
            differ.append(f"{rec['well']} {str(rec['target']).strip()}: the export has {pos:,} positive of {acc:,} "
                          f"accepted droplets, the droplet file {rec['positives']:,} of {here_acc:,}"
                          if instrument else f"{rec['well']}: the export has {acc:,} accepted droplets, the droplet "
                          f"file {here_acc:,}")
    differ = list(dict.fromkeys(differ))
    if differ:
        raise DropletFormatError(
            f"the droplet files do not match the results export {classified.plate.names_source!r} in "
            f"{len(differ)} well/target(s) ({'; '.join(differ[:8])}{'; …' if len(differ) > 8 else ''}): the export "
            "belongs to another plate or another analysis, so its names cannot be given to these droplets.",
            source=classified.plate.name,
            hint="Upload the results export of this same plate and run (or a sample sheet with its names).")


def plate_summary(classified: PlateClassification, qc: "dict[str, Any] | None" = None) -> list[dict[str, Any]]:
    """One record per well, the ``droplets --json`` shape: well, sample, targets, droplets, threshold, clusters,
    positives per target, rain, warnings, and (``qc``: well -> findings with ``to_dict``) ``qc: [{code, message}]``."""
    plate = classified.plate
    out = []
    for c in classified.wells:
        names = plate.names_of(c.well.well)
        target_of = {n.channel: n.target.strip() for n in names}
        thresholds = {ch.channel: ch.threshold for ch in c.channels}
        out.append({
            "well": c.well.well, "file": c.well.name, "sample": plate.sample_of(c.well.well),
            "targets": {ch: target_of.get(ch, ch) for ch in c.well.channels},
            "droplets": c.accepted, "droplets_in_file": c.well.droplets,
            "threshold": {"method": classified.thresholds.method, "values": thresholds,
                          "detail": {ch.channel: ch.detail for ch in c.channels if ch.detail}},
            "clusters": c.clusters(),
            "positives": {(ch.channel.split(":", 1)[1] if ":" in ch.channel else target_of.get(ch.channel, ch.channel)):
                          ch.positives for ch in c.channels},
            "rain": {ch.channel: ch.rain for ch in c.channels if ch.rain is not None},
            "warnings": list(c.warnings),
            **({} if c.well.instrument_by_channel or not c.well.instrument else {"instrument_classes": {
                k: {"positive": int((v == 1).sum()), "negative": int((v == 0).sum()), "unclassified": int((v == -1).sum())}
                for k, v in c.well.instrument.items()}}),
            **({} if qc is None else {"qc": [f.to_dict() for f in qc.get(c.well.well or c.well.name, ())]}),
        })
    return out


def droplet_table(c: WellClassification) -> "Any":
    """Every droplet of a well with its amplitudes and classes (the per-well download)."""
    import pandas as pd

    w = c.well
    data: dict[str, Any] = {"droplet": np.arange(1, w.droplets + 1)}
    for i, ch in enumerate(w.channels):
        data[f"{ch} amplitude"] = w.amplitudes[:, i]
    for ch, pos in c.positive.items():
        data[f"{ch} class"] = np.where(~c.classified, "unclassified", np.where(pos, "positive", "negative"))
    return pd.DataFrame(data)


@dataclass(frozen=True, eq=False)
class DropletPanel:
    """The droplets of one target of one well behind a sample's calls (for the patient page and its PDF)."""

    well: str
    channel: str
    target: str
    amplitudes: np.ndarray
    positive: np.ndarray | None  # None where this channel was not classified
    classified: np.ndarray
    thresholds: tuple[float, ...]  # one, or one per part of the other channel (automatic, 2D)

    @property
    def label(self) -> str:
        n = int((self.positive & self.classified).sum()) if self.positive is not None else None
        return f"{self.well} {self.channel} {self.target.strip()}" + (f": {n:,} positive" if n is not None else "")


def sample_droplets(classified: PlateClassification, sample: str) -> list[DropletPanel]:
    """Every well and channel the names file gives for ``sample``, with its droplets and thresholds."""
    out = []
    by_well = {c.well.well: c for c in classified.wells}
    for n in classified.plate.names:
        c = by_well.get(n.well)
        if n.sample != sample or c is None or n.channel not in c.well.channels:
            continue
        slot = slot_of(n, classified.plate.names_of(n.well))
        ch = next((x for x in c.channels if x.channel == slot), None)
        values: tuple[float, ...] = ()
        if ch is not None and ch.threshold is not None:
            parts = sorted({round(float(v), 6) for k, v in ch.detail.items() if k.startswith("threshold among ") and v is not None})
            values = tuple(parts) if len(parts) > 1 else (float(ch.threshold),)
        out.append(DropletPanel(n.well, n.channel, n.target, c.well.channel(n.channel), c.positive.get(slot),
                                c.classified, values))
    return out
