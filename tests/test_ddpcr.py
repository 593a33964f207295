"""Reading ddPCR exports: real files, every documented quirk, and bad input."""
import csv
import io
import math
import zipfile

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from builders import (OLD_QS_HEADER, QXM_HEADER_A, QXM_HEADER_B, conc, old_qs_row, qs17, qxm, qxm_row, sample_wells)
from tdm1core.reading.exports import FORMAT_QS17, FORMAT_QS_OLD, FORMAT_QXM, pool_replicates, read_export
from tdm1core.demo.writer import DuplexWell
from tdm1core.errors import DdpcrFormatError, InputError
from tdm1core.settings import Settings

REAL = [
    ("quantasoft174_nipd/Test24.csv", FORMAT_QS17, 34),
    ("quantasoft174_nipd/20-3575_FAM_HEX.csv", FORMAT_QS17, 26),
    ("quantasoft174_podcall_plate/Sample_names.csv", FORMAT_QS17, 10),
    ("qxmanager_daattali_quant/quant.csv", FORMAT_QXM, 12),
]


@pytest.mark.parametrize("path,fmt,rows", REAL)
def test_real_exports_parse_and_recomputed_concentrations_agree(shared_ddpcr, path, fmt, rows):
    export = read_export(shared_ddpcr / path)
    assert export.format == fmt
    assert len(export.wells) == rows
    assert export.warnings == ()
    # independent read with the csv module, keyed by header (index_col=False semantics)
    with (shared_ddpcr / path).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        raw = [dict(zip(header, r)) for r in reader]
    conc_col = "Concentration" if fmt == FORMAT_QS17 else "Conc(copies/µL)"
    for r, (_, w) in zip(sorted(raw, key=lambda d: (d["Well"], d["Target"])),
                         sorted(export.wells.iterrows(), key=lambda t: (t[1]["well"], t[1]["target"]))):
        assert w["well"] == r["Well"]
        assert w["positives"] == int(r["Positives"])
        exported = r[conc_col]
        if exported in ("", "No Call"):
            continue
        assert w["exported_concentration"] == pytest.approx(float(exported))
        # agreement within display rounding (2-4 significant figures) plus 1.5 % for V
        decimals = len(exported.split(".")[1]) if "." in exported else 0
        assert abs(w["concentration"] - float(exported)) <= 0.5 * 10 ** -decimals + 0.015 * float(exported)
        assert "differs" not in w["warnings"]


def test_quoted_rows_with_a_trailing_comma_do_not_shift_columns(shared_ddpcr):
    w = read_export(shared_ddpcr / "quantasoft174_nipd/Test24.csv").wells
    first = w.iloc[0]
    assert (first["well"], first["sample"], first["target"]) == ("M01", "16468", "IDS c.879+1_T")
    assert first["accepted_droplets"] == 207609


def test_leading_space_in_target_is_kept_and_stripped_for_matching(shared_ddpcr):
    export = read_export(shared_ddpcr / "quantasoft174_podcall_plate/Sample_names.csv")
    assert " new4Plex" in set(export.wells["target"])
    pooled = pool_replicates(export)
    assert "new4Plex" in {p.target for p in pooled}


def test_merged_rows_are_recognised_and_not_double_counted(shared_ddpcr):
    export = read_export(shared_ddpcr / "quantasoft174_nipd/20-3575_FAM_HEX.csv")
    merged = export.wells[export.wells["merged"]]
    assert set(merged["well"]) == {"M01", "M02", "M03"}
    pooled = {(p.sample, p.target): p for p in pool_replicates(export)}
    p = pooled[("13751", "HbS")]
    # the export's own merged row M01 sums A01-F01: 4955 positives of 128675 droplets
    assert (p.positives, p.accepted_droplets) == (4955, 128675)
    assert set(p.wells) == {"A01", "B01", "C01", "D01", "E01", "F01"}


