"""Issue 23: no clinical result differs from the truth without a word.

Each section is one rule, tested on generated inputs (hypothesis where the input space is large), never on a copy
of somebody's data."""
from __future__ import annotations

import math
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from builders import plate_droplet_files, qs17, qxm, qxm_row, QXM_HEADER_A, sample_wells
from tdm1core.calling.calls import (NOT_EVALUABLE, NEGATIVE, POSITIVE, ManualEntry, Measurement, SampleMeasurements,
                            call_export, call_manual, call_sample)
from tdm1core.reading.exports import read_export
from tdm1core.demo.writer import DuplexWell
from tdm1core.errors import DdpcrFormatError, InputError, SettingsError
from tdm1core.measuring.intervals import ConfidenceInterval
from tdm1core.settings import PLAUSIBLE_RANGES, Settings
from tdm1core.targets import HOTSPOTS

ODD = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(5e-324), st.just(1e-310),
                st.just(-0.0), st.floats(min_value=0, max_value=1e6))


# ---------------------------------------------------------------- 1. a non-finite number never decides a cut-off

def _measurement(assay: str, conc: float, lo: float, hi: float) -> Measurement:
    return Measurement(assay, assay, conc, ConfidenceInterval(lo, hi, 0.95, "test"), ("A01",), 10, 15000, 15000)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(her2=ODD, ref=ODD, lo=ODD, hi=ODD, mut=ODD, wt=ODD)
# found by hypothesis: a denormal concentration whose copies per 20 µL (x20) are normal was called "negative"
@example(her2=5e-324, ref=6.0, lo=-0.0, hi=0.0, mut=0.0, wt=2.225073858507203e-309)
def test_any_non_finite_number_makes_the_call_not_evaluable(her2, ref, lo, hi, mut, wt):
    """Every number from the counts to the comparison: a NaN, an infinity or a denormal gives 'not evaluable' with
    the reason, never one side of the cut-off; an evaluable call has only finite numbers."""
    ms = {"HER2": _measurement("HER2", her2, lo, hi), "EFTUD2": _measurement("EFTUD2", ref, lo, hi)}
    for h in HOTSPOTS:
        ms[f"{h} MUT"] = _measurement(f"{h} MUT", mut, lo, hi)
        ms[f"{h} WT"] = _measurement(f"{h} WT", wt, lo, hi)
    calls = call_sample(SampleMeasurements("S", ms, "test"))
    numbers = [her2, ref, lo, hi]
    odd = [x for x in numbers if not math.isfinite(x) or (x != 0 and abs(x) < sys.float_info.min)]
    if odd:
        assert calls.her2.call == NOT_EVALUABLE, (calls.her2.reason, numbers)
    if calls.her2.call != NOT_EVALUABLE:
        assert math.isfinite(calls.her2.ratio)
        assert "nan" not in calls.her2.reason and "inf" not in calls.her2.reason
    odd_pik = [x for x in (mut, wt, lo, hi) if not math.isfinite(x) or (x != 0 and abs(x) < sys.float_info.min)]
    for hs in calls.pik3ca.hotspots:
        if odd_pik:
            assert hs.call == NOT_EVALUABLE, (hs.reason, mut, wt, lo, hi)
        if hs.call != NOT_EVALUABLE:
            assert math.isfinite(hs.mutant_copies) and "nan" not in hs.reason


@pytest.mark.parametrize("name", sorted(PLAUSIBLE_RANGES))
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 5e-324, 1e-320, -1.0, 1e300])
def test_every_numeric_setting_refuses_implausible_values(name, value):
    if name == "min_accepted_droplets" and math.isfinite(value) and abs(value) < 1e18 and value == int(value):
        value = int(value)  # a whole number out of range (a float such as 5e-324 is refused as not whole)
    low, high, _ = PLAUSIBLE_RANGES[name]
    with pytest.raises(SettingsError) as info:
        Settings(**{name: value})
    assert f"{low:,g}" in str(info.value) and f"{high:,g}" in str(info.value)


