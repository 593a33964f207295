"""Every well-level export a QX100/QX200/QX600 lab produces is read right; damaged or foreign files are refused.

Inputs are built in code from the verbatim headers in shared/docs/ddpcr_formats.md (§1a-1c); no real file is copied.
"""
import csv
import io
import math
import zipfile

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from builders import (QSAP_HEADER, QX600_HEADER, QXM_HEADER_A, conc, qs17, qsap, qsap_row, qsap_sample, qxm, qxm_reduced,
                      qxm_row, sample_wells, xlsx_of)
from tdm1core.calling.calls import NOT_EVALUABLE, call_export
from tdm1core.reading.exports import FORMAT_QS17, FORMAT_QSAP, FORMAT_QXM, FORMAT_QXM_REDUCED, read_export
from tdm1core.errors import DdpcrFormatError, InputError, TargetMapError
from tdm1core.settings import Settings


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode()


def _refused(data: bytes, *words: str, name: str = "bad.csv") -> str:
    with pytest.raises(DdpcrFormatError) as info:
        read_export(data, name)
    msg = str(info.value)
    assert f"'{name}'" in msg
    for w in words:
        assert w in msg, msg
    return msg


# ---------------------------------------------------------------- QuantaSoft Analysis Pro

def test_quantasoft_analysis_pro_is_read_and_called_like_quantasoft_17():
    assert len(QSAP_HEADER) == 65
    data = qsap(qsap_sample("S/1 plasma", her2=1500, eftud2=1000) + qsap_sample("S2", her2=900, eftud2=1000, first=4, mut=9))
    export = read_export(data, "qsap.csv")
    assert export.format == FORMAT_QSAP and export.volume_nl == 0.85
    assert export.encoding == "utf-8 with BOM" and export.line_ending == "CRLF"
    assert export.samples == ["S/1 plasma", "S2"]  # a '/' in a sample name is kept
    her2 = export.wells.iloc[0]
    assert her2["concentration"] == pytest.approx(conc(1500, 16000))
    calls = {c.sample: c for c in call_export(export)}
    ratio = conc(1500, 16000) / conc(1000, 16000)
    assert calls["S/1 plasma"].her2.ratio == pytest.approx(ratio) and calls["S/1 plasma"].her2.call == "amplified"
    assert calls["S2"].her2.call == "not amplified" and calls["S2"].pik3ca.hotspot("E545K").call == "positive"


def test_qsap_amplitude_multiplexed_dyes_blank_samples_and_failed_wells():
    rows = [qsap_row("A01", "", "HER2", "FAM Lo", 1200, 15000), qsap_row("A01", "", "EFTUD2", "FAM Hi", 1000, 15000),
            qsap_row("A01", "", "PIK3CA E545K MUT", "HEX Lo", 5, 15000), qsap_row("A01", "", "PIK3CA E545K WT", "HEX Hi", 800, 15000),
            qsap_row("B01", "", "HER2", "FAM Lo", 0, 0), qsap_row("B01", "", "EFTUD2", "FAM Hi", 0, 0)]
    export = read_export(qsap(rows), "mux.csv")
    assert list(export.wells["channel"][:4]) == ["FAM Lo", "FAM Hi", "HEX Lo", "HEX Hi"]
    assert export.samples == ["A01", "B01"]  # a blank Sample is named after its well
    calls = {c.sample: c for c in call_export(export)}
    assert calls["A01"].her2.ratio == pytest.approx(conc(1200, 15000) / conc(1000, 15000))
    assert calls["A01"].pik3ca.hotspot("E545K").mutant_copies == pytest.approx(20 * conc(5, 15000))
    failed = calls["B01"].her2
    assert failed.call == NOT_EVALUABLE and "0 accepted droplets" in failed.reason