def test_merged_row_is_used_when_its_members_are_absent():
    rows = list(csv.reader(io.StringIO(qs17(sample_wells("S1"), quoted=False).decode())))
    header, first = rows[0], rows[1]
    first[header.index("Well")] = "M01"
    first[header.index("MergedWells")] = "(X01,X02)"
    buf = io.StringIO()
    csv.writer(buf).writerows([header, first])
    export = read_export(buf.getvalue().encode(), "m.csv")
    pooled = pool_replicates(export)
    assert [p.wells for p in pooled] == [("M01",)]


def test_replicate_wells_are_pooled_by_summing_droplets():
    wells = [DuplexWell("A01", "S1", "HER2", "EFTUD2", 500, 400, 15000),
             DuplexWell("B01", "S1", "HER2", "EFTUD2", 520, 410, 14000)]
    pooled = {p.target: p for p in pool_replicates(read_export(qs17(wells), "r.csv"))}
    assert pooled["HER2"].positives == 1020 and pooled["HER2"].accepted_droplets == 29000
    assert pooled["HER2"].concentration == pytest.approx(conc(1020, 29000))


def test_rows_need_not_be_sorted_by_well():
    wells = sample_wells("S1") + sample_wells("S2", well0=4)
    data = qs17(wells).decode().splitlines()
    shuffled = [data[0]] + data[1:][::-1]
    export = read_export("\r\n".join(shuffled).encode(), "shuffled.csv")
    assert export.samples == ["S2", "S1"]
    assert len(export.wells) == 16


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("quoted", [True, False])
def test_line_ends_and_quoting_dialects(newline, quoted):
    data = qs17(sample_wells(), quoted=quoted, newline=newline)
    export = read_export(data, "x.csv")
    assert len(export.wells) == 8
    assert export.line_ending == {"\n": "LF", "\r\n": "CRLF", "\r": "CR"}[newline]


def test_qx_manager_with_bom_crlf_and_no_final_newline_both_header_variants():
    for header in (QXM_HEADER_A, QXM_HEADER_B):
        rows = [qxm_row(header, "A01", "S1", "HER2", "FAM", "Unknown", 1200, 18000),
                qxm_row(header, "A01", "S1", "EFTUD2", "HEX", "Reference", 1000, 18000)]
        export = read_export(qxm(rows, header), "qx.csv")
        assert export.format == FORMAT_QXM
        assert export.encoding == "utf-8 with BOM"
        assert list(export.wells["channel"]) == ["FAM", "HEX"]
        assert export.wells["concentration"].iloc[0] == pytest.approx(conc(1200, 18000))


def test_cp1252_header_with_micro_sign_is_read():
    rows = [qxm_row(QXM_HEADER_A, "A01", "S1", "HER2", "FAM", "Unknown", 1200, 18000)]
    export = read_export(qxm(rows, encoding="cp1252", bom=False), "latin.csv")
    assert export.format == FORMAT_QXM and export.encoding == "cp1252"


def test_numeric_looking_targets_stay_strings():
    rows = [qxm_row(QXM_HEADER_A, "A01", "S1", "1", "FAM", "Unknown", 1200, 18000),
            qxm_row(QXM_HEADER_A, "A01", "S1", "2", "HEX", "Reference", 1000, 18000)]
    w = read_export(qxm(rows), "n.csv").wells
    assert list(w["target"]) == ["1", "2"]


def test_no_call_keeps_droplet_counts_and_is_recomputed_with_a_warning():
    rows = [qxm_row(QXM_HEADER_A, "E02", "NTC", "1", "FAM", "Unknown", 0, 19862, sample_type="NTC",
                    conc_text="No Call", status="CHECK")]
    w = read_export(qxm(rows), "nc.csv").wells.iloc[0]
    assert w["exported_state"] == "no call"
    assert w["accepted_droplets"] == 19862 and w["concentration"] == 0
    assert "No Call" in w["warnings"]
    assert w["target_type"] == "ntc"


def test_saturation_sentinel_is_flagged_never_computed_with():
    rows = [qxm_row(QXM_HEADER_A, "A01", "S1", "1", "FAM", "Unknown", 18000, 18000, conc_text="1000000")]
    w = read_export(qxm(rows), "sat.csv").wells.iloc[0]
    assert bool(w["saturated"]) and math.isnan(w["concentration"]) and math.isnan(w["exported_concentration"])
    assert "saturated" in w["warnings"] and "sentinel" in w["warnings"]