def test_a_denormal_droplet_volume_is_refused_on_the_command_line(tmp_path, capsys):
    from tdm1core.app.cli import main

    path = tmp_path / "plate.csv"
    path.write_bytes(qs17(sample_wells("X", her2=1600, eftud2=1000)))
    assert main(["call", str(path), "--droplet-volume", "1e-320", "--sample", "X", "--er", "pos", "--pr", "neg"]) == 2
    err = capsys.readouterr().err
    assert "droplet_volume_nl" in err and "0.3" in err and "Traceback" not in err


@hsettings(max_examples=60, deadline=None)
@given(volume=st.floats(min_value=0.3, max_value=2.0), her2=st.integers(1, 14000), ref=st.integers(1, 14000))
def test_every_plausible_volume_gives_a_finite_ratio_or_not_evaluable(volume, her2, ref):
    export = read_export(qs17(sample_wells("X", her2=her2, eftud2=ref), volume_nl=volume), "p.csv",
                         Settings(droplet_volume_nl=volume))
    (c,) = call_export(export, Settings(droplet_volume_nl=volume))
    assert c.her2.call == NOT_EVALUABLE or (math.isfinite(c.her2.ratio) and
                                             c.her2.reason.startswith(f"HER2/EFTUD2 ratio {c.her2.ratio:.2f}"))


# ---------------------------------------------------------------- 2. droplets with another plate's results export

def test_droplets_with_another_plates_results_export_are_refused():
    ours = sample_wells("S1", her2=3000, eftud2=1000)
    theirs = [DuplexWell(w.well, "P-OTHER", w.ch1_target, w.ch2_target, 10, 4000, 18000) for w in ours]
    files = plate_droplet_files(ours, "Run1") + [(qs17(theirs), "Run9_results.csv")]
    from tdm1core.reading.plate import classify_plate, plate_export, read_plate
    from tdm1core.reading.thresholds import DropletThresholds

    plate = read_plate(files)
    for method in ("instrument", "auto"):
        with pytest.raises(InputError) as info:
            plate_export(classify_plate(plate, DropletThresholds(method=method)))
        text = str(info.value)
        assert "do not match the results export" in text and "A01" in text and "18,000" in text


def test_droplets_with_their_own_results_export_are_called():
    ours = sample_wells("S1", her2=3000, eftud2=1000)
    files = plate_droplet_files(ours, "Run1") + [(qs17(ours), "Run1_results.csv")]
    from tdm1core.reading.plate import classify_plate, plate_export, read_plate
    from tdm1core.reading.thresholds import DropletThresholds

    for method in ("instrument", "auto"):
        export = plate_export(classify_plate(read_plate(files), DropletThresholds(method=method)))
        (c,) = call_export(export)
        assert c.sample == "S1" and c.her2.call == "amplified"


# ---------------------------------------------------------------- 3. "not detected" only with a measured DNA input

def test_a_hotspot_without_any_dna_check_is_not_evaluable():
    entry = ManualEntry(pik3ca={"E545K": (0.0, None)}, her2_ratio=1.0)
    hs = call_manual(entry).pik3ca.hotspot("E545K")
    assert hs.call == NOT_EVALUABLE and "DNA input was not measured" in hs.reason


def test_a_hotspot_detected_without_a_dna_check_is_still_detected():
    hs = call_manual(ManualEntry(pik3ca={"E545K": (12.0, None)})).pik3ca.hotspot("E545K")
    assert hs.call == POSITIVE


def test_an_export_without_reference_and_wild_type_rows_gives_no_negative():
    """The export of the issue: a sample's EFTUD2 and wild-type rows removed (other samples keep theirs)."""
    rows = []
    for i, s in enumerate(["S1", "S2"]):
        for j, w in enumerate(sample_wells(s, her2=900, eftud2=80, well0=4 * i)):
            rows.append(qxm_row(QXM_HEADER_A, w.well, s, w.ch1_target, "FAM", "Unknown", w.ch1_positives, w.accepted))
            if s == "S2":
                rows.append(qxm_row(QXM_HEADER_A, w.well, s, w.ch2_target, "HEX", "Reference" if j == 0 else "Unknown",
                                    w.ch2_positives, w.accepted))
    with pytest.raises(DdpcrFormatError) as info:  # S1's wells lost a probe of each duplex the plate runs
        call_export(read_export(qxm(rows), "cut.csv"))
    assert "A01" in str(info.value) and "EFTUD2" in str(info.value)