def test_layout_is_never_recognised_from_a_substring_of_a_column_name():
    header = "Well,Probe,MeanAmplitudeOfPositives,Copies"
    msg = _refused(f"{header}\nA01,x,1,2\n".encode(), "QuantaSoft Analysis Pro", "QX Manager", "'Well', 'Probe'")
    assert "per-droplet" not in msg
    assert "Amplitude" not in msg.split("first columns")[0]


def test_per_droplet_files_are_still_named_as_such():
    _refused(b"Ch1 Amplitude,Ch2 Amplitude,Cluster\n939.5,11795.0,4\n", "per-droplet Amplitude file")
    qxm_amp = b"Target Value of 0 = negative\r\nTarget Value of 1 = positive\r\nTarget Value of u = unclassified\r\n\r\nCh1Amplitude,Ch2Amplitude,1,2,\r\n2382.14,6258.282,0,1,\r\n"
    _refused(qxm_amp, "per-droplet Amplitude file")


# ---------------------------------------------------------------- the reduced ';' QX Manager set

def _reduced_plate():
    return qxm_reduced([
        ("H01", "S1", "HER2", "FAM", "Unknown", 1500, 17000, 0.75), ("H01", "S1", "EFTUD2", "HEX", "Reference", 1000, 17000, 0.75),
        ("G01", "S1", "PIK3CA E545K MUT", "FAM", "Unknown", 12, 16000, 0.901), ("G01", "S1", "PIK3CA E545K WT", "HEX", "Unknown", 900, 16000, 0.901),
    ])


def test_reduced_semicolon_set_says_the_implied_volume_per_well():
    export = read_export(_reduced_plate(), "aav.csv")
    assert export.format == FORMAT_QXM_REDUCED and export.delimiter == ";"
    h01 = [w for w in export.warnings if "H01" in w]
    assert h01 == ["Exported concentrations imply 0.750 nL droplets in H01; the exported copies are 13% higher than those "
                   "recomputed at 0.85 nL (recomputed values are used; set concentration_source = exported to use the "
                   "instrument's)."]
    assert any("0.901 nL droplets in G01" in w and "6% lower" in w for w in export.warnings)
    assert any("HER2/EFTUD2 ratios within a well are unaffected" in w for w in export.warnings)
    # recomputed (default): the setting's volume
    assert export.wells.iloc[0]["concentration"] == pytest.approx(conc(1500, 17000, 0.85))


def test_concentration_source_exported_uses_each_wells_own_volume_and_leaves_ratios_alone():
    recomputed = call_export(read_export(_reduced_plate(), "aav.csv"))[0]
    exported_export = read_export(_reduced_plate(), "aav.csv", Settings(concentration_source="exported"))
    exported = call_export(exported_export, Settings(concentration_source="exported"))[0]
    assert exported_export.wells.iloc[0]["concentration"] == pytest.approx(conc(1500, 17000, 0.75), rel=1e-6)
    assert exported.pik3ca.hotspot("E545K").mutant_copies == pytest.approx(20 * conc(12, 16000, 0.901), rel=1e-6)
    assert exported.her2.ratio == pytest.approx(recomputed.her2.ratio, rel=1e-9)  # a duplex well's ratio ignores V
    assert "does not change this ratio" in recomputed.her2.reason


def test_a_well_whose_two_targets_imply_different_volumes_is_damage():
    data = qxm_reduced([("H01", "S1", "HER2", "FAM", "Unknown", 1500, 17000, 0.75),
                        ("H01", "S1", "EFTUD2", "HEX", "Reference", 1000, 17000, 0.90)])
    _refused(data, "row 2", "Conc(copies/µL)", "no plausible droplet volume")


# ---------------------------------------------------------------- .xlsx