def test_old_quantasoft_layout_uses_091_nl_and_rows_one_field_short():
    rows = [old_qs_row("A01", "S1", "HER2", "Ch1Unknown", 900, 15000), old_qs_row("A01", "S1", "EFTUD2", "Ch2Unknown", 800, 15000)]
    data = ("\r\n".join([",".join(OLD_QS_HEADER)] + [",".join(r) for r in rows]) + "\r\n").encode()
    export = read_export(data, "old.csv")
    assert export.format == FORMAT_QS_OLD and export.volume_nl == 0.91
    assert export.wells["concentration"].iloc[0] == pytest.approx(conc(900, 15000, 0.91))
    assert all(export.wells["warnings"] == "")


def test_a_volume_mismatch_is_reported_never_silent():
    rows = [old_qs_row("A01", "S1", "HER2", "Ch1Unknown", 900, 15000), old_qs_row("A01", "S1", "EFTUD2", "Ch2Unknown", 800, 15000)]
    data = ("\n".join([",".join(OLD_QS_HEADER)] + [",".join(r) for r in rows])).encode()
    export = read_export(data, "old.csv", Settings(legacy_droplet_volume_nl=0.85))
    assert any("0.91" in w for w in export.warnings)
    # explained per well: one plausible volume for both targets of the well, said on the well's rows
    assert all("imply 0.910 nL droplets in A01" in w for w in export.wells["warnings"])


def test_semicolon_delimiter_with_decimal_commas():
    text = qs17(sample_wells()).decode()
    rows = list(csv.reader(io.StringIO(text)))
    out = []
    for r in rows:
        out.append(";".join(f.replace(".", ",") if f.replace(".", "").isdigit() else f for f in r))
    export = read_export("\r\n".join(out).encode(), "eu.csv")
    assert export.delimiter == ";"
    comma = read_export(qs17(sample_wells()), "us.csv")
    assert list(export.wells["exported_concentration"]) == pytest.approx(list(comma.wells["exported_concentration"]))


def _xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


BAD = {
    "empty": (b"", "empty"),
    "blank lines": (b"\r\n\r\n  \n", "empty"),
    "not ddpcr": (b"name,age\nalice,30\n", "does not look like a ddPCR export"),
    "excel renamed": (_xlsx_bytes(), "Excel workbook"),
    "binary garbage": (bytes(range(256)) * 20, "binary"),
    "header only": (qs17([]), "no data rows"),
    "amplitude file": (b"Ch1 Amplitude,Ch2 Amplitude,Cluster\n939.5,11795.0,4\n", "Amplitude"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_give_one_clear_error(case):
    data, words = BAD[case]
    with pytest.raises(DdpcrFormatError) as info:
        read_export(data, "bad.csv")
    msg = str(info.value)
    assert words in msg and "'bad.csv'" in msg


def test_truncated_file_names_the_row():
    data = qs17(sample_wells())
    cut = data[: len(data) - 300]
    with pytest.raises(DdpcrFormatError) as info:
        read_export(cut, "cut.csv")
    last_line = len(cut.splitlines())
    assert f"row {last_line}" in str(info.value) and "truncated" in str(info.value)


def test_non_numeric_droplet_count_names_row_and_column():
    text = qs17(sample_wells()).decode().replace(",15000,", ",abc,", 1)
    with pytest.raises(DdpcrFormatError) as info:
        read_export(text.encode(), "n.csv")
    assert "row 2" in str(info.value) and "'AcceptedDroplets'" in str(info.value) and "'abc'" in str(info.value)


@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_parser_raises_only_input_errors_on_arbitrary_bytes(data):
    try:
        read_export(data, "fuzz.csv")
    except InputError:
        pass


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=",;\"\r\n 0123456789.abcAM", max_size=40), max_size=12))
def test_parser_raises_only_input_errors_on_mangled_exports(lines):
    base = qs17(sample_wells()).decode().splitlines()
    data = "\n".join(base[:1] + lines + base[1:3]).encode()
    try:
        read_export(data, "fuzz.csv")
    except InputError:
        pass