@hsettings(max_examples=200, deadline=None)
@given(mut=st.one_of(st.none(), st.floats(0, 1e5)), wt=st.one_of(st.none(), st.floats(0, 1e5)),
       ref=st.one_of(st.none(), st.floats(0, 1e5)))
def test_negative_needs_measured_dna(mut, wt, ref):
    entry = ManualEntry(her2_copies=None if ref is None else 100.0, eftud2_copies=ref, pik3ca={"H1047R": (mut, wt)})
    hs = call_manual(entry).pik3ca.hotspot("H1047R")
    if hs.call == NEGATIVE:
        assert (ref is not None and ref > 100) or (ref is None and wt is not None and wt + mut > 100)


# ---------------------------------------------------------------- 4. a sample that lost wells

def _plate(samples: int, replicates: int = 2) -> list[DuplexWell]:
    pos = [f"{r}{c:02d}" for c in range(1, 13) for r in "ABCDEFGH"]
    out, k = [], 0
    for i in range(samples):
        s = f"S{i + 1}"
        for _ in range(replicates):
            out.append(DuplexWell(pos[k], s, "HER2", "EFTUD2", 1300, 1000, 15000)); k += 1
        for h in HOTSPOTS:
            out.append(DuplexWell(pos[k], s, f"PIK3CA {h} MUT", f"PIK3CA {h} WT", 0, 600, 15000)); k += 1
    return out


def _qxm_of(wells: list[DuplexWell]) -> bytes:
    rows = []
    for w in wells:
        rows.append(qxm_row(QXM_HEADER_A, w.well, w.sample, w.ch1_target, "FAM", "Unknown", w.ch1_positives, w.accepted))
        rows.append(qxm_row(QXM_HEADER_A, w.well, w.sample, w.ch2_target, "HEX",
                            "Reference" if w.ch2_target == "EFTUD2" else "Unknown", w.ch2_positives, w.accepted))
    return qxm(rows)


@hsettings(max_examples=40, deadline=None)
@given(cut=st.integers(min_value=1, max_value=4 * 5 * 2 - 1), quantasoft=st.booleans())
def test_a_file_cut_at_any_row_boundary_never_gives_a_silent_result(cut, quantasoft):
    """Cut a four-sample plate after any data row (both row orders): the plate is refused, or every sample whose wells
    changed carries a warning or is not evaluable."""
    wells = _plate(4)
    data = qs17(wells) if quantasoft else _qxm_of(wells)
    lines = data.decode("utf-8-sig").splitlines()
    cut_data = ("\r\n".join(lines[:1 + cut]) + "\r\n").encode()
    full = {c.sample: c for c in call_export(read_export(data, "full.csv"))}
    try:
        calls = call_export(read_export(cut_data, "cut.csv"))
    except (DdpcrFormatError, InputError):
        return
    for c in calls:
        f = full[c.sample]
        changed = [q.wells for q in c.qc] != [q.wells for q in f.qc]
        if changed:
            said = any("complete" in w for w in c.warnings)
            assert said or c.her2.call == NOT_EVALUABLE, (cut, quantasoft, c.sample, c.warnings)


def test_the_issue_case_a_lost_replicate_and_panel_is_warned_and_wells_listed():
    wells = _plate(4)
    data = _qxm_of(wells)
    lines = data.decode("utf-8-sig").splitlines()
    keep = 1 + 2 * (5 * 3 + 1)  # three whole samples and the first HER2/EFTUD2 well of the fourth
    calls = {c.sample: c for c in call_export(read_export(("\r\n".join(lines[:keep])).encode(), "cut.csv"))}
    s4 = calls["S4"]
    assert any("1 HER2/EFTUD2 well(s)" in w and "usually have 2" in w for w in s4.warnings)
    assert any("no E542K, E545K, H1047R wells of the panel, while 3 of the plate's other 3" in w for w in s4.warnings)
    assert s4.her2.to_dict()["wells"] == [wells[15].well]
    assert not any("complete" in w for w in calls["S1"].warnings)