@pytest.mark.parametrize("header", [QXM_HEADER_A, QX600_HEADER], ids=["73 columns", "QX600 81 columns"])
def test_qx_manager_results_saved_as_xlsx_are_read_like_the_csv(header):
    assert len(header) in (73, 81)
    rows = [qxm_row(header, "A01", "S1", "HER2", "FAM", "Unknown", 1300, 18000),
            qxm_row(header, "A01", "S1", "EFTUD2", "HEX", "Reference", 1000, 18000)]
    data = xlsx_of(header, rows, sheets_before=1)
    export = read_export(data, "plate.xlsx")
    assert export.format == FORMAT_QXM and export.encoding == "xlsx (sheet 'Results')"
    assert list(export.wells["row"]) == [2, 3]  # spreadsheet rows
    csv_export = read_export(qxm(rows, header), "plate.csv")
    assert list(export.wells["concentration"]) == pytest.approx(list(csv_export.wells["concentration"]))
    # the same damage checks as the CSV
    bad = [list(r) for r in rows]
    bad[0][header.index("Positives")] = "20000"
    _refused(xlsx_of(header, bad), "more than the 18,000 accepted droplets", name="bad.xlsx")


def test_other_workbooks_and_zips_keep_their_clear_message():
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["name", "age"])
    buf = io.BytesIO()
    wb.save(buf)
    _refused(buf.getvalue(), "Excel workbook without a ddPCR results table")
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("plate_A01_Amplitude.csv", "Ch1 Amplitude,Ch2 Amplitude,Cluster\n")
    _refused(z.getvalue(), "zip archive")


def test_an_xlsx_zip_bomb_is_refused_before_parsing():
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
        f.writestr("[Content_Types].xml", "<Types/>")
        f.writestr("xl/workbook.xml", "<workbook/>")
        f.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (250 * 1024 * 1024))
    msg = _refused(z.getvalue(), "expands to")
    assert "bomb" in msg


# ---------------------------------------------------------------- Blank, other vendors, encodings

def test_a_blank_well_is_no_data_and_the_rest_of_the_plate_is_read():
    rows = _rows(qs17(sample_wells()))
    h = rows[0]
    blank = [""] * len(rows[1])
    for k, v in {"Well": "H12", "ExptType": "Absolute Quantification", "Sample": "Blank", "TargetType": "Ch1Blank",
                 "Target": "HER2", "Concentration": "Blank", "Positives": "0", "Negatives": "0", "AcceptedDroplets": "0"}.items():
        blank[h.index(k)] = v
    export = read_export(_csv(rows + [blank]), "plate.csv")
    assert len(export.wells) == 9 and "Blank" not in export.samples
    row = export.wells[export.wells["well"] == "H12"].iloc[0]
    assert row["exported_state"] == "no data" and math.isnan(row["concentration"])
    assert call_export(export)[0].her2.call == "not amplified"


@pytest.mark.parametrize("data,vendor", [
    (b'sep=,\r\n"","Reaction Mix","Target","Conc. [copies/\xc2\xb5L]","Partitions (valid)"\r\n"A1","RM1","HER2","12","25000"\r\n',
     "Qiagen QIAcuity"),
    (b"* Instrument Type = QuantStudio 3D\n* Chip = 1\n\n[Quantification Results]\nWell\tSample Name\tTarget\n", "QuantStudio"),
    (b"Experiment Name\tplate 3\nInstrument\tAbsolute Q\n\n[Quantification Results]\nWell\tSample\tTarget\n", "Absolute Q"),
])
def test_other_vendors_exports_are_named(data, vendor):
    _refused(data, vendor, "only Bio-Rad ddPCR exports", name="run.csv")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_and_utf32_text_is_decoded(encoding):
    text = qs17(sample_wells()).decode()
    export = read_export(text.encode(encoding), "unicode.txt")
    assert export.format == FORMAT_QS17 and len(export.wells) == 8
    assert encoding.split("-")[0].upper().replace("UTF", "UTF-") in export.encoding


# ---------------------------------------------------------------- damage never gives a call

def _demo_like():
    return _rows(qs17(sample_wells("P09", her2=2100, eftud2=1000) + sample_wells("P10", well0=4)))


