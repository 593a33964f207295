"""Issue 23: no clinical result differs from the truth without a word.

Each section is one rule, tested on generated inputs (hypothesis where the input space is large), never on a copy
of somebody's data."""
from __future__ import annotations

import math
import sys

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from builders import plate_droplet_files, qs17, qxm, qxm_row, QXM_HEADER_A, sample_wells
from tdm1core.calls import (NOT_EVALUABLE, NEGATIVE, POSITIVE, ManualEntry, Measurement, SampleMeasurements,
                            call_export, call_manual, call_sample)
from tdm1core.ddpcr import read_export
from tdm1core.demo.writer import DuplexWell
from tdm1core.errors import DdpcrFormatError, InputError, SettingsError
from tdm1core.intervals import ConfidenceInterval
from tdm1core.settings import PLAUSIBLE_RANGES, Settings
from tdm1core.targets import HOTSPOTS

ODD = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(5e-324), st.just(1e-310),
                st.just(-0.0), st.floats(min_value=0, max_value=1e6))


# ---------------------------------------------------------------- 1. a non-finite number never decides a cut-off

def _measurement(assay: str, conc: float, lo: float, hi: float) -> Measurement:
    return Measurement(assay, assay, conc, ConfidenceInterval(lo, hi, 0.95, "test"), ("A01",), 10, 15000, 15000)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(her2=ODD, ref=ODD, lo=ODD, hi=ODD, mut=ODD, wt=ODD)
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
    from tdm1core.cli import main

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
    from tdm1core.plate import classify_plate, plate_export, read_plate
    from tdm1core.thresholds import DropletThresholds

    plate = read_plate(files)
    for method in ("instrument", "auto"):
        with pytest.raises(InputError) as info:
            plate_export(classify_plate(plate, DropletThresholds(method=method)))
        text = str(info.value)
        assert "do not match the results export" in text and "A01" in text and "18,000" in text


def test_droplets_with_their_own_results_export_are_called():
    ours = sample_wells("S1", her2=3000, eftud2=1000)
    files = plate_droplet_files(ours, "Run1") + [(qs17(ours), "Run1_results.csv")]
    from tdm1core.plate import classify_plate, plate_export, read_plate
    from tdm1core.thresholds import DropletThresholds

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