# ---------------------------------------------------------------- 5. manual entry: inputs that disagree

def test_a_typed_ratio_that_disagrees_with_the_typed_copies_is_refused_naming_both():
    with pytest.raises(InputError) as info:
        call_manual(ManualEntry(her2_ratio=1.24, her2_copies=2000, eftud2_copies=1000))
    assert "1.24" in str(info.value) and "2.00" in str(info.value)
    assert call_manual(ManualEntry(her2_ratio=2.0, her2_copies=2000, eftud2_copies=1000)).her2.ratio == pytest.approx(2.0)


@hsettings(max_examples=200, deadline=None)
@given(ratio=st.floats(0, 20), her2=st.floats(0, 1e5), ref=st.floats(101, 1e5))
def test_typed_ratio_and_copies_either_agree_or_are_refused(ratio, her2, ref):
    try:
        c = call_manual(ManualEntry(her2_ratio=ratio, her2_copies=her2, eftud2_copies=ref))
    except InputError:
        assert abs(ratio - her2 / ref) > 0.005
        return
    if c.her2.call == NOT_EVALUABLE:  # a denormal number typed: rule 1
        assert "not a finite number" in c.her2.reason
        return
    assert abs(c.her2.ratio - ratio) <= 0.005 + 0.005 * c.her2.ratio + 1e-12


# ---------------------------------------------------------------- 7. the attestation names the content reviewed

def test_a_release_of_content_other_than_the_reviewed_is_refused(tmp_path):
    import tdm1core.app.workflows as wf

    store = wf.open_store(f"sqlite:///{tmp_path / 'r.sqlite'}", seed=False)
    a = wf.assess_upload(qs17(sample_wells("S1", her2=900)), "run.csv", Settings())
    first = wf.patient_result(a.sample("S1"), "positive", "negative", "PX-1")
    seen = wf.release_digest(first, a.provenance)
    changed = wf.patient_result(a.sample("S1"), "negative", "negative", "PX-1")  # ER changed after the review
    with pytest.raises(InputError, match="changed after the review"):
        wf.release_result(store, changed, a.provenance, reviewed=seen)
    with pytest.raises(InputError, match="no review was attested"):
        wf.release_result(store, first, a.provenance, reviewed=None)
    assert wf.released_reports(store, report=None) == []
    assert wf.release_result(store, first, a.provenance, reviewed=seen).stamp.version == 1


def test_the_command_line_refuses_to_release_the_demo_and_marks_its_pdf(tmp_path, capsys):
    from pypdf import PdfReader

    from tdm1core.app.cli import main
    from tdm1core.demo import demo_export_path

    out = tmp_path / "demo.pdf"
    assert main(["report", "patient", str(demo_export_path()), "--sample", "P06", "--er", "pos", "--pr", "neg",
                 "-o", str(out)]) == 0
    digest = capsys.readouterr().out.split("content SHA-256 ", 1)[1].split()[0]
    text = " ".join(p.extract_text() for p in PdfReader(out).pages)
    assert "SYNTHETIC" in text.upper()
    assert main(["report", "patient", str(demo_export_path()), "--sample", "P06", "--er", "pos", "--pr", "neg",
                 "--release", "--reviewed", digest, "--db", f"sqlite:///{tmp_path / 'd.sqlite'}", "-o", str(out)]) == 2
    assert "synthetic demo data cannot be released" in capsys.readouterr().err


def test_the_command_line_starts_from_the_databases_saved_settings_and_says_so(tmp_path, capsys, monkeypatch):
    import json as _json

    import tdm1core.app.workflows as wf
    from tdm1core.app.cli import main

    db = tmp_path / "s.sqlite"
    store = wf.open_store(f"sqlite:///{db}", seed=False)
    wf.apply_settings(store, Settings(her2_ratio_cutoff=1.6))
    monkeypatch.setenv("TDM1_DB_PATH", str(db))
    monkeypatch.delenv("TDM1_DATABASE_URL", raising=False)
    path = tmp_path / "p.csv"
    path.write_bytes(qs17(sample_wells("X", her2=1500, eftud2=1000)))
    assert main(["call", str(path), "--sample", "X", "--er", "pos", "--pr", "neg", "--json"]) == 0
    (d,) = _json.loads(capsys.readouterr().out)
    assert d["her2"]["cutoff"] == 1.6 and d["settings_origin"] == "the database's saved settings"
    monkeypatch.setenv("TDM1_DB_PATH", str(tmp_path / "none.sqlite"))
    assert main(["call", str(path), "--sample", "X", "--her2-cutoff", "1.3"]) == 0
    out = capsys.readouterr().out
    assert "Settings origin: the study's defaults (no database); changed here: her2_ratio_cutoff=1.3" in out
    assert not (tmp_path / "none.sqlite").exists()