def _damage(edit) -> bytes:
    rows = _demo_like()
    edit(rows[0], rows)
    return _csv(rows)


def _set(col, value, line=1):
    def edit(h, rows):
        rows[line][h.index(col)] = value
    return edit


@pytest.mark.parametrize("case,edit,words", [
    ("blank positives", _set("Positives", ""), ["row 2", "'Positives'", "blank"]),
    ("positives > accepted", _set("Positives", "99999"), ["row 2", "more than the"]),
    ("positives x10", lambda h, rows: rows[1].__setitem__(h.index("Positives"), str(10 * int(rows[1][h.index("Positives")]))),
     ["row 2", "accepted droplets"]),
    ("1e3", _set("Positives", "1e3"), ["row 2", "'1e3'"]),
    ("4_06", _set("Negatives", "14_06"), ["row 2", "'14_06'"]),
    ("non-ASCII digits", _set("Positives", "١٢٠٠"), ["row 2", "not a whole number written in digits"]),
    ("negative", _set("Positives", "-5"), ["row 2", "negative"]),
    ("beyond any plate", _set("AcceptedDroplets", "20000000"), ["row 2", "more than any real well"]),
    ("26 digits", _set("AcceptedDroplets", "12345678901234567890123456"), ["row 2", "'AcceptedDroplets'"]),
    ("1e30 concentration", _set("Concentration", "1e30"), ["row 2", "beyond any real ddPCR well"]),
    ("concentration edited", _set("Concentration", "4.2"), ["row 2", "does not match the droplet counts"]),
    ("inf concentration", _set("Concentration", "inf"), ["row 2", "'inf'"]),
])
def test_damaged_droplet_counts_never_give_a_call(case, edit, words):
    _refused(_damage(edit), *words)


def test_a_row_shifted_left_by_a_deleted_cell_is_refused():
    def shift(h, rows):
        del rows[1][h.index("Positives")]  # Excel's "delete cell, shift left"
    _refused(_damage(shift), "row 2", "shift cells left")


def test_the_same_well_and_target_twice_names_the_wells_and_samples():
    rows = _demo_like()
    pasted = list(rows[1])
    pasted[rows[0].index("Sample")] = "OTHER"
    msg = _refused(_csv(rows + [pasted]), "appear twice", "well A01", "'P09'", "'OTHER'")
    assert "per-droplet" not in msg


def test_two_names_for_one_assay_in_a_well_are_caught_after_mapping():
    rows = _demo_like()
    h = rows[0]
    alias = list(rows[1])
    alias[h.index("Target")] = "ERBB2"  # the same Ch1 well again, under HER2's other name
    with pytest.raises(TargetMapError) as info:
        call_export(read_export(_csv(rows + [alias]), "alias.csv"))
    assert "well A01 has two targets read as HER2: 'HER2' and 'ERBB2'" in str(info.value)


def test_a_warning_is_one_complete_sentence():
    rows = [qxm_row(QXM_HEADER_A, "E02", "NTC", "1", "FAM", "Unknown", 0, 19862, sample_type="NTC", conc_text="No Call",
                    status="CHECK")]
    w = read_export(qxm(rows), "nc.csv").wells.iloc[0]["warnings"]
    for sentence in w.split("\n"):
        assert sentence[0].isupper() and sentence.endswith("."), sentence


# ---------------------------------------------------------------- properties

@hsettings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=",;\"\r\n 0123456789.abcAMNoCal-e_", max_size=50), max_size=10), st.sampled_from(["qsap", "reduced", "qxm"]))
def test_new_layouts_raise_only_input_errors_on_mangled_rows(lines, layout):
    base = {"qsap": qsap(qsap_sample("S1", 1200, 1000)), "reduced": _reduced_plate(),
            "qxm": qxm([qxm_row(QXM_HEADER_A, "A01", "S1", "HER2", "FAM", "Unknown", 1300, 18000)])}[layout]
    text = base.decode("utf-8-sig").splitlines()
    data = "\n".join(text[:1] + lines + text[1:3]).encode()
    try:
        calls = call_export(read_export(data, "fuzz.csv"))
    except InputError:
        return
    for c in calls:  # whatever is accepted gives finite, non-negative numbers
        assert c.her2.ratio is None or (math.isfinite(c.her2.ratio) and c.her2.ratio >= 0)