# ---------------------------------------------------------------- 8. one truth about who releases

def test_reviewers_release_and_see_the_patient_page_admins_do_not_release():
    from tdm1core.storage.access import PERMISSIONS, Action

    assert PERMISSIONS[Action.RELEASE] == frozenset({"reviewer"})
    assert "reviewer" in PERMISSIONS[Action.PATIENT_RESULT]
    from conftest import ROOT

    readme = (ROOT / "docs" / "it-admin.md").read_text()
    assert "| reviewer | see a patient result and release" in readme
    assert "releasing reports" not in readme.split("| admin |", 1)[1].split("\n", 1)[0]


# ---------------------------------------------------------------- 10, 13. every missing path and failure is one line

@pytest.mark.parametrize("argv", [
    ["import", "ddpcr", "/nonexistent"], ["import", "patients", "/nonexistent"],
    ["cohort", "--demo", "--ddpcr", "/nonexistent"], ["cohort", "--demo", "--group", "no_such_column"],
    ["cohort", "--demo", "--table4-column", "X"], ["report", "cohort", "--demo", "-o", "/dev/full"],
    ["demo", "--write", "/dev/null"], ["demo", "--write", "/proc/x"], ["db", "status", "--db", "sqlite:////proc/x/d.sqlite"],
])
def test_command_line_failures_are_one_line_and_exit_2(argv, capsys, tmp_path, monkeypatch):
    from tdm1core.app.cli import main

    monkeypatch.setenv("TDM1_DB_PATH", str(tmp_path / "db.sqlite"))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) <= 3


def test_report_to_a_folder_and_a_batch_with_a_missing_file(tmp_path, capsys, monkeypatch):
    from tdm1core.app.cli import main

    monkeypatch.setenv("TDM1_DB_PATH", str(tmp_path / "db.sqlite"))
    good = tmp_path / "good.csv"
    good.write_bytes(qs17(sample_wells("S1")))
    assert main(["report", "patient", str(good), "--sample", "S1", "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["import", "ddpcr", "/nonexistent", str(good)]) == 2
    capsys.readouterr()
    assert main(["db", "status"]) == 0
    assert "files: 0" in capsys.readouterr().out  # all or nothing: the good file was not stored either


def test_an_oserror_anywhere_is_one_line(monkeypatch, capsys):
    import tdm1core.app.cli as cli

    def boom(args):
        raise PermissionError(13, "Permission denied", "/data/tdm1.sqlite.lock")

    monkeypatch.setattr(cli, "cmd_db", boom)
    assert cli.main(["db", "status"]) == 2
    assert "Permission denied" in capsys.readouterr().err


# ---------------------------------------------------------------- 14. exports are private

def test_db_export_is_private(tmp_path):
    import stat

    import tdm1core.app.workflows as wf

    store = wf.open_store(f"sqlite:///{tmp_path / 'e.sqlite'}")
    out = tmp_path / "export"
    for path in store.export_all(out):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


# ---------------------------------------------------------------- 11. patient tables

def _table(rows: list[dict], header: list[str] | None = None) -> bytes:
    from tdm1core.stats.cohort import template_frame

    cols = header or list(template_frame().columns)
    lines = [",".join(cols)] + [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    return "\n".join(lines).encode("utf-8")


def _patient(pid: str, **kw) -> dict:
    from tdm1core.stats.cohort import template_frame

    row = template_frame().iloc[0].to_dict()
    row.update(patient_id=pid, **kw)
    return row


INVISIBLES = ["\u200e", "\u200f", "\u202c", "\u2062", "\u034f", "\ufe0f", "\u180e", "\u3164", "\u115f", "\U000e0001"]


@pytest.mark.parametrize("ch", INVISIBLES)
def test_ids_that_differ_by_an_invisible_character_are_one_patient(ch):
    from tdm1core.stats.cohort import load_cohort
    from tdm1core.errors import CohortFormatError

    # bidirectional marks are refused outright; the others make the two IDs one patient
    expected = "control or bidirectional" if ch in "\u200e\u200f\u202c" else "duplicate patient ID"
    with pytest.raises(CohortFormatError, match=expected):
        load_cohort(_table([_patient("N01"), _patient("N01" + ch)]), "p.csv")


@given(st.text(st.characters(categories=["Cf", "Mn", "Zs"]), min_size=1, max_size=3))
@hsettings(max_examples=80, deadline=None)
def test_id_key_ignores_format_characters_and_spaces(extra):
    from tdm1core.reading.textfile import id_key, unsafe_characters

    if unsafe_characters(extra):
        return
    if all(__import__("unicodedata").category(c) != "Mn" or ord(c) in (0x034F,) or 0xFE00 <= ord(c) <= 0xFE0F
           for c in extra):
        assert id_key("N01" + extra) == id_key("n01")


@pytest.mark.parametrize("ch", ["\u202e", "\u200f", "\x07"])
def test_control_and_bidi_characters_are_refused_in_ids(ch):
    from tdm1core.stats.cohort import load_cohort
    from tdm1core.errors import CohortFormatError

    with pytest.raises(CohortFormatError, match="control or bidirectional") as info:
        load_cohort(_table([_patient("N" + ch + "01")]), "p.csv")
    assert f"U+{ord(ch):04X}" in str(info.value)


def test_messages_show_invisible_characters():
    from tdm1core.reading.textfile import visible

    assert visible("N01 ") == "'N01␠'" and visible("N\u200b01") == "'N<U+200B>01'"


def test_two_columns_with_one_name_are_refused():
    from tdm1core.stats.cohort import load_cohort, template_frame
    from tdm1core.errors import CohortFormatError

    cols = list(template_frame().columns) + ["er_status"]
    with pytest.raises(CohortFormatError, match="both named"):
        load_cohort(_table([_patient("N01")], cols), "p.csv")


def test_nan_is_missing_in_every_column():
    from tdm1core.stats.cohort import read_patient_table

    raw = read_patient_table(_table([_patient("N01", ttp_days="nan", stage="NaN")]), "p.csv")
    assert raw.loc[0, "ttp_days"] == "" and raw.loc[0, "stage"] == ""


def test_merged_cells_in_an_xlsx_table_are_refused():
    import io

    import openpyxl

    from tdm1core.stats.cohort import read_patient_table, template_frame
    from tdm1core.errors import CohortFormatError

    wb = openpyxl.Workbook()
    ws = wb.active
    cols = list(template_frame().columns)
    ws.append(cols)
    for i in range(3):
        ws.append([f"P{i}", *[""] * (len(cols) - 1)])
    ws.merge_cells(f"{openpyxl.utils.get_column_letter(cols.index('er_status') + 1)}2:"
                   f"{openpyxl.utils.get_column_letter(cols.index('er_status') + 1)}4")
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(CohortFormatError, match="merged cells"):
        read_patient_table(buf.getvalue(), "m.xlsx")


# ---------------------------------------------------------------- 12. encodings, nested zips, wells, aliases

def test_a_file_half_utf8_half_cp1252_is_refused_naming_the_line():
    from tdm1core.demo.writer import quantasoft_csv

    data = quantasoft_csv(sample_wells("Müller-1")).encode("utf-8")
    lines = data.split(b"\r\n")
    lines[3] = lines[3].replace(b"M\xc3\xbcller", b"M\xfcller")  # one row re-saved in CP1252
    with pytest.raises(InputError, match="mixes encodings") as info:
        read_export(b"\r\n".join(lines), "mixed.csv")
    assert info.value.row == 4


def test_a_zip_inside_a_plate_zip_is_refused():
    import io
    import zipfile

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for data, name in plate_droplet_files(sample_wells("S1")[:1]):
            z.writestr(name, data)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        for data, name in plate_droplet_files(sample_wells("S2")[:1], "Run2"):
            z.writestr(name, data)
        z.writestr("more/inner.zip", inner.getvalue())
    from tdm1core.reading.plate import read_plate

    with pytest.raises(InputError, match="holds another zip"):
        read_plate([(outer.getvalue(), "plate.zip")])


@pytest.mark.parametrize("well", ["A00", "A25", "Q01", "A0"])
def test_a_well_outside_the_plate_is_refused(well):
    data = qs17(sample_wells("S1")).replace(b'"A01"', f'"{well}"'.encode())
    with pytest.raises(DdpcrFormatError, match="not a plate well"):
        read_export(data, "w.csv")


def test_one_alias_for_two_assays_is_refused(capsys, tmp_path):
    from tdm1core.app.cli import main

    path = tmp_path / "p.csv"
    path.write_bytes(qs17(sample_wells("S1")))
    assert main(["call", str(path), "--alias", "X=HER2", "--alias", "X=EFTUD2"]) == 2
    assert "mapped twice" in capsys.readouterr().err


# ---------------------------------------------------------------- 15. words and numbers a reader trusts

def test_the_caveat_is_a_whole_sentence_and_the_two_p_values_are_named():
    from tdm1core.calling.calls import HER2_PLASMA_CAVEAT
    from tdm1core.clinical.risk import EVIDENCE

    c = call_manual(ManualEntry(her2_ratio=1.0, eftud2_copies=500))
    from tdm1core.clinical.risk import PatientResult

    reasons = PatientResult.from_calls(c, "positive", "negative").flag.reasons
    assert any(f"Caveat: {HER2_PLASMA_CAVEAT}" in r for r in reasons) and not any("hER2" in r for r in reasons)
    assert "0.0037 in the paper" in EVIDENCE


def test_the_cohort_pdf_prints_tables_1_and_4_as_the_screen_does_with_no_na_p_for_the_untested_row():
    """The PDF carries the screen's Tables 1 and 4 (the reading layouts), row by row; the untested "All patients" row
    has no p at all (neither NA nor a number)."""
    import io
    import re

    from pypdf import PdfReader

    from tdm1core.app.cli import _demo_cohort
    from tdm1core.reporting.report import Provenance, cohort_report
    from tdm1core.stats import analyse_cohort, table1_for_reading, table4_for_reading

    cohort, _ = _demo_cohort(Settings())
    stats = analyse_cohort(cohort)
    pdf = cohort_report(cohort, stats, Provenance(cohort.source, cohort.sha256))
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    t4 = table4_for_reading(stats.table4)
    for _, row in t4.iterrows():
        cells = " ".join(str(v).strip() for v in row if str(v).strip())
        assert cells in text, cells
    everyone = t4[t4["Characteristic"] == "All patients"].iloc[0]
    assert everyone["p (Fisher)"] == "" and re.search(re.escape(everyone.iloc[1]) + r" (NA|\d)", text[text.index("Table 4"):]) is None
    for _, row in table1_for_reading(stats.table1).iterrows():
        assert " ".join(str(v).strip() for v in row if str(v).strip()) in text, row.tolist()


def test_a_blank_at_or_above_the_her2_cut_off_is_warned():
    from tdm1core.calling.limits import her2_support

    text = her2_support([1.0, 1.05, 0.98, 1.60], 1.25).describe()
    assert "4 blank sample(s)" in text and "non-amplified" not in text
    assert "1 blank(s) at or above the cut-off (ratio 1.60)" in text
    assert "Warning" not in her2_support([1.0, 1.05], 1.25).describe()


def test_the_settings_changes_are_named_for_the_confirmation():
    from tdm1core.settings import settings_changes

    changes = settings_changes(Settings(), Settings(her2_ratio_cutoff=1.3, droplet_volume_nl=0.91))
    assert "her2_ratio_cutoff: 1.25 → 1.3" in changes and "droplet_volume_nl: 0.85 → 0.91" in changes
    assert settings_changes(Settings(), Settings()) == []