@hsettings(max_examples=150, deadline=None)
@given(st.integers(0, 30000), st.integers(0, 30000), st.integers(1, 30000))
def test_any_count_triple_is_either_consistent_or_refused(pos, neg, acc):
    rows = _demo_like()
    h = rows[0]
    rows[1][h.index("Positives")], rows[1][h.index("Negatives")], rows[1][h.index("AcceptedDroplets")] = str(pos), str(neg), str(acc)
    rows[1][h.index("Concentration")] = ""
    try:
        export = read_export(_csv(rows), "p.csv")
    except DdpcrFormatError:
        assert pos + neg != acc or pos > acc
        return
    r = export.wells.iloc[0]
    assert r["positives"] + r["negatives"] == r["accepted_droplets"] == acc


# ---------------------------------------------------------------- issue 24: a new layout is one record

def test_a_new_export_layout_is_one_record(monkeypatch):
    """A layout the reader has never seen (other column names, another channel rule, a fixed partition volume) is read
    after adding one ExportLayout record, and gives the same calls as the same wells in the QuantaSoft layout."""
    import math

    import tdm1core.reading.layouts as layouts
    from builders import qs17, sample_wells
    from tdm1core.calling.calls import call_export
    from tdm1core.settings import Settings

    vendor = layouts.ExportLayout(
        "Vendor X dPCR", frozenset({"Position", "Specimen", "Probe", "Probe Role", "Positive Partitions",
                                    "Negative Partitions", "Valid Partitions", "Copies per uL"}),
        {"well": "Position", "sample": "Specimen", "target": "Probe", "target_type": "Probe Role",
         "status": "Status", "positives": "Positive Partitions", "negatives": "Negative Partitions",
         "accepted": "Valid Partitions", "conc": "Copies per uL", "merged": "MergedWells"},
        "Vendor X 'Position,Specimen,Probe,...'", volume_nl=0.85)
    wells = sample_wells("S1", her2=900, e545k_mut=12)
    rows = ["Position,Specimen,Probe,Probe Role,Positive Partitions,Negative Partitions,Valid Partitions,Copies per uL"]
    for w in wells:
        for target, pos, role in ((w.ch1_target, w.ch1_positives, "Ch1Unknown"), (w.ch2_target, w.ch2_positives, "Ch2Unknown")):
            conc = -math.log((w.accepted - pos) / w.accepted) / 0.85e-3
            rows.append(f"{w.well},{w.sample},{target},{role},{pos},{w.accepted - pos},{w.accepted},{conc!r}")
    data = ("\n".join(rows) + "\n").encode()
    with pytest.raises(Exception, match="layouts this program knows"):
        read_export(data, "vendor.csv")
    monkeypatch.setattr(layouts, "LAYOUTS", layouts.LAYOUTS + (vendor,))
    export = read_export(data, "vendor.csv")
    assert export.format == "Vendor X dPCR" and export.volume_nl == 0.85
    s = Settings()
    mine = [c.to_dict() for c in call_export(export, s)]
    theirs = [c.to_dict() for c in call_export(read_export(qs17(wells), "qs.csv"), s)]
    def strip(d):  # the file's name, and the QC rows in the file's order, differ; nothing else may
        return {k: sorted(v, key=lambda q: q["assay"]) if k == "qc" else v for k, v in d.items() if k != "source"}

    assert [strip(d) for d in mine] == [strip(d) for d in theirs]
